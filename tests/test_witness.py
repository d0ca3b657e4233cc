"""Git as the witness of invoices/ (billed/witness.py) and the review of a change (check --base), against real
repositories: a bare origin, clones, branches and the merge checkout a pull request gets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests._gitsandbox import (
    clone,
    commit_all,
    git,
    git_identity,  # noqa: F401 - autouse: git identity for in-process runs
    origin,
    set_status,
)
from tests.conftest import make_repo, run, run_process
from tests.test_corpus import REVIEW_EXAMPLES, WARNING_EXAMPLES
from tests.test_mail import smtp  # noqa: F401 - fixture: a real SMTP server on loopback

DATE = "2026-06-01"
ATTACKER_IBAN = "GB82WEST12345698765432"  # a valid IBAN (the standard's own example), not the seller's


def issue(repo: Path, *extra: str):
    return run(repo, "issue", "--date", DATE, "--no-pdf", *extra)


def codes(result) -> set[tuple[str, str]]:
    return {(f["file"], f["code"]) for f in json.loads(result.out)}


@pytest.fixture
def main_with_one(tmp_path: Path) -> tuple[Path, Path]:
    """Origin main with INV-2026-0001 issued by Billed (`issue --commit --push`); `work` is a clone of it."""
    bare = origin(tmp_path)
    work = clone(bare, tmp_path / "work")
    assert issue(work, "--commit", "--push").code == 0
    return bare, work


def test_a_forged_pull_request_is_refused_by_review_and_found_on_main(main_with_one: tuple[Path, Path],
                                                                      tmp_path: Path) -> None:
    """The attack of issue 17: issue on a branch with the attacker's IBAN, restore billed.yaml, commit, open a
    pull request. The records chain on correctly, so only git can tell."""
    bare, _ = main_with_one
    attacker = clone(bare, tmp_path / "attacker")
    git(attacker, "checkout", "-q", "-b", "faster-invoicing")
    settings = attacker / "billed.yaml"
    settings.write_text(settings.read_text().replace("DE89370400440532013000", ATTACKER_IBAN))
    set_status(attacker, "layout", "done")
    commit_all(attacker, "Layout done")  # issue refuses uncommitted input (E080), so: commit, issue, restore
    assert issue(attacker).code == 0
    assert json.loads((attacker / "invoices/2026/INV-2026-0002.json").read_text())["bank"]["iban"] == ATTACKER_IBAN
    git(attacker, "checkout", "-q", "HEAD~1", "--", "billed.yaml")
    commit_all(attacker, "Tidy up the settings")
    assert "DE89370400440532013000" in settings.read_text()
    git(attacker, "push", "-q", "origin", "faster-invoicing")

    review = clone(bare, tmp_path / "review")  # what CI checks out for the pull request: the merge result
    git(review, "fetch", "-q", "origin", "faster-invoicing")
    git(review, "merge", "-q", "--no-ff", "--no-edit", "FETCH_HEAD")
    result = run(review, "check", "--base", "origin/main")
    assert result.code == 1, result.out
    for suffix in ("json", "html"):
        assert (f"invoices/2026/INV-2026-0002.{suffix}:1:1: [E061] invoices/2026/INV-2026-0002.{suffix} is added "
                "to invoices/ by this change (since origin/main); only Billed's issuing run adds documents"
                in result.err), result.err
    assert "hint: remove it from this change (`git rm`)" in result.err

    # Merged anyway (review ignored, or pushed straight to main): git still says who wrote the record.
    git(review, "push", "-q", "origin", "HEAD:main")
    on_main = clone(bare, tmp_path / "main")
    found = run(on_main, "verify")
    assert found.code == 1
    assert ("invoices/2026/INV-2026-0002.json:1:1: [E062] INV-2026-0002 entered git history in commit "
            in found.err) and "which is not an issuing commit" in found.err
    assert "INV-2026-0001" not in found.err  # issued by Billed: vouched for
    sent = run(on_main, "send", "--dry-run")
    assert sent.code == 1 and "[E062]" in sent.err  # nothing is mailed from a ledger git does not vouch for


def test_a_deleted_newest_record_is_found_on_main(main_with_one: tuple[Path, Path]) -> None:
    """The newest record has no successor in the chain: only the issuing commit remembers it."""
    _, work = main_with_one
    set_status(work, "layout", "done")
    commit_all(work, "Layout done")
    assert issue(work, "--commit").code == 0
    git(work, "rm", "-q", "invoices/2026/INV-2026-0002.json", "invoices/2026/INV-2026-0002.html")
    assert run(work, "verify", "--json").code == 1  # uncommitted deletion
    commit_all(work, "Tidy up")
    result = run(work, "verify")
    assert result.code == 1
    sha = git(work, "rev-parse", "HEAD~1")[:12]
    assert (f"invoices/2026/INV-2026-0002.json:1:1: [E062] INV-2026-0002 was issued in commit {sha} and its "
            "record is gone (deleted or renamed)") in result.err
    assert f"git checkout {sha} -- invoices/2026/INV-2026-0002.json" in result.err
    git(work, "checkout", "-q", sha, "--", "invoices/2026")  # restored exactly as issued, in a plain commit
    commit_all(work, "Restore INV-2026-0002")
    assert run(work, "verify").code == 0


def test_records_not_committed_yet_verify_and_a_plain_commit_of_them_does_not(tmp_path: Path) -> None:
    bare = origin(tmp_path)
    work = clone(bare, tmp_path / "work")
    assert issue(work).code == 0  # a local run without --commit
    assert run(work, "verify").code == 0
    assert run(work, "check").code == 0
    commit_all(work, "Add the invoice")  # by hand: no Billed-Issued trailer
    result = run(work, "check", "--json")
    assert result.code == 1
    assert codes(result) == {("invoices/2026/INV-2026-0001.json", "E062")}
    # What git said is cached per HEAD: moving HEAD back (not a descendant) reads history again, not the cache.
    git(work, "reset", "-q", "--hard", "HEAD~1")
    assert run(work, "verify").code == 0
    assert issue(work, "--commit").code == 0
    assert run(work, "verify").code == 0


def attack_in_checkout(work: Path, done_first: bool) -> None:
    """Issue with the attacker's IBAN from a commit, then restore billed.yaml in a commit of its own: the record
    stays untracked in the checkout, its chain intact, waiting for the next `issue --commit`."""
    if done_first:  # the milestone became done before the IBAN changed: source.commit predates the attack
        set_status(work, "layout", "done")
        commit_all(work, "Layout done")
    settings = work / "billed.yaml"
    settings.write_text(settings.read_text().replace("DE89370400440532013000", ATTACKER_IBAN))
    if not done_first:
        set_status(work, "layout", "done")
    commit_all(work, "Settings")
    assert issue(work).code == 0
    assert json.loads((work / "invoices/2026/INV-2026-0002.json").read_text())["bank"]["iban"] == ATTACKER_IBAN
    git(work, "checkout", "-q", "HEAD~1", "--", "billed.yaml")
    git(work, "commit", "-q", "-m", "Tidy up the settings", "--", "billed.yaml")  # only that: the record stays


@pytest.mark.parametrize("done_first", [False, True])
def test_issue_commit_does_not_adopt_a_record_issued_from_an_undone_state(main_with_one: tuple[Path, Path],
                                                                          tmp_path: Path, done_first: bool) -> None:
    """An untracked record is committed with a trailer (and so vouched for) only if HEAD accounts for it."""
    bare, work = main_with_one
    attack_in_checkout(work, done_first)
    before = git(work, "rev-parse", "HEAD")
    result = issue(work, "--commit", "--push")
    assert result.code == 1, result.err
    assert "invoices/2026/INV-2026-0002.json: " in result.err and "Nothing was committed." in result.err
    assert "docs/git.md" in result.err and "delete its files" in result.err
    assert git(work, "rev-parse", "HEAD") == before
    assert "?? invoices/2026/INV-2026-0002.json" in git(work, "status", "--porcelain", "-uall")  # left for a look
    assert "invoices/2026/INV-2026-0002.json" not in git(bare, "ls-tree", "-r", "--name-only", "main")


def test_an_edited_and_resealed_committed_record_is_found(main_with_one: tuple[Path, Path]) -> None:
    """The witness judges HEAD's copy; the file on disk is what is mailed, so a change to it is a finding too."""
    from billed import ledger

    _, work = main_with_one
    path = work / "invoices/2026/INV-2026-0001.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    path.write_bytes(ledger.pretty(ledger.seal({**data, "bank": {**data["bank"], "iban": ATTACKER_IBAN}})))
    result = run(work, "verify")
    assert result.code == 1
    assert ("invoices/2026/INV-2026-0001.json:1:1: [E062] invoices/2026/INV-2026-0001.json differs from its "
            "committed copy at HEAD") in result.err
    assert "git checkout -- invoices/2026/INV-2026-0001.json" in result.err
    assert run(work, "send", "--dry-run").code == 1
    git(work, "checkout", "--", "invoices/2026/INV-2026-0001.json")
    assert run(work, "verify").code == 0


def test_a_trailer_names_the_numbers_it_issues(main_with_one: tuple[Path, Path]) -> None:
    """A record slipped into an issuing commit that does not name it is not vouched for."""
    _, work = main_with_one
    set_status(work, "layout", "done")
    commit_all(work, "Layout done")
    assert issue(work).code == 0
    git(work, "add", "invoices")
    git(work, "commit", "-q", "-m", "Issue things\n\nBilled-Issued: INV-2026-0001\n")
    assert codes(run(work, "verify", "--json")) == {("invoices/2026/INV-2026-0002.json", "E062")}


def test_outside_git_only_the_chain_is_checked(tmp_path: Path) -> None:
    from tests._gitsandbox import PROJECT
    root = make_repo(tmp_path / "plain", {"projects/nordlicht/annual-report.yaml": PROJECT})
    assert issue(root).code == 0
    assert run(root, "verify").code == 0


def test_a_shallow_clone_does_not_accuse_what_it_cannot_see(main_with_one: tuple[Path, Path],
                                                           tmp_path: Path) -> None:
    bare, work = main_with_one
    set_status(work, "layout", "done")
    commit_all(work, "Layout done")
    git(work, "push", "-q", "origin", "main")
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{bare}", str(shallow))
    assert git(shallow, "rev-parse", "--is-shallow-repository") == "true"
    verified = run(shallow, "verify")
    assert verified.code == 0
    # but it says so: a warning, not silence (the records from before the cut are not checked against git)
    warning = [line for line in verified.err.splitlines() if "W004" in line or line.startswith("    hint")]
    assert warning == ["warning: " + WARNING_EXAMPLES["W004"][0], WARNING_EXAMPLES["W004"][1]]
    checked = run(shallow, "check")
    assert checked.code == 0 and "warning: " + WARNING_EXAMPLES["W004"][0] in checked.err
    assert issue(shallow, "--commit").code == 0  # issuing in it is witnessed as usual
    assert run(shallow, "verify").code == 0
    full = tmp_path / "full"
    git(tmp_path, "clone", "-q", f"file://{bare}", str(full))
    assert "W004" not in run(full, "verify").err + run(full, "check").err



def test_a_change_may_only_append_to_the_send_log(main_with_one: tuple[Path, Path], tmp_path: Path,
                                                  smtp) -> None:  # noqa: F811 - the fixture imported above
    """mail/sent.log keeps `send` from mailing a document twice: a pull request that cuts a line of it would have
    CI mail the document again once merged, so review (check --base) refuses all but appends."""
    bare, work = main_with_one
    assert run(work, "render").code == 0  # issued with --no-pdf (fast); send attaches the PDF
    assert run(work, "send", "--date", DATE).code == 0
    assert len(smtp.messages) == 1
    log = (work / "mail/sent.log").read_text(encoding="utf-8")
    assert [json.loads(line)["status"] for line in log.splitlines()] == ["attempt", "sent"]
    commit_all(work, "Sent INV-2026-0001")
    git(work, "push", "-q", "origin", "HEAD:main")

    pr = clone(bare, tmp_path / "pr")
    git(pr, "checkout", "-q", "-b", "cleanup")
    sent_log = pr / "mail/sent.log"
    sent_log.write_text(log.splitlines(keepends=True)[0], encoding="utf-8")  # the `sent` line is cut
    commit_all(pr, "Tidy the log")
    result = run(pr, "check", "--base", "origin/main")
    assert result.code == 1
    assert result.err.splitlines()[:2] == REVIEW_EXAMPLES["E063"]
    assert "1 message would be sent" in run(pr, "send", "--date", DATE, "--dry-run").out  # what merging would do

    sent_log.write_text(log.replace("INV-2026-0001", "INV-2026-0009", 1), encoding="utf-8")  # edited, not cut
    found = run(pr, "check", "--base", "origin/main", "--json").json["findings"]
    assert [(f["file"], f["line"], f["code"]) for f in found] == [("mail/sent.log", 1, "E063")]
    git(pr, "rm", "-qf", "mail/sent.log")
    commit_all(pr, "Start afresh")
    result = run(pr, "check", "--base", "origin/main")
    assert result.code == 1 and "mail/sent.log:1:1: [E063] this change deletes mail/sent.log" in result.err

    sent_log.parent.mkdir(exist_ok=True)
    sent_log.write_text(log + log.splitlines(keepends=True)[1], encoding="utf-8")  # what a send run does: append
    assert run(pr, "check", "--base", "origin/main").code == 0
    # an appended line that `billed send` never writes: it would crash send on main, or hide a document
    for line, problem in (('["INV-2026-0002"]', "not a JSON object"),
                          ('{"number": "INV-2026-0002", "kind": "document"}', "without status"),
                          ('{"number": "INV-2026-0002", "kind": "document", "status": "sent"}', "without message_id")):
        sent_log.write_text(log + line + "\n", encoding="utf-8")
        found = run(pr, "check", "--base", "origin/main", "--json").json["findings"]
        assert [(f["line"], f["code"]) for f in found] == [(3, "E063")] and problem in found[0]["message"], found
    # and on main, a send log line send cannot use is a clear error, not a crash
    (work / "mail/sent.log").write_text(log + '{"number": 7}\n' + log.splitlines(keepends=True)[1],
                                        encoding="utf-8")
    result = run_process(work, "send", "--date", DATE, "--dry-run")
    assert result.code == 1 and "mail/sent.log:3: a send log entry without number, kind" in result.err, result.err
    assert "Traceback" not in result.err
