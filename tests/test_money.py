"""Exact money: Decimal from YAML text, ISO 4217 minor units, largest-remainder allocation."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from billed import money
from billed.load import load_text

CURRENCIES = ["EUR", "USD", "JPY", "KWD", "GBP", "CHF", "BHD", "CLP"]


def test_yaml_numbers_are_exact_decimals():
    doc = load_text("a: 0.1\nb: 0.2\nc: 1500.00\nd: 7\n", "t.yaml")
    assert doc.data["a"] + doc.data["b"] == Decimal("0.3")
    assert isinstance(doc.data["c"], Decimal) and str(doc.data["c"]) == "1500.00"
    assert doc.data["d"] == 7 and not isinstance(doc.data["d"], bool)


def test_non_finite_and_huge_numbers_are_errors():
    doc = load_text("a: 1e400\nb: .nan\nc: -.inf\n", "t.yaml")
    assert [(f.line, f.code) for f in doc.findings] == [(1, "E006"), (2, "E006"), (3, "E006")]


def test_minor_units_come_from_iso_4217_data():
    assert money.minor_units("EUR") == 2
    assert money.minor_units("JPY") == 0
    assert money.minor_units("KWD") == 3
    assert money.is_currency("CHF") and not money.is_currency("EURO") and not money.is_currency("XYZ")


def test_rounding_is_half_up_to_the_minor_unit():
    assert money.quantize(Decimal("2.345"), "EUR") == Decimal("2.35")
    assert money.quantize(Decimal("2.5"), "JPY") == Decimal("3")
    assert money.quantize(Decimal("1.0005"), "KWD") == Decimal("1.001")
    assert not money.fits_minor_units(Decimal("10.005"), "EUR")


def test_allocation_gives_leftover_cents_to_largest_remainders_then_earliest():
    assert money.allocate(Decimal("100.00"), [Decimal(1)] * 3, "EUR") == [
        Decimal("33.34"), Decimal("33.33"), Decimal("33.33")]
    parts = money.allocate(Decimal("12345.67"), [Decimal(40), Decimal(35), Decimal(25)], "EUR")
    assert parts == [Decimal("4938.27"), Decimal("4320.98"), Decimal("3086.42")]


@settings(max_examples=300, deadline=None)
@given(
    total=st.decimals(min_value=0, max_value=10**9, places=3, allow_nan=False, allow_infinity=False),
    shares=st.lists(st.decimals(min_value=Decimal("0.01"), max_value=100, places=2), min_size=1, max_size=12),
    currency=st.sampled_from(CURRENCIES),
)
def test_allocation_always_sums_to_the_total(total, shares, currency):
    total = money.quantize(total, currency)
    parts = money.allocate(total, shares, currency)
    assert sum(parts, Decimal(0)) == total
    assert all(money.fits_minor_units(p, currency) and p >= 0 for p in parts)
    unit = Decimal(1).scaleb(-money.minor_units(currency))
    weight = sum(shares)
    for part, share in zip(parts, shares, strict=True):  # each part is within one unit of its exact share
        assert abs(part - total * share / weight) < unit
    assert parts == money.allocate(total, shares, currency)  # deterministic


@settings(max_examples=200, deadline=None)
@given(
    total=st.integers(min_value=1, max_value=10**8),
    cuts=st.lists(st.integers(min_value=1, max_value=99), min_size=1, max_size=8),
    currency=st.sampled_from(CURRENCIES),
)
def test_percent_milestones_and_rest_add_up_to_the_contract_total(tmp_path_factory, total, cuts, currency):
    """Random totals, currencies and splits through the real loader and resolver, not just the helper."""
    from billed.repo import load_repo
    from tests.conftest import make_repo

    scale = Decimal(1).scaleb(-money.minor_units(currency))
    contract = Decimal(total) * scale
    pcts = [Decimal(c) / len(cuts) for c in cuts]  # sum < 100%: a rest takes what is left
    lines = [f"  - {{id: m{i}, title: M{i}, amount: '{p}%'}}" for i, p in enumerate(pcts)]
    lines.append("  - {id: last, title: Last, amount: rest}")
    root = make_repo(tmp_path_factory.mktemp("r"), {"projects/nordlicht/p.yaml":
                     f"title: P\ncurrency: {currency}\ntotal: {contract}\nstart: 2026-01-01\nmilestones:\n"
                     + "\n".join(lines) + "\n"})
    repo, findings = load_repo(root)
    assert findings == []
    project = repo.projects["nordlicht/p"]
    assert sum((m.amount for m in project.milestones), Decimal(0)) == contract
    assert all(money.fits_minor_units(m.amount, currency) for m in project.milestones)


def test_only_currencies_in_use_today_are_known():
    for code in ("EUR", "USD", "JPY", "KWD", "CHF", "XOF", "SLE"):
        assert money.is_currency(code), code
    for code in ("DEM", "HRK", "SLL", "XXX", "XTS", "XAU", "CLF", "EURO", "eur", None, 978):
        assert not money.is_currency(code), code


def test_rounded_works_each_distinct_amount_out_once_and_rounds_like_plain():
    rounded = money.Rounded()
    assert rounded.plain(Decimal("1.005"), "EUR") == "1.01"  # half up
    assert rounded.plain(Decimal("1.005"), "KWD") == "1.005"  # three minor digits: per currency
    assert rounded.plain(Decimal("100.5"), "JPY") == "101"
    first = rounded.quantize(Decimal("100"), "EUR")
    assert str(first) == "100.00" and rounded.quantize(Decimal("100.000"), "EUR") is first  # equal: one object
    assert rounded.plain(Decimal("0"), "EUR") == "0.00"
    assert rounded.plain(Decimal("-0"), "EUR") == "-0.00"  # equal to 0, but printed with its sign, as plain does
    assert str(rounded.quantize(Decimal("-0.001"), "EUR")) == "-0.00"


ROUNDED = money.Rounded()  # shared by every example: equal amounts written differently meet in it


@given(st.decimals(min_value=-10**9, max_value=10**9, places=4, allow_nan=False),
       st.sampled_from(["EUR", "JPY", "KWD"]), st.integers(0, 3))
@settings(max_examples=300)
def test_rounded_is_plain(amount, currency, zeros):
    written = Decimal(f"{amount}{'0' * zeros}" if "." in str(amount) else f"{amount}.{'0' * zeros}")  # same value
    for value in (amount, written, -amount):
        assert ROUNDED.plain(value, currency) == money.plain(value, currency)
        assert str(ROUNDED.quantize(value, currency)) == str(money.quantize(value, currency))
