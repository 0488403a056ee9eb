# Stage 4's plan comes from PLAN (workflow/plan.py): the runs, their data, the claims.
import sys

from pipeline.slurm import SlurmSetupError, preflight

# Missing data of a non-optional task does not stop the parse: a dry run (-n) lists the whole
# plan and what is missing; a real run stops in `onstart` (which dry runs never call), before
# any job, with the instructions.
if PLAN.missing_data:
    print(PLAN.missing_data_warning(), file=sys.stderr)


onstart:
    if PLAN.missing_data:
        print(PLAN.missing_data_error(), file=sys.stderr)
        raise SystemExit(1)
    try:
        preflight(workflow)  # a Slurm run: status command that works, requests nodes can meet
    except SlurmSetupError as error:
        print(error, file=sys.stderr)
        raise SystemExit(1)
