"""What tests may check on a written plot: that it is a PNG with something drawn on it.

Its size in bytes is incidental (compression, fonts and the matplotlib version change it);
the decoded pixels are not: a real figure is at least a few hundred pixels each way and
ink covers a fair share of it, where an empty canvas is one colour.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

PNG = b"\x89PNG\r\n\x1a\n"


def assert_drawn(path: str | Path, min_side: int = 200, min_ink: float = 0.01) -> np.ndarray:
    """Assert ``path`` is a PNG of at least ``min_side`` pixels each way, whose pixels differ
    from its most common colour (the background) in at least ``min_ink`` of the area.
    Returns the image (height, width, channels; floats in [0, 1])."""
    from matplotlib.image import imread

    path = Path(path)
    assert path.read_bytes()[:8] == PNG, f"{path} is not a PNG"
    image = imread(path)
    height, width = image.shape[:2]
    assert min(height, width) >= min_side, f"{path}: {width} x {height} pixels"
    pixels = image.reshape(height * width, -1)
    colours, counts = np.unique(pixels, axis=0, return_counts=True)
    ink = 1.0 - counts.max() / len(pixels)
    assert ink >= min_ink, f"{path}: only {ink:.2%} of the pixels differ from the background"
    return image
