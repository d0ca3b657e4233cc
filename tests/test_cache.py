"""billed/cache.py: a cache hit can never hide an edit (keys are content hashes), and a broken cache is no cache."""

from __future__ import annotations

import datetime as dt
import json
import os
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import WEBSITE as PROJECT
from conftest import make_repo, run


@pytest.fixture
def cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from billed import ledger

    monkeypatch.setattr(ledger, "RACY_NS", 0)  # files written a moment ago may be vouched for (see the racy test)
    monkeypatch.setenv("BILLED_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("BILLED_CACHE", raising=False)
    root = make_repo(tmp_path / "repo", {"projects/nordlicht/web.yaml": PROJECT})
    assert run(root, "issue", "--no-pdf", "--date", "2026-03-01").code == 0
    assert run(root, "check").code == 0 and run(root, "check").code == 0  # the second run is all cache hits
    assert list((tmp_path / "cache").rglob("*.pickle"))
    return root


def test_an_edited_project_is_read_again(cached: Path) -> None:
    path = cached / "projects/nordlicht/web.yaml"
    path.write_text(PROJECT.replace("status: done", "status: dnoe"), encoding="utf-8")
    result = run(cached, "check")
    assert result.code == 1 and "dnoe" in result.err
    path.write_text(PROJECT, encoding="utf-8")
    assert run(cached, "check").code == 0


def test_a_tampered_record_is_caught_after_a_clean_cached_run(cached: Path) -> None:
    record = next((cached / "invoices").glob("*/*.json"))
    data = json.loads(record.read_text(encoding="utf-8"))
    record.write_text(record.read_text(encoding="utf-8").replace("  ", "   ", 1), encoding="utf-8")
    assert run(cached, "check").code == 1  # same data, other bytes: a new key, checked in full
    record.write_text(json.dumps({**data, "net": "1.00"}, sort_keys=True, ensure_ascii=False, indent=2) + "\n",
                      encoding="utf-8")
    result = run(cached, "check")
    assert result.code == 1 and "edited after it was issued" in result.err


def test_a_corrupt_cache_is_ignored(cached: Path, tmp_path: Path) -> None:
    for pickle_file in (tmp_path / "cache").rglob("*.pickle"):
        pickle_file.write_bytes(b"not a pickle")
    assert run(cached, "check").code == 0


def test_a_damaged_ledger_index_is_no_index(cached: Path) -> None:
    """marshal loads damaged bytes without complaint: the index carries its CRC-32, and a blob that does not match
    it is ignored. Here a record number in it is changed as a flipped byte would, keeping marshal's format."""
    from billed import cache

    crc, blob = cache.load_blob(cached, "ledger-records")
    number = next((cached / "invoices").glob("*/*.json")).stem.encode()
    alone = bytes([len(number)]) + number  # the number as a head holds it (marshal: its length, then it)
    assert alone in blob
    damaged = blob.replace(alone, alone[:-1] + b"9", 1)
    cache.save_blob(cached, "ledger-records", (crc, damaged))
    assert run(cached, "check").code == 0  # read from the files again, as on an empty cache
    cache.save_blob(cached, "ledger-records", (crc, blob))
    assert run(cached, "check").code == 0


def test_the_first_load_of_a_repo_writes_nothing_but_the_cache_folder(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Admission on second sight (cache.begin): a CI job on a fresh clone checks once, on a cache nobody reads
    again, so the first load of a repo in a cache only makes its folder; the second writes, the third reads."""
    from billed import api, cache, ledger

    monkeypatch.setattr(ledger, "RACY_NS", 0)
    monkeypatch.setenv("BILLED_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("BILLED_CACHE", raising=False)
    root = make_repo(tmp_path / "repo", {"projects/nordlicht/web.yaml": PROJECT})
    assert run(root, "issue", "--no-pdf", "--date", "2026-03-01").code == 0
    for path in (tmp_path / "cache").rglob("*"):  # (issue loaded it already: start this cache afresh)
        if path.is_file():
            path.unlink()
    for folder in sorted((tmp_path / "cache").rglob("*"), reverse=True):
        folder.rmdir()
    first = run(root, "check")
    assert first.code == 0 and [p.name for p in (tmp_path / "cache").rglob("*")] == [cache._folder(root).name]
    assert run(root, "check").out == first.out and list((tmp_path / "cache").rglob("*.pickle"))
    state = api.load(root)  # the third: the records come from the index, not from their files
    assert state.ok and state.ledger.files_read == 0


def test_cache_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLED_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("BILLED_CACHE", "0")
    root = make_repo(tmp_path / "repo", {"projects/nordlicht/web.yaml": PROJECT})
    assert run(root, "check").code == 0
    assert not (tmp_path / "cache").exists()


def test_a_changed_html_is_caught_even_with_its_old_mtime(cached: Path) -> None:
    html = next((cached / "invoices").glob("*/*.html"))
    st = html.stat()
    html.write_bytes(html.read_bytes().replace(b"Design", b"Dezign"))
    os.utime(html, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size and mtime: only ctime tells
    result = run(cached, "check")
    assert result.code == 1 and "was changed after it was issued" in result.err


def test_entries_from_other_code_or_library_versions_are_not_trusted(cached: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from billed import cache

    [pickle_file] = [p for p in (tmp_path / "cache").rglob("docs.pickle")]
    assert cache.Store(pickle_file).old  # the cached run left entries that this code trusts
    stamp = cache._code_stamp()
    monkeypatch.setattr(cache, "_code_stamp", lambda: stamp + b"-jsonschema-upgraded")
    assert cache.Store(pickle_file).old == {}
    assert run(cached, "check").code == 0


def test_code_changed_under_a_running_process_neither_reads_nor_writes_the_cache(
        cached: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A dashboard started before an upgrade runs the old code; stamped by the files on disk, what it computed
    would be trusted by the new code (a project entry of the old shape crashed every later run). A source file
    newer than the process's start (here: the start moved before every file) turns the cache off for it."""
    from billed import api, cache

    files = sorted(p for p in (tmp_path / "cache").rglob("*") if p.is_file())
    before = {p: p.read_bytes() for p in files}
    cache._code_stamp.cache_clear()
    monkeypatch.setattr(cache, "_STARTED", 0)
    try:
        assert cache._code_stamp() is None
        assert cache.Store(next(p for p in files if p.name == "projects.pickle")).old == {}  # nothing read
        for _ in range(3):
            state = api.load(cached)
            assert state.ok and list(state.repo.projects) == ["nordlicht/web"]
        (cached / "projects/nordlicht/web.yaml").write_text(PROJECT.replace("Design", "Designs"), encoding="utf-8")
        assert api.load(cached).repo.projects["nordlicht/web"].milestones[0].title == "Designs"
    finally:
        monkeypatch.undo()
        cache._code_stamp.cache_clear()
    after = sorted(p for p in (tmp_path / "cache").rglob("*") if p.is_file())
    assert after == files and {p: p.read_bytes() for p in after} == before  # nothing written
    assert cache._code_stamp() is not None


def test_a_record_the_index_vouches_for_is_not_read_again(cached: Path) -> None:
    from billed import ledger

    first = ledger.read_ledger(cached)
    assert first.records and first.files_read == 0  # every head came from the index
    for rec in first.records:  # and each head is exactly what the file says
        data = json.loads(rec.path.read_text(encoding="utf-8"))
        assert rec.data == data
        assert {k: rec.get(k, "absent") for k in ledger.HEAD} == {k: data.get(k, "absent") for k in ledger.HEAD}
        assert rec.amounts == tuple((line["role"], line["ref"], line["net"], line["tax_rate"], line["category"])
                                  for line in data["lines"])
    path = first.records[0].path
    path.write_bytes(path.read_bytes())  # same bytes, new ctime: no longer vouched for, so read and checked
    again = ledger.read_ledger(cached)
    assert again.files_read == 1
    assert ledger.verify(again, yearly=True) == []
    assert ledger.read_ledger(cached).files_read == 0


@pytest.mark.parametrize("change", [{"net": "1.00"}, {"buyer": {"name": "Someone Else"}}])
def test_a_record_changed_after_it_was_read_is_never_used(cached: Path, change: dict) -> None:
    """The whole record is read when first needed (rendering, mail, export): an edit made after the run started,
    in a head field or anywhere else, is refused then, not rendered or mailed."""
    from billed import ledger
    from billed.errors import BilledError

    rec = ledger.read_ledger(cached).records[0]
    data = json.loads(rec.path.read_text(encoding="utf-8"))
    rec.path.write_bytes(ledger.pretty({**data, **change}))
    with pytest.raises(BilledError, match="changed while Billed was running"):
        rec.data  # noqa: B018


def test_findings_point_at_the_same_line_from_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cached documents keep no line tables; a finding made after loading (here E051, from the ledger) re-parses
    the file for its line and column, which must be exactly those of an uncached run."""
    monkeypatch.setenv("BILLED_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("BILLED_CACHE", raising=False)
    root = make_repo(tmp_path / "repo", {"projects/nordlicht/web.yaml": PROJECT})
    assert run(root, "issue", "--no-pdf", "--date", "2026-03-01").code == 0
    (root / "projects/nordlicht/web.yaml").write_text(
        PROJECT.replace("    status: done\n    done: 2026-02-01\n", "    status: in_progress\n"), encoding="utf-8")
    cold = run(root, "check")
    warm = run(root, "check")
    assert cold.code == warm.code == 1
    assert "web.yaml:7:13: [E051]" in cold.err
    assert warm.err == cold.err
    monkeypatch.setenv("BILLED_CACHE", "0")
    assert run(root, "check").err == cold.err


def test_a_file_written_within_the_racy_window_is_not_vouched_for(cached: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A same-size rewrite within one clock tick keeps the stat: files that recent are read and hashed again."""
    from billed import ledger

    monkeypatch.setattr(ledger, "RACY_NS", 3600 * 10**9)  # everything here was written within the hour
    path = ledger.read_ledger(cached).records[0].path
    path.write_bytes(path.read_bytes())
    html = path.with_suffix(".html")
    html.write_bytes(html.read_bytes())
    for _ in range(2):
        again = ledger.read_ledger(cached)
        assert again.files_read == 1  # the rewritten record, on every run while it is this recent
        assert ledger.verify(again, yearly=True) == []
    assert html.name not in {rel.split("/")[-1] for rel in ledger.Index(cached).old_files}


def test_files_of_earlier_cache_layouts_are_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from billed import cache, ledger

    monkeypatch.setattr(ledger, "RACY_NS", 0)
    monkeypatch.setenv("BILLED_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("BILLED_CACHE", raising=False)
    root = make_repo(tmp_path / "repo", {"projects/nordlicht/web.yaml": PROJECT})
    assert run(root, "issue", "--no-pdf", "--date", "2026-03-01").code == 0
    folder = cache._folder(root)
    folder.mkdir(parents=True, exist_ok=True)
    for name in cache.OBSOLETE:
        (folder / name).write_bytes(b"old")
    assert run(root, "check").code == 0
    assert not [name for name in cache.OBSOLETE if (folder / name).exists()]
    assert (folder / "ledger-records.pickle").exists()


def test_a_record_gone_bad_after_it_was_read_is_a_clear_error(cached: Path) -> None:
    from billed import ledger
    from billed.errors import BilledError

    rec = ledger.read_ledger(cached).records[0]
    rec.path.write_text("{", encoding="utf-8")
    with pytest.raises(BilledError, match="can no longer be read .*; run `billed check`"):
        rec.data  # noqa: B018


def test_a_new_checkout_reuses_the_index_by_content_and_still_catches_an_edit(
        cached: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new checkout (here: the repo moved away and copied back, so every inode and ctime is new) with the cache
    folder restored, as a CI job restores it with actions/cache: records whose bytes are those that verified are
    read and hashed but not parsed again; an edited one, same size or not, is parsed and reported."""
    import shutil

    from billed import ledger

    shutil.move(cached, tmp_path / "away")
    shutil.copytree(tmp_path / "away", cached)
    parsed: list[int] = []
    real = ledger._parse
    monkeypatch.setattr(ledger, "_parse", lambda raw, *rest: parsed.append(1) or real(raw, *rest))
    fresh = ledger.read_ledger(cached)
    assert fresh.files_read == len(fresh.records) > 0 and parsed == []  # every record read, none parsed
    assert ledger.verify(fresh, yearly=True) == []
    assert ledger.read_ledger(cached).files_read == 0  # the new stats were kept: vouched for by stat again
    path = fresh.records[0].path
    path.write_bytes(path.read_bytes().replace(b'"net": "', b'"net": "9', 1))
    edited = ledger.read_ledger(cached)
    assert parsed == [1]
    assert any("was edited after it was issued" in f.message for f in ledger.verify(edited, yearly=True))


def test_a_new_checkout_within_the_racy_window_keeps_the_old_stat(cached: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from billed import ledger

    shutil.move(cached, tmp_path / "away")
    shutil.copytree(tmp_path / "away", cached)
    monkeypatch.setattr(ledger, "RACY_NS", 3600 * 10**9)
    for _ in range(2):  # the bytes still match, but the brand-new stat is not trusted yet
        again = ledger.read_ledger(cached)
        assert again.files_read == len(again.records)
        assert ledger.verify(again, yearly=True) == []


def _counting_builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    from billed import repo

    built: list[str] = []
    real = repo.build_project
    monkeypatch.setattr(repo, "build_project", lambda doc, cid, pid, *rest: built.append(pid) or real(
        doc, cid, pid, *rest))
    return built


def test_a_project_is_built_once_until_its_settings_or_client_change(cached: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from billed import api

    built = _counting_builds(monkeypatch)
    monkeypatch.chdir(cached)  # as `run` does: findings name files relative to here, so the key does too
    again = api.load(cached)
    assert built == [] and again.ok  # the fixture's second check cached the built project
    monkeypatch.setenv("BILLED_CACHE", "0")
    assert api.load(cached).repo.projects == again.repo.projects  # exactly what building it gives
    monkeypatch.delenv("BILLED_CACHE")
    built.clear()
    client = cached / "projects/nordlicht/client.yaml"
    client.write_text(client.read_text(encoding="utf-8") + "payment_terms: 45\n", encoding="utf-8")
    assert api.load(cached).repo.projects["nordlicht/web"].payment_terms == 45 and built == ["web"]
    settings = cached / "billed.yaml"
    settings.write_text(settings.read_text(encoding="utf-8").replace("tax_rate: 19", "tax_rate: 7"), "utf-8")
    client.write_text(client.read_text(encoding="utf-8").replace("payment_terms: 45\n", ""), encoding="utf-8")
    assert api.load(cached).repo.projects["nordlicht/web"].tax_rate == 7 and built == ["web", "web"]


def test_a_project_is_built_again_when_its_invoiced_shares_change(cached: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from billed import repo

    built = _counting_builds(monkeypatch)
    pins = repo.Pins(lambda project: {}, lambda key: "", lambda project: None)
    repo.load_repo(cached, pins)
    repo.load_repo(cached, pins)
    assert built == ["web"]  # built with these (no) shares once, then from the cache
    repo.load_repo(cached, repo.Pins(lambda project: {}, lambda key: "design: 500.00", lambda project: None))
    assert built == ["web", "web"]


def test_findings_of_a_cached_project_are_those_of_building_it_with_their_places(
        cached: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (cached / "projects/nordlicht/web.yaml").write_text(PROJECT.replace("amount: 1000.00", "amount: 1000.001")
                                                         + "deposit: 120%\n", encoding="utf-8")
    first, second = run(cached, "check"), run(cached, "check")
    monkeypatch.setenv("BILLED_CACHE", "0")
    uncached = run(cached, "check")
    assert first.code == second.code == uncached.code == 1
    assert first.err == second.err == uncached.err and "web.yaml:6:13: [E021]" in first.err


_LEAK = """
import gc, sys, weakref
from decimal import Decimal
from pathlib import Path
from billed import api, gcpolicy
if sys.argv[2] == "cli":
    gcpolicy.short_lived()
class Session:  # something long-lived of the process, in a reference cycle, dropped after a load
    pass
session = Session()
session.me = session
gone = weakref.ref(session)
api.load(Path(sys.argv[1]))
del session
gc.collect()
print(gone() is None)  # freed by the collector
gc.unfreeze()
gc.collect()
print(gone() is None)
"""


@pytest.mark.parametrize("process", ["dashboard", "cli"])
def test_loading_freezes_nothing_in_a_long_lived_process(cached: Path, process: str) -> None:
    """gc.freeze takes every object alive at that moment out of the collector's sight, not only what was loaded:
    in the dashboard a dropped session in a reference cycle would never be freed. Only the command line freezes
    (there it is freed once unfrozen: the freeze was all that held it)."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", _LEAK, str(cached), process], capture_output=True, text=True,
                          timeout=120)
    assert proc.stdout.split() == (["False", "True"] if process == "cli" else ["True", "True"]), proc.stderr


def test_a_loaded_state_holds_no_reference_cycle(cached: Path) -> None:
    """api.load freezes what it loaded (gc.freeze), so the collector never walks it: that is only safe if dropping
    a state frees all of it by reference counting, derived views included. In a fresh process, so that nothing
    else's garbage is counted."""
    import subprocess
    import sys

    script = """
import datetime as dt, gc, sys
from decimal import Decimal
from pathlib import Path
from billed import api, views
root = Path(sys.argv[1])
gc.collect()
state = api.load(root)
on = dt.date(2026, 3, 1)
api.status(state, on=on), api.document_states(state, on), api.plan(state, on), api.export(state, "csv", on)
board = views.load(root, on)
del state, board
views.cache_clear()
gc.unfreeze()
print(gc.collect())
"""
    proc = subprocess.run([sys.executable, "-c", script, str(cached)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["0"]


def test_a_client_is_built_once_until_its_file_or_the_settings_change(cached: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from billed import api, repo

    built: list[str] = []
    real = repo.build_client
    monkeypatch.setattr(repo, "build_client", lambda doc, cid, *rest: built.append(cid) or real(doc, cid, *rest))
    monkeypatch.chdir(cached)
    state = api.load(cached)
    assert built == [] and state.repo.clients["nordlicht"].loc.doc.where(("email",)) == (5, 8)  # places from text
    client = cached / "projects/nordlicht/client.yaml"
    client.write_text(client.read_text(encoding="utf-8").replace("rechnungen@", "rechnungen@@"), encoding="utf-8")
    first, second = run(cached, "check"), run(cached, "check")
    assert built == ["nordlicht"] and first.err == second.err and "client.yaml:5:8: [E013]" in first.err
    client.write_text(client.read_text(encoding="utf-8").replace("rechnungen@@", "rechnungen@"), encoding="utf-8")
    assert run(cached, "check").code == 0 and run(cached, "check").code == 0 and built == ["nordlicht"] * 2
    settings = cached / "billed.yaml"
    settings.write_text(settings.read_text(encoding="utf-8").replace("payment_terms: 14", "payment_terms: 30"),
                        encoding="utf-8")
    assert run(cached, "check").code == 0 and built == ["nordlicht"] * 3


def test_two_clients_with_the_same_files_stay_two_from_inside_their_folders(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from inside a client folder, a file is shown as just `client.yaml` or `web.yaml`: two clients with the
    same files must still be two clients with a project each, cached or not."""
    from conftest import CLIENT

    from billed import api

    monkeypatch.setenv("BILLED_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("BILLED_CACHE", raising=False)
    root = make_repo(tmp_path / "repo", {"projects/nordlicht/web.yaml": PROJECT, "projects/sued/client.yaml": CLIENT,
                                         "projects/sued/web.yaml": PROJECT})
    for folder in ("nordlicht", "sued", "nordlicht"):
        monkeypatch.chdir(root / "projects" / folder)
        state = api.load(root)
        assert sorted(state.repo.projects) == ["nordlicht/web", "sued/web"], folder
        assert {cid: c.id for cid, c in state.repo.clients.items()} == {"nordlicht": "nordlicht", "sued": "sued"}
        assert [d["client"] for d in api.plan(state, dt.date(2026, 3, 1))] == ["nordlicht", "sued"]


def test_an_unchanged_project_file_is_not_read_again_and_still_has_its_places(cached: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A project file whose stat is what it was when its text was hashed (and settled) is vouched for by stat, as
    the ledger's records are: a warm run does not read it. Its places are read from the file if a finding needs
    them; an edit (a new stat) is read and built again."""
    from billed import api, repo

    reads: list[str] = []
    real = repo.read_text
    monkeypatch.setattr(repo, "read_text", lambda path, where: reads.append(path.name) or real(path, where))
    monkeypatch.chdir(cached)
    state = api.load(cached)
    assert "web.yaml" not in reads and state.ok
    web = state.repo.projects["nordlicht/web"]
    assert web.loc.doc.text is None and web.milestones[0].loc.doc.where(("milestones", 0, "amount")) == (6, 13)
    path = cached / "projects/nordlicht/web.yaml"
    path.write_text(PROJECT.replace("amount: 1000.00", "amount: 1000.50"), encoding="utf-8")
    again = api.load(cached)
    assert reads.count("web.yaml") == 1 and again.ok
    assert again.repo.projects["nordlicht/web"].milestones[0].amount == Decimal("1000.50")


def test_stored_values_are_the_bytes_pickle_dumps_makes(cached: Path) -> None:
    """cache.plain_state's reducers (the model's frozen dataclasses, Finding) change how fast, not what: every
    entry a load stores, clean or with findings, is byte for byte what pickle.dumps makes of it, and loads back."""
    import pickle

    from billed import cache
    from billed.repo import Repo, _build_project, _client, load_settings

    (cached / "projects/nordlicht/bad.yaml").write_text(PROJECT.replace("amount: 1000.00", "amount: 1000.001")
                                                        + "deposit: 120%\n", encoding="utf-8")
    assert cache._PLAIN  # registered by billed.repo
    repo = Repo(cached, load_settings(cached))
    client, _ = _client(repo, cached / "projects/nordlicht/client.yaml", "nordlicht", "client.yaml",
                        ("projects/nordlicht/client.yaml", ""))
    values = [(client, [])]
    for name in ("web", "bad"):
        path = cached / f"projects/nordlicht/{name}.yaml"
        values.append(_build_project(repo, path, name, path.read_text(), client, None, "nordlicht", name))
    assert values[1][0] is not None and values[2][1]  # a clean built project, and findings
    store = cache.Store(cached / "nowhere.pickle")
    for i, value in enumerate(values):
        store.put(b"%d" % i, value)
        assert store.used[b"%d" % i] == pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        assert pickle.loads(store.used[b"%d" % i]) == value


def test_the_day_a_project_falls_due_is_kept_with_it_and_plans_as_worked_out(cached: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The project cache keeps, with each project, the first day its milestones have something to bill against
    what the ledger charged them (engine.due_from). A plan from a warm cache must be the plan worked out afresh,
    before, on and after that day, after an edit and after an issue (which changes what was charged)."""
    from billed import api

    path = cached / "projects/nordlicht/web.yaml"
    lowered = PROJECT.replace("1000.00", "800.00") + ("  - id: build\n    title: Build\n    amount: 500.00\n"
                                                      "    status: done\n    done: 2026-04-01\n")
    days = [dt.date(2026, 3, 1), dt.date(2026, 3, 31), dt.date(2026, 4, 1), dt.date(2026, 5, 1)]

    def plans(since: dt.date) -> list[list[tuple[str, str]]]:
        state = api.load(cached)
        return [[(d["kind"], d["total"]) for d in api.plan(state, on)] for on in days if on >= since]

    # by hand, at 19% VAT: design lowered 1000.00 -> 800.00 is a credit of 200.00 + 38.00; build is 500.00 + 95.00
    credit, build = ("credit", "238.00"), ("milestone", "595.00")
    stages = ((lowered, dt.date(2026, 2, 1), [[credit], [credit], [credit, build], [credit, build]], "2026-03-01"),
              (None, dt.date(2026, 4, 1), [[], [], [build], [build]], "2026-04-01"),
              (None, None, [[], []], None))
    since = dt.date(2026, 3, 1)  # (the fixture issued on that day: a plan may not go back before it)
    for text, due, expected, issue_on in stages:
        if text is not None:
            path.write_text(text, encoding="utf-8")
        assert plans(since) == expected  # (read and built: the entry is written)
        assert api.load(cached).repo.due_from == {"nordlicht/web": due}  # from the entry
        monkeypatch.setenv("BILLED_CACHE", "0")
        assert api.load(cached).repo.due_from == {} and plans(since) == expected  # no cache: worked out when planned
        monkeypatch.delenv("BILLED_CACHE")
        assert plans(since) == expected
        if issue_on:
            assert run(cached, "issue", "--no-pdf", "--date", issue_on).code == 0
            since = dt.date.fromisoformat(issue_on)
