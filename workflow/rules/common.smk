# Helpers shared by the rules.
from pathlib import Path

from simulation.config import dump_resolved, resolve_condition
from simulation.result import atomic_write


def resolved_params(wildcards):
    """Full parameters of one condition; a change reruns only that condition's jobs."""
    return dump_resolved(resolve_condition(config, wildcards.condition))


def readout_quantity(wildcards):
    """What a condition's readout holds: p_l (rate model) or the tripartite readout."""
    params = resolve_condition(config, wildcards.condition)
    return params["tripartite"]["readout"] if params["model"] == "tripartite" else "p_l"


wildcard_constraints:
    condition="|".join(CONDITIONS),


def write_text_atomic(path, text):
    """Write text to path through a temporary file and a rename."""
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))
