"""Rules a schema cannot say. One small function per rule; each returns a list of findings.

Project rules run before amounts are resolved (a rest needs a total, ids must be unique); `resolve` then turns
percentages and the rest into exact amounts that add up to the contract total, or says by how much they do not.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from decimal import Decimal

from billed import money, untrusted
from billed.errors import Finding
from billed.model import Milestone, Project, Settings, evolve

NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}\Z")  # (\Z, not $: `$` also matches before a final newline)
NUMBER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
PAY_FIELDS = {"number", "amount", "currency", "client", "project"}
URL_FIELDS = {"number", "client", "project"}  # pay_url: stable, so no amount
UNRESOLVABLE = {"E030", "E031", "E032"}  # rule codes after which amounts cannot be resolved


def check_unique_ids(p: Project) -> list[Finding]:
    seen: dict[str, Milestone] = {}
    out = []
    for m in p.milestones:
        if m.id in seen:  # (lines are looked up only here: they cost a re-parse once the file is released)
            out.append(m.loc.finding(("id",), "E030", f"milestone id '{m.id}' is used twice (first on line "
                                     f"{seen[m.id].loc.line})", "give every milestone its own id"))
        seen.setdefault(m.id, m)
    return out


def check_one_rest(p: Project) -> list[Finding]:
    rests = [m for m in p.milestones if m.spec == "rest"]
    return [m.loc.finding(("amount",), "E031", f"'{m.id}' also takes the rest; only one milestone may",
                          f"'{rests[0].id}' already takes the rest") for m in rests[1:]]


def check_total_needed(p: Project) -> list[Finding]:
    if p.total_given is not None:
        return []
    what = {"percent": "is a percentage of the total", "rest": "takes the rest of the total"}
    out = [m.loc.finding(("amount",), "E032", f"'{m.id}' {what[m.spec]}, but the project has no `total:`",
                         "add `total:` to the project, or give an exact amount")
           for m in p.milestones if m.spec in what]
    if p.deposit_spec == "percent":
        out.append(p.loc.finding(("deposit",), "E032", "a percentage deposit needs the project's `total:`",
                                 "add `total:` or give the deposit as an exact amount"))
    return out


def check_done_dates(p: Project) -> list[Finding]:
    out = []
    for m in p.milestones:
        if m.status == "done" and m.done is None and not m.done_given:  # (an invalid date is E022 alone)
            out.append(m.loc.finding(("status",), "E034", f"'{m.id}' is done but has no completion date",
                                     "add `done: YYYY-MM-DD` (the date of supply printed on the invoice)"))
        if m.status != "done" and m.done is not None:
            out.append(m.loc.finding(("done",), "E034", f"'{m.id}' has a completion date but is {m.status}",
                                     "set `status: done`, or remove `done:`"))
    return out


def check_date_order(p: Project) -> list[Finding]:
    out = []
    for m in p.milestones:
        if m.done and m.done < p.start:
            out.append(m.loc.finding(("done",), "E035", f"'{m.id}' was done {m.done}, before the project "
                                     f"started {p.start}", "check the year"))
        if m.due and m.due < p.start:
            out.append(m.loc.finding(("due",), "E035", f"'{m.id}' is due {m.due}, before the project "
                                     f"starts {p.start}", "check the year"))
    return out


def check_final(p: Project) -> list[Finding]:
    finals = [m for m in p.milestones if m.final]
    out = [m.loc.finding(("final",), "E036", f"'{m.id}' is also marked final; only one milestone may be",
                         f"'{finals[0].id}' is already the final payment") for m in finals[1:]]
    if p.deposit_spec and not finals:
        out.append(p.loc.finding(("deposit",), "E036", "a project with a deposit needs a final milestone",
                                 "mark the last milestone `final: true`: the deposit is deducted on its invoice"))
    active = [m for m in p.milestones if m.active]
    if finals and active and finals[0].active and active[-1] is not finals[0]:
        out.append(finals[0].loc.finding(("final",), "E036", f"final milestone '{finals[0].id}' is not the last",
                                         "move it to the end of the list"))
    if finals and not finals[0].active and p.deposit_spec:
        out.append(finals[0].loc.finding(("status",), "E036", "the final milestone carrying the deposit is "
                                         "cancelled", "mark another milestone `final: true`"))
    return out


EINVOICE_DIGITS = 2  # EN 16931 BR-DEC-*: every amount of an e-invoice has at most two decimals


def check_einvoice_currency(p: Project, s: Settings | None) -> list[Finding]:
    """With `einvoice: true` every document embeds EN 16931 XML, whose amounts allow at most two decimals
    (BR-DEC-09 to -23): a KWD or BHD document (three) could not be a valid e-invoice, and would be issued for good."""
    digits = money.minor_units(p.currency)
    if s is None or not s.einvoice or digits <= EINVOICE_DIGITS:
        return []
    return [p.loc.finding(("currency",), "E027", f"{p.currency} has {digits} decimals, but an EN 16931 e-invoice "
                          "allows at most 2 (BR-DEC rules), and billed.yaml has `einvoice: true`",
                          f"issue {p.currency} projects from a repo without `einvoice: true`, or bill in a "
                          "currency with at most 2 decimals")]


PROJECT_RULES: list[Callable[[Project], list[Finding]]] = [
    check_unique_ids, check_one_rest, check_total_needed, check_done_dates, check_date_order, check_final,
]


def resolve(p: Project, pinned: Mapping[str, Decimal] | None = None) -> tuple[Project, list[Finding]]:
    """Exact amounts for every milestone and the deposit; milestones (not the deposit) add up to the total.

    `pinned` holds what percentage milestones were already invoiced at. Sharing out the cents depends on every
    percentage, so editing an unbilled milestone could move a cent onto or off an invoiced one and plan a
    0.01 credit note; a pinned milestone whose exact share is still within one minor unit of its invoiced
    amount keeps that amount, and the others share out what is left. When the pins cannot be honoured exactly
    (the total or its own percentage changed), the plain allocation is used and the engine corrects the
    difference.
    """
    with money.exact():
        return _pinned_or_plain(p, pinned)


def _pinned_or_plain(p: Project, pinned: Mapping[str, Decimal] | None) -> tuple[Project, list[Finding]]:
    if pinned:
        unit = Decimal(1).scaleb(-money.minor_units(p.currency))
        total = p.total_given
        keep = {m.id: pinned[m.id] for m in p.milestones if m.active and m.spec == "percent" and m.id in pinned
                and total is not None and m.value is not None
                and abs(total * m.value / money.HUNDRED - pinned[m.id]) < unit}
        if keep:
            resolved, out = _resolve(p, keep)
            if resolved is not None:
                return resolved, out
    resolved, out = _resolve(p, {})
    return (resolved or p), out


def _resolve(p: Project, keep: Mapping[str, Decimal]) -> tuple[Project | None, list[Finding]]:
    """The allocation itself; None (with no findings) when the pins in `keep` cannot add up exactly."""
    cur, total = p.currency, p.total_given
    active = [m for m in p.milestones if m.active]
    fixed = sum((m.value for m in active if m.spec == "fixed" and m.value is not None), money.ZERO)
    pcts = [m for m in active if m.spec == "percent"]
    free = [m for m in pcts if m.id not in keep]
    held = sum(keep.values(), money.ZERO)
    rest = next((m for m in active if m.spec == "rest"), None)
    amounts: dict[str, Decimal] = dict(keep)
    out: list[Finding] = []
    over = _over_hundred(pcts)
    if total is None:
        total = fixed
    elif over is not None:
        out.append(over.loc.finding(("amount",), "E037", "the percentages add up to more than 100% (at "
                                    f"'{over.id}')", "lower the percentages; they are shares of the total"))
        return p, out
    else:
        exact = sum((total * m.value / money.HUNDRED for m in pcts if m.value is not None), money.ZERO)
        if rest is None:
            if fixed + exact != total:
                out.append(p.loc.finding(("total",), "E033", f"milestones add up to "
                                         f"{money.plain(fixed + exact, cur)} {cur}, the contract total is "
                                         f"{money.plain(total, cur)} {cur}",
                                         "adjust an amount, or let one milestone take `amount: rest`"))
                return p, out
            target = total - fixed - held
        else:
            target = money.quantize(sum((total * m.value / money.HUNDRED for m in free if m.value is not None),
                                        money.ZERO), cur)
            left = total - fixed - held - target
            if left < 0:
                if keep:
                    return None, []
                out.append(rest.loc.finding(("amount",), "E033", f"nothing is left for '{rest.id}': the other "
                                            f"milestones exceed the total by {money.plain(-left, cur)} {cur}",
                                            "raise `total:` or lower the other milestones"))
                return p, out
            amounts[rest.id] = left
        if free:
            parts = (money.round_to(target, [total * (m.value or money.ZERO) / money.HUNDRED for m in free], cur)
                     if keep else money.allocate(target, [m.value for m in free], cur))
            if keep and (sum(parts, money.ZERO) != target or not _near(free, parts, total, cur)):
                return None, []
            amounts.update((m.id, part) for m, part in zip(free, parts, strict=True))
        elif keep and rest is None and target != 0:
            return None, []
    resolved = []
    for m in p.milestones:
        if m.id in amounts and m.active:
            amount = amounts[m.id]
        elif m.spec == "fixed":
            amount = m.value or money.ZERO
        elif m.spec == "percent" and m.value is not None:
            amount = money.percent_of(total, m.value, cur)
        else:
            amount = money.ZERO
        resolved.append(evolve(m, amount=amount))
    deposit = money.ZERO
    if p.deposit_spec == "fixed":
        deposit = p.deposit_value or money.ZERO
    elif p.deposit_spec == "percent" and p.deposit_value is not None:
        deposit = money.percent_of(total, p.deposit_value, cur)
    if deposit > total:
        out.append(p.loc.finding(("deposit",), "E037", f"deposit {money.plain(deposit, cur)} {cur} is more than the "
                                 f"project total {money.plain(total, cur)} {cur}", "lower the deposit"))
    return evolve(p, milestones=tuple(resolved), deposit=deposit), out


def _near(ms: list[Milestone], parts: list[Decimal], total: Decimal, cur: str) -> bool:
    """Every part non-negative and within one minor unit of its exact share."""
    unit = Decimal(1).scaleb(-money.minor_units(cur))
    return all(part >= 0 and abs(part - total * (m.value or money.ZERO) / money.HUNDRED) < unit
               for m, part in zip(ms, parts, strict=True))


def _over_hundred(pcts: list[Milestone]) -> Milestone | None:
    """The milestone at which the running sum of percentages first passes 100%, if it does."""
    running = money.ZERO
    for m in pcts:
        running += m.value or money.ZERO
        if running > money.HUNDRED:
            return m
    return None


SAMPLE_SEQS = (1, 7, 10, 99, 100, 1000, 123456)  # enough to catch widths, separators and collisions


def _placeholders(pattern: str) -> set[str]:
    """Names of the {fields} of a str.format pattern; ValueError when braces do not balance."""
    return {f or "{}" for _, f, _, _ in string.Formatter().parse(pattern) if f is not None}


def _pattern_problem(pattern: str, reset: str) -> str | None:
    try:
        fields = _placeholders(pattern)
    except ValueError as exc:
        return f"cannot be read ({exc})"
    if fields - {"seq", "year"}:
        return f"uses unknown placeholders {', '.join(sorted(fields - {'seq', 'year'}))}"
    if "seq" not in fields:
        return "has no {seq} placeholder"
    too_wide = untrusted.width_problem(pattern)
    if too_wide:
        return too_wide
    try:
        samples = [pattern.format(year=2026, seq=seq) for seq in SAMPLE_SEQS]
    except (ValueError, KeyError, IndexError, AttributeError, TypeError) as exc:
        return f"cannot be formatted ({exc})"
    if reset == "yearly" and "year" not in fields:
        return "needs {year} when numbering resets yearly"
    bad = next((sample for sample in samples if not NUMBER.match(sample)), None)
    if bad is not None:
        return f"gives '{bad}', which is not a safe file name (letters, digits, . _ -)"
    if len(set(samples)) < len(samples):
        return "gives the same number for different sequence numbers"
    return None


def check_numbering(s: Settings) -> list[Finding]:
    n = s.numbering
    out = []
    for series in ("invoice", "credit_note"):
        problem = _pattern_problem(getattr(n, series), n.reset)
        if problem:
            out.append(s.loc.finding(("numbering", series), "E042", f"numbering pattern {problem}",
                                     "e.g. INV-{year}-{seq:04}"))
    numbers = [{getattr(n, series).format(year=2026, seq=seq) for seq in SAMPLE_SEQS}
               for series in ("invoice", "credit_note")] if not out else [set(), set()]
    if numbers[0] & numbers[1]:
        out.append(s.loc.finding(("numbering", "credit_note"), "E042", "invoices and credit notes would get the "
                                 "same numbers", "give each series its own prefix, e.g. INV- and CN-"))
    return out


def iban_valid(iban: str) -> bool:
    """ISO 13616 mod-97 check."""
    iban = iban.replace(" ", "").upper()
    if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}", iban):
        return False
    digits = "".join(str(int(ch, 36)) for ch in iban[4:] + iban[:4])
    return int(digits) % 97 == 1


def check_bank(s: Settings) -> list[Finding]:
    if s.bank and not iban_valid(s.bank.iban):
        return [s.loc.finding(("bank", "iban"), "E043", f"IBAN {s.bank.iban} is not valid (checksum or format)",
                              "copy it again from the bank statement")]
    return []


def check_pay_link(s: Settings) -> list[Finding]:
    return _link(s, "pay_link", s.pay_link, PAY_FIELDS) + _link(s, "pay_url", s.pay_url, URL_FIELDS)


def _link(s: Settings, key: str, pattern: str | None, allowed: set[str]) -> list[Finding]:
    if not pattern:
        return []
    sample = {"number": "INV-2026-0001", "amount": "1234.50", "currency": "EUR", "client": "acme", "project": "site"}
    problem = None
    try:
        fields = _placeholders(pattern)
        if fields - allowed:
            problem = f"uses unknown placeholders {', '.join(sorted(fields - allowed))}"
        elif "number" not in fields and key == "pay_url":
            problem = "needs {number}: each document has its own"
        elif untrusted.width_problem(pattern):
            problem = untrusted.width_problem(pattern)
        else:
            pattern.format(**sample)  # format specs such as {amount:,} fail only here
    except (ValueError, KeyError, IndexError, AttributeError, TypeError) as exc:
        problem = f"cannot be formatted ({exc})"
    if problem is None and not pattern.startswith("https://"):
        problem = "must start with https://"
    if problem:
        return [s.loc.finding((key,), "E044", f"payment {'link' if key == 'pay_link' else 'URL'} {problem}",
                              f"placeholders: {', '.join(sorted(allowed))}")]
    return []


SETTINGS_RULES: list[Callable[[Settings], list[Finding]]] = [check_numbering, check_bank, check_pay_link]
