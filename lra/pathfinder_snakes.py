"""Snake drawing primitives of the Pathfinder generator, ported from drewlinsley/pathfinder.

A port of `snakes.py` (Kim*, Linsley* et al., ICLR 2020) to NumPy, SciPy and PIL, the
Python 2 / OpenCV / scipy.misc calls replaced by equivalents:
  cv2.dilate(im, kernel)            -> scipy.ndimage.maximum_filter(im, footprint=kernel != 0)
  scipy.misc.imresize(.., 'lanczos') -> bytescale to uint8, PIL resize with LANCZOS
Coordinates are (y, x) in pixels; orientations are radians, 0 = +x, pi/2 = +y (down).

A snake is a chain of paddles (short line segments of `length` px) separated by gaps of
2 * margin px. Every paddle has an image (the antialiased stroke, times its contrast) and a
"mask" (the stroke dilated by `margin`), used to keep later paddles away. The geometry of
each function follows the original line by line; see the function docstrings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage


def translate_coord(coord, orientation: float, dist: float) -> list[int]:
    """Move (y, x) by `dist` px along `orientation`, rounding up (np.ceil) as the original."""
    return [
        int(math.ceil(coord[0] + dist * math.sin(orientation))),
        int(math.ceil(coord[1] + dist * math.cos(orientation))),
    ]


def flip_by_pi(orientation: float) -> float:
    """The opposite orientation, kept in (-pi, pi]."""
    return orientation + math.pi if orientation < 0 else orientation - math.pi


def dilation_struct(radius: int) -> np.ndarray:
    """Disc structuring element (2r+1, 2r+1) float with 1 inside x^2 + y^2 <= r^2."""
    y, x = np.ogrid[-radius : radius + 1, -radius : radius + 1]
    return (x**2 + y**2 <= radius**2).astype(np.float64)


def dilate(image: np.ndarray, struct: np.ndarray) -> np.ndarray:
    """Grey dilation as cv2.dilate: max over the nonzero (as uint8) entries of `struct`."""
    footprint = struct.astype(np.uint8) != 0
    if not footprint.any():  # an empty kernel (never built by the LRA parameters)
        return np.asarray(image, dtype=np.float64)
    return ndimage.maximum_filter(
        np.asarray(image, dtype=np.float64), footprint=footprint, mode="constant", cval=0.0
    )


def bytescale(image: np.ndarray) -> np.ndarray:
    """scipy.misc.bytescale: map [min, max] linearly to 0..255, round half up, uint8."""
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image
    low, high = float(image.min()), float(image.max())
    scale = 255.0 / (high - low if high > low else 1.0)
    scaled = ((image - low) * scale).clip(0, 255)
    return (scaled + 0.5).astype(np.uint8)


def imresize_lanczos(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """scipy.misc.imresize(image, shape, interp='lanczos'): bytescale, PIL LANCZOS, uint8."""
    pil = Image.fromarray(bytescale(image), mode="L")
    return np.asarray(pil.resize((shape[1], shape[0]), resample=Image.Resampling.LANCZOS))


@lru_cache(maxsize=8192)
def _paddle_stamp(
    orientation: float, length: int, thickness: float, margin: int, aa_scale: int
) -> tuple[np.ndarray, np.ndarray]:
    """Stroke and mask of one paddle centred in a (2R+1)^2 window, R = length+ceil(t)+margin.

    The stroke is drawn with PIL at `aa_scale` times the resolution from the window centre
    along `orientation`, width round(thickness * aa_scale), then Lanczos-downsampled; the
    mask is the fine stroke dilated by a disc of radius margin * aa_scale, downsampled too.
    Both are float arrays in [0, 1]. Cached: the stamps depend only on these arguments.
    """
    if round(thickness * aa_scale) != thickness * aa_scale:
        raise ValueError("thickness * aa_scale must be an integer ('does not break even')")
    radius = length + int(math.ceil(thickness)) + margin
    blown_size = radius * 2 * aa_scale + 1
    blown_center = radius * aa_scale
    head = translate_coord([blown_center, blown_center], orientation, length * aa_scale)
    blown = Image.new("F", (blown_size, blown_size), 0.0)
    ImageDraw.Draw(blown).line(
        [(blown_center, blown_center), (head[1], head[0])],
        fill=255.0,
        width=int(round(thickness * aa_scale)),
    )
    blown_arr = np.asarray(blown, dtype=np.float64)
    size = (2 * radius + 1, 2 * radius + 1)
    stroke = imresize_lanczos(blown_arr, size).astype(np.float64) / 255
    blown_mask = dilate(blown_arr, dilation_struct(margin * aa_scale)).astype(np.uint8)
    mask = imresize_lanczos(blown_mask, size).astype(np.float64) / 255
    stroke.setflags(write=False)
    mask.setflags(write=False)
    return stroke, mask


@lru_cache(maxsize=16384)
def _placed_stamp(
    orientation: float, length: int, thickness: float, margin: int, aa_scale: int, contrast: float
) -> tuple[np.ndarray, np.ndarray]:
    """Stroke times contrast and mask, rounded to float32 as the original's mode-'F' images."""
    stroke, mask = _paddle_stamp(orientation, length, thickness, margin, aa_scale)
    stroke32 = (stroke * contrast).astype(np.float32).astype(np.float64)
    mask32 = mask.astype(np.float32).astype(np.float64)
    stroke32.setflags(write=False)
    mask32.setflags(write=False)
    return stroke32, mask32


@dataclass
class Stamp:
    """A paddle placed in an image: the image region and the stroke and mask inside it."""

    rows: slice
    cols: slice
    stroke: np.ndarray  # (h, w) float, stroke times contrast
    mask: np.ndarray  # (h, w) float in [0, 1]


def paddle_stamp(
    shape: tuple[int, int],
    start: list[int],
    orientation: float,
    length: int,
    thickness: float,
    margin: int,
    aa_scale: int,
    contrast: float = 1.0,
) -> Stamp | None:
    """The paddle from `start` (y, x), `length` px along `orientation`, clipped to `shape`.

    Its window centre sits on `start` (snakes.draw_line_n_mask). None if fully outside.
    """
    stroke, mask = _placed_stamp(
        float(orientation), length, thickness, margin, aa_scale, float(contrast)
    )
    radius = length + int(math.ceil(thickness)) + margin
    size = 2 * radius + 1
    y0, x0 = start[0] - radius, start[1] - radius
    ty0, tx0 = max(y0, 0), max(x0, 0)
    ty1, tx1 = min(y0 + size, shape[0]), min(x0 + size, shape[1])
    if ty1 <= ty0 or tx1 <= tx0:
        return None
    window = (slice(ty0 - y0, ty1 - y0), slice(tx0 - x0, tx1 - x0))
    return Stamp(slice(ty0, ty1), slice(tx0, tx1), stroke[window], mask[window])


def draw_line_n_mask(
    shape: tuple[int, int],
    start: list[int],
    orientation: float,
    length: int,
    thickness: float,
    margin: int,
    aa_scale: int,
    contrast: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Full-size image and mask (both `shape`, float) of one paddle; see `paddle_stamp`."""
    line_im = np.zeros(shape)
    mask_im = np.zeros(shape)
    stamp = paddle_stamp(shape, start, orientation, length, thickness, margin, aa_scale, contrast)
    if stamp is not None:
        line_im[stamp.rows, stamp.cols] = stamp.stroke
        mask_im[stamp.rows, stamp.cols] = stamp.mask
    return line_im, mask_im


def draw_circle(
    shape: tuple[int, int], center: list[int], radius: float, aa_scale: int
) -> np.ndarray:
    """Antialiased disc marker (uint8, `shape`) of `radius` px at `center` (draw_circle)."""
    y, x = np.ogrid[
        -center[0] * aa_scale : (shape[0] - center[0]) * aa_scale,
        -center[1] * aa_scale : (shape[1] - center[1]) * aa_scale,
    ]
    disc = (x**2 + y**2 <= (radius * aa_scale) ** 2).astype(np.float64)
    return imresize_lanczos(disc, shape)


def free_coordinates(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ys, xs) where ceil(mask - 0.3) == 0, i.e. mask <= 0.3 (find_available_coordinates)."""
    occupied = np.ceil(mask - 0.3)
    if occupied.min() < 0:  # the original's guard; cannot happen for masks in [0, 1]
        return np.array([], dtype=np.int64), np.array([], dtype=np.int64)
    return np.nonzero(1 - occupied.astype(np.uint8))


@dataclass
class Paddle:
    """End points (y, x) of one drawn paddle, in the order the contour runs through them."""

    start: tuple[float, float]
    end: tuple[float, float]


@dataclass
class SnakeTrace:
    """The paddles of one snake in contour order (for the generator's own path mask)."""

    paddles: list[Paddle] = field(default_factory=list)


@lru_cache(maxsize=64)
def _circle_offsets(step: int) -> tuple[np.ndarray, np.ndarray]:
    """Candidate offsets (n, 2) from an integer pivot and their orientations (n,).

    The original samples one angle per pixel of arc, takes int() of pivot + step * (sin, cos)
    and keeps the unique in-image points in lexicographic order. For an integer pivot and an
    in-image point, int(pivot + s) = pivot + floor(s), so the offsets, their order and their
    orientations do not depend on the pivot and are computed once per step.
    """
    deg_per_pixel = 360.0 / (2 * step * math.pi)
    angles = np.arange(0, 360, deg_per_pixel) * math.pi / 180
    offsets = np.stack(
        [np.floor(step * np.sin(angles)), np.floor(step * np.cos(angles))], axis=1
    ).astype(np.int64)
    offsets = np.unique(offsets, axis=0)
    return offsets, np.arctan2(offsets[:, 0], offsets[:, 1])


@lru_cache(maxsize=16)
def _disc_offsets(radius: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.nonzero(dilation_struct(radius))
    return ys - radius, xs - radius


def dilated_at(
    mask: np.ndarray, coords: np.ndarray, radius: int, all_inside: bool = False
) -> np.ndarray:
    """dilate(mask, dilation_struct(radius)) evaluated only at `coords` (n, 2) -> (n,).

    Outside the image counts as 0, as the dilation's constant border (masks are >= 0).
    all_inside: the caller knows every disc around `coords` lies inside the image.
    """
    dy, dx = _disc_offsets(radius)
    if all_inside:
        return mask[coords[:, :1] + dy, coords[:, 1:] + dx].max(axis=1)
    padded = np.pad(mask, radius)
    return padded[coords[:, :1] + (dy + radius), coords[:, 1:] + (dx + radius)].max(axis=1)


@lru_cache(maxsize=16384)
def _continuity_weights(step: int, last_orientation: float, continuity: float) -> np.ndarray:
    """max(cos(min(d_theta * continuity, pi/2)), 0)^2 for every offset of `_circle_offsets`."""
    _, orientations = _circle_offsets(step)
    delta = np.abs(orientations - last_orientation)
    delta = np.minimum(delta, 2 * np.pi - delta)
    delta = np.minimum(delta * continuity, 0.5 * np.pi)
    weights = np.maximum(np.cos(delta), 0) ** 2
    weights.setflags(write=False)
    return weights


def candidate_heads(
    pivot: list[int],
    last_orientation: float,
    step: float,
    mask: np.ndarray,
    margin: int,
    continuity: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Candidate next heads on the circle of radius `step` around `pivot`, with their CMF.

    Returns (coords (n, 2) int, orientations (n,), cmf (n,)) or None at a dead end. The weight
    of a candidate is (1 - dilated mask) * max(cos(min(d_theta * continuity, pi/2)), 0)^2,
    the mask dilated by a disc of radius `margin` (snakes.get_coords_cmf after
    binary_dilate_custom; the dilation is evaluated at the candidates only).
    """
    height, width = mask.shape
    step = int(step)
    offsets, orientations = _circle_offsets(step)
    weights = _continuity_weights(step, float(last_orientation), float(continuity))
    coords = offsets + np.asarray(pivot)
    y, x = pivot
    reach = step + margin  # candidates lie within step px of the pivot, their discs margin more
    all_inside = reach <= y < height - reach and reach <= x < width - reach
    if not (step <= y < height - step and step <= x < width - step):
        inside = (
            (coords[:, 0] >= 0)
            & (coords[:, 0] < height)
            & (coords[:, 1] >= 0)
            & (coords[:, 1] < width)
        )
        if not inside.any():
            return None
        coords, orientations, weights = coords[inside], orientations[inside], weights[inside]
    pmf = (1 - dilated_at(mask, coords, margin, all_inside)) * weights
    total = pmf.sum()
    if total < 1e-4:
        return None
    return coords, orientations, np.cumsum(pmf / total)
