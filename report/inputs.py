"""The files a report reads (:class:`ReportInputs`): named one by one, never found by listing a
folder, so a stray file in ``results/`` can neither break nor enter the page."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

#: The list-valued inputs (every other input is one file or None).
LISTS = ("retention", "plots", "sweep_tables", "sweep_plots", "metrics", "benchmarks",
         "sensitivity", "dose_response")
#: The single-file inputs.
SINGLE = ("accuracy", "runs", "claims")


@dataclass
class ReportInputs:
    """The files a report reads; each list may be empty (its section then says so or is left
    out). Plots are found by their folder and name (``plots/{condition}/fit.png``,
    ``sweeps/{sweep}/table.csv``), never by listing a folder. ``dose_response``: the
    dose-response table and summary (``results/dose_response.csv`` and ``.json``)."""

    retention: list[Path] = field(default_factory=list)
    plots: list[Path] = field(default_factory=list)
    sweep_tables: list[Path] = field(default_factory=list)
    sweep_plots: list[Path] = field(default_factory=list)
    accuracy: Path | None = None
    runs: Path | None = None
    skipped: dict[str, str] = field(default_factory=dict)
    claims: Path | None = None
    metrics: list[Path] = field(default_factory=list)
    benchmarks: list[Path] = field(default_factory=list)
    sensitivity: list[Path] = field(default_factory=list)
    dose_response: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name in LISTS:
            setattr(self, name, [Path(p) for p in getattr(self, name)])
        for name in SINGLE:
            if getattr(self, name) is not None:
                setattr(self, name, Path(getattr(self, name)))
        missing = [str(p) for p in self.all_files() if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"report input(s) missing: {', '.join(missing)}; run the "
                                    "workflow (snakemake) that writes them first")

    def all_files(self) -> list[Path]:
        """Every file named, in a fixed order."""
        single = [p for p in (self.accuracy, self.runs, self.claims) if p is not None]
        return [*self.retention, *self.plots, *self.sweep_tables, *self.sweep_plots, *single,
                *self.metrics, *self.benchmarks, *self.sensitivity, *self.dose_response]

    def plot(self, folder: str, name: str) -> Path | None:
        """The plot ``{folder}/{name}.png`` among the named plots (None if not given)."""
        for p in [*self.plots, *self.sweep_plots]:
            if p.parent.name == folder and p.name == f"{name}.png":
                return p
        return None
