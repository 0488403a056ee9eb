# Helpers shared by the rules.
from pipeline.config import dump_resolved, resolve_condition
from pipeline.io import atomic_write_text
from pipeline.parameters import run_parameters


def resolved_params(wildcards):
    """Full parameters of one condition; a change reruns only that condition's jobs."""
    return dump_resolved(resolve_condition(config, wildcards.condition))


def readout_quantity(wildcards):
    """What a condition's readout holds: p_l (rate model) or the tripartite readout."""
    return run_parameters(resolve_condition(config, wildcards.condition)).readout


wildcard_constraints:
    condition="|".join(CONDITIONS),


def write_text_atomic(path, text):
    """Write text to path through a temporary file and a rename."""
    atomic_write_text(path, text)
