"""The bundled example repo, issued on a fixed day, with a marker in every `internal` field: shared by the
dashboard tests (views, AppTest, browser) so they all look at the same figures."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import copy_example, run

DAY = "2026-11-25"
MARKER = "ZZINTERNALMARKER"
OTHER_CLIENT_WORDS = ("Kaffeehaus", "Online coffee shop", "Nordlicht", "Annual report", "Brand refresh",
                      "Shop build", "Wireframes", "INV-2026-0004", "INV-2026-0006")  # must never reach acme


def mark_internal(path: Path, n: int) -> int:
    """Replace every `internal:` in a YAML file by a numbered marker, at the top level and on every milestone."""
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if not re.match(r"^\s*internal:", ln)]
    out = []
    for line in lines:
        out.append(line)
        if re.match(r"^  - id: \S+", line):
            n += 1
            out.append(f"    internal: {MARKER}{n} milestone note")
    n += 1
    out.append(f"internal: {MARKER}{n} top-level note")
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return n


def example_repo(root: Path, pdf: bool = True) -> Path:
    """A copy of the example (billed.yaml, projects, templates), every internal field marked, issued on DAY."""
    copy_example(root)
    n = 0
    for path in [root / "billed.yaml", *sorted((root / "projects").glob("*/*.yaml"))]:
        n = mark_internal(path, n)
    result = run(root, "issue", "--date", DAY, *(() if pdf else ("--no-pdf",)))
    assert result.code == 0, result.err
    return root
