"""One Pathfinder image: two target snakes, distractor snakes, two marker discs, a label.

A faithful port of `snakes2.py` (drewlinsley/pathfinder) with the LRA parameters; the
drawing primitives are in `pathfinder_snakes`. Per image (snakes2.from_wrapper):
  1. label ~ {0, 1}; the paddle margin is drawn from `paddle_margins`.
  2. Two target snakes grow together, paddle by paddle (two_snakes). The first seed sits at a
     free position at least 2 * seed_distance px from the borders; the second seed tail is
     seed_distance px from the first. Each extension samples the next head on the circle of
     radius length + margin around the new pivot, weighted by
     max(cos(min(d_theta * continuity, pi / 2)), 0)^2 times "pixel is free" (free = not under
     the margin-dilated mask of drawn paddles), checks the paddle's mask does not overlap
     (max(mask + new) < 1.8), and retries at most `max_paddle_retrial` times; on failure the
     pair restarts.
  3. `num_distractor_snakes` short snakes of `distractor_length` paddles anywhere free, each
     retried `max_distractor_contour_retrial` times, skipped if it still fails.
  4. Marker discs of `marker_radius` on one target snake's origin tip and, for label 1, the
     same snake's terminal tip, for label 0 the other snake's terminal tip.
  5. The float image is rescaled to 0..255 (scipy.misc.imsave's bytescale) as uint8.
Two original quirks are kept on purpose: the second seed ignores the mask, and the last
paddle of the first target snake is never added to the mask.

Besides the image, `make_pathfinder_image` returns the generator's own path mask: every
snake's centre line through its paddles with the gaps between them bridged, one bit per
snake (0, 1 = targets, 2.. = distractors), and the marker positions, for tests and checks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

from .pathfinder_params import PathfinderParams
from .pathfinder_snakes import (
    Paddle,
    SnakeTrace,
    Stamp,
    bytescale,
    candidate_heads,
    dilate,
    draw_circle,
    draw_line_n_mask,
    flip_by_pi,
    free_coordinates,
    paddle_stamp,
    translate_coord,
)


@dataclass
class PathfinderSample:
    """One generated image with its ground truth.

    image: (H, W) uint8; label: 1 iff the markers sit on the same snake;
    path_bits: (H, W) uint32, bit k set on snake k's centre line (see `path_bits`);
    origin, terminal: (y, x) marker centres; origin_snake, terminal_snake: the target snake
    (0 or 1) each marker sits on; margin: the paddle margin used (px).
    """

    image: np.ndarray
    label: int
    path_bits: np.ndarray
    origin: tuple[int, int]
    terminal: tuple[int, int]
    origin_snake: int
    terminal_snake: int
    margin: int

    def snake_path(self, k: int) -> np.ndarray:
        """(H, W) bool centre line of snake k (0, 1 = targets)."""
        return (self.path_bits >> np.uint32(k)) & np.uint32(1) == 1


@dataclass
class _Snake:
    image: np.ndarray  # (H, W) float, this snake's strokes
    segment: Stamp  # the last paddle; its mask joins the shared mask one step later
    pivot: list[int]
    orientation: float
    tip: list[int]
    trace: SnakeTrace = field(default_factory=SnakeTrace)

    def draw(self, stamp: Stamp) -> None:
        view = self.image[stamp.rows, stamp.cols]
        np.maximum(view, stamp.stroke, out=view)


def _add_mask(mask: np.ndarray, stamp: Stamp) -> None:
    """mask = max(mask, paddle mask), in place within the paddle's window."""
    view = mask[stamp.rows, stamp.cols]
    np.maximum(view, stamp.mask, out=view)


_FIRST_SEED_SPOTS: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}


def _first_seed_spots(
    params: PathfinderParams, margin: int, orientation: float, lined_mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Free spots of the first target seed for one orientation, cached per process."""
    key = (params, margin, orientation)
    if key not in _FIRST_SEED_SPOTS:
        painter = _Painter(params, margin, np.random.default_rng(0))
        _FIRST_SEED_SPOTS[key] = free_coordinates(
            dilate(lined_mask, painter.seed_struct(orientation))
        )
    return _FIRST_SEED_SPOTS[key]


class _Painter:
    """State shared by the drawing steps of one image: parameters, margin, RNG.

    Masks are (H, W) float arrays in [0, 1], updated in place; paddles are `Stamp`s, the
    original's full-size paddle images cut to the paddle's window (same values).
    """

    def __init__(self, params: PathfinderParams, margin: int, rng: np.random.Generator) -> None:
        self.p = params
        self.margin = margin
        self.rng = rng
        self.shape = (params.window_size, params.window_size)

    def stamp(self, start: list[int], orientation: float, contrast: float = 1.0) -> Stamp:
        p = self.p
        stamp = paddle_stamp(
            self.shape,
            start,
            orientation,
            p.paddle_length,
            p.paddle_thickness,
            self.margin,
            p.antialias_scale,
            contrast,
        )
        if stamp is None:  # start is always inside the image, so this cannot happen
            raise RuntimeError(f"paddle at {start} lies outside the image")
        return stamp

    def seed_struct(self, orientation: float) -> np.ndarray:
        """The head-centric struct of a paddle: its mask drawn in a (2(L+m)+1)^2 window."""
        size = (self.p.paddle_length + self.margin) * 2 + 1
        head = [self.p.paddle_length + self.margin + 1] * 2
        _, struct = draw_line_n_mask(
            (size, size),
            head,
            orientation,
            self.p.paddle_length,
            self.p.paddle_thickness,
            self.margin,
            self.p.antialias_scale,
        )
        return struct

    def random_orientation(self) -> float:
        return int(self.rng.integers(-180, 180)) * math.pi / 180

    def in_bounds(self, *coords: list[int]) -> bool:
        return all(0 <= c[0] < self.shape[0] and 0 <= c[1] < self.shape[1] for c in coords)

    def contrast(self, choices: tuple[float, ...]) -> float:
        return choices[int(self.rng.integers(0, len(choices)))]

    def extend(self, snake: _Snake, mask: np.ndarray, contrast: float) -> bool:
        """Add one paddle to `snake` (snakes.extend_snake); on success `mask` gains the
        previous paddle's mask (in place). Returns False at a dead end or a crossing."""
        p = self.p
        length, margin = p.paddle_length, self.margin
        new_pivot = translate_coord(snake.pivot, snake.orientation, length + 2 * margin)
        found = candidate_heads(
            new_pivot, snake.orientation, length + margin, mask, margin, p.continuity
        )
        if found is None:
            return False
        coords, orientations, cmf = found
        for _ in range(p.max_paddle_retrial + 1):
            index = int(np.argmax(cmf - self.rng.random() > 0))
            orientation = float(orientations[index])
            head = [int(coords[index, 0]), int(coords[index, 1])]
            stamp = self.stamp(head, flip_by_pi(orientation), contrast)
            # max(mask + new) over the image: outside the window it is max(mask) <= 1 < 1.8
            if np.max(mask[stamp.rows, stamp.cols] + stamp.mask) < 1.8:
                break
        else:
            return False
        near = translate_coord(head, flip_by_pi(orientation), length)
        snake.trace.paddles.append(Paddle(start=tuple(near), end=tuple(head)))
        snake.draw(stamp)
        _add_mask(mask, snake.segment)
        snake.segment, snake.pivot, snake.orientation, snake.tip = (
            stamp,
            new_pivot,
            orientation,
            head,
        )
        return True

    def place_seed(
        self,
        lined_mask: np.ndarray,
        mask: np.ndarray,
        contrast: float,
        stop_with_availability: float | None = None,
        first_seed: bool = False,
    ) -> _Snake | None:
        """A first paddle at a free spot of `lined_mask` (snakes.seed_snake).

        first_seed: `lined_mask` is the fixed mask of the first target seed (borders), whose
        free spots per orientation are cached (same result, computed once per process).
        """
        length, margin = self.p.paddle_length, self.margin
        for _ in range(self.p.max_paddle_retrial + 1):
            orientation = self.random_orientation()
            if first_seed:
                ys, xs = _first_seed_spots(self.p, margin, orientation, lined_mask)
            else:
                dilated = dilate(lined_mask, self.seed_struct(orientation))
                if stop_with_availability is not None:
                    raw_free = len(free_coordinates(mask)[0])
                    if raw_free / mask.size < stop_with_availability:
                        return None
                ys, xs = free_coordinates(dilated)
            if len(ys) == 0:
                return None
            k = int(self.rng.integers(0, len(ys)))
            tail = [int(ys[k]), int(xs[k])]
            head = translate_coord(tail, orientation, length)
            pivot = translate_coord(head, flip_by_pi(orientation), length + margin)
            if self.in_bounds(head, pivot):
                return self.seed_at(tail, orientation, contrast, pivot)
        return None

    def seed_at(
        self, tail: list[int], orientation: float, contrast: float, pivot: list[int]
    ) -> _Snake:
        stamp = self.stamp(tail, orientation, contrast)
        head = translate_coord(tail, orientation, self.p.paddle_length)
        trace = SnakeTrace([Paddle(start=tuple(tail), end=tuple(head))])
        snake = _Snake(np.zeros(self.shape), stamp, pivot, orientation, list(tail), trace)
        snake.draw(stamp)
        return snake

    def two_snakes(self) -> tuple[list[_Snake], np.ndarray, list[list[int]]] | None:
        """The two target snakes (snakes2.two_snakes + initialize_two_seeds), or None."""
        p, rng = self.p, self.rng
        mu = list(p.snake_contrast) * 2
        rng.shuffle(mu)
        mask = np.zeros(self.shape)
        pad = p.padding
        mask[:pad, :] = mask[-pad:, :] = mask[:, :pad] = mask[:, -pad:] = 1
        lined = mask.copy()
        far = 2 * p.seed_distance
        lined[:far, :] = lined[self.shape[0] - far :, :] = 1
        lined[:, :far] = lined[:, self.shape[1] - far :] = 1
        first_contrast = self.contrast(p.paddle_contrast) * mu[0]
        first = self.place_seed(lined, mask, first_contrast, first_seed=True)
        if first is None:
            return None
        second = None
        second_contrast = self.contrast(p.paddle_contrast) * mu[1]
        for _ in range(p.max_paddle_retrial + 1):
            orientation = self.random_orientation()
            angle = int(rng.integers(0, 360)) * math.pi / 180
            tail = [
                int(np.round(first.tip[0] + p.seed_distance * math.sin(angle))),
                int(np.round(first.tip[1] + p.seed_distance * math.cos(angle))),
            ]
            head = translate_coord(tail, orientation, p.paddle_length)
            pivot = translate_coord(head, flip_by_pi(orientation), p.paddle_length + self.margin)
            if self.in_bounds(head, pivot):
                second = self.seed_at(tail, orientation, second_contrast, pivot)
                break
        if second is None:
            return None
        snakes = [first, second]
        origins = [list(first.tip), list(second.tip)]
        for _ in range(p.contour_length - 1):
            contrast = self.contrast(p.paddle_contrast)
            for k, snake in enumerate(snakes):
                if not self.extend(snake, mask, contrast * mu[k]):
                    return None
        _add_mask(mask, snakes[-1].segment)  # quirk kept: snake 0's last paddle stays unmasked
        return snakes, mask, origins

    def distractors(
        self, image: np.ndarray, mask: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, list[SnakeTrace]]:
        """Short distractor snakes (snakes.make_many_snakes, allow_incomplete=True)."""
        p = self.p
        traces = []
        for _ in range(p.num_distractor_snakes):
            for _ in range(p.max_distractor_contour_retrial + 1):
                lined = mask.copy()
                lined[0, :] = lined[-1, :] = lined[:, 0] = lined[:, -1] = 1
                snake = self.place_seed(lined, mask, self.contrast(p.snake_contrast), 0.01)
                if snake is None:
                    continue
                trial_mask = mask.copy()
                ok = all(
                    self.extend(snake, trial_mask, self.contrast(p.snake_contrast))
                    for _ in range(p.distractor_length - 1)
                )
                if ok:
                    image = np.maximum(image, snake.image)
                    mask = trial_mask
                    _add_mask(mask, snake.segment)
                    traces.append(snake.trace)
                    break
        return image, mask, traces


def path_bits(shape: tuple[int, int], traces: list[SnakeTrace]) -> np.ndarray:
    """(H, W) uint32: bit k is set on the centre line of snake k (0, 1 targets, 2.. distractors).

    Each snake's line runs through its paddles' end points in contour order, so the gaps
    between paddles are bridged and one snake's line is one 8-connected curve.
    """
    if len(traces) > 32:
        raise ValueError(f"{len(traces)} snakes do not fit in 32 bits")
    bits = np.zeros(shape, dtype=np.uint32)
    for k, trace in enumerate(traces):
        canvas = Image.new("1", (shape[1], shape[0]), 0)
        points = [pt for paddle in trace.paddles for pt in (paddle.start, paddle.end)]
        clipped = [(min(max(x, 0), shape[1] - 1), min(max(y, 0), shape[0] - 1)) for y, x in points]
        ImageDraw.Draw(canvas).line(clipped, fill=1, width=1)
        ImageDraw.Draw(canvas).point(clipped, fill=1)
        bits[np.asarray(canvas, dtype=bool)] |= np.uint32(1 << k)
    return bits


def make_pathfinder_image(params: PathfinderParams, rng: np.random.Generator) -> PathfinderSample:
    """Generate one Pathfinder image with its label and ground truth (see module docstring).

    Only rng.integers(low, high), rng.random() and rng.shuffle(list) are called, in the
    order of the original's np.random calls, so an adapter over the legacy global state
    reproduces the original generator's output exactly.
    """
    label = int(rng.integers(0, 2))
    margin = params.paddle_margins[int(rng.integers(0, len(params.paddle_margins)))]
    painter = _Painter(params, margin, rng)
    result = None
    while result is None:
        result = painter.two_snakes()
    snakes, mask, origins = result
    image = np.maximum(snakes[0].image, snakes[1].image)
    image, mask, distractor_traces = painter.distractors(image, mask)
    origin_index = int(rng.integers(0, 2))
    terminal_index = origin_index if label == 1 else 1 - origin_index
    origin = origins[origin_index]
    terminal = snakes[terminal_index].tip
    shape = painter.shape
    markers = (
        np.maximum(
            draw_circle(shape, origin, params.marker_radius, params.antialias_scale),
            draw_circle(shape, terminal, params.marker_radius, params.antialias_scale),
        ).astype(np.float64)
        / 255
    )
    image = bytescale(np.maximum(image, markers))
    bits = path_bits(shape, [snakes[0].trace, snakes[1].trace, *distractor_traces])
    return PathfinderSample(
        image, label, bits, tuple(origin), tuple(terminal), origin_index, terminal_index, margin
    )
