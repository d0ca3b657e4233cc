"""A compiled pre-check in front of jsonschema: the same schema, run by jsonschema-rs, vouches for valid documents.

jsonschema (pure Python) was ~40% of an uncached `check` (bench/README.md). Almost every document is valid, and
a valid one yields no finding, so a faster validator that says "valid" only when jsonschema would say so too can
stand in front of it: a document it accepts needs nothing more; any other goes to jsonschema's `iter_errors`
exactly as before (billed/schema.py), so every finding, its wording and its place are jsonschema's.

"Only when jsonschema would say so too" is kept by construction, not hoped for:
- only schemas built from keywords listed in `_KEYWORDS` get a compiled twin, with patterns of a plain regex
  subset (`_PATTERN`) and string-only enums; any other schema is always validated by jsonschema alone;
- the data is shown to jsonschema-rs through `_view`, which answers "unsure" (None) rather than bend a value:
  a Decimal (our YAML's exact numbers) becomes a float that compares with every bound in the schema as the Decimal
  does and is never a whole number (jsonschema never takes a Decimal as an "integer"); an integer beyond 2**53, a
  string value with a character whose `\\s` differs between Python's and Rust's regex (`_divergent`; keys meet no
  regex), a key that is not text, anything but plain data: unsure, so jsonschema decides;
- jsonschema-rs failing in any way (not installed, an error) is also "unsure".
tests/test_fastschema.py checks these rules, and that both give the same verdict on the corpus and on random data.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from functools import cache
from typing import Any

try:
    import jsonschema_rs
except ImportError:  # pragma: no cover - a dependency; without it jsonschema does all the work
    jsonschema_rs = None

# Keywords whose meaning is the same in both validators for the data `_view` lets through.
_KEYWORDS = frozenset(("$schema", "$id", "title", "description", "default", "examples", "$comment", "x-hint",
                       "type", "properties", "additionalProperties", "required", "items", "minItems", "maxItems",
                       "minLength", "maxLength", "pattern", "enum", "minimum", "maximum"))
# Literal characters, ASCII ranges in classes, \s and escaped punctuation, anchors, groups, alternation, counts.
_PATTERN = re.compile(r"^(?:[A-Za-z0-9_@%#:/ ,'-]|\\[s.\-@%]|[\^$()\[\]{}|?+*])*$")
_MAX_INT = 2 ** 53


class _Unsure(Exception):
    """The view cannot promise jsonschema's verdict for this document."""


def _walk(schema: Any, bounds: set[Any]) -> bool:
    """Whether every keyword of this (sub)schema is one the two validators agree on; collects numeric bounds."""
    if isinstance(schema, bool):
        return True
    if not isinstance(schema, dict) or not set(schema) <= _KEYWORDS:
        return False
    for word in ("minimum", "maximum"):
        if word in schema:
            if type(schema[word]) not in (int, float):
                return False
            bounds.add(schema[word])
    if "pattern" in schema and not (isinstance(schema["pattern"], str) and _PATTERN.match(schema["pattern"])):
        return False
    if "enum" in schema and not all(isinstance(v, str) for v in schema["enum"]):
        return False
    subs = list(schema.get("properties", {}).values())
    for word in ("items", "additionalProperties"):
        if word in schema:
            subs.append(schema[word])
    return all(_walk(sub, bounds) for sub in subs)


class Fast:
    """The compiled twin of one schema, with the numeric bounds it compares against."""

    def __init__(self, schema: dict[str, Any], bounds: set[Any]) -> None:
        self.validator = jsonschema_rs.validator_for(schema)
        self.bounds = tuple(bounds)

    def vouches(self, data: Any) -> bool:
        """True only when jsonschema would find no error in `data`; False means "ask jsonschema"."""
        try:
            view = _view(data, self.bounds)
            return bool(self.validator.is_valid(view))
        except Exception:  # noqa: BLE001 - unsure is always allowed: jsonschema decides
            return False


@cache
def twin(schema_json: str) -> Fast | None:
    """The compiled twin of a schema (given as its JSON text, to be cacheable), or None when it has none."""
    import json

    if jsonschema_rs is None:  # pragma: no cover
        return None
    schema = json.loads(schema_json)
    bounds: set[Any] = set()
    if not _walk(schema, bounds):
        return None
    try:
        return Fast(schema, bounds)
    except Exception:  # noqa: BLE001 - a schema it cannot compile is simply validated by jsonschema alone
        return None


@cache
def _divergent() -> re.Pattern[str]:
    """Characters Python's regex takes as `\\s` and Rust's regex does not, or the other way round (measured here,
    among every character either could call whitespace: C0/C1 controls, Unicode's White_Space; U+001C-U+001F and
    U+0085 in practice). A string holding one is never vouched for."""
    found = _divergent_chars()
    return re.compile("[" + "".join(re.escape(c) for c in found) + "]") if found else re.compile("(?!)")


@cache
def _divergent_chars() -> str:
    probe = jsonschema_rs.validator_for({"type": "string", "pattern": "^\\s$"})
    space = re.compile(r"^\s$")
    return "".join(c for c in map(chr, [*range(0xA1), *_WHITE_SPACE]) if bool(space.match(c)) != probe.is_valid(c))


@cache
def _printable_is_plain() -> bool:
    """Whether a printable string (`str.isprintable`) can hold no divergent character, so needs no search: true
    while they are all controls or spaces other than U+0020, which Python never calls printable."""
    return not any(c.isprintable() for c in _divergent_chars())


# Unicode's White_Space characters above U+00A0, and their near neighbours (U+180E was one until Unicode 6.3)
_WHITE_SPACE = (0x1680, 0x180E, *range(0x2000, 0x200C), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF)


def _number(value: Decimal, bounds: tuple[Any, ...]) -> float:
    """A float that is never a whole number and stands on the same side of every bound as `value`."""
    if not value.is_finite():
        raise _Unsure
    f = float(value)
    if f.is_integer():
        f = math.nextafter(f, math.inf)
    if math.isinf(f) or f.is_integer():
        raise _Unsure
    for bound in bounds:
        if (value > bound) != (f > bound) or (value < bound) != (f < bound):
            raise _Unsure
    return f


def _view(data: Any, bounds: tuple[Any, ...]) -> Any:
    """What jsonschema-rs is shown. Keys are only checked to be text: no keyword the twin keeps reads a key through
    a regex (`properties`, `required` and `additionalProperties` compare whole keys), so `\\s` never applies."""
    search, skip = _divergent().search, _printable_is_plain()

    def view(node: Any) -> Any:
        kind = type(node)
        if kind is str:
            if (not skip or not node.isprintable()) and search(node):
                raise _Unsure
            return node
        if kind is dict:
            return {k if type(k) is str else _no(k): view(v) for k, v in node.items()}
        if kind is list:
            return [view(v) for v in node]
        if kind is Decimal:
            return _number(node, bounds)
        if kind is int:
            if -_MAX_INT <= node <= _MAX_INT:
                return node
            raise _Unsure
        if kind is bool or node is None:
            return node
        raise _Unsure

    try:
        return view(data)
    finally:
        view = None  # the closure refers to itself: a reference cycle per file, that only the collector (paused and
        # then frozen by api.load) could free (tests/test_cache.py: a loaded state holds no reference cycle)


def _no(value: Any) -> Any:
    raise _Unsure
