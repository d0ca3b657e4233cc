"""Dunning levels in `billed remind` (billed/dunning.py), over real SMTP (aiosmtpd on loopback, test_mail's
fixtures): each level once, after its own interval, with its own text; the pay link asks for the balance
still due; accrued late-payment interest is mentioned, not billed. Invoices: INV-2026-0001 2380.00 due
2026-01-20, INV-2026-0002 4760.00 due 2026-02-03."""

from __future__ import annotations

from tests.conftest import SETTINGS, run, write
from tests.test_mail import issued, issued_once, smtp  # noqa: F401

LEVELS = """\
reminders:
  levels:
    - name: reminder
      after: 3
    - name: second_reminder
      after: 10
      text: We wrote to you about this invoice ten days ago.
    - name: final_notice
      after: 7
late_payment:
  reference_rates:
    2026-01-01: 1.27
"""


def subjects(inbox, start: int = 0) -> list[str]:
    return [m["Subject"] for _, m in inbox.messages[start:]]


def body(inbox, i: int) -> str:
    return inbox.messages[i][1].get_body(("plain",)).get_content()


def test_levels_in_order_each_after_its_interval(issued, smtp):  # noqa: F811
    write(issued, {"billed.yaml": SETTINGS + LEVELS})
    assert run(issued, "pay", "INV-2026-0002", "760.00", "--date", "2026-02-01").code == 0
    assert run(issued, "remind", "--date", "2026-02-05").code == 0  # INV-0002 is 2 days late: not yet
    assert subjects(smtp) == ["Reminder: prepayment invoice INV-2026-0001 is 16 days overdue"]
    assert "Our records show this invoice is still open." in body(smtp, 0)
    assert run(issued, "remind", "--date", "2026-02-06").code == 0
    assert subjects(smtp, 1) == ["Reminder: invoice INV-2026-0002 is 3 days overdue"]
    # the pay link asks for what is still open (4760.00 - 760.00), not the invoice total
    text = body(smtp, 1)
    assert "Pay the €4,000.00 still due online: https://pay.example.com/INV-2026-0002?amount=4000.00&currency=EUR" in (
        text)
    assert "amount=4760.00" not in text
    assert run(issued, "remind", "--date", "2026-02-14").out.startswith("Nothing to remind")
    assert run(issued, "remind", "--date", "2026-02-15").code == 0  # 10 days after the first
    assert subjects(smtp, 2) == ["Second reminder: prepayment invoice INV-2026-0001 is 26 days overdue"]
    assert "We wrote to you about this invoice ten days ago." in body(smtp, 2)
    assert run(issued, "remind", "--date", "2026-02-16").code == 0
    assert subjects(smtp, 3) == ["Second reminder: invoice INV-2026-0002 is 13 days overdue"]
    assert run(issued, "remind", "--date", "2026-02-22").code == 0  # INV-0002: 6 days after its second
    assert subjects(smtp, 4) == ["Final notice: prepayment invoice INV-2026-0001 is 33 days overdue"]
    final = body(smtp, 4)
    assert "Despite our earlier reminders" in final
    # Jan 21..Feb 22 = 11 + 22 = 33 days on 2380.00 at 1.27 + 9 = 10.27%: 2380 x 0.1027 x 33 / 365
    # = 8066.058 / 365 = 22.098789... -> 22.10; the seller is German and the client a business: 40.00 flat
    assert ("Interest for late payment of 10.27% a year has accrued on it: €22.10 so far, and a flat "
            "compensation for recovery costs of €40.00 is due. We will invoice it separately.") in final
    assert run(issued, "remind", "--date", "2026-02-23").code == 0
    assert subjects(smtp, 5) == ["Final notice: invoice INV-2026-0002 is 20 days overdue"]
    # after the last level, nothing more
    assert run(issued, "remind", "--date", "2026-03-30").out.startswith("Nothing to remind")
    log = (issued / "mail/sent.log").read_text().splitlines()
    assert sum('"level": "final_notice"' in line and '"status": "attempt"' not in line for line in log) == 2
