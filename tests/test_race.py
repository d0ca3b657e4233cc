"""Two `billed issue --commit --push` runs started at the same moment from two clones, round after round.

Real processes, a real bare origin: each round a merge marks new milestones done, then both clones issue at
once. Whoever loses the push must re-plan from the winner's state. After every round each done milestone is
invoiced exactly once on origin and the numbers are gapless. (PDFs are skipped: they do not take part in the
race, and the round count stays at the 20 the issue asks for while the test stays fast.)
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests._gitsandbox import GIT_ENV, clone, commit_all, files_on, git, origin, read_all
from tests.conftest import BILLED, run

ROUNDS = int(os.environ.get("BILLED_RACE_ROUNDS", "20"))
DATE = "2026-06-01"


def add_done_milestones(dev: Path, round_no: int) -> list[str]:
    """A merge to main: one or two new milestones, already done (two on odd rounds: a plan of several)."""
    ids = [f"r{round_no:02d}{x}" for x in ("a", "b")[: 1 + round_no % 2]]
    git(dev, "pull", "-q", "--ff-only", "origin", "main")
    path = dev / "projects/nordlicht/annual-report.yaml"
    with open(path, "a", encoding="utf-8") as handle:
        for mid in ids:
            handle.write(f"  - id: {mid}\n    title: Extra {mid}\n    amount: {100 + round_no}.00\n"
                         "    status: done\n    done: 2026-03-02\n")
    commit_all(dev, f"Round {round_no}: {', '.join(ids)} done")
    git(dev, "push", "-q", "origin", "main")
    return ids


def origin_records(bare: Path) -> list[dict]:
    return [json.loads(text) for text in read_all(bare, [p for p in files_on(bare) if p.endswith(".json")])]


def test_racing_issuers_never_duplicate_or_skip_a_number(tmp_path: Path) -> None:
    bare = origin(tmp_path)
    dev, a, b = (clone(bare, tmp_path / name) for name in ("dev", "a", "b"))
    env = {**os.environ, **GIT_ENV}
    expected = {"concept"}
    retried = 0
    for round_no in range(ROUNDS):
        expected.update(add_done_milestones(dev, round_no))
        procs = [subprocess.Popen([BILLED, "issue", "--date", DATE, "--no-pdf", "--commit", "--push"], cwd=clone_,
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for clone_ in (a, b)]
        outs = [p.communicate(timeout=60) for p in procs]
        for proc, (_, err) in zip(procs, outs, strict=True):
            assert proc.returncode == 0, f"round {round_no}: {err}"
        retried += sum("re-planned" in err for _, err in outs)

        records = origin_records(bare)
        refs = [line["ref"] for r in records for line in r["lines"] if line["role"] == "charge"]
        assert sorted(refs) == sorted(expected), f"round {round_no}: duplicate or missing milestone"
        assert [r["seq"] for r in records] == list(range(1, len(records) + 1)), f"round {round_no}: gap"
    print(f"{retried} of {ROUNDS} rounds had a rejected push")
    assert retried > 0, "the runs never collided: the race was not exercised"
    final = clone(bare, tmp_path / "final")
    check = run(final, "verify")
    assert check.code == 0, check.err
