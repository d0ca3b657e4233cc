"""One client's portal: what was delivered, billed and paid, what is still to pay (with a pay button and the PDF),
what comes next, and who to contact. Phone first: one column of cards, no tables, no internal ids.

Only the holder of a valid link gets here, and the board is built from that client's data alone
(views.load(client=...)). Every word a client reads goes through `_` (the client's language)."""

from __future__ import annotations

import datetime as dt
import gettext
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import streamlit as st

from billed import api, i18n, portal, views
from billed.errors import BilledError
from billed.web.common import file_button

MORE_SETTLED = 10  # settled documents shown before "show all": each carries its PDF inside the page
STATUS_ICONS = {"done": ":material/check_circle:", "in_progress": ":material/construction:",
                "planned": ":material/event:", "cancelled": ":material/block:"}


@dataclass(frozen=True)
class Words:
    """The client's words: `_(message)` is gettext and `_.ngettext(singular, plural, n)` the plural forms of
    `language` (the repo's catalog, then the toolkit's, then English): Polish says "1 dzień" but "5 dni"."""

    translations: gettext.NullTranslations

    def __call__(self, message: str) -> str:
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.translations.ngettext(singular, plural, n)


def translator(language: str | None, root: Path) -> Words:
    return Words(i18n.translations(language, root / "templates"))


def state_badge(inv: views.InvoiceView, _: Callable[[str], str]) -> str:
    if inv.total < 0:
        word = _("credit note")  # outside the f-string, where `pybabel extract` finds it
        return f":gray-badge[{word}]"
    words = {"open": ("blue", _("to pay")), "partially paid": ("orange", _("partly paid")),
             "overdue": ("red", _("overdue")), "paid": ("green", _("paid")), "credited": ("gray", _("credited"))}
    colour, word = words.get(inv.state, ("gray", inv.state))
    return f":{colour}-badge[{word}]"


def header(board: views.Board, root: Path, _: Callable[[str], str]) -> None:
    logo = portal.logo(root)
    if logo is not None:
        st.image(str(logo), width=140)
    st.title(board.clients.get(board.client or "", ""))
    st.caption(_("Your projects with {seller} · as of {date}").format(seller=board.seller,
                                                                       date=portal.date(board, board.on)))


def summary(board: views.Board, totals: views.Totals, _: Callable[[str], str]) -> None:
    """The one summary a client needs, per currency: delivered (of the agreed value), billed, paid, still to pay."""
    cur = totals.currency
    share = totals.done / totals.contract if totals.contract else 0
    st.progress(min(max(float(share), 0.0), 1.0),
                text=_("Delivered: {done} of {agreed} ({percent}%)").format(
                    done=board.fmt(totals.done, cur), agreed=board.fmt(totals.contract, cur),
                    percent=int(share * 100)))
    for col, (label, amount) in zip(st.columns(3), ((_("Billed"), totals.billed), (_("Paid"), totals.paid),
                                                    (_("Still to pay"), totals.outstanding)), strict=True):
        col.metric(label, board.fmt(amount, cur))
    if totals.overdue:
        st.error(_("{amount} of it is overdue.").format(amount=board.fmt(totals.overdue, cur)),
                 icon=":material/schedule:")
    if totals.credit:
        st.caption(_("We owe you a credit of {amount}.").format(amount=board.fmt(totals.credit, cur)))


def plan(board: views.Board, project: views.ProjectView, _: Callable[[str], str]) -> None:
    """The project's milestones in file order, each with what happened to it or when it is due."""
    lines = []
    for m in project.milestones:
        facts = [board.fmt(m.amount, project.currency)]
        late = portal.days_late(m.due, m.status, board.on)
        if m.status == "done":
            facts.append(_("delivered {date}").format(date=portal.date(board, m.done)) if m.done else _("delivered"))
        elif m.status == "cancelled":
            facts.append(_("cancelled"))
        elif late:
            facts.append(":red[**" + _("late: due {date}").format(date=portal.date(board, m.due)) + "**]")
        elif m.due:
            facts.append(_("due {date}").format(date=portal.date(board, m.due)))
        if m.documents:
            facts.append(_("billed on {documents}").format(documents=", ".join(m.documents)))
        lines.append(f"{STATUS_ICONS[m.status]} **{m.title}**  \n{' · '.join(facts)}")
    st.markdown("\n\n".join(lines))


def projects(board: views.Board, _: Callable[[str], str]) -> None:
    several = len(board.projects) > 1
    for project in board.projects:
        st.subheader(project.title)
        if project.description:
            st.write(project.description)
        if several:  # one project's figures would repeat the summary above word for word
            summary(board, project.totals, _)
        plan(board, project, _)


def coming_up(board: views.Board, _: Callable[[str], str]) -> None:
    steps = portal.coming_up(board)
    if not steps:
        return
    st.header(_("Coming up next"))
    several = len(board.projects) > 1
    for s in steps[:5]:
        where = f" · {s.project.title}" if several else ""
        when = (":red[**" + _("late: due {date}").format(date=portal.date(board, s.due)) + "**]" if s.days_late
                else _("due {date}").format(date=portal.date(board, s.due)) if s.due else _("date to be agreed"))
        st.markdown(f"{STATUS_ICONS[s.status]} **{s.title}**{where}  \n{when} · "
                    f"{board.fmt(s.amount, s.project.currency)}")
    if len(steps) > 5:
        st.caption(_("and {count} more").format(count=len(steps) - 5))


def pay_target(board: views.Board, inv: views.InvoiceView, token: str) -> str | None:
    """The pay button's address: api.pay_url, except that a pay URL pointing at this portal's own `?pay=` page
    gets the visitor's token, because that page shows nothing without it (a guessed number reveals nothing)."""
    pattern = getattr(board.settings, "pay_url", None) or ""
    if inv.pay_url and "pay={number}" in pattern:
        return "?" + urlencode({"token": token, "pay": inv.number})
    return inv.pay_url


def document_card(board: views.Board, inv: views.InvoiceView, token: str, _: Words) -> None:
    with st.container(border=True):
        st.markdown(f"**{_(inv.title)} {inv.number}** {state_badge(inv, _)}")  # the title is a message (render.TITLES)
        dates = [_("issued {date}").format(date=portal.date(board, inv.issue_date))]
        if inv.due_date and inv.balance > 0:
            dates.append(_("due {date}").format(date=portal.date(board, inv.due_date)))
        if inv.state == "overdue":
            overdue = _.ngettext("{days} day overdue", "{days} days overdue", inv.days_overdue)
            dates.append(":red[" + overdue.format(days=inv.days_overdue) + "]")
        st.caption(" · ".join(dates))
        amount = f"**{board.fmt(inv.total, inv.currency)}**"
        if inv.state == "partially paid":
            amount += " · " + _("still to pay {amount}").format(amount=board.fmt(inv.balance, inv.currency))
        st.markdown(amount)
        left, right = st.columns(2)
        with left:
            if inv.pdf:
                file_button(inv.pdf.read_bytes(), inv.pdf.name, "application/pdf", _("Download PDF"))
            elif inv.html:
                file_button(inv.html.read_bytes(), inv.html.name, "text/html", _("Download document"))
        target = pay_target(board, inv, token)
        if target and inv.balance > 0:
            right.link_button(_("Pay {amount}").format(amount=board.fmt(inv.balance, inv.currency)), target,
                              type="primary", icon=":material/payments:", width="stretch")


def documents(board: views.Board, token: str, _: Words) -> None:
    st.header(_("Your documents"))
    docs = portal.documents_for_client(board)
    if not docs:
        st.info(_("No documents yet."))
        return
    payable = [i for i in docs if i.state in portal.PAYABLE]
    settled = docs[len(payable):]
    shown = settled if len(settled) <= MORE_SETTLED or st.toggle(
        _("Show all {count} earlier documents").format(count=len(settled))) else settled[:MORE_SETTLED]
    for inv in [*payable, *shown]:
        document_card(board, inv, token, _)


def contact(board: views.Board, _: Callable[[str], str]) -> None:
    st.divider()
    lines = portal.contact_lines(board.settings)
    bank = portal.payment_details(board.settings)
    left, right = st.columns(2)
    if lines:
        left.markdown("**" + _("Questions? Contact us") + "**  \n" + "  \n".join(lines))
    if bank:
        labels = {"Account holder": _("Account holder"), "IBAN": "IBAN", "BIC": "BIC", "Bank": _("Bank")}
        right.markdown("**" + _("Pay by bank transfer") + "**  \n"
                       + "  \n".join(f"{labels[k]}: {v}" for k, v in bank)
                       + "  \n" + _("Please quote the document number as the reference."))


def pay_page(root: Path, client: str, number: str, on: dt.date) -> None:
    """`?pay=NUMBER` (the stable pay URL): straight on to the payment for what is still due on one of the token
    holder's own documents (api.pay_redirect: Stripe Checkout, else the pay_link for the balance)."""
    board = views.load(root, on, client=client)
    _ = translator(board.language, root)
    header(board, root, _)
    inv = next((i for i in board.invoices if i.number == number), None)  # only this client's documents exist here
    if inv is None or inv.balance <= 0:
        st.info(_("There is nothing to pay on {number}.").format(number=number))
        return
    st.subheader(_("{title} {number}").format(title=_(inv.title), number=inv.number))
    st.metric(_("Still to pay"), board.fmt(inv.balance, inv.currency))
    try:
        target = api.pay_redirect(views.only_client(views.state(root), client), number, on)
    except BilledError:
        target = None
    if target:
        st.link_button(_("Continue to payment"), target, type="primary", icon=":material/payments:")
    else:
        st.warning(_("Online payment is not available right now. Please pay by bank transfer."))
    contact(board, _)


def client_page(root: Path, client: str, on: dt.date, token: str) -> None:
    """Only for the holder of a valid token, and built from that client's data alone."""
    board = views.load(root, on, client=client)
    _ = translator(board.language, root)
    header(board, root, _)
    if not board.projects and not board.invoices:
        st.info(_("No projects to show yet."))
    for totals in views.portfolio(board).values():
        summary(board, totals, _)
    documents(board, token, _)
    coming_up(board, _)
    projects(board, _)
    contact(board, _)
