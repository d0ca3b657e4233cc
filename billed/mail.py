"""Delivering documents by email: `billed send` and `billed remind`, with an append-only send log.

SMTP settings come only from the environment (never from the repo, which is shared and committed):
BILLED_SMTP_HOST, BILLED_SMTP_PORT, BILLED_SMTP_USER, BILLED_SMTP_PASSWORD, BILLED_SMTP_SECURITY
(starttls | ssl | none; default starttls), BILLED_SMTP_FROM (default: the seller's email) and BILLED_SMTP_CAFILE
(a CA bundle to trust instead of the system's, for a server with a private CA). TLS always verifies the server's
certificate and host name.

mail/sent.log is the memory that makes sending idempotent: one JSON object per line. Each message is first logged
as an `attempt` (with its Message-ID), then sent, then logged as `sent`; all of it under the issuing lock
(invoices/.lock), so two `billed send` at once never mail a document twice. A document is sent once unless
--resend; a reminder for a document goes at most once per `reminders.interval` days.

The Message-ID is stable: derived from the document (number, its record hash, how many times it was sent
before), never random. An attempt with no `sent` entry after it (a crash or a refused message between the two)
is retried with the same Message-ID, so a crash between the server's acceptance and the log entry can at worst
deliver the same message twice under one Message-ID, which mail clients show once. Entries written before the
attempt/sent protocol (no `status`) count as sent.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import smtplib
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from pathlib import Path
from typing import Any

import jinja2
from babel.dates import format_date

from billed import i18n, money, storage, untrusted
from billed.errors import BilledError
from billed.ledger import Record
from billed.payments import DocState
from billed.render import in_sentence, title
from billed.resources import toolkit_dir

LOG = Path("mail") / "sent.log"
TOOLKIT_TEMPLATES = toolkit_dir("templates")
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
Message = tuple[Record, EmailMessage, dict[str, Any]]  # the document, its email, what the log adds about it


@dataclass(frozen=True)
class Smtp:
    host: str
    port: int
    security: str
    user: str | None
    password: str | None
    sender: str | None
    cafile: str | None = None


def smtp_from_env(env: dict[str, str] | None = None) -> Smtp:
    """The SMTP settings, or a BilledError that names the variable to set."""
    env = dict(os.environ if env is None else env)
    host = env.get("BILLED_SMTP_HOST")
    if not host:
        raise BilledError("BILLED_SMTP_HOST is not set: export BILLED_SMTP_HOST (and _PORT, _USER, _PASSWORD, "
                          "_SECURITY=starttls|ssl|none, _FROM) to send mail; `--dry-run` needs none of them")
    security = (env.get("BILLED_SMTP_SECURITY") or "starttls").lower()  # an unset CI secret arrives as ""
    if security not in DEFAULT_PORTS:
        raise BilledError(f"BILLED_SMTP_SECURITY is '{security}'; use starttls, ssl or none")
    port_text = env.get("BILLED_SMTP_PORT") or str(DEFAULT_PORTS[security])
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise BilledError(f"BILLED_SMTP_PORT is '{port_text}'; use a port number such as 587")
    cafile = env.get("BILLED_SMTP_CAFILE") or None
    if cafile and not Path(cafile).is_file():
        raise BilledError(f"BILLED_SMTP_CAFILE is '{cafile}', which is not a file; give a PEM CA bundle")
    sender = env.get("BILLED_SMTP_FROM") or None
    if sender and untrusted.email_problem(sender):
        raise BilledError(f"BILLED_SMTP_FROM is {sender!r}, not a valid address ({untrusted.email_problem(sender)})")
    return Smtp(host, int(port_text), security, env.get("BILLED_SMTP_USER") or None,
                env.get("BILLED_SMTP_PASSWORD") or None, sender, cafile)


# --- the send log --------------------------------------------------------------------------------------------


def read_log(root: Path) -> list[dict[str, Any]]:
    """Every entry of mail/sent.log; a torn last line (a crash mid-write) is ignored, nothing else is."""
    path = root / LOG
    if not path.exists():
        return []
    entries = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            if i == len(lines):
                break
            raise BilledError(f"{LOG}:{i}: unreadable send log line ({exc}); restore it from git") from exc
        if problem := entry_problem(entry):
            raise BilledError(f"{LOG}:{i}: {problem}; restore it from git")
        entries.append(entry)
    return entries


def entry_problem(entry: Any) -> str | None:
    """What makes a parsed send log line unusable (it would crash `send`), or None. Entries from before attempts
    were logged have no status and no Message-ID; an entry Billed writes now has both."""
    if not isinstance(entry, dict):
        return "a send log entry must be a JSON object"
    missing = [k for k in ("number", "kind") if not isinstance(entry.get(k), str)]
    if "status" in entry:
        if entry["status"] not in ("attempt", "sent"):
            return f"unknown send log status {entry['status']!r}"
        missing += [] if isinstance(entry.get("message_id"), str) else ["message_id"]
    return f"a send log entry without {', '.join(missing)}" if missing else None


def append_log(root: Path, entry: dict[str, Any]) -> None:
    path = root / LOG
    path.parent.mkdir(parents=True, exist_ok=True)
    storage.append_exactly(path, (json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8"))


def done(entry: dict[str, Any]) -> bool:
    """A message the server accepted: a `sent` entry (or one from before attempts were logged, with no status)."""
    return entry.get("status", "sent") == "sent"


def sent_numbers(log: list[dict[str, Any]]) -> set[str]:
    return {e["number"] for e in log if e.get("kind") == "document" and done(e)}


def pending(log: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """(number, kind) -> Message-ID of each attempt with no `sent` entry for it: retried under that same ID."""
    accepted = {e.get("message_id") for e in log if done(e)}
    return {(e["number"], e["kind"]): e["message_id"] for e in log
            if e.get("status") == "attempt" and e["message_id"] not in accepted}


def message_id(rec: Record, kind: str, log: list[dict[str, Any]], sender: str, on: dt.date) -> str:
    """The stable Message-ID of the next message of `kind` for this document: a pending attempt's, else one made
    from the document (number, record hash) and how many such messages went before (or the day, for a reminder)."""
    if (rec.number, kind) in (waiting := pending(log)):
        return waiting[(rec.number, kind)]
    domain = sender.rpartition("@")[2] or "billed.invalid"
    if kind == "reminder":
        return f"<{rec.number}.reminder.{on.isoformat()}.{rec['hash'][:12]}@{domain}>"
    before = sum(1 for e in log if e.get("number") == rec.number and e.get("kind") == kind and done(e))
    return f"<{rec.number}.{kind}.{before}.{rec['hash'][:12]}@{domain}>"


def last_reminders(log: list[dict[str, Any]]) -> dict[str, dt.date]:
    """The date of the latest reminder per document, from one pass over the send log."""
    last: dict[str, dt.date] = {}
    for e in log:
        if e.get("kind") == "reminder" and done(e):
            day = dt.date.fromisoformat(e["date"])
            last[e["number"]] = max(last.get(e["number"], day), day)
    return last


def unsent(recs: list[Record], log: list[dict[str, Any]], resend: bool) -> list[Record]:
    done = sent_numbers(log)
    return [r for r in recs if resend or r.number not in done]


def due_reminders(rows: list[DocState], log: list[dict[str, Any]], on: dt.date, interval: int) -> list[DocState]:
    """Overdue documents whose last reminder (if any) is at least `interval` days before `on`."""
    last = last_reminders(log)
    return [row for row in rows if row.state == "overdue"
            and (row.number not in last or (on - last[row.number]).days >= interval)]


# --- messages ------------------------------------------------------------------------------------------------


def environment(templates: Path, locale: str, currency: str, html: bool = False) -> jinja2.Environment:
    """Templates from the repo's templates/, falling back to the toolkit's own; HTML ones autoescaped."""
    env = jinja2.Environment(loader=jinja2.ChoiceLoader([jinja2.FileSystemLoader(templates),
                                                         jinja2.FileSystemLoader(TOOLKIT_TEMPLATES)]),
                             autoescape=html, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["money"] = lambda v: money.fmt(Decimal(str(v)), currency, locale)
    env.filters["date"] = lambda v: format_date(dt.date.fromisoformat(v), "long", locale=locale)
    return i18n.install(env)


def _context(doc: dict[str, Any], templates: Path, context: dict[str, Any] | None) -> dict[str, Any]:
    """What every mail template receives: the words of the document's language (`translations`, read by `_()`
    and `{% trans %}`), its `title` and its name inside a sentence (`document`)."""
    words = i18n.translations(i18n.language_of(doc), templates)
    return {"doc": doc, "title": title(doc, words), "document": in_sentence(doc, words),
            "language": i18n.language_of(doc), "translations": words, **(context or {})}


def compose(rec: Record, templates: Path, template: str, sender: str, context: dict[str, Any] | None = None,
            attach: bool = True) -> EmailMessage:
    """The message for one document: subject and body from the template, the PDF attached."""
    doc = rec.data
    env = environment(templates, doc.get("locale") or "en", doc["currency"])
    try:
        text = env.get_template(template).render(**_context(doc, templates, context))
    except jinja2.TemplateError as exc:
        raise BilledError(f"templates/{template}: {exc}") from exc
    head, _, body = text.lstrip("\n").partition("\n\n")
    if not head.startswith("Subject:"):
        raise BilledError(f"templates/{template} must start with a 'Subject: ...' line and a blank line")
    to = doc["buyer"]["email"]
    if untrusted.email_problem(to):  # issued before `check` validated addresses: the record cannot change
        raise BilledError(f"{rec.number} cannot be mailed: its client's email address {to!r} is not valid "
                          f"({untrusted.email_problem(to)}); send it by hand and fix the address in client.yaml")
    msg = EmailMessage()
    msg["Subject"] = _one_line(head.removeprefix("Subject:"))  # one line: no header injection
    msg["From"] = formataddr((_one_line(doc["seller"]["name"]), sender))
    msg["To"] = formataddr((_one_line(doc["buyer"]["name"]), to))
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)  # replaced by deliver: a stable one
    msg.set_content(body.strip() + "\n")
    html = _html_part(templates, template.replace(".txt.j2", ".html.j2"), doc, context)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    if attach:
        pdf = rec.path.with_suffix(".pdf")
        if not pdf.exists():
            raise BilledError(f"{rec.number} has no PDF yet (issued with --no-pdf): run `billed render` first")
        msg.add_attachment(pdf.read_bytes(), maintype="application", subtype="pdf", filename=f"{rec.number}.pdf")
    return msg


def _one_line(text: str) -> str:
    """Header text on one line without control characters (`check` refuses them in names; a document issued
    before it did must still be sendable)."""
    return " ".join(untrusted.CONTROL.sub(" ", text).split())


def documents(recs: list[Record], templates: Path, sender: str) -> Iterator[Message]:
    for rec in recs:
        yield rec, compose(rec, templates, "email.txt.j2", sender), {"kind": "document"}


def reminders(items: list[tuple[DocState, dict[str, Any]]], by_number: dict[str, Record], templates: Path,
              sender: str) -> Iterator[Message]:
    """One reminder per (document state, what the template gets besides: text, level, pay_url, interest)."""
    for row, extra in items:
        state = row.as_json()
        context = {"state": state, "partly": row.paid > 0 or row.credited > 0, **extra}
        msg = compose(by_number[row.number], templates, "reminder.txt.j2", sender, context)
        yield by_number[row.number], msg, {"kind": "reminder", "balance": state["balance"],
                                           "days_overdue": row.days_overdue, "level": extra.get("level")}


def _html_part(templates: Path, name: str, doc: dict[str, Any], context: dict[str, Any] | None) -> str | None:
    """The optional HTML alternative (e.g. email.html.j2); None when there is no such template."""
    env = environment(templates, doc.get("locale") or "en", doc["currency"], html=True)
    try:
        html = env.get_template(name).render(**_context(doc, templates, context))
    except jinja2.TemplateNotFound:
        return None
    except jinja2.TemplateError as exc:
        raise BilledError(f"templates/{name}: {exc}") from exc
    return html if html.strip() else None


@dataclass
class Outbox:
    """A connection opened on the first message and reused: one login per run, not per document."""

    smtp: Smtp
    client: smtplib.SMTP | None = None

    def send(self, msg: EmailMessage) -> None:
        if self.client is None:
            self.client = self._connect()
        self.client.send_message(msg)

    def open(self) -> None:
        """Connect and log in before anything is logged: a wrong password leaves no trace in the send log."""
        if self.client is None:
            self.client = self._connect()

    def _connect(self) -> smtplib.SMTP:
        s = self.smtp
        tls = ssl.create_default_context(cafile=s.cafile)  # verifies the certificate and the host name
        try:
            if s.security == "ssl":
                client: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=30, context=tls)
            else:
                client = smtplib.SMTP(s.host, s.port, timeout=30)
                if s.security == "starttls":
                    client.starttls(context=tls)
        except (OSError, smtplib.SMTPException) as exc:
            raise BilledError(f"cannot connect to SMTP server {s.host}:{s.port} ({s.security}): {exc}") from exc
        if s.user:
            try:
                client.login(s.user, s.password or "")
            except smtplib.SMTPAuthenticationError as exc:
                client.close()
                raise BilledError(f"the SMTP server {s.host}:{s.port} refused the login of {s.user} "
                                  f"({exc.smtp_code} {exc.smtp_error.decode(errors='replace')}): check "
                                  "BILLED_SMTP_USER and BILLED_SMTP_PASSWORD; nothing was sent") from exc
            except (OSError, smtplib.SMTPException) as exc:
                client.close()
                raise BilledError(f"cannot log in to SMTP server {s.host}:{s.port} as {s.user}: {exc}; nothing "
                                  "was sent") from exc
        return client

    def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self.client.quit()


def deliver(root: Path, items: Iterator[Message], smtp: Smtp | None, on: dt.date,
            log: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Send each message (or only list it when `smtp` is None, a dry run): log the attempt with its stable
    Message-ID, send, log it sent. The caller holds the issuing lock and passes the log it read under it."""
    out = []
    log = read_log(root) if log is None else log
    outbox = Outbox(smtp) if smtp else None
    try:
        for rec, msg, extra in items:
            del msg["Message-ID"]
            msg["Message-ID"] = message_id(rec, extra["kind"], log, msg["From"].addresses[0].addr_spec, on)
            entry = {"number": rec.number, "to": msg["To"], "subject": msg["Subject"], "date": on.isoformat(),
                     "message_id": msg["Message-ID"], **extra}
            if outbox is not None:
                outbox.open()
                append_log(root, {**entry, "status": "attempt"})
                try:
                    outbox.send(msg)
                except (OSError, smtplib.SMTPException) as exc:
                    raise BilledError(f"the SMTP server refused {rec.number} for {msg['To']}: {exc}; the next "
                                      "`billed send` tries it again with the same Message-ID") from exc
                entry |= {"status": "sent", "sent_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
                append_log(root, entry)
                log.append(entry)
            out.append(entry)
    finally:
        if outbox is not None:
            outbox.close()
    return out
