"""The JSON Schemas: valid 2020-12 documents editors can use, and their errors translated and placed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import TOOLKIT

from billed.load import load_text
from billed.schema import SCHEMA_DIR, validate, validator

NAMES = ("billed", "client", "project")


def properties(node: dict[str, Any], prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every property of a schema as (dotted path, subschema); list items appear as `name[].key`."""
    out = []
    for key, sub in node.get("properties", {}).items():
        out.append((prefix + key, sub))
        out += properties(sub, f"{prefix}{key}.")
        if isinstance(sub.get("items"), dict):
            out += properties(sub["items"], f"{prefix}{key}[].")
    return out


@pytest.mark.parametrize("name", NAMES)
def test_schema_is_a_documented_2020_12_schema(name: str) -> None:
    schema = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith(f"/{name}.schema.json")
    assert schema["title"] and schema["description"]
    undocumented = [path for path, sub in properties(schema) if not sub.get("description")]
    assert undocumented == [], "editors show descriptions on completion: describe every key"


def test_schemas_pass_the_metaschema_check_of_check_jsonschema() -> None:
    tool = Path(sys.executable).with_name("check-jsonschema")
    files = [str(SCHEMA_DIR / f"{name}.schema.json") for name in NAMES]
    result = subprocess.run([str(tool), "--check-metaschema", *files], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_validators_are_compiled_once() -> None:
    assert validator("project") is validator("project")


def test_the_example_repo_is_valid() -> None:
    files = [("billed", TOOLKIT / "billed.yaml")] + [
        ("client" if p.name == "client.yaml" else "project", p) for p in sorted((TOOLKIT / "projects").rglob("*.yaml"))]
    for name, path in files:
        doc = load_text(path.read_text(encoding="utf-8"), str(path))
        assert validate(doc, name) == [], path


def messages(text: str, name: str = "project") -> list[tuple[int, int, str, str, str | None]]:
    doc = load_text(text, "p.yaml")
    return [(f.line, f.col, f.code, f.message, f.hint) for f in validate(doc, name)]


def test_unknown_key_points_at_the_key_with_a_suggestion() -> None:
    found = messages("title: x\nstart: 2026-01-01\nmilestones:\n  - id: a\n    title: A\n    amont: 1\n    zzz: 2\n")
    assert found[0] == (4, 5, "E011", "missing required key 'amount' in milestone 'a'",
                        "add `amount:` here (an exact amount (1500.00), a percentage of the contract total ('25%'), "
                        "or 'rest')")
    assert found[1] == (6, 5, "E010", "unknown key 'amont'", "did you mean 'amount'?")
    assert found[2][:4] == (7, 5, "E010", "unknown key 'zzz'")
    assert found[2][4].startswith("known keys here: amount, deliverables, description, done")


def test_a_known_key_in_the_wrong_place_says_where_it_belongs() -> None:
    found = messages("title: x\nstart: 2026-01-01\nfinal: true\nmilestones:\n  - id: a\n    title: A\n    amount: 1\n"
                     "    deposit: 5\n")
    assert [(f[0], f[1], f[3], f[4]) for f in found] == [
        (3, 1, "unknown key 'final'", "'final' belongs in a milestone; check the indentation"),
        (8, 5, "unknown key 'deposit'", "'deposit' belongs at the top of the file; check the indentation")]
    found = messages("seller: {name: S, address: [a], country: DE, email: a@b.example}\ncurrency: EUR\n"
                     "iban: DE89370400440532013000\n", "billed")
    assert found[0][4] == "'iban' belongs under `bank:`; check the indentation"


def test_type_enum_and_bounds_messages() -> None:
    found = messages("title: x\nstart: 2026-01-01\ntax_rate: 120\npayment_terms: -1\nmilestones:\n"
                     "  - id: a\n    title: A\n    amount: true\n    status: Done\n")
    assert [(line, col, code) for line, col, code, _, _ in found] == [
        (3, 11, "E013"), (4, 16, "E013"), (8, 13, "E012"), (9, 13, "E013")]
    assert found[0][3] == "tax_rate: 120 is out of range (maximum 100)"
    assert found[2][3] == "milestone 'a' amount: expected a number or text, got true/false"
    assert found[3][3:] == ("milestone 'a' status: 'Done' is not allowed", "did you mean 'done'?")


def test_x_hint_is_the_hint() -> None:
    found = messages("name: X\naddress: Main St 1\ncountry: Germany\nemail: x@y.example\n", "client")
    assert [(f[0], f[1], f[2], f[4]) for f in found] == [
        (2, 10, "E012", "write the address as a list of lines: [Street 1, 12345 City]"),
        (3, 10, "E013", "two capital letters, e.g. DE, FR, GB, US")]


def test_every_error_of_a_file_at_once() -> None:
    found = messages("title: 1\nstart: 2\nmilestones:\n  - 3\n  - id: 4\n")
    assert [(f[0], f[1], f[2]) for f in found] == [
        (1, 8, "E012"), (2, 8, "E012"), (4, 5, "E012"), (5, 5, "E011"), (5, 5, "E011"), (5, 9, "E012")]
    assert "'amount'" in found[3][3] and "'title'" in found[4][3]


SECTIONS = {("billed", ""): "## billed.yaml", ("billed", "seller"): "### seller", ("billed", "bank"): "### bank",
            ("billed", "numbering"): "### numbering", ("billed", "reminders"): "### reminders",
            ("billed", "reminders.levels[]"): "### levels", ("billed", "stripe"): "### stripe",
            ("billed", "late_payment"): "### late_payment",
            ("client", ""): "## projects/&lt;client&gt;/client.yaml",
            ("project", ""): "## projects/&lt;client&gt;/&lt;project&gt;.yaml",
            ("project", "milestones[]"): "### milestones"}


def _section(text: str, heading: str) -> str:
    start = text.index(heading + "\n")
    rest = text[start + len(heading) + 1:]
    ends = [i for i in (rest.find("\n## "), rest.find("\n### ")) if i >= 0]
    return rest[:min(ends)] if ends else rest


@pytest.mark.parametrize("name", NAMES)
def test_format_reference_documents_every_schema_key(name: str) -> None:
    text = (TOOLKIT / "docs" / "format.md").read_text(encoding="utf-8")
    schema = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))
    for path, _ in properties(schema):
        parent, _, key = path.rpartition(".")
        section = _section(text, SECTIONS[(name, parent)])
        assert f"| `{key}` |" in section, f"docs/format.md does not document {name}: {path}"
