"""Rules against hostile or careless text that a schema cannot express: what reaches a mail header, email
addresses, and the widths of user-written format fields.

Every document is immutable once issued, so anything that would make it unsendable or unrenderable later must be
refused by `check` before it is issued: a client name with a line break (a header injection, and `send` could
never mail that invoice), an address a regex let through, a `{amount:>999999999}` that asks for a gigabyte.
"""

from __future__ import annotations

import os
import re
import string
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from billed.errors import Finding, shown
from billed.load import Doc

# C0 and C1 controls (CR, LF, tab, NUL, ESC, NEL, …) and the Unicode line and paragraph separators: none belongs
# in a name or an address, and each can break or forge a mail header line.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMES = {"\t": "tab", "\n": "line feed", "\r": "carriage return", "\x00": "NUL", "\x1b": "escape",
          "\x85": "next line"}
MAX_WIDTH = 32  # of any {field:width.precision} a user writes: numbers and links are short


def control_char(text: str) -> str | None:
    """The first control character in `text`, named (e.g. 'U+000A LINE FEED'), or None."""
    found = CONTROL.search(text)
    if found is None:
        return None
    ch = found.group()
    return f"U+{ord(ch):04X} {_NAMES.get(ch) or unicodedata.name(ch, 'control character')}"


# The plain shape nearly every address has: ASCII dot-atom before the @, lowercase host labels without a double
# hyphen, a letters-only top-level domain that is not reserved. email-validator accepts every such address (proven
# against it in tests/test_untrusted.py), so one needs neither its parse nor its import (~22 ms of regexes, a
# tenth of a small `check`). Every other address is parsed by it, so its verdicts and messages stay its own.
_PLAIN = re.compile(r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@((?:[a-z0-9]+(?:-[a-z0-9]+)*\.)+([a-z]+))")
RESERVED_TLDS = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test"})  # as email-validator's


def plainly_valid(address: str) -> bool:
    """`address` has the plain shape above, within RFC 5321's lengths (254 in all, 253 and 63 a label after @)."""
    found = _PLAIN.fullmatch(address) if len(address) <= 254 else None
    return (found is not None and found[2] not in RESERVED_TLDS and len(found[1]) <= 253
            and all(len(label) <= 63 for label in found[1].split(".")))


def email_problem(address: str) -> str | None:
    """Why `address` is not a usable email address, or None. email-validator parses it the way RFC 5321/5322
    and RFC 6531 (internationalised addresses) say, with no network access (no DNS lookup)."""
    if plainly_valid(address):
        return None
    from email_validator import EmailNotValidError, validate_email  # (imported on first use: see vat.eu)

    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        return str(exc)
    return None


def party_text(doc: Doc, prefix: tuple[str, ...], who: str) -> list[Finding]:
    """E045/E046 for the name and email of the party at `prefix` in `doc`. Read from the document itself, so they
    are reported even when the schema rejected something else in the file (all problems in one run)."""
    data = doc.data
    for key in prefix:
        data = data.get(key) if isinstance(data, dict) else None
    if not isinstance(data, dict):
        return []
    out = []
    for key in ("name", "email"):
        value = data.get(key)
        if not isinstance(value, str) or (*prefix, key) in doc.invalid:
            continue
        bad = control_char(value)
        if bad:
            out.append(doc.finding((*prefix, key), "E045", f"the {who}'s {key} holds a control character ({bad})",
                                   "it is printed in mail headers (From, To, Subject): write it on one line, "
                                   "without tabs or other control characters"))
        elif key == "email" and (problem := email_problem(value)):
            out.append(doc.finding((*prefix, key), "E046", f"the {who}'s email address {value!r} is not valid: "
                                   f"{problem}", "write one plain address such as billing@example.com"))
    return out


def width_problem(pattern: str) -> str | None:
    """A {field:spec} of `pattern` whose width or precision exceeds MAX_WIDTH, named; None when all are bounded.
    Checked before the pattern is ever formatted: formatting `{seq:0999999999}` to see if it is valid would
    already allocate the gigabyte."""
    try:
        parsed = list(string.Formatter().parse(pattern))
    except ValueError:
        return None  # unbalanced braces: reported by the pattern's own check
    for _, name, spec, _ in parsed:
        if name is None or not spec:
            continue
        if "{" in spec:
            return f"{{{name}:{spec}}} nests a field in its format"
        for number in _numbers(spec):
            if number > MAX_WIDTH:
                return f"{{{name}:{spec}}} asks for a width or precision of {number:,}; at most {MAX_WIDTH}"
    return None


def _numbers(spec: str) -> Iterable[int]:
    return (int(n) for n in re.findall(r"[0-9]+", spec))


# What documents and payment states are made from. (templates/ is not here: the PDF renderer reads only files
# inside it, symlinks resolved, render._fetcher; a template is layout, not billing data.)
WATCHED = ("billed.yaml", "projects", "payments")


def outside_links(root: Path) -> tuple[set[Path], list[Finding]]:
    """Symlinks among the files documents are made from whose target is outside the repo (or missing): what is
    billed must be in git, and a link's target is not. Returns the links (loading skips them) and an E047 each.
    A link to another file inside the repo is fine: its target is committed too."""
    top = root.resolve()
    links, out = set(), []
    for name in WATCHED:
        for path in _links(root / name):
            target = Path(os.path.realpath(path))
            if target == top or top in target.parents and target.exists():
                continue
            links.add(path)
            where = "points to nothing" if not target.exists() else f"points outside the repo, to {target}"
            out.append(Finding(shown(path), 1, 1, "E047", f"{shown(path)} is a symlink that {where}",
                               "what is billed must be in git: replace the link with the file itself, committed"))
    return links, out


def _links(start: Path) -> Iterable[Path]:
    """The symlinks at and below `start`, not following symlinked folders (a link is reported, never entered).
    Read from each folder's entries (their type comes with the listing), not with a stat per file: 14,000 of
    them at 10,000 projects."""
    if start.is_symlink():
        yield start
        return
    folders = [str(start)]
    while folders:
        try:
            entries = os.scandir(folders.pop())
        except OSError:  # not a folder, gone, or unreadable (as os.walk, which this replaced, skipped it)
            continue
        with entries:
            for entry in entries:
                if entry.is_symlink():
                    yield Path(entry.path)
                elif entry.is_dir(follow_symlinks=False):
                    folders.append(entry.path)


