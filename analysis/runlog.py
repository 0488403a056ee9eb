"""A finished Snakemake run's wall time, read from its log (``.snakemake/log``)."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

_LOG_TIME = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]", re.M)


def run_time(log_dir: str | Path = ".snakemake/log") -> dict[str, Any] | None:
    """Wall time of the newest Snakemake run that finished every step (its log's first and
    last time stamps), or None when there is no such log."""
    logs = sorted(Path(log_dir).glob("*.snakemake.log"), key=lambda p: p.stat().st_mtime)
    for log in reversed(logs):
        text = log.read_text(errors="replace")
        if "steps (100%) done" not in text:
            continue
        stamps = [datetime.strptime(" ".join(s.split()), "%a %b %d %H:%M:%S %Y")
                  for s in _LOG_TIME.findall(text)]
        if len(stamps) >= 2:
            jobs = re.findall(r"(\d+) of (\d+) steps \(100%\) done", text)
            return {"wall_s": (stamps[-1] - stamps[0]).total_seconds(), "log": log.name,
                    "steps": int(jobs[-1][1]) if jobs else None}
    return None
