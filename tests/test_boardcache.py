"""billed/boardcache.py: a stored board is only ever an accelerator."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from pathlib import Path

import pytest

from billed import api, boardcache, cache, ledger, views

ON = dt.date(2026, 3, 1)
SITE = """\
title: Site
start: 2026-01-05
milestones:
  - {id: a, title: A, amount: 100.00, status: done, done: 2026-01-20}
"""


@pytest.fixture
def stored(repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BILLED_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("BILLED_CACHE", raising=False)
    monkeypatch.setattr(ledger, "RACY_NS", 0)
    root = repo({"projects/nordlicht/site.yaml": SITE}).resolve()
    views.cache_clear()
    for _ in range(2):  # (a cache writes nothing on the first load of a repo it never saw: cache.begin)
        views.load(root, ON)
        views.cache_clear()
    return root


def test_a_damaged_stored_board_is_built_again(stored: Path) -> None:
    stamp = boardcache.Stamp.of(api.fingerprint(stored))
    assert boardcache.read(stored, stamp, ON, None) is not None
    cache.save_blob(stored, "board", (boardcache._key(stamp, ON, None), (b"not a pickle", {})))
    assert boardcache.read(stored, stamp, ON, None) is None
    board = views.load(stored, ON)
    assert views.portfolio(board)["EUR"].done == D("100.00")
    assert views._state.cache_info().currsize == 1  # built from the repo


def test_nothing_is_stored_or_read_with_the_cache_off(stored: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLED_CACHE", "0")
    stamp = boardcache.Stamp.of(api.fingerprint(stored))
    assert boardcache.read(stored, stamp, ON, None) is None
    views.load(stored, ON)
    assert views._state.cache_info().currsize == 1
