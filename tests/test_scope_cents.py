"""Editing an unbilled percentage milestone must not move a cent onto or off an invoiced one."""

from __future__ import annotations

from conftest import make_repo, run


def project(b: str, c: str) -> str:
    return f"""\
title: Cents
total: 10.00
start: 2026-01-05
milestones:
  - {{id: a, title: A, amount: "33.335%", status: done, done: 2026-01-10}}
  - {{id: b, title: B, amount: "{b}"}}
  - {{id: c, title: C, amount: "{c}"}}
"""


def test_an_invoiced_share_keeps_its_cents_when_other_percentages_change(tmp_path):
    root = make_repo(tmp_path / "r", {"projects/nordlicht/p.yaml": project("33.335%", "33.33%")})
    first = run(root, "issue", "--date", "2026-01-15", "--no-pdf", "--json")
    assert first.code == 0, first.err
    assert [d["net"] for d in first.json] == ["3.34"]  # the tie on .0035 goes to the earlier milestone
    # B now has the larger remainder: a plain allocation would move A's cent to B and credit A 0.01.
    (root / "projects/nordlicht/p.yaml").write_text(project("33.336%", "33.329%"), encoding="utf-8")
    assert run(root, "plan", "--date", "2026-01-20", "--json").json == []
    status = run(root, "status", "--json").json[0]
    amounts = {m["id"]: m["amount"] for m in status["milestones"]}
    assert amounts == {"a": "3.34", "b": "3.33", "c": "3.33"} and status["total"] == "10.00"


def test_a_real_change_to_an_invoiced_share_is_still_corrected(tmp_path):
    root = make_repo(tmp_path / "r", {"projects/nordlicht/p.yaml": project("33.335%", "33.33%")})
    assert run(root, "issue", "--date", "2026-01-15", "--no-pdf").code == 0
    (root / "projects/nordlicht/p.yaml").write_text(
        project("33.335%", "33.33%").replace('"33.335%", status', '"23.335%", status').replace(
            'amount: "33.33%"', 'amount: "43.33%"'), encoding="utf-8")
    planned = run(root, "plan", "--date", "2026-01-20", "--json").json
    assert [(d["kind"], d["net"]) for d in planned] == [("credit", "1.00")]
