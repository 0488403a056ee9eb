"""Stage 4: train and evaluate model presets on LRA tasks (and real non-LRA data).

``python -m train run --spec run.json --out-dir DIR`` trains one (task, preset, seed) run:
AdamW with parameter groups, warmup + cosine schedule, gradient clipping, the preset's
training driver (AMRB for ``rmaat``), validation every epoch, best-checkpoint selection
and a final test evaluation. Runs resume from their last checkpoint.
"""

from train.spec import RunSpec

__all__ = ["RunSpec"]
