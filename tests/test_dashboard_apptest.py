"""dashboard.py through Streamlit's AppTest: each page's logic, access rules and what a client can ever see."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest
from _dashboard import DAY, MARKER, OTHER_CLIENT_WORDS, example_repo
from conftest import TOOLKIT
from streamlit.testing.v1 import AppTest

from billed import access

APP = str(TOOLKIT / "dashboard.py")
OWNER_FIGURES = ("€39,845.66", "£48,000.00", "£26,400.00", "€20,113.95", "£21,600.00")


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return example_repo(tmp_path_factory.mktemp("apptest") / "repo")


@pytest.fixture
def app(example: Path, monkeypatch: pytest.MonkeyPatch):
    for name in ("BILLED_MODE", "BILLED_OWNER_SECRET", "BILLED_OWNER_EMAILS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BILLED_REPO", str(example))
    monkeypatch.setenv("BILLED_DATE", DAY)
    # AppTest's runtime is a mock with no real connection: say "from this machine" here; the real check
    # (access.is_local, against Streamlit's server.address and the connection) runs in test_dashboard_browser.py
    monkeypatch.setattr(access, "is_local", lambda *args: True)
    access.OWNER_THROTTLE.reset()

    def start(token: str | None = None, **env: str) -> AppTest:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        at = AppTest.from_file(APP, default_timeout=60)
        if token is not None:
            at.query_params["token"] = token
        return at.run()

    return start


def page_text(at: AppTest) -> str:
    """Every string the page holds: element protos (labels, markdown, metrics, chart specs) and table cells."""
    out: list[str] = []

    def walk(node) -> None:
        value = getattr(node, "value", None)
        if isinstance(value, pd.DataFrame):
            out.append(value.to_csv())
        proto = getattr(node, "proto", None)
        if proto is not None:
            out.append(str(proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(out)


def test_owner_portfolio_shows_the_example_figures_fast(app) -> None:
    at = app()
    assert not at.exception
    values = [m.value for m in at.metric]
    for figure in OWNER_FIGURES:
        assert figure in values
    assert "Per client" in page_text(at) and MARKER not in page_text(at)
    start = time.perf_counter()
    at.run()
    assert time.perf_counter() - start < 2.0  # a rerun of the owner view, data cached
    assert not at.exception


def test_owner_projects_page_shows_the_board(app) -> None:
    at = app()
    at.sidebar.radio[0].set_value("Projects").run()
    at.selectbox[1].set_value("kaffeehaus/webshop").run()
    assert not at.exception
    text = page_text(at)
    for part in ("Online coffee shop", "Cancelled", "Newsletter integration", "INV-2026-0005", "18% delivered"):
        assert part in text
    assert MARKER not in text
    assert any("Scope history" in m.value for m in at.markdown)


def test_owner_invoices_filter_and_download(app) -> None:
    at = app()
    at.sidebar.radio[0].set_value("Invoices").run()
    assert len(at.dataframe[0].value) == 8
    at.multiselect[0].set_value(["acme"]).run()
    assert list(at.dataframe[0].value["number"]) == ["INV-2026-0001", "INV-2026-0002", "INV-2026-0003"]
    at.multiselect[2].set_value(["overdue"]).run()
    assert not at.exception and not at.dataframe and any("No invoices" in i.value for i in at.info)
    at.multiselect[2].set_value([]).run()
    at.selectbox[0].set_value("INV-2026-0002").run()
    assert not at.exception
    assert not at.get("download_button")  # a /media URL would serve the file without the owner's password
    frames = [f.proto.srcdoc for f in at.get("iframe") if "billedDownload" in f.proto.srcdoc]
    assert [('download="INV-2026-0002.pdf"' in f, 'download="INV-2026-0002.html"' in f) for f in frames] == [
        (True, False), (False, True)]


def test_client_without_or_with_a_wrong_token_sees_only_the_ask_page(app, example: Path) -> None:
    access.grant(example, "acme")
    for token in (None, "", "not-a-token", access.read(example)[0].sha256):
        at = app(token, BILLED_MODE="client")
        text = page_text(at)
        assert not at.exception
        assert "ask for your link" in text
        assert not at.metric and not at.dataframe
        for word in ("ACME", "Robot", "£", "€", "INV-", MARKER, *OTHER_CLIENT_WORDS):
            assert word not in text, word


def test_client_sees_only_their_own_projects_and_nothing_internal(app, example: Path) -> None:
    token = access.grant(example, "acme")
    at = app(token, BILLED_MODE="client")
    assert not at.exception
    text = page_text(at)
    for part in ("ACME Robotics Ltd", "Robot fleet portal", "Discovery and requirements", "INV-2026-0003",
                 "£48,000.00"):
        assert part in text, part
    assert MARKER not in text
    for word in OTHER_CLIENT_WORDS:
        assert word not in text, word
    assert not at.sidebar.radio  # no owner navigation at all
    assert "acme/robot-portal" not in text and "client:" not in text  # no internal ids, no client column
    assert not at.get("download_button")  # its file would be served at a /media URL without the token
    assert len([f for f in at.get("iframe") if "billedDownload" in f.proto.srcdoc]) == 3  # a PDF inside each card
    link = "https://pay.studio-nord.example/invoice/INV-2026-{}?amount={}&currency=GBP"
    assert [(b.proto.label, b.proto.url) for b in at.get("link_button")] == [  # each open document, newest first
        ("Pay £9,600.00", link.format("0003", "9600.00")), ("Pay £7,200.00", link.format("0002", "7200.00")),
        ("Pay £9,600.00", link.format("0001", "9600.00"))]


def test_a_client_reads_their_page_in_their_language(app, example: Path) -> None:
    """The example's Kaffeehaus has `language: de_AT`: German words, Austrian amounts and dates (issue 12)."""
    at = app(access.grant(example, "kaffeehaus"), BILLED_MODE="client")
    assert not at.exception
    text = page_text(at)
    for german in ("Ihre Projekte mit Studio Nord GmbH", "Noch zu zahlen", "Ihre Dokumente", "Als Nächstes",
                   "Anzahlungsrechnung INV-2026-0004", "Fragen? Kontaktieren Sie uns", "Kontoinhaber",
                   "Stand 25.11.2026"):
        assert german in text, german
    for english in ("Still to pay", "Your documents", "Coming up next", "Prepayment invoice", "Account holder"):
        assert english not in text, english
    assert [b.proto.label for b in at.get("link_button")][0].endswith("bezahlen")


def test_client_mode_never_serves_the_owner_view(app, example: Path) -> None:
    at = app("whatever", BILLED_MODE="client", BILLED_OWNER_SECRET="owner-pass")
    assert not at.text_input and not at.metric and "ask for your link" in page_text(at)


def test_owner_secret_guards_the_owner_view(app) -> None:
    at = app(BILLED_OWNER_SECRET="correct horse battery")
    assert not at.metric and at.text_input[0].label == "Owner password"
    at.text_input[0].input("wrong").run()
    assert not at.metric and at.error[0].value == "Wrong password."
    at.text_input[0].input("correct horse battery").run()
    assert not at.exception
    assert "£48,000.00" in [m.value for m in at.metric]


def test_a_failure_in_the_client_view_shows_no_details(app, tmp_path: Path) -> None:
    """Any exception while drawing a client's page becomes a generic message: a traceback could show data."""
    repo = example_repo(tmp_path / "repo", pdf=False)
    html = repo / "invoices/2026/INV-2026-0003.html"
    html.unlink()
    html.mkdir()  # reading it for the download button fails
    token = access.grant(repo, "acme")
    at = app(token, BILLED_MODE="client", BILLED_REPO=str(repo))
    assert not at.exception
    assert [e.value for e in at.error] == ["This page cannot be shown right now. Please try again later."]
    assert "IsADirectoryError" not in page_text(at) and "Traceback" not in page_text(at)


@pytest.mark.parametrize("mode", ["client\r", "client ", "clients", "Client", " owner", "admin"])
def test_an_unknown_mode_is_an_error_page_showing_nothing(app, example: Path, mode: str) -> None:
    """Fail closed: a typo in BILLED_MODE must not turn the client server into every client's owner view."""
    token = access.grant(example, "acme")
    for secret in ({}, {"BILLED_OWNER_SECRET": "owner-pass"}):
        at = app(token, BILLED_MODE=mode, **secret)
        text = page_text(at)
        assert not at.exception and "BILLED_MODE must be exactly" in at.error[0].value
        assert not at.metric and not at.dataframe and not at.text_input and not at.get("iframe")
        for word in ("ACME", "Robot", "£", "€", "INV-", MARKER, *OTHER_CLIENT_WORDS):
            assert word not in text, word


def test_owner_view_from_elsewhere_without_a_secret_is_refused(app, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(access, "is_local", lambda *args: False)
    at = app(BILLED_MODE="owner")
    assert not at.exception and not at.metric and "only shown without a password on this machine" in at.error[0].value
    for word in ("ACME", "£", "€", "INV-", *OTHER_CLIENT_WORDS):
        assert word not in page_text(at), word


def test_owner_password_tries_are_rate_limited(app) -> None:
    """Five wrong passwords, then even the right one is not compared until the window has passed."""
    at = app(BILLED_OWNER_SECRET="correct horse battery")
    for n in range(5):
        at.text_input[0].input(f"guess {n}").run()
        assert at.error[0].value == "Wrong password."
    at.text_input[0].input("correct horse battery").run()
    assert not at.metric and at.error[0].value.startswith("Too many wrong passwords. Try again in")
    fresh = app(BILLED_OWNER_SECRET="correct horse battery")  # a new session is the same caller: still limited
    fresh.text_input[0].input("correct horse battery").run()
    assert not fresh.metric and fresh.error[0].value.startswith("Too many wrong passwords")


def test_pay_page_leads_to_the_balance_of_the_token_holder_s_own_documents(app, example: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("STRIPE_API_KEY", "BILLED_STRIPE_KEY"):
        monkeypatch.delenv(name, raising=False)  # no Stripe: the pay_link pattern filled with the balance
    token = access.grant(example, "acme")
    at = app(token, BILLED_MODE="client")
    at.query_params["pay"] = "INV-2026-0003"
    at.run()
    assert not at.exception and [m.value for m in at.metric] == ["£9,600.00"]
    assert [(b.proto.label, b.proto.url) for b in at.get("link_button")] == [
        ("Continue to payment", "https://pay.studio-nord.example/invoice/INV-2026-0003?amount=9600.00&currency=GBP")]
    for number in ("INV-2026-0004", "INV-2026-0007", "NOPE"):  # another client's documents do not exist here
        at.query_params["pay"] = number
        at.run()
        text = page_text(at)
        assert f"There is nothing to pay on {number}." in text and not at.get("link_button") and not at.metric
        assert "Kaffeehaus" not in text and "Nordlicht" not in text and "€" not in text
    stranger = app(None, BILLED_MODE="client")
    stranger.query_params["pay"] = "INV-2026-0003"
    stranger.run()
    assert "ask for your link" in page_text(stranger) and not stranger.metric and not stranger.get("link_button")


def test_a_pay_url_to_this_portal_carries_the_visitor_s_token(example: Path) -> None:
    import dataclasses
    import datetime as dt

    from billed import views
    from billed.web.client import pay_target

    board = views.load(example, dt.date.fromisoformat(DAY), client="acme")
    inv = next(i for i in board.invoices if i.number == "INV-2026-0003")
    assert pay_target(board, inv, "tok") == inv.pay_url  # a pay_link elsewhere: as it is
    board.settings = dataclasses.replace(board.settings, pay_url="https://billing.example/?pay={number}")
    assert pay_target(board, inv, "tok") == "?token=tok&pay=INV-2026-0003"


def test_owner_invoices_page_lists_each_payment_with_its_source(app, example: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    repo = Path(shutil.copytree(example, tmp_path / "repo"))
    (repo / "payments").mkdir()
    (repo / "payments/2026.yaml").write_text(
        '- invoice: "INV-2026-0001"\n  amount: 100.00\n  date: 2026-11-25\n  source: stripe\n  id: "pi_3Test"\n'
        '- invoice: "INV-2026-0002"\n  amount: 50.00\n  date: 2026-11-25\n'
        '- invoice: "INV-2026-0001"\n  amount: -20.00\n  date: 2026-11-25\n  source: stripe\n  id: "re_1"\n'
        '  reverses: "pi_3Test"\n', encoding="utf-8")
    at = app(BILLED_REPO=str(repo))
    at.sidebar.radio[0].set_value("Invoices").run()
    assert not at.exception
    wide = [d.value for d in at.dataframe if "reverses" in d.value.columns]  # the payments table, every column
    assert len(wide) == 1
    payments = wide[0]
    rows = {(r["invoice"], r["source"], r["id"], r["reverses"]) for _, r in payments.iterrows()}
    assert rows == {("INV-2026-0001", "stripe", "pi_3Test", ""), ("INV-2026-0002", "manual", "P-2026-0002", ""),
                    ("INV-2026-0001", "stripe", "re_1", "pi_3Test")}


def test_a_client_reads_the_portal_in_their_language(app, example: Path) -> None:
    """Kaffeehaus writes de_AT: German words, Austrian formats; nothing of the English page is left."""
    at = app(access.grant(example, "kaffeehaus"), BILLED_MODE="client")
    assert not at.exception
    assert [m.label for m in at.metric] == ["Berechnet", "Bezahlt", "Noch zu zahlen"]
    text = page_text(at)
    for words in ("Ihre Dokumente", "Als Nächstes", "Rechnung INV-2026-0005", "Per Überweisung bezahlen",
                  "PDF herunterladen"):
        assert words in text, words
    for english in ("Your documents", "Coming up next", "Still to pay", "Download PDF", "Pay by bank transfer"):
        assert english not in text, english
    assert "€\xa06.500,00" in [m.value for m in at.metric]  # billed, as de_AT writes it (a no-break space)


def test_the_ask_page_speaks_the_browser_s_language(app, example: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a link nobody is known yet: the page follows the browser (Accept-Language via st.context.locale)."""
    import streamlit as st

    monkeypatch.setattr(type(st.context), "locale", property(lambda self: "de-AT"))
    at = app("wrong", BILLED_MODE="client")
    assert [t.value for t in at.title] == ["Privates Projekt-Dashboard"]
    assert "persönlichen Link" in page_text(at) and "ACME" not in page_text(at)
    # a repo's own catalog comes first, here too (a language only the repo has)
    po = example / "templates/locale/sv/LC_MESSAGES/billed.po"
    po.parent.mkdir(parents=True)
    po.write_text('msgid "Private project dashboard"\nmsgstr "Privat projektöversikt"\n', encoding="utf-8")
    monkeypatch.setattr(type(st.context), "locale", property(lambda self: "sv-SE"))
    assert [t.value for t in app("wrong", BILLED_MODE="client").title] == ["Privat projektöversikt"]


def test_the_overdue_badge_has_the_plural_forms_of_the_client_s_language(app, example: Path) -> None:
    """Kaffeehaus's deposit invoice INV-2026-0004 is due on 2026-11-25: German says "1 Tag", "2 Tage"."""
    token = access.grant(example, "kaffeehaus")
    for day, words in (("2026-11-26", "1 Tag überfällig"), ("2026-11-27", "2 Tage überfällig")):
        at = app(token, BILLED_MODE="client", BILLED_DATE=day)
        assert not at.exception
        text = page_text(at)
        assert words in text, day
        assert "days overdue" not in text and "Tage überfällig" not in text.replace(words, "")
