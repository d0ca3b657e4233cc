"""The lean way through a YAML file: its data only, for the files that need nothing more (nearly all of them).

billed/load.py's composer records, for every value, its path, its line and column and its key's place, and checks
every rule a file can break; that bookkeeping was ~70% of loading a clean repo, and the places are only ever read
when a finding must point into the file. So `compose` first builds the data alone, straight from libyaml's
events, and gives up (UNSURE) at the first thing that is not plain: an anchor, an alias, a tag, a key that is not
a scalar, a merge key, a repeated key, a second document, nesting or size past the limits, a number it would not
take, any YAML error. Then load.py's composer reads the file from the start, exactly as if this module were not
there, and reports every finding at its place. When `compose` does answer, the full composer would have found
nothing and built the same data: that is tested on generated YAML (tests/test_fastload.py).

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
    try:
        return _compose(CParser(text).get_event)
    except yaml.YAMLError:
        return UNSURE


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

