"""Simulation output: a tidy trace table and the cycle-boundary readout, written atomically."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.io import atomic_write, atomic_write_text

#: Columns of the tidy trace table.
TRACE_COLUMNS = ["time_s", "cycle", "element", "variable", "value"]
#: Columns of the readout table read by ``distill`` (the tripartite model adds ``pair_<k>``:
#: every pair's value, whose mean is ``p_l``).
READOUT_COLUMNS = ["cycle", "time_s", "p_l"]


@dataclass
class SimulationResult:
    """What one simulated condition produced.

    ``traces``: tidy table with columns :data:`TRACE_COLUMNS`; ``time_s`` in seconds,
    ``cycle`` the 0-based STP cycle, ``element`` e.g. ``pre0``, ``post2``, ``syn0-1``
    (synapse from presynaptic neuron 0 to postsynaptic neuron 1), ``variable`` one of
    ``x`` (neuron rate), ``s`` (synapse), ``p_s``/``p_l`` (short/long-term process).
    ``readout``: mean p^l over synapses at every cycle boundary, columns
    :data:`READOUT_COLUMNS` (cycle 0 = t 0). ``info``: run metadata (timings, target).
    """

    condition: str
    traces: pd.DataFrame
    readout: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)

    def write(self, traces_path: str | Path, readout_path: str | Path,
              info_path: str | Path | None = None) -> None:
        """Write the traces (CSV, gzip if the name ends in .gz), readout CSV and info JSON."""
        atomic_write(traces_path, lambda p: self.traces.to_csv(p, index=False))
        atomic_write(readout_path, lambda p: self.readout.to_csv(p, index=False))
        if info_path is not None:
            atomic_write_text(info_path, json.dumps(self.info, indent=2))

