"""A tqdm progress bar fed by Brian2's run reports (runtime targets)."""

from __future__ import annotations

from collections.abc import Callable


def progress_reporter(condition: str) -> Callable[[float, float, float, float], None]:
    """A ``report=`` callback for ``Network.run`` showing percent of biological time done."""
    from tqdm import tqdm

    bar = tqdm(total=100, desc=f"simulate {condition}", unit="%", leave=True)

    def report(elapsed, completed, start, duration):
        bar.n = round(100 * completed)
        bar.refresh()
        if completed >= 1.0:
            bar.close()

    return report
