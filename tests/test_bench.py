"""A tiny run of the benchmark (generator + bench/bench.py at 20 projects), so neither can rot unnoticed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import TOOLKIT, run

sys.path.insert(0, str(TOOLKIT / "bench"))

import generate  # noqa: E402


def test_generator_is_deterministic_and_valid(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert generate.generate(a, 12, seed=7) == generate.generate(b, 12, seed=7)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    assert list((a / "invoices").glob("*/*.json")), "the generated ledger is empty"
    assert run(a, "check").code == 0
    assert run(a, "plan", "--date", str(generate.LEDGER_DATE), "--json").json == []
    assert run(a, "plan", "--date", str(generate.NEW_DATE), "--json").json, "nothing new to issue"


def test_beancount_baseline_checks(tmp_path: Path) -> None:
    generate.beancount(tmp_path / "l.beancount", 50)
    bean_check = Path(sys.executable).with_name("bean-check")
    assert subprocess.run([bean_check, tmp_path / "l.beancount"], capture_output=True).returncode == 0


def test_bench_smoke(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    proc = subprocess.run([sys.executable, TOOLKIT / "bench" / "bench.py", "--sizes", "20", "--repeat", "1",
                           "--pairs", "1", "--pdf-docs", "2", "--json", out], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode in (0, 4), proc.stderr  # 4: a target missed, which a 20-project run may well do
    for label in ("billed check", "billed plan (no change)", "billed issue --no-pdf", "check / floor", "targets",
                  "check, empty cache, git clone"):
        assert label in proc.stdout
    figures = json.loads(out.read_text())
    size = figures["sizes"][0]
    assert size["projects"] == 20 and size["issued_new"] > 0 and size["check_git"][2] > 0
    assert figures["pdf"]["documents"] == 2
    assert figures["pdf"]["weasyprint_split"] > 0 and figures["pdf"]["ratio_split"] > 0  # weasyprint on every core


def test_the_two_sides_of_a_target_are_run_in_turn(tmp_path: Path) -> None:
    """side_by_side: A, B, A, B, ... so that a burst of other load cannot fall on one side only; each side its best."""
    import bench

    log = tmp_path / "order"
    [a, b] = bench.side_by_side([["sh", "-c", f"echo a >> {log}"], ["sh", "-c", f"echo b >> {log}"]], 3)
    assert log.read_text().split() == ["a", "b"] * 3
    assert all(len(figure) == 3 and figure[0] > 0 for figure in (a, b))
