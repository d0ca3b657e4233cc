"""Write a realistic synthetic billing repo of a given size, deterministic from a seed.

Usage: python bench/generate.py DIR --projects N [--seed S] [--new K] [--beancount FILE]

Clients hold ~5 projects each; a project has ~10 milestones mixing exact amounts, percentages and a rest, about a
third carry a deposit, statuses span planned/in progress/done/cancelled. The ledger of already issued documents is
made the only trustworthy way: by running the real engine (`billed issue --no-pdf`) on LEDGER_DATE, so the bench
measures records exactly as Billed writes them. About K milestones are done after LEDGER_DATE and before NEW_DATE:
`billed issue --date NEW_DATE` then has K-odd new documents to write. `--beancount` also writes a beancount ledger
with one transaction per milestone, the baseline `bean-check` runs on.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
import sys
from decimal import Decimal
from pathlib import Path

TOOLKIT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOOLKIT))

LEDGER_DATE = dt.date(2026, 6, 30)
NEW_DATE = dt.date(2026, 9, 30)
START = dt.date(2025, 1, 6)
CURRENCIES = ("EUR", "EUR", "EUR", "GBP", "USD", "CHF", "JPY")

SETTINGS = """\
seller:
  name: Studio Nord GmbH
  address: [Hafenstraße 12, 20457 Hamburg]
  country: DE
  vat_id: DE123456789
  email: billing@studio-nord.example
currency: EUR
tax_rate: 19
locale: en_GB
payment_terms: 14
bank:
  holder: Studio Nord GmbH
  iban: DE89 3704 0044 0532 0130 00
  bic: COBADEFFXXX
pay_link: https://pay.studio-nord.example/invoice/{number}?amount={amount}&currency={currency}
numbering:
  invoice: INV-{year}-{seq:05}
  credit_note: CN-{year}-{seq:05}
  reset: never
"""

WORDS = ("discovery", "design", "prototype", "build", "content", "testing", "migration", "training", "rollout",
         "support", "audit", "research", "copy", "photo", "video", "api", "backend", "frontend", "launch", "review")


def at_uid(i: int) -> str:
    """An Austrian VAT id with valid check digits: `check` refuses reverse charge with an invalid one."""
    from stdnum.at import uid

    body = f"U{1000000 + i:07d}"
    return f"AT{body}{uid.calc_check_digit(body)}"


def client_yaml(rng: random.Random, i: int, currency: str) -> str:
    tax, country, vat = rng.choice([("standard", "DE", f"DE{100000000 + i}"),
                                    ("reverse_charge", "AT", at_uid(i)),
                                    ("exempt", "US", None)])
    lines = [f"name: Client {i} GmbH", f"address: [Street {i}, {10000 + i} City]", f"country: {country}",
             f"email: accounts{i}@client.example", f"currency: {currency}", f"tax: {tax}"]
    if vat:
        lines.append(f"vat_id: {vat}")
    if tax == "exempt":
        lines.append("tax_note: Not subject to German VAT.")
    lines.append(f"internal: generated client {i}")
    return "\n".join(lines) + "\n"


def fmt(amount: Decimal, currency: str) -> str:
    return str(amount.quantize(Decimal(1) if currency == "JPY" else Decimal("0.01")))


def project_yaml(rng: random.Random, name: str, currency: str, new_budget: list[int]) -> tuple[str, int]:
    """One project file, and how many milestones it has (for the beancount baseline)."""
    n = rng.randint(8, 12)
    start = START + dt.timedelta(days=rng.randint(0, 420))
    unit = Decimal(rng.randint(5, 60) * 100)
    use_total = rng.random() < 0.7
    deposit = use_total and rng.random() < 0.35
    percents = [rng.choice([5, 10, 15, 20]) for _ in range(n // 3)] if use_total else []
    fixed = [unit * rng.randint(1, 9) + Decimal(rng.randint(0, 99)) / 100 for _ in range(n - len(percents) - 1)]
    if currency == "JPY":
        fixed = [f.quantize(Decimal(1)) * 100 for f in fixed]
    total = (sum(fixed, Decimal(0)) * Decimal(100) / (100 - sum(percents))).quantize(Decimal(1)) + 1000 \
        if use_total else None
    lines = [f"title: Project {name}", f"description: Generated project {name}.", f"start: {start}"]
    if total is not None:
        lines.append(f"total: {fmt(total, currency)}")
    if deposit:
        lines.append(f"deposit: {rng.choice(['10%', '20%', '30%'])}")
    lines += [f"payment_terms: {rng.choice([14, 30])}", "milestones:"]
    specs = [f"{p}%" for p in percents] + [fmt(f, currency) for f in fixed]
    rng.shuffle(specs)
    specs.append("rest" if use_total else fmt(unit, currency))
    day = start
    done_phase = rng.random() < 0.6
    for i, spec in enumerate(specs):
        day += dt.timedelta(days=rng.randint(5, 25))
        mid = f"{WORDS[i % len(WORDS)]}-{i}"
        lines += [f"  - id: {mid}", f"    title: {mid.replace('-', ' ').title()}", f"    amount: {spec}",
                  f"    due: {day}"]
        if i == 0:
            lines.append("    deliverables: [Kick-off workshop, Written summary]")
        status = "planned"
        if done_phase and day <= LEDGER_DATE:
            status = "done" if rng.random() < 0.92 else ("cancelled" if i < n - 1 and not deposit else "done")
            if status == "done":
                lines += ["    status: done", f"    done: {day}"]
            else:
                lines.append("    status: cancelled")
        elif new_budget[0] > 0 and day > START and rng.random() < 0.5:
            new_budget[0] -= 1
            done = LEDGER_DATE + dt.timedelta(days=rng.randint(1, (NEW_DATE - LEDGER_DATE).days))
            lines += ["    status: done", f"    done: {max(done, start)}"]
            done_phase = False
        else:
            lines.append(f"    status: {rng.choice(['planned', 'in_progress'])}")
            done_phase = False
        if i == len(specs) - 1:
            lines.append("    final: true")
    return "\n".join(lines) + "\n", len(specs)


def generate(root: Path, projects: int, seed: int = 1, new: int = 1000) -> int:
    """Write the repo, then issue its ledger at LEDGER_DATE with the real engine. Returns the milestone count."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    (root / "billed.yaml").write_text(SETTINGS, encoding="utf-8")
    shutil.copytree(TOOLKIT / "templates", root / "templates", dirs_exist_ok=True)
    n_clients = max(1, projects // 5)
    currencies = [rng.choice(CURRENCIES) for _ in range(n_clients)]
    for c in range(n_clients):
        folder = root / "projects" / f"client-{c:05d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "client.yaml").write_text(client_yaml(rng, c, currencies[c]), encoding="utf-8")
    budget = [new]
    milestones = 0
    for p in range(projects):
        c = p % n_clients
        name = f"project-{p:05d}"
        text, count = project_yaml(rng, name, currencies[c], budget)
        (root / "projects" / f"client-{c:05d}" / f"{name}.yaml").write_text(text, encoding="utf-8")
        milestones += count
    issue_ledger(root)
    return milestones


def issue_ledger(root: Path) -> None:
    """The real `issue` (engine, numbering, hash chain, HTML) with two setup shortcuts, as `billed issue` itself is
    timed separately without them: no fsync (a throw-away repo needs no durability; 200,000 fsyncs would dominate
    setup at 10,000 projects), and the payment QR image encoded once per seller and reused (pure-Python QR encoding
    costs ~9 ms a document: 9 minutes for a 10,000-project ledger). Records are still sealed and chained by Billed,
    so `check` verifies every byte of them."""
    import os

    from billed import api

    fsync, os.fsync = os.fsync, lambda fd: None
    qr = getattr(api, "qr", None)
    data_url = getattr(qr, "data_url", None)
    if qr is not None and data_url is not None:
        images: dict[str, str | None] = {}

        def once(doc: dict) -> str | None:
            key = doc["currency"] + doc["series"]
            if key not in images:
                images[key] = data_url(doc)
            return images[key]

        qr.data_url = once
    try:
        written, findings = api.issue(root, LEDGER_DATE, pdf=False)
    finally:
        os.fsync = fsync
        if data_url is not None:
            qr.data_url = data_url
    if findings:
        raise SystemExit("generated repo is invalid:\n" + "\n".join(f.render() for f in findings[:20]))


def beancount(path: Path, transactions: int, seed: int = 1) -> None:
    """A beancount ledger with `transactions` balanced two-posting transactions (the bean-check baseline)."""
    rng = random.Random(seed)
    accounts = [f"Income:Clients:C{i:05d}" for i in range(max(1, transactions // 50))]
    out = ["option \"operating_currency\" \"EUR\"", "2020-01-01 open Assets:Receivable EUR",
           *[f"2020-01-01 open {a} EUR" for a in accounts], ""]
    day = dt.date(2021, 1, 1)
    for i in range(transactions):
        if i % 40 == 0:
            day += dt.timedelta(days=1)
        amount = Decimal(rng.randint(100, 900000)) / 100
        out += [f'{day} * "Client {i % len(accounts)}" "Milestone {i}"',
                f"  Assets:Receivable  {amount:.2f} EUR", f"  {accounts[i % len(accounts)]}", ""]
    path.write_text("\n".join(out), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir", type=Path)
    parser.add_argument("--projects", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--new", type=int, default=1000, help="milestones done after the ledger date")
    parser.add_argument("--beancount", type=Path, help="also write a beancount ledger of equal size here")
    args = parser.parse_args()
    if args.dir.exists() and any(args.dir.iterdir()):
        raise SystemExit(f"refusing to write into non-empty {args.dir}")
    milestones = generate(args.dir, args.projects, args.seed, args.new)
    if args.beancount:
        beancount(args.beancount, milestones, args.seed)
    print(f"{args.projects} projects, {milestones} milestones in {args.dir}")


if __name__ == "__main__":
    main()
