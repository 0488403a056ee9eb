"""Parameters of the Pathfinder generator and the LRA values for 32 px and Path-X (128 px).

From the LRA TFDS builders (lra_benchmarks/data/pathfinder.py), which list what was changed
from the defaults of drewlinsley/pathfinder's snakes2_wrapper.py. Levels: easy =
curv_baseline (contours of 6 paddles), intermediate = curv_contour_length_9, hard =
curv_contour_length_14 (the LRA task); distractor snakes are a third as long.
"""

from __future__ import annotations

from dataclasses import dataclass

LEVELS = {"easy": 6, "intermediate": 9, "hard": 14}  # contour length (paddles) per level
LEVEL_DIRS = {
    "easy": "curv_baseline",
    "intermediate": "curv_contour_length_9",
    "hard": "curv_contour_length_14",
}


@dataclass(frozen=True)
class PathfinderParams:
    """Generator parameters (snakes2 Args). Lengths in pixels, contrasts as multipliers."""

    window_size: int = 32
    padding: int = 1
    antialias_scale: int = 2
    seed_distance: int = 7
    marker_radius: float = 1.5
    contour_length: int = 14  # paddles per target snake
    distractor_length: int = 4  # paddles per distractor snake
    num_distractor_snakes: int = 5
    snake_contrast: tuple[float, ...] = (2.0,)
    paddle_contrast: tuple[float, ...] = (0.75,)
    continuity: float = 1.0  # >= 1; larger = straighter contours
    paddle_length: int = 2
    paddle_thickness: float = 0.5
    paddle_margins: tuple[int, ...] = (1,)
    max_distractor_contour_retrial: int = 4
    max_paddle_retrial: int = 2


#: What differs between the two LRA releases, per resolution (px); distractor_paddles is the
#: paddle budget of the distractor snakes (their number = budget // distractor length).
RELEASES: dict[int, dict] = {
    32: {"window_size": 32, "seed_distance": 7, "marker_radius": 1.5, "distractor_paddles": 20,
         "snake_contrast": (2.0,), "paddle_contrast": (0.75,), "continuity": 1.0,
         "paddle_length": 2, "paddle_thickness": 0.5, "paddle_margins": (1,)},
    128: {"window_size": 128, "seed_distance": 20, "marker_radius": 3.0, "distractor_paddles": 35,
          "snake_contrast": (0.9,), "paddle_contrast": (1.0,), "continuity": 1.8,
          "paddle_length": 5, "paddle_thickness": 1.5, "paddle_margins": (2, 3)},
}


def lra_params(resolution: int = 32, level: str = "hard") -> PathfinderParams:
    """The LRA release parameters for Pathfinder-32 or Path-X (128 px) at `level`."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {sorted(LEVELS)}, got {level!r}")
    if resolution not in RELEASES:
        raise ValueError(f"resolution must be 32 (Pathfinder) or 128 (Path-X), got {resolution}")
    release = dict(RELEASES[resolution])
    contour = LEVELS[level]
    distractor = contour // 3
    return PathfinderParams(
        padding=1,
        antialias_scale=2,
        contour_length=contour,
        distractor_length=distractor,
        num_distractor_snakes=release.pop("distractor_paddles") // distractor,
        **release,
    )
