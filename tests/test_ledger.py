"""The ledger under invoices/: gapless numbering per series, yearly or never reset, crash safety at every write
step, and `verify` catching every kind of tampering with the path of the damaged file."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billed import ledger
from billed.errors import BilledError
from tests.conftest import SETTINGS, make_repo, run, run_process, snapshot, write

SITE = """\
title: Site
start: 2026-01-05
milestones:
  - {id: a, title: Alpha, amount: 1000.00, status: done, done: 2026-02-01}
  - {id: b, title: Beta, amount: 500.00, status: done, done: 2026-02-01}
  - {id: c, title: Gamma, amount: 250.00}
"""
SHOP = """\
title: Shop
start: 2026-02-20
deposit: 300.00
milestones:
  - {id: build, title: Build, amount: 900.00, final: true}
"""


def numbers(root: Path) -> list[str]:
    return sorted(p.stem for p in (root / "invoices").glob("*/*.json"))


def issue(root: Path, on: str, *extra: str) -> None:
    result = run(root, "issue", "--date", on, *extra)
    assert result.code == 0, result.err


def test_numbers_are_gapless_per_series(repo):
    root = repo({"projects/nordlicht/site.yaml": SITE})
    issue(root, "2026-02-10", "--no-pdf")
    write(root, {"projects/nordlicht/site.yaml": SITE.replace("1000.00", "900.00").replace(
        "500.00, status: done, done: 2026-02-01", "500.00, status: cancelled").replace(
        "250.00}", "250.00, status: done, done: 2026-03-01}"), "projects/nordlicht/shop.yaml": SHOP})
    issue(root, "2026-03-02", "--no-pdf")
    assert numbers(root) == ["CN-2026-0001", "CN-2026-0002", "INV-2026-0001", "INV-2026-0002", "INV-2026-0003",
                             "INV-2026-0004"]
    records = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((root / "invoices/2026").glob("*.json"))]
    assert [(r["series"], r["seq"]) for r in records] == [("credit_note", 1), ("credit_note", 2), ("invoice", 1),
                                                          ("invoice", 2), ("invoice", 3), ("invoice", 4)]
    assert records[0]["prev"] is None and records[1]["prev"] == records[0]["hash"]
    assert records[2]["prev"] is None and records[5]["prev"] == records[4]["hash"]
    assert run(root, "verify").code == 0


def test_numbering_restarts_each_year(repo):
    root = repo({"projects/nordlicht/site.yaml": SITE.replace("250.00}", "250.00, status: done, done: 2027-01-02}")})
    issue(root, "2026-12-30", "--no-pdf")
    issue(root, "2027-01-03", "--no-pdf")
    assert numbers(root) == ["INV-2026-0001", "INV-2026-0002", "INV-2027-0001"]
    assert (root / "invoices/2027/INV-2027-0001.json").exists()
    # the chain runs across years: the 2027 record follows the last 2026 one
    first_2027 = json.loads((root / "invoices/2027/INV-2027-0001.json").read_text(encoding="utf-8"))
    assert first_2027["prev"] == json.loads((root / "invoices/2026/INV-2026-0002.json").read_text())["hash"]
    assert run(root, "verify").code == 0


def test_numbering_that_never_resets_continues_across_years(repo):
    settings = SETTINGS.replace("INV-{year}-{seq:04}", "R{seq:05}").replace("CN-{year}-{seq:04}", "G{seq:05}")
    root = repo({"billed.yaml": settings.replace("reset: yearly", "reset: never"),
                 "projects/nordlicht/site.yaml": SITE.replace("250.00}", "250.00, status: done, done: 2027-01-02}")})
    issue(root, "2026-12-30", "--no-pdf")
    issue(root, "2027-01-03", "--no-pdf")
    assert numbers(root) == ["R00001", "R00002", "R00003"]
    assert (root / "invoices/2027/R00003.json").exists()
    assert run(root, "verify").code == 0


def test_an_issue_date_before_the_last_issued_document_is_refused(repo):
    root = repo({"projects/nordlicht/site.yaml": SITE.replace("250.00}", "250.00, status: done, done: 2026-02-01}")})
    issue(root, "2026-03-01", "--no-pdf")
    write(root, {"projects/nordlicht/shop.yaml": SHOP})
    before = snapshot(root)
    for command in ("plan", "issue"):
        result = run(root, command, "--date", "2026-02-28")
        assert result.code == 1 and "INV-2026-0003, issued 2026-03-01" in result.err
    assert snapshot(root) == before


def test_an_issued_record_is_never_overwritten(tmp_path):
    target = tmp_path / "INV-1.json"
    ledger.atomic_write(target, b"first", exclusive=True)
    with pytest.raises(BilledError, match="never overwritten"):
        ledger.atomic_write(target, b"second", exclusive=True)
    assert target.read_bytes() == b"first" and sorted(p.name for p in tmp_path.iterdir()) == ["INV-1.json"]


# --- crash safety -----------------------------------------------------------------------------------------------

CRASH_DATE = "2026-03-01"


def crash_base(root: Path, *pdf: str, shop: bool = True) -> Path:
    """A repo with two issued invoices and, pending, a credit note, an invoice and a deposit (3 documents, spread
    over both series: 6 writes with --no-pdf (html, record), 9 with PDFs)."""
    make_repo(root, {"projects/nordlicht/site.yaml": SITE})
    issue(root, "2026-02-10", *pdf)
    changed = SITE.replace("1000.00", "900.00").replace("250.00}", "250.00, status: done, done: 2026-02-25}")
    write(root, {"projects/nordlicht/site.yaml": changed, **({"projects/nordlicht/shop.yaml": SHOP} if shop else {})})
    return root


def invoices(root: Path) -> dict[str, bytes]:
    return {k: v for k, v in snapshot(root / "invoices").items() if k != ".lock"}


def crash_and_rerun(base: Path, root: Path, n: int, expected: dict[str, bytes], *flags: str) -> None:
    """Kill `issue` right after its n-th file write, check what is left, rerun, compare with the uninterrupted run."""
    shutil.copytree(base, root)
    crashed = run_process(root, "issue", "--date", CRASH_DATE, *flags, env={"BILLED_FAULT_AFTER_WRITES": str(n)})
    assert crashed.code == 75, (n, crashed.err)
    # whatever was committed is complete and verifies: a document is there in full, or not at all
    assert run(root, "verify").code == 0
    per_doc = 2 if flags else 3
    assert len([k for k in invoices(root) if k.endswith(".json")]) == 2 + n // per_doc
    result = run(root, "issue", "--date", CRASH_DATE, *flags)
    assert result.code == 0, result.err
    assert invoices(root) == expected, f"crash after write {n}"
    assert not list(root.glob("invoices/*/.*.tmp"))
    assert run(root, "verify").code == 0 and run(root, "issue", "--date", CRASH_DATE, "--json").json == []


def test_a_crash_at_every_write_step_then_a_rerun_gives_the_uninterrupted_ledger(tmp_path):
    base = crash_base(tmp_path / "base", "--no-pdf")
    reference = shutil.copytree(base, tmp_path / "reference")
    assert run_process(reference, "issue", "--date", CRASH_DATE, "--no-pdf").code == 0
    expected = invoices(reference)
    assert len([k for k in expected if k.endswith(".json")]) == 5
    writes = 6
    for n in range(1, writes + 1):
        crash_and_rerun(base, tmp_path / f"crash{n}", n, expected, "--no-pdf")
    # one more and nothing crashes: the loop covered every write step
    last = shutil.copytree(base, tmp_path / "all")
    assert run_process(last, "issue", "--date", CRASH_DATE, "--no-pdf",
                       env={"BILLED_FAULT_AFTER_WRITES": str(writes + 1)}).code == 0


@pytest.mark.parametrize("n", [5])
def test_a_crash_between_pdf_and_record_leaves_no_document_and_the_rerun_renders_identical_pdfs(tmp_path, n):
    """With PDFs each document is html, pdf, record; write 5 is the second document's PDF (the slow step, so a crash
    there is the likely one). Every step is covered above; PDFs cost ~1 s per run, so one step here."""
    base = crash_base(tmp_path / "base", shop=False)  # two documents pending: a credit note and an invoice
    reference = shutil.copytree(base, tmp_path / "reference")
    issue(reference, CRASH_DATE)
    crash_and_rerun(base, tmp_path / "crash", n, invoices(reference))


# --- verify -----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def issued(tmp_path_factory) -> Path:
    """A ledger of four invoices and a credit note, with PDFs, issued once for every tampering test."""
    root = crash_base(tmp_path_factory.mktemp("ledger") / "repo", "--no-pdf")
    issue(root, CRASH_DATE)
    assert numbers(root) == ["CN-2026-0001", "INV-2026-0001", "INV-2026-0002", "INV-2026-0003", "INV-2026-0004"]
    return root


def tamper(root: Path, how) -> None:
    folder = root / "invoices/2026"
    how(folder)


def edit_total(folder: Path) -> None:
    path = folder / "INV-2026-0002.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["total"] = "1.00"
    path.write_bytes(ledger.pretty(data))


def reseal(folder: Path, name: str, change: dict, new_name: str | None = None) -> None:
    path = folder / f"{name}.json"
    data = {**json.loads(path.read_text(encoding="utf-8")), **change}
    (folder / f"{new_name or name}.json").write_bytes(ledger.pretty(ledger.seal(data)))


def forge(folder: Path) -> None:
    """A record inserted after INV-0002 as if it were the next one: sealed, numbered and named consistently."""
    data = json.loads((folder / "INV-2026-0002.json").read_text(encoding="utf-8"))
    forged = {**data, "number": "INV-2026-0005", "seq": 5, "prev": data["hash"], "total": "99999.00", "files": {}}
    (folder / "INV-2026-0005.json").write_bytes(ledger.pretty(ledger.seal(forged)))


def rename(folder: Path) -> None:
    for suffix in ("json", "html"):
        (folder / f"INV-2026-0002.{suffix}").rename(folder / f"INV-2026-0009.{suffix}")


def move_year(folder: Path) -> None:
    (folder.parent / "2025").mkdir()
    shutil.move(folder / "INV-2026-0004.json", folder.parent / "2025" / "INV-2026-0004.json")


def renumber(folder: Path) -> None:
    reseal(folder, "INV-2026-0003", {"seq": 7, "number": "INV-2026-0007"}, "INV-2026-0007")
    (folder / "INV-2026-0003.json").unlink()


def float_spelt_short(folder: Path) -> None:
    path = folder / "INV-2026-0003.json"
    data = {**json.loads(path.read_text(encoding="utf-8")), "rounding": 1e-07}
    data.pop("hash")
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")).replace("1e-07", "1e-7")
    data["hash"] = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    path.write_text(json.dumps(data, sort_keys=True, ensure_ascii=False, indent=2).replace("1e-07", "1e-7") + "\n",
                    encoding="utf-8")


TAMPERING = {
    "edited record": (edit_total, "INV-2026-0002.json", "hash does not match"),
    "whitespace only": (lambda f: (f / "INV-2026-0002.json").write_text(
        (f / "INV-2026-0002.json").read_text(encoding="utf-8").replace('  "kind"', '   "kind"'), encoding="utf-8"),
        "INV-2026-0002.json", "bytes were changed"),
    "trailing newline": (lambda f: (f / "CN-2026-0001.json").write_bytes((f / "CN-2026-0001.json").read_bytes()
                                                                         + b"\n"), "CN-2026-0001.json", "bytes"),
    "edited html": (lambda f: (f / "INV-2026-0001.html").write_text("<p>paid</p>", encoding="utf-8"),
                    "INV-2026-0001.json", "INV-2026-0001.html was changed"),
    "deleted html": (lambda f: (f / "INV-2026-0004.html").unlink(), "INV-2026-0004.json",
                     "INV-2026-0004.html was deleted"),
    "edited pdf": (lambda f: (f / "CN-2026-0001.pdf").write_bytes((f / "CN-2026-0001.pdf").read_bytes() + b"%"),
                   "CN-2026-0001.json", "CN-2026-0001.pdf was changed"),
    "deleted pdf": (lambda f: (f / "INV-2026-0003.pdf").unlink(), "INV-2026-0003.json", "pdf was deleted"),
    "deleted record in the middle": (lambda f: (f / "INV-2026-0002.json").unlink(), "INV-2026-0003.json",
                                     "numbers 2..2 of the invoice series are missing"),
    "resealed edit": (lambda f: reseal(f, "INV-2026-0002", {"total": "1.00"}), "INV-2026-0003.json",
                      "hash chain broken"),
    "inserted forged record": (forge, "INV-2026-0005.json", "hash chain broken"),
    "renamed file": (rename, "INV-2026-0009.json", "renamed or moved"),
    "moved to another year": (move_year, "2025/INV-2026-0004.json", "renamed or moved"),
    "renumbered": (renumber, "INV-2026-0007.json", "hash chain broken"),
    "duplicate": (lambda f: shutil.copy(f / "INV-2026-0001.json", f / "INV-2026-0001 copy.json"),
                  "INV-2026-0001 copy.json", "used twice"),
    "not unicode": (lambda f: (f / "INV-2026-0003.json").write_text((f / "INV-2026-0003.json").read_text(
        encoding="utf-8").replace('"project_title": "', '"project_title": "\\ud800', 1), encoding="utf-8"),
        "INV-2026-0003.json", "not valid Unicode"),
    "resealed with a text seq": (lambda f: reseal(f, "INV-2026-0003", {"seq": "3"}), "INV-2026-0003.json",
                                 "seq must be whole numbers"),
    "resealed without a kind": (lambda f: (f / "INV-2026-0003.json").write_bytes(ledger.pretty(ledger.seal({
        k: v for k, v in json.loads((f / "INV-2026-0003.json").read_text(encoding="utf-8")).items()
        if k not in ("kind", "hash")}))), "INV-2026-0003.json", "kind and currency must be text"),
    "resealed with a number for currency": (lambda f: reseal(f, "INV-2026-0003", {"currency": 978}),
                                            "INV-2026-0003.json", "kind and currency must be text"),
    "resealed with a day that is not a date": (lambda f: reseal(f, "INV-2026-0003", {"issue_date": "someday"}),
                                               "INV-2026-0003.json", "issue_date must be a date"),
    "resealed with a week date": (lambda f: reseal(f, "INV-2026-0003", {"due_date": "2026-W09-1"}),
                                  "INV-2026-0003.json", "due_date and supply_date must be dates"),
    "resealed with a number for a date": (lambda f: reseal(f, "INV-2026-0003", {"supply_date": 5}),
                                          "INV-2026-0003.json", "due_date and supply_date must be dates"),
    "resealed with a null amount": (lambda f: reseal(f, "INV-2026-0003", {"lines": [
        {**json.loads((f / "INV-2026-0003.json").read_text(encoding="utf-8"))["lines"][0], "net": None}]}),
        "INV-2026-0003.json", "unreadable"),
    # orjson (the fast check) prints this float `1e-7` where json writes `1e-07`: a record holding a float must be
    # checked by json's encoder alone, or this record, sealed over orjson's spelling, would pass
    "float in another spelling": (float_spelt_short, "INV-2026-0003.json", "hash does not match"),
    "resealed with files as a list": (lambda f: reseal(f, "INV-2026-0003", {"files": ["html"]}), "INV-2026-0003.json",
                                      "files must be a mapping"),
    # the board and the beancount export title a document by its type code: a list there, or a code Billed never
    # writes, was an internal error
    "resealed with a list for a type code": (lambda f: reseal(f, "CN-2026-0001", {"type_code": ["381"]}),
                                             "CN-2026-0001.json", "type_code must be one of 380, 381, 384 and 386"),
    "resealed with an unknown type code": (lambda f: reseal(f, "CN-2026-0001", {"type_code": "999"}),
                                           "CN-2026-0001.json", "type_code must be one of 380, 381, 384 and 386"),
    # status and plan look `corrects` up among document numbers: a list there was an internal error, not a finding
    "resealed with a list for corrects": (lambda f: reseal(f, "CN-2026-0001", {"corrects": ["INV-2026-0002"]}),
                                          "CN-2026-0001.json", "corrects must be the number of a document"),
    "resealed with a word for a total": (lambda f: reseal(f, "INV-2026-0003", {"total": "lots"}),
                                         "INV-2026-0003.json", "net and total must be amounts"),
    "resealed without a net": (lambda f: (f / "INV-2026-0003.json").write_bytes(ledger.pretty(ledger.seal({
        k: v for k, v in json.loads((f / "INV-2026-0003.json").read_text(encoding="utf-8")).items()
        if k not in ("net", "hash")}))), "INV-2026-0003.json", "net and total must be amounts written as text"),
    # a FIFO would block the read forever, a link to /dev/zero never end: neither is read
    "a fifo for a record": (lambda f: os.mkfifo(f / "INV-2026-0009.json"), "INV-2026-0009.json",
                            "is not a regular file"),
    "a link to a device for a record": (lambda f: (f / "INV-2026-0009.json").symlink_to("/dev/zero"),
                                        "INV-2026-0009.json", "is not a regular file"),
    # a record's files are read beside it: a name with a path in it would have verify read a file elsewhere
    "resealed with a file that is not a rendering": (lambda f: reseal(f, "INV-2026-0003", {"files": {
        "html/../../../../billed.yaml": "0" * 64}}), "INV-2026-0003.json", "html and pdf renderings only"),
    "a null hash": (lambda f: (f / "INV-2026-0003.json").write_bytes(ledger.pretty({**json.loads(
        (f / "INV-2026-0003.json").read_text(encoding="utf-8")), "hash": None})), "INV-2026-0003.json",
        "hash does not match"),
    "unreadable record": (lambda f: (f / "INV-2026-0003.json").write_text("{", encoding="utf-8"),
                          "INV-2026-0003.json", "unreadable"),
}


@pytest.mark.parametrize("case", list(TAMPERING))
def test_verify_reports_tampering_with_the_path_and_exits_1(issued, tmp_path, case):
    how, path, message = TAMPERING[case]
    root = shutil.copytree(issued, tmp_path / "repo")
    assert run(root, "verify").code == 0
    tamper(root, how)
    result = run(root, "verify")
    assert result.code == 1, result.out
    hits = [line for line in result.err.splitlines() if "[E060]" in line and path in line]
    assert any(message in line for line in hits), result.err
    assert run(root, "check").code == 1
    before = snapshot(root)
    assert run(root, "issue", "--date", CRASH_DATE).code == 1 and snapshot(root) == before


def test_verify_json_lists_each_finding_with_its_file(issued, tmp_path):
    root = shutil.copytree(issued, tmp_path / "repo")
    edit_total(root / "invoices/2026")
    (root / "invoices/2026/INV-2026-0004.pdf").unlink()
    found = run(root, "verify", "--json").json
    assert {(f["code"], f["file"]) for f in found} == {("E060", "invoices/2026/INV-2026-0002.json"),
                                                       ("E060", "invoices/2026/INV-2026-0004.json")}


def test_deleting_the_last_record_is_only_visible_to_git(issued, tmp_path):
    """Documented limitation: the newest record of a series has no successor to vouch for it, so deleting it (with
    its files) leaves a valid, shorter chain. `billed check --base` compares with the last commit for that."""
    root = shutil.copytree(issued, tmp_path / "repo")
    for suffix in ("json", "html", "pdf"):
        (root / f"invoices/2026/INV-2026-0004.{suffix}").unlink()
    assert run(root, "verify").code == 0


def _count_loads(monkeypatch) -> list[int]:
    from billed import api

    calls: list[int] = []
    real = api.load

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(api, "load", counting)
    return calls


def test_a_first_issue_loads_the_repo_once_when_nothing_changes(repo, monkeypatch):
    """No invoices/.lock yet (a fresh CI checkout): the repo is validated before the lock is made, and that
    state is used under the lock, since no file changed (files older than the racy window)."""
    root = repo({"projects/nordlicht/site.yaml": SITE})
    monkeypatch.setattr(ledger, "RACY_NS", 0)
    calls = _count_loads(monkeypatch)
    issue(root, "2026-02-10", "--no-pdf")
    assert len(calls) == 1 and numbers(root) == ["INV-2026-0001", "INV-2026-0002"]


def test_a_file_changed_before_the_lock_is_read_again(repo, monkeypatch):
    from billed import api

    root = repo({"projects/nordlicht/site.yaml": SITE})
    monkeypatch.setattr(ledger, "RACY_NS", 0)
    calls = _count_loads(monkeypatch)
    real_locked = ledger.locked

    def locked_after_an_edit(invoices):  # another process saves the project while this one waits for the lock
        write(root, {"projects/nordlicht/site.yaml": SITE.replace("250.00}", "250.00, status: done, "
                                                                           "done: 2026-02-01}")})
        return real_locked(invoices)

    monkeypatch.setattr(api.ledger_mod, "locked", locked_after_an_edit)
    issue(root, "2026-02-10", "--no-pdf")
    assert len(calls) == 2 and numbers(root) == ["INV-2026-0001", "INV-2026-0002", "INV-2026-0003"]


def test_files_written_within_the_racy_window_are_read_again(repo, monkeypatch):
    root = repo({"projects/nordlicht/site.yaml": SITE})
    monkeypatch.setattr(ledger, "RACY_NS", 3600 * 10**9)  # every file here is that recent
    calls = _count_loads(monkeypatch)
    issue(root, "2026-02-10", "--no-pdf")
    assert len(calls) == 2


def test_the_fingerprint_sees_what_load_reads(repo, tmp_path):
    """What makes a first issue load again: an edit behind a symlinked client folder, a new empty client folder
    (a finding), a new payment file; a dangling link is listed, not a crash."""
    from billed import api

    outside = tmp_path / "shared-client"
    root = repo({"projects/nordlicht/site.yaml": SITE})
    shutil.copytree(root / "projects/nordlicht", outside)
    shutil.rmtree(root / "projects/nordlicht")
    (root / "projects/nordlicht").symlink_to(outside)
    stamp = api.fingerprint(root)
    assert stamp == api.fingerprint(root)
    for change in (lambda: write(outside.parent, {"shared-client/site.yaml": SITE.replace("Alpha", "Alfa")}),
                   lambda: (root / "projects/empty").mkdir(),
                   lambda: write(root, {"payments/2026.yaml": "[]\n"}),
                   lambda: (root / "projects/nordlicht/gone.yaml").symlink_to(tmp_path / "nowhere.yaml")):
        change()
        assert api.fingerprint(root) != stamp
        stamp = api.fingerprint(root)


def test_an_unreadable_year_folder_is_a_finding_not_a_crash(issued, monkeypatch):
    real = ledger.os.listdir

    def denied(path):
        if str(path).endswith("invoices/2026"):
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(ledger.os, "listdir", denied)
    result = run(issued, "check")
    assert result.code == 1 and "invoices/2026:1:1: [E060] the folder of issued documents cannot be read " \
        "(Permission denied)" in result.err


def _json_forms(record: dict) -> tuple[bytes, bytes]:
    """The two forms as Billed's writer makes them (json), written out here, not taken from ledger.py."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return (json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
            (json.dumps(record, sort_keys=True, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))


def test_the_fast_check_prints_every_code_point_as_json_does():
    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    for start in range(0, len(chars), 4096):
        text = "".join(chars[start:start + 4096])
        record = {text: [text, {"k": text}], "hash": text[:64], "z": text[::-1]}
        assert ledger._fast_forms(record) == _json_forms(record)


_SCALARS = st.one_of(st.none(), st.booleans(), st.text(max_size=12),
                     st.integers(min_value=-2**64, max_value=2**64),
                     st.sampled_from([0, -1, 2**63 - 1, -2**63, 2**64 - 1, 2**64, -2**63 - 1]))
_JSON = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=6), inner, max_size=4)),
                     max_leaves=25)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.text(max_size=6), _JSON, max_size=6))
def test_the_fast_check_gives_json_s_bytes_or_declines(record):
    """Float-free data (what `_parse` gives it): the same bytes as json's encoder, or TypeError (ints beyond 64
    bits, lone surrogates), never different bytes."""
    try:
        fast = ledger._fast_forms(record)
    except TypeError:
        return
    assert fast == _json_forms(record)


@pytest.mark.parametrize("stat_size", [0, 10, 99_999, 100_000, 100_001, 300_000])
def test_a_file_is_read_whole_whatever_its_stat_said(tmp_path, stat_size):
    """Files are read in as few calls as their stat allows, but always to the end: one that grew or shrank since
    its stat (or a short read) is read whole, so its hash is of what is there."""
    path = tmp_path / "f"
    path.write_bytes(bytes(range(256)) * 390 + b"end")
    assert ledger._read_bytes(str(path), stat_size) == path.read_bytes()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.dictionaries(st.text(max_size=6), _JSON, max_size=6).map(
    lambda d: json.dumps(d, ensure_ascii=False).encode("utf-8")), st.binary(max_size=40)),
       st.integers(min_value=0, max_value=60), st.binary(max_size=3))
def test_records_are_read_by_msgspec_only_where_json_reads_the_same(raw, at, junk):
    """recordfile._FAST (msgspec, floats refused) may answer only with what json reads, for any bytes."""
    from billed import recordfile

    raw = raw[:at] + junk + raw[at:]
    try:
        fast = recordfile._FAST.decode(raw)
    except Exception:  # noqa: BLE001 - refused: json decides (recordfile._decode)
        return
    slow = json.loads(raw.decode("utf-8"))
    assert fast == slow and json.dumps(fast, ensure_ascii=False) == json.dumps(slow, ensure_ascii=False)  # types too


def test_the_index_keeps_every_head_as_it_was_and_shrugs_off_a_damaged_store(tmp_path, monkeypatch):
    """The records' index is marshalled: heads come back equal, with their types (tuples, lists, dicts, big
    ints, floats, ABSENT) and their shared texts; anything but what save_records wrote is no index at all."""
    from billed import cache

    monkeypatch.setenv("BILLED_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("BILLED_CACHE", raising=False)
    root = tmp_path / "repo"
    odd = {"billed": 1, "number": "N-1", "series": "invoice", "year": 2026, "seq": 2**70, "client": "c\u00e9",
           "project": "p", "lines": [{"role": "charge", "ref": "a", "net": "1.50", "tax_rate": "19",
                                      "category": "S"}], "hash": "h", "net": 1e-07, "total": [1, {"x": None}],
           "files": {"html": "ab"}, "corrects": True}
    head, amounts = ledger.head_of(odd)
    index = ledger.Index(root)
    for i, name in enumerate(("2026/N-1.json", "2026/N-2.json")):
        again = ledger.head_of(json.loads(json.dumps(odd)))  # (its texts interned again, so the same objects)
        index.records[name] = (bytes(32), *(again if i else (head, amounts)), bytes([i]) * 32)
    index.good_file("2026/N-1.html", bytes(32), "ab")
    index.new_records = True
    index.save_records()
    index.save_files()
    back = ledger.Index(root).old_records
    assert back == index.records and ledger.ABSENT in head
    assert ledger.Index(root).old_files == {"2026/N-1.html": (bytes(32), "ab")}
    first, second = (back[k][1] for k in ("2026/N-1.json", "2026/N-2.json"))
    assert [type(v) for v in first] == [type(v) for v in head] and first[ledger._AT["due_date"]] is ledger.ABSENT
    assert first[ledger._AT["client"]] is second[ledger._AT["client"]]  # one text for both, as when read
    for damaged in (b"", b"\x00garbage", [1, 2], {"a": 1}):
        for kind in ("ledger-records", "ledger-files"):
            cache.save_blob(root, kind, damaged)
        assert ledger.Index(root).old_records == ledger.Index(root).old_files == {}  # ({"a": 1}: the pickled
        # index of before)


def _headed(number: str, series: str, seq: int, issued: str) -> ledger.Record:
    values = {"number": number, "series": series, "year": int(issued[:4]), "seq": seq, "issue_date": issued}
    head = tuple(values.get(name, ledger.ABSENT) for name in ledger.HEAD)
    return ledger.Record(f"invoices/{issued[:4]}/{number}.json", head, ())


def test_latest_is_the_latest_issue_date_then_the_highest_number_then_the_first_read():
    """What `plan` refuses to go back before (engine.backdated): by issue date, then year and number; of two
    documents alike in all three (two series), the first read, as max() keeps it."""
    records = [_headed("INV-2026-0009", "invoice", 9, "2026-01-01"), _headed("INV-2026-0005", "invoice", 5,
                                                                             "2026-03-01"),
               _headed("CN-2026-0002", "credit_note", 2, "2026-03-02"), _headed("INV-2026-0007", "invoice", 7,
                                                                                "2026-03-02"),
               _headed("CN-2026-0007", "credit_note", 7, "2026-03-02"), _headed("INV-2025-0011", "invoice", 11,
                                                                                "2025-12-31")]
    assert ledger.Ledger(Path("."), records).latest().number == "INV-2026-0007"
    assert ledger.Ledger(Path("."), records[:3]).latest().number == "CN-2026-0002"
    assert ledger.Ledger(Path("."), []).latest() is None


@pytest.mark.parametrize(("change", "said"), [
    ({"buyer": "Nordlicht"}, "buyer must be a party"),
    ({"seller": 5}, "seller must be a party"),
    ({"bank": ["DE89370400440532013000"]}, "bank must be text fields"),
    ({"prepaid": "INV-2026-0001"}, "prepaid must be a list of mappings of text"),
    ({"taxes": [{"rate": 19}]}, "taxes must be a list of mappings of text"),
    ({"language": ["de"]}, "language must be text or null"),
    ({"payment_terms": "14"}, "payment_terms must be a whole number of days"),
])
def test_a_record_resealed_with_a_part_of_another_shape_is_refused_when_opened_whole(issued, tmp_path, change, said):
    """verify checks what every read needs (the head); the rest of a record is checked when a command opens it
    whole. A forged, resealed newest record is not a chain break: opening it must refuse it by name (exit 1),
    not fail inside export, render or mail (it was an internal error, exit 3)."""
    root = shutil.copytree(issued, tmp_path / "repo")
    reseal(root / "invoices/2026", "INV-2026-0004", change)
    assert run(root, "verify").code == 0  # (the head is intact: git is the witness of such a forgery, E062)
    before = snapshot(root)
    result = run_process(root, "export", "--format", "csv", "--out", str(tmp_path / "out"))
    assert result.code == 1 and "internal error" not in result.err, result.err
    assert f"INV-2026-0004.json is not a record as Billed writes it ({said}" in result.err
    assert snapshot(root) == before
