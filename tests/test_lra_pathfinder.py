"""Pathfinder: generated images have the LRA properties; the release loader and its quirks."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from lra.errors import DataFormatError
from lra.pathfinder import read_pathfinder
from lra.pathfinder_generator import make_pathfinder_image
from lra.pathfinder_params import LEVELS, lra_params
from lra.pathfinder_release import generate_pathfinder_release

EIGHT = np.ones((3, 3), dtype=bool)


@pytest.fixture(scope="module")
def samples32():
    rng = np.random.default_rng(7)
    return [make_pathfinder_image(lra_params(32, "hard"), rng) for _ in range(120)]


@pytest.fixture(scope="module")
def samples128():
    rng = np.random.default_rng(8)
    return [make_pathfinder_image(lra_params(128, "hard"), rng) for _ in range(4)]


def connected(mask: np.ndarray, a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Are pixels a and b in the same 8-connected component of `mask`?"""
    components, _ = ndimage.label(mask, structure=EIGHT)
    return bool(components[a]) and components[a] == components[b]


def same_snake(sample) -> bool:
    """Connected through one snake's own path mask (any snake)."""
    n_snakes = int(sample.path_bits.max()).bit_length()
    return any(
        connected(sample.snake_path(k), sample.origin, sample.terminal) for k in range(n_snakes)
    )


def test_image_format(samples32, samples128):
    for samples, side in ((samples32, 32), (samples128, 128)):
        for s in samples:
            assert s.image.shape == (side, side) and s.image.dtype == np.uint8
            assert s.image.max() == 255 and s.image.min() == 0  # rescaled as imsave did
            assert s.label in (0, 1)


def test_labels_balanced(samples32):
    labels = np.array([s.label for s in samples32])
    assert 0.4 < labels.mean() < 0.6


@pytest.mark.parametrize(("which", "radius"), [("samples32", 1), ("samples128", 2)])
def test_two_marker_discs_present(request, which, radius):
    for s in request.getfixturevalue(which):
        assert s.origin != s.terminal
        side = s.image.shape[0]
        yy, xx = np.ogrid[:side, :side]
        for y, x in (s.origin, s.terminal):
            disc = (yy - y) ** 2 + (xx - x) ** 2 <= radius**2
            assert s.image[disc].min() >= 120, "marker disc not drawn"
            assert s.image[y, x] >= np.percentile(s.image[s.image > 0], 75)


def test_markers_sit_on_target_paths(samples32, samples128):
    for s in samples32 + samples128:
        assert s.snake_path(s.origin_snake)[s.origin]
        assert s.snake_path(s.terminal_snake)[s.terminal]
        assert (s.origin_snake == s.terminal_snake) == (s.label == 1)


def test_path_mask_follows_drawn_pixels(samples32, samples128):
    for s in samples32 + samples128:
        on_path = s.path_bits > 0
        assert (s.image[on_path] > 0).mean() > 0.7  # only the bridged gaps are dark


def test_positives_connected_more_often_than_negatives(samples32, samples128):
    samples = samples32 + samples128
    pos = [s for s in samples if s.label == 1]
    neg = [s for s in samples if s.label == 0]
    own_pos = np.mean([same_snake(s) for s in pos])
    own_neg = np.mean([same_snake(s) for s in neg])
    assert own_pos == 1.0 and own_neg < 0.1
    # through the union of all drawn paths, negatives connect only where contours touch
    union_pos = np.mean([connected(s.path_bits > 0, s.origin, s.terminal) for s in pos])
    union_neg = np.mean([connected(s.path_bits > 0, s.origin, s.terminal) for s in neg])
    assert union_pos == 1.0 and union_neg < union_pos


def test_levels_change_contour_length():
    lengths = {level: lra_params(32, level).contour_length for level in LEVELS}
    assert lengths == {"easy": 6, "intermediate": 9, "hard": 14}
    assert lra_params(128, "hard").num_distractor_snakes == 35 // 4
    with pytest.raises(ValueError, match="resolution"):
        lra_params(64, "hard")
    with pytest.raises(ValueError, match="level"):
        lra_params(32, "medium")


# ---------------------------------------------------------------- release layout
def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    root = tmp_path_factory.mktemp("pf")
    generate_pathfinder_release(
        root / "one" / "pathfinder32",
        n_images=10,
        per_shard=4,
        workers=1,
        seed=3,
        save_truth=True,
        progress=False,
    )
    generate_pathfinder_release(
        root / "two" / "pathfinder32",
        n_images=10,
        per_shard=4,
        workers=2,
        seed=3,
        save_truth=True,
        progress=False,
    )
    return root


def test_release_layout(release):
    level = release / "one" / "pathfinder32" / "curv_contour_length_14"
    assert sorted(p.name for p in (level / "metadata").iterdir()) == ["0.npy", "1.npy", "2.npy"]
    lines = (level / "metadata" / "2.npy").read_text().splitlines()
    assert len(lines) == 2  # 10 images in shards of 4, 4, 2
    fields = lines[1].split(" ")
    assert fields[:3] == ["imgs/2", "sample_1.png", "1"] and fields[3] in ("0", "1")
    assert len(fields) == 11
    with Image.open(level / "imgs" / "2" / "sample_1.png") as im:
        assert im.mode == "L" and im.size == (32, 32)
    truth = np.load(level / "truth" / "2.npz")
    assert truth["path_bits"].shape == (2, 32, 32)
    assert truth["labels"].tolist() == [int(line.split(" ")[3]) for line in lines]


def test_release_independent_of_worker_count(release):
    assert _digests(release / "one") == _digests(release / "two")


def test_release_resumes_and_refuses_other_settings(release, tmp_path):
    out = tmp_path / "pathfinder32"
    generate_pathfinder_release(out, n_images=4, per_shard=2, seed=3, progress=False)
    level = out / "curv_contour_length_14"
    before = _digests(level)
    (level / "metadata" / "1.npy").unlink()  # as if killed before shard 1 finished
    generate_pathfinder_release(out, n_images=4, per_shard=2, seed=3, progress=False)
    assert _digests(level) == before
    with pytest.raises(ValueError, match="other settings"):
        generate_pathfinder_release(out, n_images=4, per_shard=2, seed=4, progress=False)


def test_loader_reads_generated_release(release):
    splits = read_pathfinder(release / "one", 32, "hard", progress=False)
    assert [len(splits[k]) for k in ("train", "val", "test")] == [8, 1, 1]
    level = release / "one" / "pathfinder32" / "curv_contour_length_14"
    with Image.open(level / "imgs" / "0" / "sample_0.png") as im:
        first = np.asarray(im).reshape(-1)
    assert np.array_equal(splits["train"].example(0), first)
    label = int((level / "metadata" / "0.npy").read_text().split("\n")[0].split(" ")[3])
    assert splits["train"].labels[0] == label


# ---------------------------------------------------------------- loader on hand-made files
def _write_level(root: Path, rows: list[str], images: dict[str, bytes | np.ndarray]) -> Path:
    level = root / "pathfinder32" / "curv_contour_length_14"
    (level / "metadata").mkdir(parents=True)
    (level / "imgs" / "0").mkdir(parents=True)
    for name, content in images.items():
        path = level / "imgs" / "0" / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            Image.fromarray(content, mode="L").save(path)
    (level / "metadata" / "0.npy").write_text("".join(r + "\n" for r in rows))
    return level


def _image(value: int) -> np.ndarray:
    return np.full((32, 32), value, dtype=np.uint8)


def test_loader_quirks_text_metadata_and_empty_image(tmp_path):
    rows = [f"imgs/0 sample_{i}.png {i} {i % 2} 1.0 14 4 2 0.5 1 1" for i in range(11)]
    images = {f"sample_{i}.png": _image(10 * i) for i in range(11)}
    images["sample_5.png"] = b""  # the release's known empty file
    _write_level(tmp_path, rows, images)
    splits = read_pathfinder(tmp_path, 32, "hard", progress=False)
    assert [len(splits[k]) for k in ("train", "val", "test")] == [8, 1, 1]
    kept = [0, 1, 2, 3, 4, 6, 7, 8, 9, 10]
    assert splits["train"].labels.tolist() == [i % 2 for i in kept[:8]]
    assert splits["test"].example(0)[0] == 100 and len(splits["test"].example(0)) == 1024


@pytest.mark.parametrize(
    ("row", "image", "message"),
    [
        ("imgs/0 sample_1.png 1 2", _image(1), "0.npy: line 2: label '2'"),
        ("imgs/0 sample_1.png 1", _image(1), "0.npy: line 2: expected >= 4"),
        ("imgs/0 sample_9.png 9 1", None, "0.npy: line 2: image .*sample_9.png does not exist"),
        (
            "imgs/0 sample_1.png 1 1",
            b"not a png at all",
            "sample_1.png: image listed at metadata/0.npy line 2: unreadable",
        ),
        ("imgs/0 sample_1.png 1 1", np.zeros((16, 32), np.uint8), "size"),
    ],
)
def test_loader_bad_input_names_file_and_line(tmp_path, row, image, message):
    images = {"sample_0.png": _image(3)}
    if image is not None:
        images["sample_1.png"] = image
    _write_level(tmp_path, ["imgs/0 sample_0.png 0 1", row], images)
    with pytest.raises(DataFormatError, match=message):
        read_pathfinder(tmp_path, 32, "hard", progress=False)


def test_truncated_png_raises(tmp_path):
    level = _write_level(tmp_path, ["imgs/0 sample_0.png 0 1"], {"sample_0.png": _image(7)})
    path = level / "imgs" / "0" / "sample_0.png"
    data = np.random.default_rng(0).integers(0, 255, (32, 32), dtype=np.uint8)
    Image.fromarray(data, mode="L").save(path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataFormatError, match="sample_0.png.*unreadable"):
        read_pathfinder(tmp_path, 32, "hard", progress=False)


def test_missing_level_names_layout_and_source(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        read_pathfinder(tmp_path, 128, "hard", progress=False)
    message = str(err.value)
    assert "pathfinder128/curv_contour_length_14/metadata" in message
    assert "lra_release.gz" in message and "python -m lra generate pathfinder" in message


@pytest.mark.parametrize(("resolution", "level", "folder"), [
    (32, "easy", "curv_baseline"), (128, "easy", "curv_baseline"),
    (32, "intermediate", "curv_contour_length_9"),
])  # fmt: skip
def test_levels_and_path_x_round_trip(tmp_path, resolution, level, folder):
    out = tmp_path / f"pathfinder{resolution}"
    made = generate_pathfinder_release(
        out, resolution, level, n_images=3, seed=1, per_shard=3, progress=False
    )
    assert made == out / folder
    splits = read_pathfinder(tmp_path, resolution, level, progress=False)
    assert sum(len(s) for s in splits.values()) == 3
    assert len(splits["train"].example(0)) == resolution * resolution
    with pytest.raises(FileNotFoundError):  # the other levels are not there
        read_pathfinder(tmp_path, resolution, "hard", progress=False)


def test_an_unreadable_generator_marker_is_named(tmp_path):
    """generator.json was written in place (a kill could truncate it) and a broken one gave
    "Expecting value: line 1 column 1", naming no file."""
    out = tmp_path / "pathfinder32"
    marker = generate_pathfinder_release(out, n_images=2, per_shard=2, seed=3,
                                         progress=False) / "generator.json"
    marker.write_text('{"resolution": 32, "lev')
    with pytest.raises(ValueError, match=r"generator\.json is not valid JSON.*delete"):
        generate_pathfinder_release(out, n_images=2, per_shard=2, seed=3, progress=False)
