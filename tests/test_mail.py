"""billed send / remind against a real SMTP server (aiosmtpd) on a loopback port started by the test."""

from __future__ import annotations

import email
import io
import json
import shutil
import socket
from email import policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from pypdf import PdfReader

from tests.conftest import SETTINGS, make_repo, run, run_process, snapshot
from tests.test_payments import PROJECT


class Inbox:
    """aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), msg))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(monkeypatch):
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    for key, value in {"HOST": "127.0.0.1", "PORT": str(port), "SECURITY": "none",
                       "FROM": "invoices@studio-nord.example"}.items():
        monkeypatch.setenv(f"BILLED_SMTP_{key}", value)
    yield inbox
    controller.stop()


@pytest.fixture(scope="module")
def issued_once(tmp_path_factory) -> Path:
    settings = SETTINGS + "reminders:\n  interval: 10\n  text: We kindly ask you to settle this invoice.\n"
    project = PROJECT.replace("    status: done\n    done: 2026-02-10\n", "    status: in_progress\n")
    root = make_repo(tmp_path_factory.mktemp("mail") / "repo",
                     {"billed.yaml": settings, "projects/nordlicht/site.yaml": project})
    assert run(root, "issue", "--date", "2026-01-20").code == 0  # INV-2026-0001 deposit, INV-2026-0002 design
    return root


@pytest.fixture
def issued(issued_once, tmp_path) -> Path:
    """A fresh copy per test of the repo issued once (rendering PDFs is the slow part)."""
    return Path(shutil.copytree(issued_once, tmp_path / "repo"))


def test_send_delivers_each_document_once(issued, smtp):
    result = run(issued, "send", "--date", "2026-01-20")
    assert result.code == 0, result.err
    assert len(smtp.messages) == 2
    rcpt, msg = smtp.messages[0]
    assert rcpt == ["rechnungen@nordlicht.example"]
    assert msg["To"] == "Nordlicht Verlag GmbH <rechnungen@nordlicht.example>"
    assert msg["From"] == "Studio Nord GmbH <invoices@studio-nord.example>"
    assert msg["Subject"] == "Prepayment invoice INV-2026-0001 from Studio Nord GmbH"
    body = msg.get_body(("plain",)).get_content()
    assert "Dear Nordlicht Verlag GmbH" in body
    assert "Amount due: €2,380.00" in body
    assert "https://pay.example.com/INV-2026-0001?amount=2380.00&currency=EUR" in body
    assert "DE89370400440532013000" in body
    html = msg.get_body(("html",)).get_content()
    assert '<a href="https://pay.example.com/INV-2026-0001?amount=2380.00&amp;currency=EUR">' in html
    attachments = list(msg.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["INV-2026-0001.pdf"]
    pdf = attachments[0].get_content()
    assert pdf == (issued / "invoices/2026/INV-2026-0001.pdf").read_bytes()
    assert "INV-2026-0001" in PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    log = [json.loads(line) for line in (issued / "mail/sent.log").read_text().splitlines()]
    assert [(e["number"], e["kind"], e["date"], e["status"]) for e in log] == [
        ("INV-2026-0001", "document", "2026-01-20", "attempt"), ("INV-2026-0001", "document", "2026-01-20", "sent"),
        ("INV-2026-0002", "document", "2026-01-20", "attempt"), ("INV-2026-0002", "document", "2026-01-20", "sent")]
    # the Message-ID is stable (the document's number and record hash, never random), logged before sending
    record_hash = json.loads((issued / "invoices/2026/INV-2026-0001.json").read_text())["hash"]
    assert msg["Message-ID"] == f"<INV-2026-0001.document.0.{record_hash[:12]}@studio-nord.example>"
    assert log[0]["message_id"] == log[1]["message_id"] == msg["Message-ID"]
    # a second run sends nothing; --resend with a number sends that one again
    again = run(issued, "send", "--date", "2026-01-20")
    assert again.code == 0 and "Nothing to send" in again.out
    assert len(smtp.messages) == 2
    assert run(issued, "send", "INV-2026-0002", "--resend", "--date", "2026-01-21").code == 0
    assert len(smtp.messages) == 3 and smtp.messages[2][1]["Subject"].startswith("Invoice INV-2026-0002")
    assert smtp.messages[2][1]["Message-ID"].startswith("<INV-2026-0002.document.1.")  # a resend is a new message


def test_dry_run_sends_and_writes_nothing(issued, smtp):
    before = snapshot(issued)
    result = run(issued, "send", "--dry-run", "--date", "2026-01-20", "--json")
    assert result.code == 0
    assert [e["number"] for e in result.json] == ["INV-2026-0001", "INV-2026-0002"]
    assert smtp.messages == [] and snapshot(issued) == before


def test_remind_overdue_once_per_interval(issued, smtp):
    assert run(issued, "pay", "INV-2026-0002", "760.00", "--date", "2026-02-01").code == 0
    # 2026-02-05: the deposit (due 01-20) and the design invoice (due 02-03, 4000.00 open) are overdue
    result = run(issued, "remind", "--date", "2026-02-05")
    assert result.code == 0, result.err
    subjects = [m["Subject"] for _, m in smtp.messages]
    assert subjects == ["Reminder: prepayment invoice INV-2026-0001 is 16 days overdue",
                        "Reminder: invoice INV-2026-0002 is 2 days overdue"]
    body = smtp.messages[1][1].get_body(("plain",)).get_content()
    assert "We kindly ask you to settle this invoice." in body
    assert "Of €4,760.00, €4,000.00 is still open." in body
    assert [a.get_filename() for a in smtp.messages[1][1].iter_attachments()] == ["INV-2026-0002.pdf"]
    assert run(issued, "remind", "--date", "2026-02-14").out.startswith("Nothing to remind")  # 9 days later
    assert run(issued, "pay", "INV-2026-0001", "2380.00", "--date", "2026-02-10").code == 0
    assert run(issued, "remind", "--date", "2026-02-15").code == 0  # 10 days: only the unpaid one again
    assert [m["Subject"] for _, m in smtp.messages[2:]] == ["Reminder: invoice INV-2026-0002 is 12 days overdue"]


def test_send_without_smtp_settings_is_a_clear_error(issued, monkeypatch):
    monkeypatch.delenv("BILLED_SMTP_HOST", raising=False)
    result = run_process(issued, "send", "--date", "2026-01-20")
    assert result.code == 1
    assert "BILLED_SMTP_HOST is not set" in result.err and "Traceback" not in result.err
    assert not (issued / "mail").exists()


def test_unreachable_server_sends_nothing_and_logs_nothing(issued, monkeypatch):
    monkeypatch.setenv("BILLED_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("BILLED_SMTP_PORT", str(free_port()))
    monkeypatch.setenv("BILLED_SMTP_SECURITY", "none")
    result = run_process(issued, "send", "--date", "2026-01-20")
    assert result.code == 1 and "cannot connect to SMTP server" in result.err
    assert not (issued / "mail/sent.log").exists()


def test_unknown_number_and_help(issued):
    result = run_process(issued, "send", "INV-2026-0099", "--dry-run")
    assert result.code == 1 and "no issued document INV-2026-0099" in result.err
    assert "BILLED_SMTP_HOST" in run(issued, "send", "--help").out
    assert "reminders.interval" in run(issued, "remind", "--help").out
