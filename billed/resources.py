"""Where the toolkit's own schemas/, templates/ and dashboard.py are: in a source checkout (also an editable
install) they sit at the top level next to billed/; an installed wheel carries copies in billed/_data/."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def toolkit_dir(name: str) -> Path:
    return toolkit_path(name)


def toolkit_path(name: str) -> Path:
    for candidate in (_HERE.parent / name, _HERE / "_data" / name):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"Billed's {name} is missing from this installation")
