"""billed/recordfile.py: the fast paths of reading one record file give what the plain code they replace gives.

Each reference below is the earlier code, written out here (not taken from recordfile.py): its results, and the
type and words of its errors (they become the E060 message), must be what the fast path gives for any input.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billed import ledger, recordfile
from tests.conftest import make_repo, run

PROJECT = """\
title: Web
start: 2026-01-05
milestones:
  - {id: a, title: Alpha, amount: 1000.00, status: done, done: 2026-02-01}
  - {id: b, title: Beta, amount: 500.00, status: done, done: 2026-02-01}
"""


def _outcome(fn, *args):
    try:
        return ("ok", fn(*args))
    except Exception as exc:  # noqa: BLE001 - compared by type and words
        return (type(exc), str(exc))


def _reference_line(line) -> tuple:
    intern = sys.intern
    return (intern(str(line.get("role", ""))), intern(str(line.get("ref", ""))), str(line.get("net", "")),
            intern(str(line.get("tax_rate", ""))), intern(str(line.get("category", ""))))


def _reference_lines(data) -> tuple:
    return tuple(_reference_line(line) for line in data["lines"])


def _reference_day(value) -> bool:
    return isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value) is not None and \
        _valid_date(value)


def _valid_date(value: str) -> bool:
    try:
        dt.date(int(value[:4]), int(value[5:7]), int(value[8:]))
    except ValueError:
        return False
    return True


def _reference_well_formed(head, amounts) -> None:
    at = recordfile._AT
    if not all(isinstance(head[at[k]], int) and not isinstance(head[at[k]], bool) for k in ("year", "seq")):
        raise TypeError("year and seq must be whole numbers")
    if not all(isinstance(head[at[k]], str) for k in ("number", "series", "client", "project", "issue_date")):
        raise TypeError("number, series, client, project and issue_date must be text")
    if not all(isinstance(head[at[k]], str) for k in ("kind", "currency")):  # (added with the fast check)
        raise TypeError("kind and currency must be text")
    if head[at["type_code"]] not in ("380", "381", "384", "386"):  # (added when a list there crashed the board)
        raise ValueError("type_code must be one of 380, 381, 384 and 386")
    if not _reference_day(head[at["issue_date"]]):  # (added with the fast check, as the two lines above)
        raise ValueError("issue_date must be a date written YYYY-MM-DD")
    for day in (head[at["due_date"]], head[at["supply_date"]]):
        if day is not recordfile.ABSENT and day is not None and not _reference_day(day):
            raise ValueError("due_date and supply_date must be dates written YYYY-MM-DD, or null")
    files = head[at["files"]]
    if not (files is recordfile.ABSENT or files is None or isinstance(files, dict)):
        raise TypeError("files must be a mapping of rendered files to their SHA-256")
    if files and files is not recordfile.ABSENT and not set(files) <= {"html", "pdf"}:  # (added after review)
        raise ValueError("files may name the html and pdf renderings only")
    corrects = head[at["corrects"]]  # (added when a list there crashed status)
    if not (corrects is recordfile.ABSENT or corrects is None or isinstance(corrects, str)):
        raise TypeError("corrects must be the number of a document, or null")
    if not all(isinstance(head[at[k]], str) for k in ("net", "total")):  # (added after review, as the line above)
        raise TypeError("net and total must be amounts written as text")
    try:
        finite = all(Decimal(head[at[k]]).is_finite() for k in ("net", "total"))
    except ArithmeticError:
        finite = False
    if not finite:
        raise ValueError("net and total must be amounts")
    for _role, _ref, net, rate, _category in amounts:
        Decimal(net)
        Decimal(rate)


_VALUE = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.text(max_size=5),
                   st.sampled_from(["12.50", "19", "-0.01", "S", "charge", "1e3", "NaN", "x"]),
                   st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=2), st.integers(),
                                                                        max_size=2))
_LINE_KEYS = ("role", "ref", "net", "tax_rate", "category", "description")
_LINE = st.one_of(st.dictionaries(st.sampled_from(_LINE_KEYS), _VALUE, max_size=6),
                  st.fixed_dictionaries({k: st.text(max_size=4) for k in _LINE_KEYS[:5]}), _VALUE)
_LINES = st.one_of(st.lists(_LINE, max_size=3), _VALUE)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_LINES)
def test_the_lines_of_a_head_are_what_the_plain_code_gives_whatever_they_hold(lines):
    """Lines as Billed writes them (five texts) take a shortcut; any other line, missing fields, numbers, lists
    or no mapping at all, gives the same view or the same error as before."""
    data = {"lines": lines}
    got = _outcome(lambda: recordfile.head_of(data)[1])
    assert got == _outcome(_reference_lines, data)
    if got[0] == "ok":
        assert all(type(f) is str for line in got[1] for f in line)


_DAY = st.one_of(st.dates().map(str), st.sampled_from(["2026-02-30", "20260301", "2026-W09-1", "2026-3-1",
                                                     "2026-03-01T00:00", " 2026-03-01", "0000-01-01"]))
_HEAD_VALUE = st.one_of(_VALUE, st.just(recordfile.ABSENT), st.floats(allow_nan=False), _DAY)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_HEAD_VALUE, min_size=len(recordfile.HEAD), max_size=len(recordfile.HEAD)),
       st.lists(st.tuples(*[st.sampled_from(["1.00", "19", "0", "x", "", "NaN", "1e2", "-3"])] * 5), max_size=3),
       st.sampled_from([0, 1, 2, 3, 4]))
def test_a_head_is_well_formed_exactly_when_the_plain_check_says_so(values, amounts, plain):
    """`type(x) is int` and `is str` stand for isinstance (bool left out) on what a JSON decoder gives."""
    head = list(values)
    at = recordfile._AT
    if plain:  # mostly well-formed heads, so the later checks are reached too
        head[at["year"]], head[at["seq"]] = 2026, 3
        for k in ("number", "series", "client", "project", "kind", "currency"):
            head[at[k]] = "t"
        head[at["issue_date"]] = "2026-03-01"
        if plain > 2:  # amounts in most of these, so the lines are reached too
            head[at["net"]], head[at["total"]] = "100.00", "119.00"
        if plain > 1:
            head[at["files"]] = [{}, None, recordfile.ABSENT][plain - 2]
    head, amounts = tuple(head), tuple(amounts)
    assert _outcome(recordfile._well_formed, head, amounts) == _outcome(_reference_well_formed, head, amounts)


def _reference_open_read(path: str):
    st_ = os.stat(path)
    if (st_.st_mode & 0o170000) != 0o100000:
        return st_, None
    with open(path, "rb") as handle:
        return st_, handle.read()


def test_a_file_s_stat_and_bytes_are_those_of_stat_then_read(tmp_path):
    """One open and an fstat instead of a stat and an open: the same stat and bytes, no read of what is not a
    regular file (a FIFO neither blocks nor is read), the same error where there is no file."""
    (tmp_path / "file").write_bytes(b"x" * 70_000)
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "folder").mkdir()
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "link").symlink_to(tmp_path / "file")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    for name in ("file", "empty", "folder", "fifo", "link", "dangling", "loop", "missing"):
        path = str(tmp_path / name)
        got, want = _outcome(recordfile._open_read, path), _outcome(_reference_open_read, path)
        if got[0] == "ok":
            (st_, raw), (ref_st, ref_raw) = got[1], want[1]
            assert (ledger._stamp(st_), st_.st_mode, raw) == (ledger._stamp(ref_st), ref_st.st_mode, ref_raw), name
        else:
            assert got == want, name


def _odd_files(folder: Path) -> None:
    """Rendered files and a record that are not regular files, or cannot be opened."""
    for name, make in (("INV-2026-0001.html", lambda p: p.mkdir()), ("INV-2026-0002.html", os.mkfifo),
                       ("INV-2026-0003.html", lambda p: p.symlink_to(p)),
                       ("INV-2026-0004.json", lambda p: p.mkdir())):
        path = folder / name
        path.unlink()
        make(path)
    html = folder / "CN-2026-0001.html"
    html.write_bytes(html.read_bytes() + b" ")


@pytest.fixture(scope="module")
def issued(tmp_path_factory) -> Path:
    root = make_repo(tmp_path_factory.mktemp("recordfile") / "repo", {
        "projects/nordlicht/web.yaml": PROJECT,
        "projects/nordlicht/shop.yaml": PROJECT.replace("Web", "Shop").replace("1000.00", "10.00"),
        "projects/nordlicht/app.yaml": PROJECT.replace("Web", "App").replace("500.00", "50.00")})
    assert run(root, "issue", "--no-pdf", "--date", "2026-03-01").code == 0
    app = root / "projects/nordlicht/app.yaml"
    app.write_text(app.read_text(encoding="utf-8").replace("50.00, status: done", "40.00, status: done"),
                   encoding="utf-8")
    assert run(root, "issue", "--no-pdf", "--date", "2026-03-02").code == 0
    names = sorted(p.name for p in (root / "invoices/2026").glob("*.json"))
    assert names[0] == "CN-2026-0001.json" and "INV-2026-0004.json" in names, names
    return root


def test_odd_files_give_the_same_findings_read_at_once_or_after_their_stat(issued, tmp_path, monkeypatch):
    """Without an index entry a file is opened at once (recordfile._open_read); with one it is stat'ed first
    (the index may vouch for it). Both give the same findings, with the same places and words, for rendered
    files that became a folder, a FIFO or a symlink loop, a record that became a folder, an edited file."""
    monkeypatch.setenv("BILLED_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("BILLED_CACHE", raising=False)
    monkeypatch.setattr(ledger, "RACY_NS", 0)
    root = shutil.copytree(issued, tmp_path / "repo")

    def found() -> list:
        return ledger.verify(ledger.read_ledger(root), yearly=True)

    assert found() == [] and ledger.Index(root).old_files  # the index now holds every file
    _odd_files(root / "invoices/2026")
    with_index = found()  # each file has an entry: stat first
    shutil.rmtree(tmp_path / "cache")
    read_at_once = found()  # the cache is empty: opened at once
    monkeypatch.setenv("BILLED_CACHE", "0")
    without_cache = found()
    assert with_index == read_at_once == without_cache
    said = {(Path(f.path).name, f.message) for f in with_index}
    assert {("INV-2026-0001.json", "INV-2026-0001.html was deleted"),
            ("INV-2026-0002.json", "INV-2026-0002.html was deleted"),
            ("INV-2026-0003.json", "INV-2026-0003.html was deleted"),
            ("CN-2026-0001.json", "CN-2026-0001.html was changed after it was issued")} <= said
    assert any(name == "INV-2026-0004.json" and "unreadable ([Errno 21] Is a directory)" in message
               for name, message in said), said


def test_a_record_is_read_the_same_with_or_without_an_index_entry(issued, tmp_path, monkeypatch):
    monkeypatch.setenv("BILLED_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("BILLED_CACHE", raising=False)
    monkeypatch.setattr(ledger, "RACY_NS", 0)
    root = shutil.copytree(issued, tmp_path / "repo")
    cold = ledger.read_ledger(root)
    warm = ledger.read_ledger(root)
    assert cold.files_read == len(cold.records) > 0 and warm.files_read == 0
    assert [(r.file, r.head, r.amounts, r.problems) for r in cold.records] == \
        [(r.file, r.head, r.amounts, r.problems) for r in warm.records]
    for rec in cold.records:
        assert rec.head == recordfile.head_of(json.loads(rec.path.read_bytes()))[0]
