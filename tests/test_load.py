"""The YAML loader: exact numbers, YAML 1.2 core scalars, places for every value and key, hard limits."""

from __future__ import annotations

import os
import time
from decimal import Decimal
from pathlib import Path

import pytest

from billed import load
from billed.load import load_file, load_text


def codes(doc: load.Doc) -> list[tuple[int, int, str]]:
    return [(f.line, f.col, f.code) for f in doc.findings]


def test_numbers_are_read_from_their_text() -> None:
    doc = load_text("a: 0.1\nb: 0.2\nc: 0.30\nd: 010\ne: 1e5\nf: -0.0\ng: 12\n", "f.yaml")
    assert doc.data["a"] + doc.data["b"] == Decimal("0.3")
    assert str(doc.data["c"]) == "0.30"  # the written precision is kept
    assert doc.data["d"] == 10 and isinstance(doc.data["d"], int)
    assert doc.data["e"] == Decimal("100000")
    assert not any(isinstance(v, float) for v in doc.data.values())
    assert type(doc.data["g"]) is int


def test_yaml_12_core_scalars_only() -> None:
    doc = load_text("country: NO\nok: yes\nflag: on\nday: 2026-03-01\nquoted: '1.5'\nhex: 0x10\n"
                    "sep: 1_000\nnone:\ntilde: ~\nyes_: True\n", "f.yaml")
    assert doc.data == {"country": "NO", "ok": "yes", "flag": "on", "day": "2026-03-01", "quoted": "1.5",
                        "hex": "0x10", "sep": "1_000", "none": None, "tilde": None, "yes_": True}


def test_places_of_values_and_keys() -> None:
    doc = load_text("title: x\nmilestones:\n  - id: a\n    amount: 5\n  - id: b\n", "f.yaml")
    assert doc.where(("milestones", 0, "amount")) == (4, 13)
    assert doc.where(("milestones", 0, "amount"), key=True) == (4, 5)
    assert doc.where(("milestones", 1)) == (5, 5)
    assert doc.where(("milestones", 1, "missing")) == (5, 5)  # nearest ancestor
    assert doc.where(("nothing",), key=True) == (1, 1)


def test_aliases_share_the_anchor_value() -> None:
    doc = load_text("a: &x [1, 2]\nb: *x\n", "f.yaml")
    assert doc.data == {"a": [1, 2], "b": [1, 2]} and not doc.findings
    assert doc.where(("b",)) == (2, 4)


@pytest.mark.parametrize(("text", "expected"), [
    ("a: 1\na: 2\n", [(2, 1, "E003")]),
    ("a: .nan\nb: -.inf\nc: 1e999\n", [(1, 4, "E006"), (2, 4, "E006"), (3, 4, "E006")]),
    ("a: " + "9" * 41 + "\n", [(1, 4, "E006")]),
    ("a: 1\n---\na: 2\n", [(2, 1, "E004")]),
    ("a: !!float 1\n", [(1, 4, "E004")]),
    ("a: !!str 1\n", []),
    ("? [x]\n: 1\n", [(1, 3, "E004")]),
    ("a: *nope\n", [(1, 4, "E002")]),
    ("a: [1\n", [(2, 1, "E002")]),
    ("a: b\x01c\n", [(1, 5, "E002")]),
    ("x: " + "[" * 70 + "]" * 70 + "\n", [(1, 67, "E005")]),
])
def test_problems_are_findings_with_places(text: str, expected: list[tuple[int, int, str]]) -> None:
    assert codes(load_text(text, "f.yaml")) == expected


def test_str_tag_keeps_text() -> None:
    assert load_text("a: !!str 1.50\n", "f.yaml").data == {"a": "1.50"}


def test_alias_bomb_is_stopped_fast() -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{', '.join(['*' + prev] * 10)}]")
    start = time.perf_counter()
    doc = load_text("\n".join(lines) + "\n", "f.yaml")
    assert time.perf_counter() - start < 2
    assert [f.code for f in doc.findings] == ["E005"] and doc.data is None


@pytest.mark.parametrize(("content", "message"), [
    (b"", "file is empty"),
    (b"# only a comment\n\n", "file is empty"),
    (b"a: 1\x00", "binary file"),
    (b"a: caf\xe9\n", "not valid UTF-8"),
    (b"a" * (load.MAX_BYTES + 1), "larger than the 2,000,000 bytes"),
])
def test_unreadable_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "f.yaml"
    path.write_bytes(content)
    doc = load_file(path, "f.yaml")
    assert [f.code for f in doc.findings] == ["E001"]
    assert message in doc.findings[0].message and doc.findings[0].hint


def test_missing_file_and_directory(tmp_path: Path) -> None:
    assert "not found" in load_file(tmp_path / "nope.yaml").findings[0].message
    (tmp_path / "dir.yaml").mkdir()
    assert "directory" in load_file(tmp_path / "dir.yaml").findings[0].message


def test_special_files_are_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)  # reading it would block forever
    assert "not a regular file" in load_file(fifo).findings[0].message
    link = tmp_path / "zero.yaml"
    link.symlink_to("/dev/zero")  # reading it would never end
    assert "not a regular file" in load_file(link).findings[0].message


def test_non_utf8_position_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_bytes(b"a: 1\nb: gr\xfc\xdfe\n")
    assert codes(load_file(path)) == [(2, 6, "E001")]
    path.write_bytes("\ufeffa: 1.5\n".encode())
    doc = load_file(path)
    assert doc.data == {"a": Decimal("1.5")} and doc.where(("a",)) == (1, 4)


def test_a_file_that_opens_with_content_is_never_one_the_full_emptiness_test_calls_empty():
    """read_text skips splitting the whole file into lines when its first line has content: on random texts made
    of blanks, comments, text and every character `splitlines` breaks at, that short answer must never disagree."""
    import random

    def empty(text: str) -> bool:
        return not text.strip() or all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines())

    rng = random.Random(16)
    pieces = [" ", "\t", "#", "a", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029",
              "\u00a0", "\u3000", "# x", "k: v"]
    said = 0
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
        if load._opens_with_content(text):
            said += 1
            assert not empty(text), repr(text)
    assert said > 300  # (the short answer was given often enough to be tested)


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 4097, 70_000])
def test_files_are_read_as_a_buffered_read_reads_them(tmp_path: Path, size: int) -> None:
    """load._read_bytes reads with os.read, not a buffered file: the same bytes up to the limit, whatever the size."""
    path = tmp_path / "f.yaml"
    path.write_bytes(bytes(range(256)) * (size // 256) + b"x" * (size % 256))
    for limit in (1, 4096, 65_537, 100_000):
        with path.open("rb") as handle:
            assert load._read_bytes(path, limit) == handle.read(limit)
    with pytest.raises(FileNotFoundError):
        load._read_bytes(tmp_path / "nope.yaml", 10)
