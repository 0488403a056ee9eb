"""ListOps: generator checked by an independent evaluator; loader and tokeniser on TSV files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from lra.errors import DataFormatError
from lra.listops import read_listops, read_listops_tsv
from lra.listops_generator import ListOpsSettings, generate_listops, generate_listops_release
from lra.tokenizers import LISTOPS_IDS, decode_listops, encode_listops

OPS = ("[MIN", "[MAX", "[MED", "[SM")


# ---------------------------------------------------------------- independent evaluator
def parse(source: str):
    """Parse a ListOps string into (op, [children]) / int, checking the official rendering."""
    stack: list[tuple[str, list]] = []
    result = None
    for word in source.split():
        if word in ("(", ")"):
            continue
        if word in OPS:
            stack.append((word, []))
        elif word == "]":
            node = stack.pop()
            if stack:
                stack[-1][1].append(node)
            else:
                result = node
        else:
            value = int(word)
            assert 0 <= value <= 9
            if stack:
                stack[-1][1].append(value)
            else:
                result = value
    assert not stack, "unclosed operator"
    return result


def evaluate(node) -> int:
    if isinstance(node, int):
        return node
    op, children = node
    args = sorted(evaluate(c) for c in children)
    if op == "[MIN":
        return args[0]
    if op == "[MAX":
        return args[-1]
    if op == "[SM":
        return sum(args) % 10
    mid = len(args) // 2
    return args[mid] if len(args) % 2 else (args[mid - 1] + args[mid]) // 2


def render(node) -> str:
    """The official to_string of the left-nested tuple form."""
    if isinstance(node, int):
        return str(node)
    op, children = node
    text = "( " * (len(children) + 1) + op + " " + render(children[0]) + " )"
    for child in children[1:]:
        text += " " + render(child) + " )"
    return text + " ] )"


def depth(node, level: int = 1) -> int:
    if isinstance(node, int):
        return level
    return max(depth(c, level + 1) for c in node[1])


def length(node) -> int:
    return 1 if isinstance(node, int) else 2 + sum(length(c) for c in node[1])


def max_args(node) -> int:
    if isinstance(node, int):
        return 0
    return max([len(node[1])] + [max_args(c) for c in node[1]])


def test_evaluator_on_known_expressions():
    assert evaluate(parse("( ( ( [MAX 2 ) 9 ) ] )")) == 9
    assert evaluate(parse("( ( ( ( ( [MED 1 ) 4 ) 3 ) 8 ) ] )")) == 3  # (3 + 4) // 2
    assert evaluate(parse("( ( ( [SM 7 ) 8 ) ] )")) == 5
    nested = "( ( ( [MIN 5 ) ( ( ( [MAX 1 ) 2 ) ] ) ) ] )"
    assert evaluate(parse(nested)) == 2
    assert render(parse(nested)) == nested


# ---------------------------------------------------------------- generator
SMALL = ListOpsSettings(
    n_train=300,
    n_val=30,
    n_test=30,
    min_length=20,
    max_length=200,
    max_depth=6,
    max_args=5,
    seed=11,
)


@pytest.fixture(scope="module")
def small_splits():
    return generate_listops(SMALL, progress=False)


def test_every_label_recomputed_and_rendering_exact(small_splits):
    rows = [row for split in small_splits.values() for row in split]
    assert len(rows) == 360
    for source, target in rows:
        tree = parse(source)
        assert evaluate(tree) == target, source
        assert render(tree) == source


def test_length_depth_and_arity_bounds(small_splits):
    rows = [row for split in small_splits.values() for row in split]
    lengths = np.array([length(parse(s)) for s, _ in rows])
    assert lengths.min() > SMALL.min_length and lengths.max() < SMALL.max_length
    # the generator forces a leaf at depth == max_depth, so no node is deeper
    assert max(depth(parse(s)) for s, _ in rows) <= SMALL.max_depth
    assert max(max_args(parse(s)) for s, _ in rows) <= SMALL.max_args
    # tokens = op, values and close brackets: exactly the generator's length
    for (source, _), n in zip(rows, lengths, strict=True):
        assert len(encode_listops(source)) == n


def test_no_duplicates_and_split_sizes(small_splits):
    sources = [s for split in small_splits.values() for s, _ in split]
    assert len(set(sources)) == len(sources)
    assert [len(small_splits[k]) for k in ("train", "val", "test")] == [300, 30, 30]


def test_labels_skewed_like_lra():
    rows = generate_listops(
        ListOpsSettings(n_train=400, n_val=0, n_test=0, seed=5), progress=False
    )["train"]
    counts = np.bincount([t for _, t in rows], minlength=10)
    # the official distribution: 0 and 9 are the most frequent classes
    assert set(np.argsort(counts)[-2:]) == {0, 9}


def test_official_bounds_hold(tmp_path):
    settings = ListOpsSettings(n_train=20, n_val=5, n_test=5, seed=2)  # 500 < len < 2000
    for split in generate_listops(settings, progress=False).values():
        for source, target in split:
            assert 500 < length(parse(source)) < 2000
            assert depth(parse(source)) <= 10
            assert evaluate(parse(source)) == target


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_same_seed_byte_identical_files(tmp_path):
    a = generate_listops_release(tmp_path / "a", SMALL, progress=False)
    generate_listops_release(tmp_path / "b", SMALL, progress=False)
    assert set(a) == {"train", "val", "test"}
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    other = ListOpsSettings(**{**SMALL.__dict__, "seed": SMALL.seed + 1})
    generate_listops_release(tmp_path / "c", other, progress=False)
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_official_tsv_format(tmp_path):
    paths = generate_listops_release(tmp_path, SMALL, progress=False)
    raw = paths["val"].read_bytes()
    assert raw.startswith(b"Source\tTarget\r\n")  # csv.writer's dialect, as the original
    sources, targets = read_listops_tsv(paths["val"])
    assert len(sources) == 30 and all(0 <= t <= 9 for t in targets)


def test_settings_rejected():
    with pytest.raises(ValueError, match="no length"):
        ListOpsSettings(min_length=10, max_length=11)
    with pytest.raises(ValueError):
        ListOpsSettings(max_args=1)


# ---------------------------------------------------------------- tokeniser and loader
def test_tokeniser_keeps_close_bracket():
    ids = encode_listops("( ( ( [MAX 2 ) 9 ) ] )")
    assert ids.tolist() == [LISTOPS_IDS[t] for t in ("[MAX", "2", "9", "]")]
    assert decode_listops(ids) == "[MAX 2 9 ]"
    assert encode_listops("[MAX 2 ]", append_eos=True)[-1] == LISTOPS_IDS["<eos>"]
    assert encode_listops("[FOO 1 ]")[0] == LISTOPS_IDS["<unk>"]


def _write_release(root: Path, rows_by_split: dict[str, list[str]]) -> Path:
    folder = root / "listops-1000"
    folder.mkdir(parents=True)
    for split in ("train", "val", "test"):
        lines = ["Source\tTarget", *rows_by_split.get(split, ["( ( [MIN 3 ) ] )\t3"])]
        (folder / f"basic_{split}.tsv").write_text("\r\n".join(lines) + "\r\n")
    return folder


def test_loader_reads_release(tmp_path):
    _write_release(tmp_path, {"train": ["( ( ( [MAX 2 ) 9 ) ] )\t9", "( ( [SM 4 ) ] )\t4"]})
    splits = read_listops(tmp_path, progress=False)
    assert len(splits["train"]) == 2 and splits["train"].labels.tolist() == [9, 4]
    assert decode_listops(splits["train"].example(0)) == "[MAX 2 9 ]"
    assert len(splits["val"]) == 1


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("( ( [MIN 3 ) ] )", "line 3.*2 tab-separated"),
        ("( ( [MIN 3 ) ] )\tx", "line 3.*not an integer"),
        ("( ( [MIN 3 ) ] )\t12", "line 3.*label 12 outside"),
        ("( ( [MIN 3 ) ]\t3", "line 3.*unbalanced"),
    ],
)
def test_loader_bad_rows_name_file_and_line(tmp_path, row, message):
    folder = _write_release(tmp_path, {"train": ["( ( [SM 4 ) ] )\t4", row]})
    with pytest.raises(DataFormatError, match=message) as err:
        read_listops(tmp_path, progress=False)
    assert str(folder / "basic_train.tsv") in str(err.value)


def test_truncated_file_names_line(tmp_path):
    folder = _write_release(tmp_path, {})
    good = "( ( ( [MAX 2 ) 9 ) ] )\t9\r\n"
    data = ("Source\tTarget\r\n" + good * 3).encode()
    (folder / "basic_test.tsv").write_bytes(data[:-9])  # cut inside the last source
    with pytest.raises(DataFormatError, match="basic_test.tsv: line 4"):
        read_listops(tmp_path, progress=False)


def test_missing_release_names_layout_and_source(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        read_listops(tmp_path / "nowhere", progress=False)
    message = str(err.value)
    assert "listops-1000/basic_train.tsv" in message
    assert "google-research/long-range-arena" in message and "lra_release" in message


def test_tree_counts_match_a_hand_count():
    from lra.listops_generator import tree_counts

    # depth 2, two arguments: 10 leaves (length 1) and 4 operators x 10 x 10 (length 4)
    counts = tree_counts(max_depth=2, max_args=2, max_length=10)
    assert counts[1] == 10 and counts[4] == 400 and counts.sum() == 410
    # depth 3 adds nodes of length 2 + (1 or 4) + (1 or 4): 4, 7 and 10 (not < 10)
    counts = tree_counts(max_depth=3, max_args=2, max_length=10)
    assert counts[4] == 400 and counts[7] == 4 * 2 * 10 * 400


@pytest.mark.parametrize("kw, reason", [
    ({"max_depth": 1}, r"max_depth=1 .* 0 distinct trees.*reachable lengths below max_length: 1\)"),
    ({"max_depth": 3, "max_args": 3, "min_length": 1500}, "0 distinct trees with 1500 < length"),
    ({"max_depth": 2, "max_args": 2, "min_length": 2, "max_length": 10, "n_train": 500,
      "n_val": 0, "n_test": 0}, "400 distinct trees.* 500 are asked for"),
])
def test_impossible_generator_settings_fail_fast_with_the_reason(kw, reason):
    with pytest.raises(ValueError, match=reason):
        ListOpsSettings(**kw)


# ---------------------------------------------------------------- files it did not write
TINY = ListOpsSettings(n_train=6, n_val=2, n_test=2, min_length=3, max_length=30, max_depth=3,
                       max_args=3, seed=1)


def _release(folder: Path, train: bytes = b"Source\tTarget\n( [MAX 2 9 ] )\t9\n") -> Path:
    """An 'official' release: three TSVs, no generator marker."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "basic_train.tsv").write_bytes(train)
    for split in ("val", "test"):
        (folder / f"basic_{split}.tsv").write_bytes(b"Source\tTarget\n( [MIN 3 1 ] )\t1\n")
    return folder


def test_generator_never_overwrites_files_it_did_not_write(tmp_path, capsys):
    from lra.cli import main

    folder = _release(tmp_path / "listops-1000")
    before = (folder / "basic_train.tsv").read_bytes()
    with pytest.raises(FileExistsError, match="basic_train.tsv.*did not write.*generator.json"):
        generate_listops_release(folder, TINY, progress=False)
    assert main(["generate", "listops", "--out", str(folder), "--train", "6", "--val", "2",
                 "--test", "2", "--min-len", "3", "--max-len", "30", "--max-depth", "3"]) == 2
    assert "did not write" in capsys.readouterr().err
    assert (folder / "basic_train.tsv").read_bytes() == before
    # its own output is replaced (new settings or seed), and marked
    ours = tmp_path / "ours"
    generate_listops_release(ours, TINY, progress=False)
    generate_listops_release(ours, ListOpsSettings(**{**TINY.__dict__, "seed": 2}),
                             progress=False)
    assert '"seed": 2' in (ours / "generator.json").read_text()


def test_header_only_split_is_an_error_naming_the_file(tmp_path):
    folder = _release(tmp_path / "listops-1000", train=b"Source\tTarget\r\n")
    with pytest.raises(DataFormatError, match=r"basic_train.tsv: whole file: no examples"):
        read_listops(tmp_path, progress=False)
    (folder / "basic_train.tsv").write_bytes(b"")
    with pytest.raises(DataFormatError, match=r"basic_train.tsv: whole file: no examples"):
        read_listops(tmp_path, progress=False)


def test_undecodable_byte_names_file_and_line(tmp_path):
    _release(tmp_path / "listops-1000",
             train=b"Source\tTarget\n( [MAX 2 9 ] )\t9\n( [MIN 2 \xff ] )\t2\n")
    with pytest.raises(DataFormatError, match=r"basic_train.tsv: line 3: byte 0xff at column 10"):
        read_listops(tmp_path, progress=False)


def test_unknown_tokens_are_counted_or_an_error(tmp_path):
    from lra.listops import UnknownTokenWarning
    from lra.tasks import load_splits

    _release(tmp_path / "listops-1000",
             train=b"Source\tTarget\n( [MAX 2 9 ] )\t9\n( [MIN 2 FOO ] )\t2\n( [MAX x y ] )\t2\n")
    with pytest.warns(UnknownTokenWarning, match=r"basic_train.tsv: 3 unknown token.*'FOO' on "
                                                 r"line 3"):
        splits = load_splits("listops", tmp_path, tmp_path / "cache", progress=False)
    assert len(splits["train"]) == 3
    with pytest.raises(DataFormatError, match=r"basic_train.tsv: line 3: unknown token 'FOO'"):
        read_listops(tmp_path, progress=False, strict_tokens=True)
    # the cache built leniently above does not hide them from a strict run
    with pytest.raises(DataFormatError, match=r"line 3: unknown token 'FOO'"):
        load_splits("listops", tmp_path, tmp_path / "cache", progress=False, strict_tokens=True)


def test_an_empty_split_from_any_loader_names_the_root(tmp_path):
    from lra.splits import from_sequences
    from lra.tasks import check_not_empty

    empty = from_sequences([], [])
    with pytest.raises(DataFormatError, match=f"{tmp_path}: val split: no image examples"):
        check_not_empty("image", tmp_path, {"train": from_sequences([np.ones(3)], [1]),
                                            "val": empty})
