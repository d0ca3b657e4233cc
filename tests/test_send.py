"""billed send exactly once, over real TLS: STARTTLS and implicit TLS (465) against a loopback aiosmtpd server with a
certificate from a CA made by the test (verification on, only that CA trusted), a refused login, a crash between
the server's acceptance and the log entry, and two `billed send` processes at the same moment."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import ssl
import subprocess
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.conftest import BILLED, run_process
from tests.test_mail import Inbox, free_port, issued, issued_once  # noqa: F401 - fixtures

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # implicit TLS, see serve
USER, PASSWORD = "studio", "correct horse"


@pytest.fixture
def repo(issued: Path) -> Path:  # noqa: F811 - the fixture imported above
    """A fresh copy of a repo with INV-2026-0001 (deposit) and INV-2026-0002 issued, never sent (test_mail)."""
    return issued


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA and a server certificate for 127.0.0.1 / localhost signed by it (openssl CLI, EC keys: fast)."""
    d = tmp_path_factory.mktemp("pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n")
    for cmd in (["req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj",
                 "/CN=Billed test CA", "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign"],
                ["req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"],
                ["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf"]):
        subprocess.run(["openssl", *cmd], cwd=d, check=True, capture_output=True)
    return d


def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


def serve(monkeypatch: pytest.MonkeyPatch, pki: Path, security: str, handler: Inbox | None = None,
          password: str = PASSWORD) -> tuple[Inbox, Controller]:
    """A TLS server on loopback needing login; the BILLED_SMTP_* environment pointing at it, the test CA trusted."""
    inbox = handler or Inbox()
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(pki / "server.pem", pki / "server.key")
    port = free_port()
    # implicit TLS: the whole connection is TLS, but aiosmtpd only knows of TLS it started itself (STARTTLS), so
    # it is told not to insist; with STARTTLS it refuses AUTH before TLS and any command before STARTTLS
    kwargs = {"ssl_context": tls, "auth_require_tls": False} if security == "ssl" else {
        "tls_context": tls, "require_starttls": True, "auth_require_tls": True}
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=authenticate,
                            auth_required=True, **kwargs)
    controller.start()
    for key, value in {"HOST": "127.0.0.1", "PORT": str(port), "SECURITY": security, "USER": USER,
                       "PASSWORD": password, "FROM": "invoices@studio-nord.example",
                       "CAFILE": str(pki / "ca.pem")}.items():
        monkeypatch.setenv(f"BILLED_SMTP_{key}", value)
    return inbox, controller


def log_of(root: Path) -> list[dict]:
    path = root / "mail/sent.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_with_verification_and_login(repo: Path, pki: Path, monkeypatch: pytest.MonkeyPatch,
                                         security: str) -> None:
    inbox, controller = serve(monkeypatch, pki, security)
    try:
        result = run_process(repo, "send", "--date", "2026-01-20")
    finally:
        controller.stop()
    assert result.code == 0, result.err
    assert [m["Subject"].split(" from ")[0] for _, m in inbox.messages] == [
        "Prepayment invoice INV-2026-0001", "Invoice INV-2026-0002"]
    assert [e["status"] for e in log_of(repo)] == ["attempt", "sent", "attempt", "sent"]


def test_an_untrusted_certificate_is_refused_and_nothing_is_logged(repo: Path, pki: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    inbox, controller = serve(monkeypatch, pki, "ssl")
    monkeypatch.delenv("BILLED_SMTP_CAFILE")  # the system's CAs only: the test CA is not among them
    try:
        result = run_process(repo, "send", "--date", "2026-01-20")
    finally:
        controller.stop()
    assert result.code == 1 and "CERTIFICATE_VERIFY_FAILED" in result.err and "Traceback" not in result.err
    assert inbox.messages == [] and log_of(repo) == []


def test_a_refused_login_is_a_clear_error_and_nothing_is_logged(repo: Path, pki: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    inbox, controller = serve(monkeypatch, pki, "starttls", password="wrong")
    try:
        result = run_process(repo, "send", "--date", "2026-01-20")
    finally:
        controller.stop()
    assert result.code == 1, result.err
    assert "the SMTP server 127.0.0.1:" in result.err and "refused the login of studio (535" in result.err
    assert "check BILLED_SMTP_USER and BILLED_SMTP_PASSWORD; nothing was sent" in result.err
    assert "Traceback" not in result.err
    assert inbox.messages == [] and log_of(repo) == []


class KillsTheSender(Inbox):
    """Takes the first message, then kills the `billed send` process before it can read the server's 250 and log
    it as sent: the crash between the server's acceptance and the log entry."""

    def __init__(self) -> None:
        super().__init__()
        self.victim: int | None = None

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        reply = await super().handle_DATA(server, session, envelope)
        if self.victim is not None:
            os.kill(self.victim, signal.SIGKILL)
            self.victim = None
            await asyncio.sleep(0.2)
        return reply


def test_a_crash_after_acceptance_resends_under_the_same_message_id(repo: Path, pki: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    inbox, controller = serve(monkeypatch, pki, "starttls", handler=KillsTheSender())
    try:
        proc = subprocess.Popen([BILLED, "send", "--date", "2026-01-20"], cwd=repo, env=dict(os.environ),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        inbox.victim = proc.pid
        proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGKILL
        assert len(inbox.messages) == 1
        assert [(e["number"], e["status"]) for e in log_of(repo)] == [("INV-2026-0001", "attempt")]
        rerun = run_process(repo, "send", "--date", "2026-01-20")
    finally:
        controller.stop()
    assert rerun.code == 0, rerun.err
    ids = [m["Message-ID"] for _, m in inbox.messages]
    assert len(ids) == 3 and ids[0] == ids[1] != ids[2]  # INV-0001 twice under one Message-ID, INV-0002 once
    assert [(e["number"], e["status"]) for e in log_of(repo)] == [
        ("INV-2026-0001", "attempt"), ("INV-2026-0001", "attempt"), ("INV-2026-0001", "sent"),
        ("INV-2026-0002", "attempt"), ("INV-2026-0002", "sent")]
    assert run_process(repo, "send", "--date", "2026-01-20").out.startswith("Nothing to send")


class Slow(Inbox):
    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        await asyncio.sleep(0.3)  # both processes are surely running while the first one sends
        return await super().handle_DATA(server, session, envelope)


def test_two_sends_at_once_mail_each_document_once(repo: Path, pki: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inbox, controller = serve(monkeypatch, pki, "starttls", handler=Slow())
    try:
        procs = [subprocess.Popen([BILLED, "send", "--date", "2026-01-20"], cwd=repo, env=dict(os.environ),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outs = [p.communicate(timeout=60) for p in procs]
    finally:
        controller.stop()
    assert [p.returncode for p in procs] == [0, 0], outs
    assert sorted(m["Subject"].split()[-5] for _, m in inbox.messages) == ["INV-2026-0001", "INV-2026-0002"]
    assert sum("Nothing to send" in out for out, _ in outs) == 1
    assert [(e["number"], e["status"]) for e in log_of(repo)] == [
        ("INV-2026-0001", "attempt"), ("INV-2026-0001", "sent"), ("INV-2026-0002", "attempt"),
        ("INV-2026-0002", "sent")]


def test_settings_left_empty_take_their_defaults() -> None:
    """In CI an unset secret arrives as an empty variable: it means the default, not an error."""
    from billed.mail import smtp_from_env

    smtp = smtp_from_env({"BILLED_SMTP_HOST": "smtp.example.com", "BILLED_SMTP_SECURITY": "", "BILLED_SMTP_PORT": "",
                          "BILLED_SMTP_USER": "", "BILLED_SMTP_PASSWORD": "", "BILLED_SMTP_FROM": "",
                          "BILLED_SMTP_CAFILE": ""})
    assert (smtp.security, smtp.port, smtp.user, smtp.sender, smtp.cafile) == ("starttls", 587, None, None, None)


def test_nothing_to_send_takes_no_lock_and_writes_nothing(tmp_path: Path) -> None:
    from tests.conftest import make_repo, snapshot

    root = make_repo(tmp_path / "empty")  # nothing issued: no invoices/ at all
    before = snapshot(root)
    for command in ("send", "remind"):
        result = run_process(root, command)
        assert result.code == 0 and result.out.startswith("Nothing to"), result.err
    assert snapshot(root) == before and not (root / "invoices").exists()
