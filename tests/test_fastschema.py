"""The compiled twin of each schema vouches for a document only when jsonschema finds nothing wrong with it."""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from conftest import TOOLKIT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billed import fastschema
from billed.load import load_text
from billed.schema import SCHEMA_DIR, validate, validator

NAMES = ("billed", "client", "project", "payments")
CORPUS = Path(__file__).resolve().parent / "corpus"


def twin(name: str) -> fastschema.Fast:
    fast = fastschema.twin((SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))
    assert fast is not None, f"{name}.schema.json lost its compiled twin: every document would go to jsonschema"
    return fast


def agrees(name: str, data: Any) -> bool:
    """The rule: vouched for => jsonschema has no error. Returns the twin's verdict."""
    vouched = twin(name).vouches(data)
    if vouched:
        assert list(validator(name).iter_errors(data)) == [], data
    return vouched


def schema_of(path: Path) -> str:
    if path.name == "billed.yaml":
        return "billed"
    return "client" if path.name == "client.yaml" else "payments" if path.name == "payments.yaml" else "project"


@pytest.mark.parametrize("name", NAMES)
def test_every_shipped_schema_has_a_twin(name: str) -> None:
    twin(name)


def test_the_example_repo_and_the_corpus_get_the_same_verdict() -> None:
    files = [TOOLKIT / "billed.yaml", *sorted((TOOLKIT / "projects").rglob("*.yaml")),
             *sorted(p for p in CORPUS.rglob("*.yaml") if p.is_file())]
    vouched = 0
    for path in files:
        doc = load_text(path.read_text(encoding="utf-8", errors="replace"), str(path))
        if not isinstance(doc.data, dict):
            continue
        name = schema_of(path)
        errors = list(validator(name).iter_errors(doc.data))
        fast = twin(name).vouches(doc.data)
        assert not (fast and errors), path
        vouched += fast
    assert vouched >= 10  # the valid examples really take the fast path


def test_a_schema_with_other_keywords_has_no_twin() -> None:
    for extra in ({"oneOf": [{"type": "string"}]}, {"format": "date"}, {"exclusiveMinimum": 0},
                  {"enum": [1, 2]}, {"pattern": "^\\d+$"}, {"multipleOf": 0.01}):
        schema = {"type": "object", "properties": {"a": {"type": ["number", "string"], **extra}}}
        assert fastschema.twin(json.dumps(schema)) is None, extra


@pytest.mark.parametrize(("value", "vouched"), [
    (Decimal("7.7"), True), (Decimal("19"), True), (Decimal("19.00"), True),
    (Decimal("100"), False),  # exactly on a bound: jsonschema decides (it accepts)
    (Decimal("100.00000000000000000001"), False),  # a float would round it onto the bound
    (Decimal("-0.00000000000000000001"), False), (Decimal("1E+30"), False), (100, True), (101, False)])
def test_numbers_keep_their_side_of_every_bound(value: Any, vouched: bool) -> None:
    data = {"title": "T", "start": "2026-01-01", "tax_rate": value, "milestones": [
        {"id": "a", "title": "A", "amount": Decimal("10.10")}]}
    assert agrees("project", data) is vouched


def test_a_decimal_is_never_a_whole_number() -> None:
    data = {"title": "T", "start": "2026-01-01", "payment_terms": Decimal("30"),
            "milestones": [{"id": "a", "title": "A", "amount": 10}]}
    assert list(validator("project").iter_errors(data))  # jsonschema: `30.0` is not an integer
    assert not agrees("project", data)
    assert agrees("project", {**data, "payment_terms": 30})


def test_whitespace_that_python_and_rust_read_differently_is_never_vouched_for() -> None:
    """Every character either regex engine could call whitespace, checked against both; those they disagree on
    are exactly `_divergent`'s, so a pattern with \\s or [^\\s] never decides differently in the twin."""
    probe = jsonschema_rs.validator_for({"type": "string", "pattern": "^\\s$"})
    space = re.compile(r"^\s$")
    candidates = [chr(c) for c in range(sys.maxunicode + 1)
                  if unicodedata.category(chr(c)) in ("Cc", "Zs", "Zl", "Zp", "Cf") or chr(c).isspace()]
    differ = {c for c in candidates if bool(space.match(c)) != probe.is_valid(c)}
    assert differ >= {"\x1c", "\x1d", "\x1e", "\x1f", "\x85"}
    assert {c for c in candidates if fastschema._divergent().search(c)} == differ
    assert not any(c.isprintable() for c in differ) and fastschema._printable_is_plain()  # (the view's shortcut)
    base = {"name": "N", "email": "a@b.example", "address": ["x"], "country": "DE"}
    for c in differ:
        assert not twin("client").vouches({**base, "email": f"a{c}@b.example"})


def test_text_a_regex_reads_differently_at_its_end_goes_to_jsonschema() -> None:
    data = {"title": "T", "start": "2026-01-01", "currency": "EUR\n",  # Python's $ matches before a last \n
            "milestones": [{"id": "a", "title": "A", "amount": 10}]}
    assert not agrees("project", data)


SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-2 ** 60, 2 ** 60), st.sampled_from([0, 30, 100, 365, 366, -1]),
    st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-1000, max_value=1000),
    st.sampled_from([Decimal("0"), Decimal("0.00"), Decimal("100"), Decimal("365.0"), Decimal("30"),
                     Decimal("1E-30"), Decimal("99.999999999999999999")]),
    st.text(max_size=8), st.sampled_from(["EUR", "eur", "EUR\n", "25%", "25 %", "25\x1c%", "rest", "a@b.c",
                                          "a\x85@b.c", "de", "de_DE", "done", "planned", "2026-01-01", ""]))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.sampled_from(["id", "title", "amount", "status", "x"]), inner, max_size=3), max_leaves=6)


@given(name=st.sampled_from(NAMES), changes=st.lists(st.tuples(st.integers(0, 50), VALUES), max_size=4),
       drop=st.lists(st.integers(0, 50), max_size=2))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_changes_to_valid_files_get_the_same_verdict(name: str, changes: list[tuple[int, Any]],
                                                             drop: list[int]) -> None:
    """Valid example files with values replaced or keys dropped: the twin never vouches for one jsonschema
    rejects (the other way round is allowed: jsonschema then decides)."""
    path = {"billed": TOOLKIT / "billed.yaml", "payments": None}.get(name) or next(
        p for p in sorted((TOOLKIT / "projects").rglob("*.yaml"))
        if (p.name == "client.yaml") == (name == "client"))
    data = load_text(path.read_text(encoding="utf-8"), "x").data if path else {"payments": []}
    for at, value in changes:
        places = list(_places(data))  # (again after each change: a change can replace a whole branch)
        _set(data, places[at % len(places)], value)
    for at in drop:
        keyed = [p for p in _places(data) if p and isinstance(p[-1], str)]
        if keyed:
            _drop(data, keyed[at % len(keyed)])
    agrees(name, data)


KEYS = st.one_of(st.text(max_size=6), st.sampled_from(["id", "title", "amount", "status", "name", "email"]).flatmap(
    lambda k: st.sampled_from([k, k + " ", k + "\n", k + "\x1c", k + "\x85", "\u2028" + k, k.upper()])))


@given(name=st.sampled_from(NAMES), keys=st.lists(st.tuples(st.integers(0, 50), KEYS, st.one_of(
    SCALARS, st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-9, max_value=9))),
    min_size=1, max_size=3))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_keys_of_any_text_get_the_same_verdict(name: str, keys: list[tuple[int, str, Any]]) -> None:
    """The view checks keys only for being text (no keyword the twin keeps reads a key through a regex): keys with
    whitespace either regex reads differently, near-misses of known keys, any text, added to valid files."""
    path = {"billed": TOOLKIT / "billed.yaml", "payments": None}.get(name) or next(
        p for p in sorted((TOOLKIT / "projects").rglob("*.yaml")) if (p.name == "client.yaml") == (name == "client"))
    data = load_text(path.read_text(encoding="utf-8"), "x").data if path else {"payments": [{"invoice": "X"}]}
    if name == "billed":  # the one map whose keys are free: any key is valid there
        data["late_payment"] = {"reference_rates": {"2026-01-01": Decimal("1.27")}}
    for at, key, value in keys:
        maps = [p for p in _places(data) if isinstance(_get(data, p), dict)]
        free = name == "billed" and at % 2 == 0
        _get(data, ("late_payment", "reference_rates") if free else maps[at % len(maps)])[key] = value
    agrees(name, data)


def test_a_free_key_with_any_whitespace_is_vouched_for_as_jsonschema_accepts_it() -> None:
    """(So the property above is not vacuous: there keys with `\\s` the regexes disagree on are vouched for.)"""
    data = load_text((TOOLKIT / "billed.yaml").read_text(encoding="utf-8"), "x").data
    for key in ("2026-01-01\x1c", "\x85", "a\u2028b", " "):
        data["late_payment"] = {"reference_rates": {key: Decimal("1.27")}}
        assert agrees("billed", data)


def _get(data: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        data = data[step]
    return data


def test_the_random_changes_often_leave_a_file_the_twin_vouches_for() -> None:
    """(So the property above is not vacuous.)"""
    data = load_text((TOOLKIT / "billed.yaml").read_text(encoding="utf-8"), "x").data
    assert agrees("billed", data)


def _places(node: Any, path: tuple[Any, ...] = ()) -> Any:
    yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _places(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _places(v, (*path, i))


def _set(data: Any, path: tuple[Any, ...], value: Any) -> None:
    if not path:
        return
    for step in path[:-1]:
        data = data[step]
    data[path[-1]] = value


def _drop(data: Any, path: tuple[Any, ...]) -> None:
    for step in path[:-1]:
        data = data[step]
    data.pop(path[-1], None)


def test_validate_gives_jsonschemas_findings_for_an_invalid_file() -> None:
    text = "title: T\nstart: 2026-01-01\ntax_rate: 101\nmilestones:\n  - id: A\n    title: x\n    amount: 1\n"
    found = [(f.line, f.col, f.code) for f in validate(load_text(text, "p.yaml"), "project")]
    assert found == [(3, 11, "E013"), (5, 9, "E013")]
