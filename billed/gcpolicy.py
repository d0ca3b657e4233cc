"""When Python's cyclic garbage collector may run while Billed loads a repo.

Loading allocates millions of objects that all stay alive, and each collection walked all of them again (~22% of
an empty-cache `check` at 10,000 projects, bench/README.md): `paused` switches the collector off meanwhile. A
short-lived process (the command line, `short_lived`) also freezes what exists then (gc.freeze), or the first
collection after loading walks it all once more (~0.5 s of a warm check at 10,000 projects). A long-lived one
(the dashboard) must not: gc.freeze takes *every* object alive at that moment out of the collector's sight, a
dropped Streamlit session in a reference cycle included, which would then never be freed.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from typing import Any, TypeVar

T = TypeVar("T")

_short_lived = False
_keep = False
_kept: list[Any] = []


def short_lived() -> None:
    """This process ends when its command does (billed.cli.main): what it loads may be frozen."""
    global _short_lived
    _short_lived = True


def long_lived() -> None:
    """This command keeps running (`billed watch`): nothing it loads is frozen."""
    global _short_lived
    _short_lived = False


def keep_loaded() -> None:
    """This process ends with os._exit once its command returns (billed.cli.hard_exit, the reading commands):
    what it loads is kept until then (`loaded`). Freed when the command function returned, a loaded repo was
    deallocated object by object first: ~0.13 s CPU of a warm `plan` at 10,000 projects, which `check`, ending in
    sys.exit with its state still referenced, never paid."""
    global _keep
    _keep = True


def loaded(value: T) -> T:
    """`value`, kept alive until the process ends when `keep_loaded` was said; else just `value`."""
    if _keep:
        _kept.append(value)
    return value


@contextlib.contextmanager
def paused() -> Iterator[None]:
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if _short_lived:
            gc.freeze()
        if was:
            gc.enable()
