"""Findings: every problem Billed reports about user data, each with a place.

Bad user data is a value, not an exception: loaders and checks return lists of `Finding`, and the CLI prints them
sorted by file and line. The catalogue below is the one place codes are defined; `docs/errors.md` and the tests
are generated from / checked against it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

# code -> one-line description (the catalogue). Tests assert each code has at least one broken-repo example.
CATALOGUE: dict[str, str] = {
    "E001": "file cannot be read (missing, a directory, too large, not UTF-8, binary or empty)",
    "E002": "YAML syntax error",
    "E003": "duplicate key in a mapping",
    "E004": "unsupported YAML construct (tags, several documents, complex keys)",
    "E005": "alias expansion or nesting too large",
    "E006": "number is not a finite decimal (.nan, .inf) or is out of range",
    "E010": "schema: unknown key",
    "E011": "schema: missing required key",
    "E012": "schema: wrong type",
    "E013": "schema: value not allowed (enum, pattern, format, bounds)",
    "E020": "unknown currency code (ISO 4217)",
    "E021": "amount has more decimals than the currency allows",
    "E022": "invalid date",
    "E023": "invalid percentage",
    "E024": "unknown locale or language (not in CLDR)",
    "E025": "VAT id not valid in format or checksum for its EU member state (reverse-charge client)",
    "E026": "VAT treatment not allowed for this client (reverse charge: VAT id, another member state; outside_eu)",
    "E027": "currency with more than two decimals (KWD, BHD, ...) in a repo that issues EN 16931 e-invoices",
    "E030": "milestone id is not unique in its project",
    "E031": "more than one milestone takes the rest",
    "E032": "percentage or rest without a contract total",
    "E033": "milestones do not add up to the contract total",
    "E034": "a done milestone needs a completion date (and only done milestones have one)",
    "E035": "dates out of order (completion or due date before the project start)",
    "E036": "more than one final milestone, or a deposit without a final milestone",
    "E037": "deposit larger than the contract total, or percentages above 100%",
    "E040": "project is not inside a client folder with a client.yaml",
    "E041": "invalid name for a client or project (used in file names and numbers)",
    "E042": "numbering pattern invalid",
    "E043": "IBAN checksum or format invalid",
    "E044": "payment link pattern invalid",
    "E045": "a name or address printed in mail headers holds a control character (line break, tab, ...)",
    "E046": "email address is not valid",
    "E047": "a file or folder that documents are made from is a symlink out of the repo (or to nothing)",
    "E048": "two files for one project, such as web.yaml and web.yml: neither is billed",
    "E050": "an invoiced milestone was removed or renamed",
    "E051": "an invoiced milestone went back to planned or in progress",
    "E052": "an invoiced deposit was changed, or the final milestone carrying a deposit was cancelled",
    "E053": "currency changed after invoicing",
    "E060": "issued document edited, deleted, inserted or renumbered (verify)",
    "E061": "a file under invoices/ added, changed, renamed or deleted in this change set (check --base)",
    "E062": "issued document not witnessed by git: committed outside an issuing commit, changed since, or deleted",
    "E063": ("an append-only log (mail/sent.log) edited, cut or deleted, or given a line send never writes, in "
             "this change set (check --base)"),
    "E070": "payment ledger problem (unknown document, currency, amount, id used twice, a reversal that does not fit)",
    "E072": "bank statement cannot be read (not well-formed, not valid against its ISO 20022 schema, not MT940)",
    "E080": "billed issue: uncommitted, untracked or ignored changes to what it reads (billed.yaml, projects/, "
            "templates/)",
    "E081": "billed issue: the example project of `billed init` is still there",
}

# Warnings: the repo is valid and `check` exits 0, but it should not be issued from like this yet.
WARNINGS: dict[str, str] = {
    "W001": "the seller in billed.yaml is still the placeholder `billed init` wrote",
    "W002": "the example project of `billed init` is still there (issue refuses it: E081)",
    "W003": "no translation catalog for a language: its documents, emails and client view print English",
    "W004": "a shallow clone: git cannot vouch for the issued records from before its cut (E062 is not checked)",
}


@dataclass(frozen=True, order=True)
class Finding:
    """One problem at one place. Ordered by file, line, column so output is stable."""

    path: str
    line: int
    col: int
    code: str
    message: str
    hint: str | None = field(default=None, compare=False)

    def render(self) -> str:
        text = f"{self.path}:{self.line}:{self.col}: [{self.code}] {self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text

    def as_json(self) -> dict[str, object]:
        return {
            "file": self.path,
            "line": self.line,
            "column": self.col,
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
        }


class BilledError(Exception):
    """A user-facing failure outside the data (e.g. no billing repo found, git refused a push)."""


def shown(path: Path | str) -> str:
    """A path as the user should see it in a finding or message: relative to the working directory, so editors can
    jump to it."""
    try:
        return os.path.relpath(path)
    except ValueError:  # pragma: no cover - other drive on Windows
        return str(path)
