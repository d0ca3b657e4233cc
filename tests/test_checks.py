"""Semantic rules and amount resolution, rule by rule (the corpus covers how they are reported end to end)."""

from __future__ import annotations

import textwrap
from dataclasses import replace
from decimal import Decimal

import pytest
from conftest import SETTINGS

from billed import checks
from billed.load import load_text
from billed.model import Numbering, Project, build_project, build_settings
from billed.schema import validate


def project(text: str) -> Project:
    doc = load_text("title: P\ncurrency: EUR\nstart: 2026-01-05\n" + textwrap.dedent(text), "p.yaml")
    assert validate(doc, "project") == []
    built, found = build_project(doc, "client", "p", None, None)
    assert found == [] and built is not None
    return built


def findings(p: Project) -> list[tuple[int, str]]:
    rules = [f for rule in checks.PROJECT_RULES for f in rule(p)]
    if not rules:
        rules = checks.resolve(p)[1]
    return [(f.line, f.code) for f in rules]


def amounts(p: Project) -> list[str]:
    resolved, found = checks.resolve(p)
    assert found == []
    return [str(m.amount) for m in resolved.milestones]


def ms(*amounts: str, extra: str = "") -> str:
    quoted = [f"'{a}'" if a.endswith("%") else a for a in amounts]
    return "milestones:\n" + "".join(f"  - {{id: m{i}, title: M{i}, amount: {a}{extra}}}\n"
                                     for i, a in enumerate(quoted))


def test_percentages_and_rest_resolve_to_the_cent() -> None:
    assert amounts(project("total: 100.00\n" + ms("33.33%", "33.33%", "rest"))) == ["33.33", "33.33", "33.34"]
    assert amounts(project("total: 100.00\n" + ms("33.3%", "33.3%", "33.4%"))) == ["33.30", "33.30", "33.40"]
    assert amounts(project("total: 0.01\n" + ms("50%", "50%"))) == ["0.01", "0.00"]  # ties: earlier first


def test_minor_units_per_currency() -> None:
    p = project("total: 100\n" + ms("33.3%", "33.3%", "33.4%"))
    assert amounts(replace(p, currency="JPY")) == ["33", "33", "34"]
    assert amounts(replace(p, currency="KWD")) == ["33.300", "33.300", "33.400"]


def test_without_a_total_the_milestones_are_the_total() -> None:
    p, _ = checks.resolve(project(ms("1200.50", "0.50")))
    assert p.total == Decimal("1201.00")


def test_cancelled_milestones_are_out_of_the_total() -> None:
    text = "total: 100.00\nmilestones:\n  - {id: a, title: A, amount: 60.00}\n" \
           "  - {id: b, title: B, amount: 50.00, status: cancelled}\n  - {id: c, title: C, amount: rest}\n"
    p, found = checks.resolve(project(text))
    assert found == []
    assert [str(m.amount) for m in p.milestones if m.active] == ["60.00", "40.00"]
    assert p.total == Decimal("100.00")


def test_deposit_resolves_and_is_not_part_of_the_total() -> None:
    text = "total: 48000.00\ndeposit: 20%\n" + ms("50%", "rest") + "  - {id: fin, title: F, amount: 0, final: true}\n"
    p, found = checks.resolve(project(text))
    assert found == [] and p.deposit == Decimal("9600.00") and p.total == Decimal("48000.00")


@pytest.mark.parametrize(("text", "expected"), [
    ("total: 100.00\n" + ms("50.00", "49.99"), [(4, "E033")]),
    ("total: 100.00\n" + ms("60%", "50%", "rest"), [(7, "E037")]),
    ("total: 100.00\ndeposit: 100.01\n" + ms("100.00", extra=", final: true"), [(5, "E037")]),
    (ms("10%"), [(5, "E032")]),
    ("total: 10.00\n" + ms("rest", "rest"), [(7, "E031")]),
])
def test_amount_rules(text: str, expected: list[tuple[int, str]]) -> None:
    assert findings(project(text)) == expected


def test_final_may_be_followed_by_cancelled_milestones_only() -> None:
    text = "milestones:\n  - {id: a, title: A, amount: 1, final: true}\n  - {id: b, title: B, amount: 1, " \
           "status: cancelled}\n"
    assert findings(project(text)) == []
    assert findings(project(text.replace("status: cancelled", "status: planned"))) == [(5, "E036")]


def test_a_cancelled_final_without_deposit_is_fine() -> None:
    text = "milestones:\n  - {id: a, title: A, amount: 1}\n  - {id: b, title: B, amount: 1, status: cancelled, " \
           "final: true}\n"
    assert findings(project(text)) == []
    assert findings(project("deposit: 1.00\n" + text)) == [(7, "E036")]


@pytest.mark.parametrize("iban", ["DE89370400440532013000", "DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432",
                                  "gb82 west 1234 5698 7654 32", "NO9386011117947", "MT84MALT011000012345MTLCAST001S"])
def test_valid_ibans(iban: str) -> None:
    assert checks.iban_valid(iban)


@pytest.mark.parametrize("iban", ["DE89370400440532013001", "DE8937040044053201300", "XX00", "", "DE89-3704-0044",
                                  "1234567890123456"])
def test_invalid_ibans(iban: str) -> None:
    assert not checks.iban_valid(iban)


def settings_with(**numbering: str):
    doc = load_text(SETTINGS, "billed.yaml")
    s, found = build_settings(doc)
    assert s is not None and found == []
    return replace(s, numbering=replace(Numbering(), **numbering))


def test_quoted_numbers_get_a_hint() -> None:
    text = "title: P\nstart: 2026-01-05\ntotal: '10.00'\nmilestones:\n  - {id: a, title: A, amount: '10.00'}\n"
    doc = load_text(text, "p.yaml")
    assert [(f.line, f.code, f.hint) for f in validate(doc, "project")] == [
        (3, "E012", "write the number without quotes"), (5, "E013", "write the number without quotes")]
    doc = load_text("name: X\naddress: [a]\ncountry: '49'\nemail: a@b.example\n", "c.yaml")
    assert [f.hint for f in validate(doc, "client")] == ["two capital letters, e.g. DE, FR, GB, US"]


@pytest.mark.parametrize(("numbering", "problem"), [
    ({}, None),
    ({"invoice": "{seq}", "credit_note": "C{seq}", "reset": "never"}, None),
    ({"invoice": "R{year}{seq:05d}", "credit_note": "G{year}{seq:05d}"}, None),
    ({"invoice": "INV-{seq:04}", "reset": "yearly"}, "needs {year}"),
    ({"invoice": "INV-{year}"}, "has no {seq}"),
    ({"invoice": "INV {year} {seq}"}, "not a safe file name"),
    ({"invoice": "INV-{client}-{seq}"}, "unknown placeholders client"),
    ({"invoice": "INV-{seq:s}"}, "cannot be formatted"),
    ({"credit_note": "INV-{year}-{seq:04}"}, "same numbers"),
    ({"invoice": "R-{year}-{seq}", "credit_note": "R-{year}-{seq:02}"}, "same numbers"),  # R-2026-10 twice
    ({"invoice": "INV-{year}-{seq:,}"}, "not a safe file name"),  # INV-2026-1,000
    ({"invoice": "INV-{year}-{seq:02}{seq:.1}"}, "cannot be formatted"),
    ({"invoice": "INV-{year}-{seq:%}"}, "not a safe file name"),
    ({"invoice": "INV-{}-{seq}"}, "unknown placeholders {}"),
    ({"invoice": "INV-{year}-{seq:04}\n"}, "not a safe file name"),  # (a final newline passed `$`)
])
def test_numbering_patterns(numbering: dict[str, str], problem: str | None) -> None:
    found = checks.check_numbering(settings_with(**numbering))
    assert [f.message for f in found if problem and problem in f.message] == [f.message for f in found]
    assert bool(found) == bool(problem)


@pytest.mark.parametrize(("link", "ok"), [
    ("https://pay.example.com/{number}?a={amount}&c={currency}&cl={client}&p={project}", True),
    ("http://pay.example.com/{number}", False),
    ("https://pay.example.com/{total}", False),
    ("https://pay.example.com/{number", False),
    ("https://pay.example.com/{amount:,}", False),  # a format spec text cannot take
    ("https://pay.example.com/{number.x}", False),
    ("https://pay.example.com/{}", False),
])
def test_pay_link(link: str, ok: bool) -> None:
    s = replace(settings_with(), pay_link=link)
    assert (checks.check_pay_link(s) == []) is ok


def test_percentages_with_many_decimals_that_add_up_are_not_a_mismatch(tmp_path):
    """At 28 digits (Decimal's default) total * 20-decimal shares were rounded and an exact split gave E033."""
    from conftest import make_repo, run

    shares = ["3.30376667170205181996", "7.11085022428522499395", "0.13455058590201385606", "6.039556873148788154",
              "83.41127564496192117603"]  # exactly 100%
    lines = "\n".join(f"  - {{id: m{i}, title: M{i}, amount: '{s}%'}}" for i, s in enumerate(shares))
    root = make_repo(tmp_path / "r", {"projects/nordlicht/p.yaml":
                     f"title: P\ntotal: 678993680738.92\nstart: 2026-01-05\nmilestones:\n{lines}\n"})
    result = run(root, "status", "--json")
    assert result.code == 0, result.err
    assert result.json[0]["total"] == "678993680738.92"
    too_fine = make_repo(tmp_path / "s", {"projects/nordlicht/p.yaml": "title: P\ntotal: 100.00\nstart: 2026-01-05\n"
                         "milestones:\n  - {id: a, title: A, amount: '50.00000000000000000000000000000000000000001%'}\n"
                         "  - {id: b, title: B, amount: rest}\n"})
    assert "[E023]" in run(too_fine, "check").err


def test_milestones_built_for_speed_have_every_field_the_constructor_wants(tmp_path):
    """model.build_project and model._milestone skip the dataclass constructor: rebuilding each loaded project,
    milestone and place with the real one must give an equal value (a field they forgot would make the constructor
    raise, or leave the instance without it)."""
    import dataclasses

    from billed import api
    from tests.conftest import copy_example

    root = copy_example(tmp_path / "ex")
    state = api.load(root)
    built = [build_project(load_text(path.read_text(), "p.yaml"), path.parent.name, path.stem, state.repo.settings,
                           state.repo.clients[path.parent.name])[0]
             for path in sorted(root.glob("projects/*/*.yaml")) if path.name != "client.yaml"]
    projects = [*state.repo.projects.values(), *built]  # as loaded (resolved), and as built
    values = [*projects, *(p.loc for p in projects), *(m for p in projects for m in p.milestones),
              *(m.loc for p in projects for m in p.milestones)]
    assert projects and all(type(v)(**{f.name: getattr(v, f.name) for f in dataclasses.fields(v)}) == v
                            and vars(v).keys() == {f.name for f in dataclasses.fields(v)} for v in values)


@pytest.mark.parametrize("currency", ["EUR", "JPY", "KWD", None])
def test_milestone_fields_take_the_short_way_only_where_the_long_one_agrees(currency, monkeypatch):
    """model._milestone_fields answers plain amounts, known shares and dates without `_amount_spec` and `_date`: every
    milestone must come out as the long way builds it, with the same findings at the same places, whatever the
    amount, the dates, the currency and the schema's verdicts."""
    from billed import model

    slow_way = model._milestone_slow
    model._DATES.pop("2026-02-03", None)  # a date not seen yet, twice: the first time takes the long way
    for share in ("25%", "0%", " rest "):  # so are shares ('0%' is never remembered: E023 at each place)
        model._SHARES.pop(share, None)
    text = textwrap.dedent("""\
        milestones:
          - {id: a, title: A, amount: 100.00, due: 2026-02-03, done: 2026-02-03}
          - {id: b, title: B, amount: 100.005, due: 2026-02-03}
          - {id: c, title: C, amount: 1000000000000.00, done: 2026-13-01}
          - {id: d, title: D, amount: 12, due: 1999-01-01}
          - {id: e, title: E, amount: '25%', due: 2026-2-3}
          - {id: f, title: F, amount: rest, done: 2026-02-03}
          - {id: g, title: G, amount: 100.1, due: 2026-02-03}
          - {id: h, title: H, amount: -5.00, due: null, done: 5}
          - just text
          - {id: i, title: I}
          - {id: j, title: J, amount: '25%', due: 2026-02-03}
          - {id: k, title: K, amount: '0%'}
          - {id: l, title: L, amount: '0%'}
          - {id: m, title: M, amount: ' rest '}
        """)
    for invalid in (set(), {("milestones", 0, "amount")}, {("milestones", 6, "due")}):
        doc = load_text(text, "p.yaml")
        doc.invalid = set(invalid)
        fast_out: list = []
        long_way: list[int] = []
        monkeypatch.setattr(model, "_milestone_slow", lambda *a, seen=long_way: seen.append(a[2]) or slow_way(*a))
        fast = model._milestone_fields(doc, doc.data, currency, fast_out)
        monkeypatch.undo()
        slow_out: list = []
        slow = [slow_way(doc, m, i, currency, slow_out)
                for i, m in enumerate(doc.data["milestones"]) if isinstance(m, dict)]
        assert fast == slow and fast_out == slow_out
        assert [type(f[3]) for f in fast] == [type(f[3]) for f in slow]  # Decimal stays Decimal, None stays None
        if invalid:  # a value the schema rejected is looked up by its path: always the long way
            assert len(long_way) == len(fast)
        else:  # 'g' (its date seen by then) the short way, unless 100.1 has too many decimals (JPY)
            assert (6 in long_way) == (currency == "JPY") and 0 in long_way
            assert 10 not in long_way and 11 in long_way and 12 in long_way
        assert sum(f.code == "E023" for f in fast_out) == 2
