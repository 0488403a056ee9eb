# Helpers shared by the rules.
from pathlib import Path

from simulation.config import dump_resolved, resolve_condition
from simulation.result import atomic_write


def resolved_params(wildcards):
    """Full parameters of one condition; a change reruns only that condition's jobs."""
    return dump_resolved(resolve_condition(config, wildcards.condition))


wildcard_constraints:
    condition="|".join(CONDITIONS),


def write_text_atomic(path, text):
    """Write text to path through a temporary file and a rename."""
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))
