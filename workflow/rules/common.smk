# Helpers shared by the rules.
from pipeline.io import atomic_write_text as write_text_atomic  # the run: blocks' writer


wildcard_constraints:
    condition="|".join(CONDITIONS),
