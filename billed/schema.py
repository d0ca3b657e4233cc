"""JSON Schema validation of loaded documents, with every error placed on its YAML line.

Validators are compiled once per process and reused. jsonschema's messages are rewritten into short, specific
ones (unknown key with a did-you-mean, missing key, wrong type with a hint from the schema's `x-hint`).

A compiled twin of each schema (billed/fastschema.py, jsonschema-rs) vouches for the valid documents, which are
nearly all of them; jsonschema runs on the rest, so every finding is still its own. jsonschema itself is imported
on first use: a repo without a schema error never loads it.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from functools import cache
from typing import Any

from billed import fastschema
from billed.errors import Finding
from billed.load import Doc
from billed.resources import toolkit_dir

_NUMBER = re.compile(r"^\s*-?[0-9]+(\.[0-9]+)?\s*$")
SCHEMA_DIR = toolkit_dir("schemas")
_TYPE_NAMES = {"string": "text", "number": "a number", "integer": "a whole number", "boolean": "true or false",
               "object": "a mapping (key: value)", "array": "a list", "null": "nothing"}


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, Decimal):
        return f"the decimal number {value}"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    return "a mapping"


@cache
def _schema_text(name: str) -> str:
    return (SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8")


@cache
def _anchored(pattern: str) -> re.Pattern[str]:
    """A schema pattern with ECMA-262's `$` (the very end of the text, JSON Schema's dialect; jsonschema-rs reads
    it so too) instead of Python's, which also matches before a trailing newline: `^[^@\\s]+@[^@\\s]+$` let
    "a@b.example\\n" through, and with it a line break into a mail header."""
    return re.compile(pattern[:-1] + r"\Z" if pattern.endswith("$") and not pattern.endswith("\\$") else pattern)


def _pattern(_validator: Any, pattern: str, instance: Any, _schema: Any) -> Any:
    from jsonschema import ValidationError

    if isinstance(instance, str) and not _anchored(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


@cache
def validator(name: str) -> Any:
    """jsonschema's Draft 2020-12 validator of schemas/<name>.schema.json (the schema itself checked first), with
    `pattern` anchored as ECMA-262 says."""
    from jsonschema import Draft202012Validator, validators

    schema = json.loads(_schema_text(name))
    Draft202012Validator.check_schema(schema)
    return validators.extend(Draft202012Validator, {"pattern": _pattern})(schema)


def validate(doc: Doc, name: str) -> list[Finding]:
    """All schema errors of `doc` against schemas/<name>.schema.json, one finding each."""
    fast = fastschema.twin(_schema_text(name))
    if fast is not None and fast.vouches(doc.data):
        return []
    findings: set[Finding] = set()  # jsonschema reports a missing key once per key, we name them all at once
    for error in validator(name).iter_errors(doc.data):
        if error.validator not in ("required", "additionalProperties"):
            doc.invalid.add(tuple(error.absolute_path))
        findings.update(_translate(doc, error, name))
    return sorted(findings)


@cache
def _homes(name: str) -> dict[str, str]:
    """Where each key of a schema belongs, for an unknown key that is really a known key in the wrong place."""
    homes: dict[str, str] = {}

    def walk(node: dict[str, Any], place: str) -> None:
        for key, sub in node.get("properties", {}).items():
            homes.setdefault(key, place)
            walk(sub, f"under `{key}:`")
            if isinstance(sub.get("items"), dict):
                walk(sub["items"], "in a milestone" if key == "milestones" else f"in an item of `{key}:`")

    walk(validator(name).schema, "at the top of the file")
    return homes


def _unknown_key_tip(key: str, known: list[str], name: str) -> str:
    if key in _homes(name):
        return f"'{key}' belongs {_homes(name)[key]}; check the indentation"
    from difflib import get_close_matches  # (only for a finding: not imported by a clean run)

    close = get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    return f"known keys here: {', '.join(known)}"


def _translate(doc: Doc, error: Any, name: str) -> list[Finding]:
    path = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    hint = schema.get("x-hint")
    v = error.validator
    where = _where(doc, path)
    types = schema.get("type", [])
    if isinstance(error.instance, str) and _NUMBER.match(error.instance) and {"number", "integer"} & set(
            types if isinstance(types, list) else [types]):
        hint = "write the number without quotes"
    if v == "additionalProperties":
        known = sorted(schema.get("properties", {}))
        out = []
        for key in sorted(set(error.instance) - set(known)):
            out.append(doc.finding((*path, key), "E010", f"unknown key '{key}'", _unknown_key_tip(str(key), known,
                                   name), key=True))
        return out
    if v == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        return [doc.finding(path, "E011", f"missing required key '{k}' in {where}",
                            f"add `{k}:` here" + (f" ({d})" if (d := _describe(schema, k)) else ""))
                for k in missing]
    if v == "type":
        expected = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        want = " or ".join(_TYPE_NAMES.get(t, t) for t in expected)
        return [doc.finding(path, "E012", f"{where}: expected {want}, got {_kind(error.instance)}",
                            hint or ("put the text in quotes" if "string" in expected else None))]
    if v == "enum":
        options = [str(o) for o in error.validator_value]
        from difflib import get_close_matches

        close = get_close_matches(str(error.instance), options, n=1, cutoff=0.5)
        tip = f"did you mean '{close[0]}'?" if close else f"one of: {', '.join(options)}"
        return [doc.finding(path, "E013", f"{where}: '{error.instance}' is not allowed", tip)]
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return [doc.finding(path, "E013", f"{where}: {error.instance} is out of range ({v} {error.validator_value})",
                            hint)]
    if v in ("minItems", "minLength"):
        return [doc.finding(path, "E013", f"{where}: must not be empty", hint)]
    return [doc.finding(path, "E013", f"{where}: {error.instance!r} is not valid", hint or error.message)]


def _where(doc: Doc, path: tuple[Any, ...]) -> str:
    """A path as people name it: `seller.email`, `milestone 'design' status`, `milestone 3` (counted from 1)."""
    if len(path) >= 2 and path[0] == "milestones" and isinstance(path[1], int):
        items = doc.data.get("milestones") if isinstance(doc.data, dict) else None
        item = items[path[1]] if isinstance(items, list) and path[1] < len(items) else None
        mid = item.get("id") if isinstance(item, dict) else None
        named = isinstance(mid, str) and mid and path[2:3] != ("id",)  # a bad id is no name for itself
        name = f"milestone '{mid}'" if named else f"milestone {path[1] + 1}"
        return " ".join([name, ".".join(str(p) for p in path[2:])]).strip()
    return ".".join(str(p) for p in path) or "the file"


def _describe(schema: dict[str, Any], key: str) -> str:
    sub = schema.get("properties", {}).get(key, {})
    text = str(sub.get("description", "")).rstrip(".")
    return text[0].lower() + text[1:] if text[1:2].islower() else text
