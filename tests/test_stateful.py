"""Exactly-once, proven on random histories: a hypothesis state machine drives a real billing repo.

Steps: complete, start, raise or lower, cancel and add milestones, let time pass (across years), issue, rerun,
crash an issuing run after its k-th file write (the real console script with BILLED_FAULT_AFTER_WRITES) and
recover by rerunning, and race two `billed issue --commit --push` runs from two clones of a real bare origin.
After every step: `billed check` clean (verify included), numbering gapless per series and year, no issued file
ever changed or vanished; and once issued, every milestone is billed exactly once: net of
credit notes its billed amount is its current amount when done and 0 otherwise, the deposit is billed once and
deducted once on the final invoice. BILLED_STATEFUL_EXAMPLES=N runs N histories instead of the suite's few,
BILLED_STATEFUL_STEPS=M makes each up to M steps long (12 by default).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from conftest import BILLED, make_repo, run, run_process
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from billed import ledger

EXAMPLES = int(os.environ.get("BILLED_STATEFUL_EXAMPLES", "12"))
STEPS = int(os.environ.get("BILLED_STATEFUL_STEPS", "12"))
START = dt.date(2026, 1, 5)
DEPOSIT = Decimal("500.00")
AMOUNTS = st.integers(60_000, 500_000).map(lambda cents: Decimal(cents) / 100)


@dataclass
class M:
    id: str
    amount: Decimal
    status: str = "planned"
    done: dt.date | None = None
    final: bool = False


def project_yaml(title: str, milestones: list[M], deposit: bool) -> str:
    lines = [f"title: {title}", f"start: {START}"]
    if deposit:
        lines.append(f"deposit: {DEPOSIT}")
    lines.append("milestones:")
    for m in milestones:
        lines += [f"  - id: {m.id}", f"    title: Milestone {m.id}", f"    amount: {m.amount}",
                  f"    status: {m.status}"]
        if m.done:
            lines.append(f"    done: {m.done}")
        if m.final:
            lines.append("    final: true")
    return "\n".join(lines) + "\n"


def records(root: Path) -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted((root / "invoices").glob("*/*.json"))]


def issued_files(root: Path) -> dict[str, str]:
    """Hash of every file that belongs to an issued document (its record exists): these must never change."""
    out = {}
    for rec in (root / "invoices").glob("*/*.json"):
        for sibling in rec.parent.glob(rec.stem + ".*"):
            out[str(sibling.relative_to(root))] = hashlib.sha256(sibling.read_bytes()).hexdigest()
    return out


def git_env() -> dict[str, str]:
    return {**os.environ, "GIT_AUTHOR_NAME": "A", "GIT_AUTHOR_EMAIL": "a@example.com", "GIT_COMMITTER_NAME": "A",
            "GIT_COMMITTER_EMAIL": "a@example.com", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}


class History(RuleBasedStateMachine):
    """Project `a` has a deposit and a final milestone that stays last; project `b` has neither."""

    @initialize(a=st.lists(AMOUNTS, min_size=2, max_size=4), b=st.lists(AMOUNTS, min_size=1, max_size=3))
    def setup(self, a: list[Decimal], b: list[Decimal]) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="billed-stateful-"))
        # In-process steps let the stat index vouch for files at once (no racy window), so `check` after every
        # step verifies through the index as hard as it can; subprocess steps keep the default window.
        self.racy, ledger.RACY_NS = ledger.RACY_NS, 0
        self.cache_dir = os.environ.get("BILLED_CACHE_DIR")
        os.environ["BILLED_CACHE_DIR"] = str(self.tmp / "cache")
        self.root = make_repo(self.tmp / "repo")
        self.today = dt.date(2026, 1, 10)
        self.counter = 0
        self.projects = {"a": [self.new(x) for x in a], "b": [self.new(x) for x in b]}
        self.projects["a"][-1].final = True
        self.synced = False  # true right after a successful issue with no edit since
        self.seen: dict[str, str] = {}
        self.save()

    def git(self, cwd: Path, *args: str) -> None:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=git_env())
        assert proc.returncode == 0, f"git {args}: {proc.stderr}"

    def teardown(self) -> None:
        ledger.RACY_NS = self.racy
        if self.cache_dir is None:
            os.environ.pop("BILLED_CACHE_DIR", None)
        else:
            os.environ["BILLED_CACHE_DIR"] = self.cache_dir
        shutil.rmtree(self.tmp, ignore_errors=True)

    def new(self, amount: Decimal) -> M:
        self.counter += 1
        return M(f"m{self.counter}", amount)

    def save(self) -> None:
        for key, ms in self.projects.items():
            path = self.root / "projects" / "nordlicht" / f"{key}.yaml"
            path.write_text(project_yaml(f"Project {key}", ms, deposit=key == "a"), encoding="utf-8")
        self.synced = False

    def pick(self, data: st.DataObject, ok) -> M | None:
        choices = [m for ms in self.projects.values() for m in ms if ok(m)]
        return data.draw(st.sampled_from(choices)) if choices else None

    # --- edits -------------------------------------------------------------------------------------------------
    @rule(data=st.data())
    def complete(self, data: st.DataObject) -> None:
        m = self.pick(data, lambda m: m.status in ("planned", "in_progress"))
        if m:
            m.status, m.done = "done", self.today
            self.save()

    @rule(data=st.data())
    def start_work(self, data: st.DataObject) -> None:
        m = self.pick(data, lambda m: m.status == "planned")
        if m:
            m.status = "in_progress"
            self.save()

    @rule(data=st.data(), amount=AMOUNTS)
    def change_amount(self, data: st.DataObject, amount: Decimal) -> None:
        m = self.pick(data, lambda m: m.status != "cancelled")
        if m:
            m.amount = amount
            self.save()

    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        m = self.pick(data, lambda m: m.status != "cancelled" and not m.final)
        if m:
            m.status, m.done = "cancelled", None
            self.save()

    @rule(project=st.sampled_from(["a", "b"]), amount=AMOUNTS)
    def add_milestone(self, project: str, amount: Decimal) -> None:
        ms = self.projects[project]
        ms.insert(len(ms) - 1 if project == "a" else len(ms), self.new(amount))
        self.save()

    @rule(days=st.integers(1, 120))
    def time_passes(self, days: int) -> None:
        self.today += dt.timedelta(days=days)

    # --- issuing -----------------------------------------------------------------------------------------------
    def commit_edits(self) -> None:
        """Once the history is in git (race_two_clones), edits are committed before issuing, as a user would:
        `billed issue` refuses uncommitted projects in a git repository (E080)."""
        if (self.root / ".git").exists():
            self.git(self.root, "add", "-A", "--", "billed.yaml", "projects")
            self.git(self.root, "commit", "-q", "--allow-empty", "-m", "edits")

    def in_git(self) -> tuple[str, ...]:
        """Once the history is in git, issuing commits its documents (`--commit`: a Billed-Issued trailer each),
        as CI does; git then witnesses every record (billed/witness.py)."""
        return ("--commit",) if (self.root / ".git").exists() else ()

    @rule()
    def issue(self) -> None:
        self.commit_edits()
        result = run(self.root, "issue", "--no-pdf", "--json", "--date", str(self.today), *self.in_git())
        assert result.code == 0, result.err
        self.synced = True
        event(f"documents in the ledger: {min(len(records(self.root)) // 5 * 5, 20)}+")

    @rule()
    def rerun_issues_nothing(self) -> None:
        self.issue()
        again = run(self.root, "issue", "--no-pdf", "--json", "--date", str(self.today), *self.in_git())
        assert again.code == 0 and again.json == [], again.out

    @rule(k=st.integers(1, 7))
    def crash_then_rerun(self, k: int) -> None:
        self.commit_edits()
        crashed = run_process(self.root, "issue", "--no-pdf", "--date", str(self.today), *self.in_git(),
                              env={"BILLED_FAULT_AFTER_WRITES": str(k)})  # recovery: the rerun commits them
        assert crashed.code in (0, 75), crashed.err
        assert "Traceback" not in crashed.err
        self.check_files()
        self.issue()

    @rule()
    def race_two_clones(self) -> None:
        """Publish the history so far to a bare origin, then two clones issue and push at the same moment."""
        other = self.tmp / "other"
        if not (self.root / ".git").exists():
            (self.root / ".gitignore").write_text("invoices/.lock\n", encoding="utf-8")
            self.git(self.root, "init", "-q", "-b", "main")
            self.git(self.tmp, "init", "-q", "--bare", "-b", "main", "origin.git")
            self.git(self.root, "remote", "add", "origin", str(self.tmp / "origin.git"))
            # Documents issued before the folder was in git are adopted as docs/git.md says: committed in a
            # commit of their own with a Billed-Issued trailer each.
            numbers = [p.stem for p in sorted((self.root / "invoices").glob("*/*.json"))]
            if numbers:
                self.git(self.root, "add", "--", "invoices")
                self.git(self.root, "commit", "-q", "-m", "Adopt the documents issued before git",
                         *(f"--trailer=Billed-Issued:{n}" for n in numbers))
        self.git(self.root, "add", "-A")
        self.git(self.root, "commit", "-q", "--allow-empty", "-m", "history so far")
        self.git(self.root, "push", "-q", "origin", "main")
        if not other.exists():
            self.git(self.tmp, "clone", "-q", str(self.tmp / "origin.git"), str(other))
        self.git(other, "pull", "-q", "--ff-only", "origin", "main")
        cmd = [BILLED, "issue", "--no-pdf", "--commit", "--push", "--date", str(self.today)]
        procs = [subprocess.Popen(cmd, cwd=cwd, env=git_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for cwd in (self.root, other)]
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0 and "Traceback" not in err, err
        self.git(self.root, "pull", "-q", "--ff-only", "origin", "main")
        self.synced = True
        event(f"raced, documents in the ledger: {min(len(records(self.root)) // 5 * 5, 20)}+")

    # --- invariants --------------------------------------------------------------------------------------------
    @invariant()
    def files_never_change(self) -> None:
        if hasattr(self, "root"):
            self.check_files()

    def check_files(self) -> None:
        now = issued_files(self.root)
        for name, sha in self.seen.items():
            assert now.get(name) == sha, f"issued file {name} changed or vanished"
        self.seen = now

    @invariant()
    def check_is_clean_and_gapless(self) -> None:
        if not hasattr(self, "root"):
            return
        result = run(self.root, "check")
        assert result.code == 0, result.err
        seqs: dict[tuple[str, int], list[int]] = defaultdict(list)
        for rec in records(self.root):
            seqs[(rec["series"], rec["year"])].append(rec["seq"])
        for key, got in seqs.items():
            assert sorted(got) == list(range(1, len(got) + 1)), f"gap or duplicate in {key}: {sorted(got)}"

    @precondition(lambda self: getattr(self, "synced", False))
    @invariant()
    def billed_exactly_once(self) -> None:
        charged: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        deposits: dict[str, int] = defaultdict(int)
        prepaid: dict[str, Decimal] = defaultdict(Decimal)
        owed: dict[str, Decimal] = defaultdict(Decimal)
        for rec in records(self.root):
            sign = -1 if rec["series"] == "credit_note" else 1
            owed[rec["project"]] += Decimal(rec["net"]) * sign
            for line in rec["lines"]:
                net = Decimal(line["net"]) * sign
                if line["role"] == "charge":
                    charged[(rec["project"], line["ref"])] += net
                elif line["role"] == "deposit":
                    deposits[rec["project"]] += 1
                    assert net == DEPOSIT
                elif line["role"] == "prepaid":
                    prepaid[rec["project"]] += net
        for key, ms in self.projects.items():
            for m in ms:
                want = m.amount if m.status == "done" else Decimal(0)
                assert charged[(key, m.id)] == want, f"{key}/{m.id} billed {charged[(key, m.id)]}, expected {want}"
            assert {k for k in charged if k[0] == key} <= {(key, m.id) for m in ms}
            final_billed = any(m.final and m.status == "done" for m in ms)
            done = sum((m.amount for m in ms if m.status == "done"), Decimal(0))
            if key == "a":
                assert deposits[key] == 1, f"deposit billed {deposits[key]} times"
                assert prepaid[key] == (-DEPOSIT if final_billed else 0)
                assert owed[key] == done + (0 if final_billed else DEPOSIT)
            else:
                assert deposits[key] == 0 and owed[key] == done


History.TestCase.settings = settings(max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None,
                                     suppress_health_check=list(HealthCheck))
TestHistory = History.TestCase
