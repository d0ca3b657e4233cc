"""The lean way through a YAML file: its data only, for the files that need nothing more (nearly all of them).

billed/load.py's composer records, for every value, its path, its line and column and its key's place, and checks
every rule a file can break; that bookkeeping was ~70% of loading a clean repo, and the places are only ever read
when a finding must point into the file. So `compose` first builds the data alone, straight from libyaml's
events, and gives up (UNSURE) at the first thing that is not plain: an anchor, an alias, a tag, a key that is not
a scalar, a merge key, a repeated key, a second document, nesting or size past the limits, a number it would not
take, any YAML error. Then load.py's composer reads the file from the start, exactly as if this module were not
there, and reports every finding at its place. When `compose` does answer, the full composer would have found
nothing and built the same data: that is tested on generated YAML (tests/test_fastload.py).

Before libyaml's events, `lines` tries the file line by line (see "The line reader" below): most billing files are
nothing but plain `key: value` lines and lists, and reading those needs no event objects. It too answers only
what the event composer would, and hands anything else on to it.

`plain` is the one resolver of plain scalars (YAML 1.2 core schema, exact numbers) both composers use.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml

try:
    from yaml._yaml import CParser
except ImportError:  # pragma: no cover - without libyaml every file takes load.py's composer
    CParser = None

MAX_NODES = 200_000
MAX_DEPTH = 64

UNSURE: Any = object()  # "ask the full composer"


class Bad:
    """A plain scalar that is a number Billed refuses: load.py's composer reports it as E006."""

    __slots__ = ("hint", "message")

    def __init__(self, message: str, hint: str = "amounts are limited to 10^12") -> None:
        self.message, self.hint = message, hint


# \Z, not $: `$` also matches before a final newline, so "\n" resolved as null (and "1\n" as 1); libyaml never
# hands over such a plain scalar, but the resolver must not depend on that (tests/test_fastload.py found it)
_NULL = re.compile(r"^(?:~|null|Null|NULL|)\Z")
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)\Z")
_INT = re.compile(r"^[-+]?[0-9]+\Z")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?\Z")
_SPECIAL = re.compile(r"^[-+]?\.(?:inf|Inf|INF|nan|NaN|NAN)\Z")
_MAYBE = frozenset("~nNtTfF+-.0123456789")  # the first characters of anything but text
_SEEN: dict[str, Any] = {}  # plain scalar -> its value (ints and Decimals are immutable: sharing them is safe)


def plain(text: str) -> Any:
    """The value of a plain (unquoted, untagged) scalar: None, bool, int, Decimal, text, or a `Bad` number."""
    if text and text[0] not in _MAYBE:
        return text
    value = _SEEN.get(text, UNSURE)
    if value is UNSURE:
        if len(_SEEN) > 100_000:  # a bound, not an eviction policy: values are cheap to resolve again
            _SEEN.clear()
        value = _SEEN[text] = _resolve(text)
    return value


def _resolve(text: str) -> Any:
    if _NULL.match(text):
        return None
    if _BOOL.match(text):
        return text.lower() == "true"
    if _INT.match(text):
        return Bad("number is far too large") if len(text) > 40 else int(text)
    if _FLOAT.match(text):
        try:
            value = Decimal(text)
        except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
            value = None
        if value is None or abs(value.adjusted()) > 40:
            return Bad(f"number {text} is out of range")
        return value
    if _SPECIAL.match(text):
        return Bad(f"{text} is not a finite number", "write an exact decimal such as 1500.00")
    return text


def compose(text: str) -> Any:
    """The data of a YAML text in which nothing needs reporting, or UNSURE."""
    if CParser is None:  # pragma: no cover
        return UNSURE
    data = lines(text)
    if data is not UNSURE:
        return data
    try:
        return _compose(CParser(text).get_event)
    except yaml.YAMLError:
        return UNSURE


# The line reader: billing files are block mappings and lists of `key: value` lines, nearly always. Read line by
# line, with each `key: value` line remembered (they repeat across files: statuses, dates, titles), such a file
# costs a third of what libyaml's events do (each event a Python object with two marks); so `lines` reads the
# files made of nothing but the plainest of that shape, and gives up (UNSURE) at anything else: a tab, a control
# or other unprintable character, a key that is not a plain word or is very long, an anchor, tag or alias, a
# block or multi-line scalar, a quoted scalar with an escape, a flow mapping, a flow list with more than plain
# words, a plain scalar holding `: ` or a flow bracket, a `-` without an item after it, a line indented where no
# collection of the file is, a repeated key, a file past LINE_MAX. Then the event composer above takes the file,
# from the start. What `lines` answers, the event composer answers the same (tests/test_fastload.py).
LINE_MAX = 16_000  # characters: with at most 20 levels no file this size can reach MAX_NODES (2 characters a value)
_DEPTH = 20
# a key of at most 128 characters: libyaml refuses a plain key longer than 1024 (an edge this reader keeps away from)
_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_-]{0,127}):(?: +(.*))?\Z")
_SINGLE = re.compile(r"'((?:[^']|'')*)'(?: +#.*| *)\Z")
_DOUBLE = re.compile(r'"([^"\\]*)"(?: +#.*| *)\Z')
_FLOW = re.compile(r"\[([^\[\]{}#'\"]*)\](?: +#.*| *)\Z")
_FIRST = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.~+/(")
_NOT_IN_PLAIN = re.compile(r": |:\Z|[\[\]{}]")
_NUMBER_AFTER_DASH = frozenset("0123456789.")


class _Unsure(Exception):
    """The line reader cannot promise the event composer's answer."""


_ROW = re.compile(r"^( *)([^ #\n].*)", re.M)  # a line with more than blanks and a comment: its indentation, the rest
_OPEN: Any = object()  # `key:` with nothing after it on its line
_KNOWN: dict[str, tuple[str, Any]] = {}  # a `key: value` line -> (key, value): such lines repeat across files


def lines(text: str) -> Any:
    """The data of a file made only of the plainest block YAML, or UNSURE (see above)."""
    if len(text) > LINE_MAX or not text.replace("\n", "").isprintable():  # tabs, carriage returns, every other
        return UNSURE  # line break, controls, a BOM
    rows = [(len(pad), body) for pad, body in _ROW.findall(text)]
    if not rows or rows[0][0] != 0:
        return UNSURE
    try:
        data, end = _mapping(rows, 0, 0, 0)
    except _Unsure:
        return UNSURE
    return data if end == len(rows) else UNSURE


def _mapping(rows: list[tuple[int, str]], i: int, indent: int, depth: int) -> tuple[dict[str, Any], int]:
    """The block mapping whose keys stand at `indent` from rows[i] on; (it, the first row after it)."""
    if depth > _DEPTH:
        raise _Unsure
    out: dict[str, Any] = {}
    count = len(rows)
    known = _KNOWN
    while i < count:
        at, body = rows[i]
        if at != indent:
            if at < indent:
                break
            raise _Unsure
        got = known.get(body)
        if got is None:
            got = _key_line(body)
        key, value = got
        if key in out:
            raise _Unsure
        i += 1
        if value is _OPEN:
            if i < count and (rows[i][0] > indent or (rows[i][0] == indent and rows[i][1][:2] == "- ")):
                value, i = _block(rows, i, depth + 1)
            else:
                value = None
        elif type(value) is list:
            value = value[:]  # (its items are immutable; the list is the caller's to change)
        out[key] = value
    return out, i


def _key_line(body: str) -> tuple[str, Any]:
    """(key, value or _OPEN) of a `key: value` line, remembered."""
    match = _KEY.match(body)
    if match is None:
        raise _Unsure
    key, rest = match.groups()
    got = (key, _scalar(rest) if rest and rest[0] != "#" else _OPEN)
    if len(_KNOWN) > 100_000:  # a bound, not an eviction policy
        _KNOWN.clear()
    _KNOWN[body] = got
    return got


def _block(rows: list[tuple[int, str]], i: int, depth: int) -> tuple[Any, int]:
    at, body = rows[i]
    if body[:2] == "- ":
        return _sequence(rows, i, at, depth)
    return _mapping(rows, i, at, depth)


def _sequence(rows: list[tuple[int, str]], i: int, indent: int, depth: int) -> tuple[list[Any], int]:
    """The block list whose dashes stand at `indent` from rows[i] on; (it, the first row after it)."""
    if depth > _DEPTH:
        raise _Unsure
    out: list[Any] = []
    count = len(rows)
    while i < count:
        at, body = rows[i]
        if at < indent or (at == indent and body[:2] != "- "):
            break  # (the next key of a mapping at this indent: a list may stand at its key's indent)
        if at > indent:
            raise _Unsure
        rest = body[2:].lstrip(" ")
        if not rest or rest[0] == "#":
            raise _Unsure
        if _KEY.match(rest):  # `- key: value`: a mapping whose keys stand where this one does
            rows[i] = (indent + len(body) - len(rest), rest)
            item, i = _mapping(rows, i, rows[i][0], depth + 1)
            out.append(item)
        else:
            out.append(_scalar(rest))
            i += 1
    return out, i


def _scalar(text: str) -> Any:
    """A value written on its key's or its dash's line: a plain or quoted scalar, or a flow list of plain words."""
    first = text[0]
    if first == "'":
        match = _SINGLE.match(text)
        if match is None:
            raise _Unsure
        return match.group(1).replace("''", "'")
    if first == '"':
        match = _DOUBLE.match(text)
        if match is None:
            raise _Unsure
        return match.group(1)
    if first == "[":
        match = _FLOW.match(text)
        if match is None:
            raise _Unsure
        inner = match.group(1)
        if not inner.strip(" "):
            return []
        return [_word(item.strip(" "), True) for item in inner.split(",")]
    cut = text.find(" #")
    return _word((text if cut < 0 else text[:cut]).rstrip(" "), False)


def _word(text: str, flow: bool) -> Any:
    """A plain scalar's value; unsure of anything that could be more than a plain scalar here."""
    if not text:
        raise _Unsure
    first = text[0]
    if not (first in _FIRST or (first == "-" and text[1:2] in _NUMBER_AFTER_DASH and text[1:2]) or first > "\x7f"):
        raise _Unsure
    if _NOT_IN_PLAIN.search(text) or (flow and ":" in text):
        raise _Unsure
    value = plain(text)
    if type(value) is Bad:
        raise _Unsure
    return value


def _compose(get: Any) -> Any:  # noqa: C901 - one loop over events, kept flat for speed
    if type(get()) is not yaml.StreamStartEvent:  # pragma: no cover - libyaml always starts so
        return UNSURE
    kind = type(get())
    if kind is yaml.StreamEndEvent:
        return None  # no document at all: no data, nothing to report
    if kind is not yaml.DocumentStartEvent:  # pragma: no cover
        return UNSURE
    scalar, mapping, sequence, seen = yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent, _SEEN
    map_end, seq_end = yaml.MappingEndEvent, yaml.SequenceEndEvent
    maybe, resolve, bad = _MAYBE, plain, Bad
    root: Any = UNSURE
    top: Any = None  # the collection being filled
    in_map = False
    key: Any = None  # in a mapping: the key whose value comes next, or None while a key is due
    stack: list[tuple[Any, bool]] = []
    nodes = 0  # as load.py counts them: each value adds its size (itself and all below) when it ends
    while True:
        event = get()
        kind = type(event)
        if kind is scalar:
            if event.anchor is not None or event.tag is not None:
                return UNSURE
            value = event.value
            if in_map and key is None:
                if value in top or value == "<<":
                    return UNSURE
                key = value
                continue
            nodes += len(stack) + 1
            if event.implicit[0] and (not value or value[0] in maybe):
                value = seen.get(value, UNSURE)
                if value is UNSURE:
                    value = resolve(event.value)  # (and remember it)
                if type(value) is bad:
                    return UNSURE
            if in_map:
                top[key] = value
                key = None
            elif stack:
                top.append(value)
            else:
                root = value
        elif kind is mapping or kind is sequence:
            if event.anchor is not None or event.tag is not None or (in_map and key is None):
                return UNSURE
            if len(stack) >= MAX_DEPTH:
                return UNSURE
            nodes += len(stack) + 1
            new: Any = {} if kind is mapping else []
            if in_map:
                top[key] = new
            elif stack:
                top.append(new)
            else:
                root = new
            stack.append((top, in_map))
            top, in_map, key = new, kind is mapping, None
        elif kind is map_end or kind is seq_end:
            top, in_map = stack.pop()
            key = None
        elif kind is yaml.DocumentEndEvent:
            break
        else:  # an alias, or anything unexpected
            return UNSURE
    if type(get()) is not yaml.StreamEndEvent or nodes > MAX_NODES:
        return UNSURE
    return root

