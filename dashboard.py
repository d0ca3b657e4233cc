"""Billed dashboard (Streamlit): the owner's view of every client, and a private view for each client.

Run it with `billed dashboard` (or `streamlit run dashboard.py` from a billing repo). Settings, from the
environment or st.secrets (never from the repo):
  BILLED_REPO          the billing repo (default: the nearest folder with billed.yaml from the working directory)
  BILLED_MODE=client   serve only the client view: a visitor needs a link from `billed share CLIENT`
  BILLED_OWNER_SECRET  when set, the owner view asks for this password first (use it whenever the owner view is
                       reachable by anyone else); or configure Streamlit's OIDC login ([auth] in secrets.toml),
                       optionally restricted to BILLED_OWNER_EMAILS (comma-separated)
  BILLED_DATE          the day to show the repo as of (YYYY-MM-DD, default today): reproducible screenshots
All figures come from billed.views (tested without Streamlit); this file only lays them out. Amounts are
converted to float only for the chart libraries; every printed amount is formatted from the exact Decimal.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import traceback
from pathlib import Path

import streamlit as st

from billed import access, api, views

STATE_COLOURS = {"paid": "green", "open": "blue", "overdue": "red", "partially paid": "orange", "credited": "gray",
                 "credit note": "gray"}
LANE_ICONS = {"done": ":material/task_alt:", "in progress": ":material/construction:",
              "upcoming": ":material/event:", "cancelled": ":material/block:"}  # bundled icon font, no emoji needed


# --- settings ---------------------------------------------------------------------------------------------------


def setting(name: str) -> str | None:
    """An env var, else a top-level st.secrets entry; None when neither is set (a missing secrets.toml is fine)."""
    if os.environ.get(name):
        return os.environ[name]
    try:
        value = st.secrets.get(name)
    except Exception:  # noqa: BLE001 - no secrets file at all
        return None
    return str(value) if value else None


def repo_root() -> Path:
    args = sys.argv[1:]
    if "--repo" in args and args.index("--repo") + 1 < len(args):
        return Path(args[args.index("--repo") + 1]).resolve()
    configured = setting("BILLED_REPO")
    return Path(configured).resolve() if configured else api.find_root(Path.cwd())


def today() -> dt.date:
    pinned = setting("BILLED_DATE")
    return dt.date.fromisoformat(pinned) if pinned else dt.date.today()


def oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001
        return False


# --- shared pieces ----------------------------------------------------------------------------------------------


def table(rows: list[dict[str, str]], small: int = 60) -> None:
    """Small tables as plain HTML (readable, selectable text); large ones in the scrolling data grid."""
    if len(rows) <= small:
        st.table(rows)
    else:
        st.dataframe(rows, hide_index=True, width="stretch")


def totals_metrics(board: views.Board, totals: views.Totals) -> None:
    """The figures of one currency as metrics: net progress first, then what the client pays (gross)."""
    cur = totals.currency
    rows = [[("Contract value", totals.contract), ("Done", totals.done), ("Invoiced (net)", totals.invoiced),
             ("Remaining", totals.remaining)],
            [("Billed (gross)", totals.billed), ("Paid", totals.paid), ("Outstanding", totals.outstanding),
             ("Overdue", totals.overdue)]]
    for figures in rows:
        for col, (label, amount) in zip(st.columns(4), figures, strict=True):
            col.metric(f"{label} · {cur}", board.fmt(amount, cur))
    if totals.credit:
        st.caption(f"Credit owed to the client (overpaid or credited): {board.fmt(totals.credit, cur)}")


def portfolio_section(board: views.Board) -> None:
    for totals in views.portfolio(board).values():
        st.subheader(totals.currency)
        totals_metrics(board, totals)


def milestone_card(board: views.Board, project: views.ProjectView, m: views.MilestoneView) -> None:
    with st.container(border=True):
        final = " · final" if m.final else ""
        st.markdown(f"**{m.title}**{final}  \n{board.fmt(m.amount, project.currency)}")
        facts = []
        if m.due:
            facts.append(f"due {m.due.isoformat()}")
        if m.done:
            facts.append(f"done {m.done.isoformat()}")
        if m.documents:
            state = f":{STATE_COLOURS[m.payment]}[{m.payment}]" if m.payment in STATE_COLOURS else m.payment
            facts.append(f"{', '.join(m.documents)} {state}".strip())
        if facts:
            st.caption(" · ".join(facts))


def project_section(board: views.Board, project: views.ProjectView) -> None:
    st.markdown(f"### {project.title}")
    st.caption(f"{project.client_name} · {project.key} · started {project.start.isoformat()} · {project.currency}")
    if project.description:
        st.write(project.description)
    pct = int(project.progress * 100)
    st.progress(min(max(float(project.progress), 0.0), 1.0),
                text=f"{pct}% delivered: {board.fmt(project.totals.done, project.currency)} of "
                     f"{board.fmt(project.totals.contract, project.currency)}")
    totals_metrics(board, project.totals)
    if project.deposit:
        docs = ", ".join(project.deposit_documents) or "not invoiced yet"
        st.caption(f"Deposit {board.fmt(project.deposit, project.currency)} ({docs}), deducted on the final invoice")
    lanes = views.board_lanes(project)
    for col, (lane, items) in zip(st.columns(len(lanes)), lanes.items(), strict=True):
        col.markdown(f"**{LANE_ICONS[lane]} {lane.capitalize()}** ({len(items)})")
        with col:
            for m in items:
                milestone_card(board, project, m)


def invoice_files(inv: views.InvoiceView, key: str) -> None:
    """Download the PDF (or the HTML when issued with --no-pdf), and show the document inline."""
    cols = st.columns([1, 1, 3])
    if inv.pdf:
        cols[0].download_button("Download PDF", inv.pdf.read_bytes(), file_name=inv.pdf.name,
                                mime="application/pdf", key=f"pdf-{key}-{inv.number}")
    if inv.html:
        cols[1].download_button("Download HTML", inv.html.read_bytes(), file_name=inv.html.name,
                                mime="text/html", key=f"html-{key}-{inv.number}")
        if cols[2].toggle("Show document", key=f"show-{key}-{inv.number}"):
            st.components.v1.html(views.inline_html(inv.html), height=900, scrolling=True)


def invoices_table(board: views.Board, invoices: list[views.InvoiceView], key: str) -> None:
    if not invoices:
        st.info("No invoices yet.")
        return
    table(views.invoice_rows(board, invoices))
    numbers = [i.number for i in invoices]
    chosen = st.selectbox("Document", numbers, index=len(numbers) - 1, key=f"doc-{key}")
    invoice_files(next(i for i in invoices if i.number == chosen), key)


def charts(board: views.Board) -> None:
    import pandas as pd

    flows, outlook = views.over_time(board), views.ahead(board)
    left, right = st.columns(2)
    with left:
        st.markdown("**Invoiced and paid over time** (gross, running totals)")
        for cur, rows in flows.items():
            frame = pd.DataFrame({"month": [r["month"] for r in rows],
                                  "invoiced": [float(r["invoiced to date"]) for r in rows],
                                  "paid": [float(r["paid to date"]) for r in rows]}).set_index("month")
            st.caption(cur)
            st.bar_chart(frame, height=220, stack=False)
    with right:
        st.markdown("**Still to bill, by due month** (net, milestones not done yet)")
        for cur, rows in outlook.items():
            frame = pd.DataFrame({"month": [r["month"] for r in rows],
                                  cur: [float(r["amount"]) for r in rows]}).set_index("month")
            st.caption(cur)
            st.bar_chart(frame, height=220)


# --- owner ------------------------------------------------------------------------------------------------------


def owner_allowed() -> bool:
    """OIDC login (limited to BILLED_OWNER_EMAILS) when configured, else the owner password when one is set, else
    open (a local dashboard)."""
    if oidc_configured():
        if not st.user.is_logged_in:
            st.title("Billed")
            st.button("Log in", on_click=st.login)
            return False
        if not access.owner_email_ok(str(st.user.get("email", "")), setting("BILLED_OWNER_EMAILS")):
            st.error("This account may not open the owner view (the owner's addresses are listed in "
                     "BILLED_OWNER_EMAILS).")
            return False
        return True
    secret = setting("BILLED_OWNER_SECRET")
    if not secret or st.session_state.get("owner_ok"):
        return True
    st.title("Billed")
    typed = st.text_input("Owner password", type="password")
    if access.owner_ok(secret, typed):
        st.session_state["owner_ok"] = True
        st.rerun()
    if typed:
        st.error("Wrong password.")
    return False


def owner_page(root: Path) -> None:
    board = views.load(root, today())
    st.sidebar.title("Billed")
    st.sidebar.caption(f"{board.seller} · as of {board.on.isoformat()}")
    page = st.sidebar.radio("View", ["Portfolio", "Projects", "Invoices"], key="page")
    if board.findings:
        with st.expander(f"⚠️ {len(board.findings)} problems in the repo (run `billed check`)"):
            st.code("\n".join(board.findings), language=None)
    if page == "Portfolio":
        owner_portfolio(board)
    elif page == "Projects":
        owner_projects(root, board)
    else:
        owner_invoices(board)


def owner_portfolio(board: views.Board) -> None:
    st.title("Portfolio")
    portfolio_section(board)
    charts(board)
    st.markdown("#### Per client")
    rows = [{"client": board.clients.get(cid, cid), "currency": cur, **views.formatted(board, t)}
            for cid, by_cur in views.per_client(board).items() for cur, t in by_cur.items()]
    table(rows)
    st.markdown("#### Per project")
    st.dataframe(views.totals_rows(board), hide_index=True, width="stretch")


def owner_projects(root: Path, board: views.Board) -> None:
    st.title("Projects")
    if not board.projects:
        st.info("No projects yet: add one under projects/<client>/.")
        return
    client = st.selectbox("Client", ["all", *board.clients],
                          format_func=lambda c: board.clients.get(c, "All clients"))
    projects = {p.key: p for p in board.projects if client == "all" or p.client == client}
    if not projects:
        st.info("This client has no projects.")
        return
    key = st.selectbox("Project", list(projects), format_func=lambda k: projects[k].title)  # a dict: O(1) a row
    project = projects[key]
    project_section(board, project)
    st.markdown("#### Scope history")
    history = views.project_history(root, project.key)
    if history is None:
        st.caption("No git history to read (the scope history comes from the repo's commits).")
    elif not history:
        st.caption("No recorded scope changes.")
    else:
        table(views.history_rows(board, history))
    st.markdown("#### Invoices")
    invoices_table(board, views.filter_invoices(board, project=project.key), "project")


def owner_invoices(board: views.Board) -> None:
    st.title("Invoices")
    cols = st.columns(3)
    clients = cols[0].multiselect("Client", list(board.clients), format_func=lambda c: board.clients[c])
    projects = cols[1].multiselect("Project", [p.key for p in board.projects if not clients or p.client in clients])
    states = cols[2].multiselect("Status", list(dict.fromkeys([*views.STATES, *(i.state for i in board.invoices)])))
    invoices_table(board, views.filter_invoices(board, clients, projects, states), "all")


# --- client -----------------------------------------------------------------------------------------------------


def ask_for_link() -> None:
    st.title("Private project dashboard")
    st.write("This page only opens with your personal link. Please use the link you were sent, or ask for your "
             "link.")


def client_page(root: Path) -> None:
    """Only for the holder of a valid token, and built from that client's data alone (views.build(client=...))."""
    token = st.query_params.get("token")
    client = access.client_for(access.read(root), token)
    if client is None:
        ask_for_link()
        return
    board = views.load(root, today(), client=client)
    st.title(f"{board.clients.get(client, client)}")
    st.caption(f"Your projects with {board.seller} · as of {board.on.isoformat()}")
    if not board.projects:
        st.info("No projects to show yet.")
    portfolio_section(board)
    for project in board.projects:
        st.divider()
        project_section(board, project)
    st.divider()
    st.markdown("### Your invoices")
    invoices_table(board, board.invoices, "client")


def main() -> None:
    st.set_page_config(page_title="Billed", page_icon="🧾", layout="wide")
    if (setting("BILLED_MODE") or "").lower() == "client":
        try:  # repo_root() too: a misconfigured BILLED_REPO must not put a traceback on a client's screen
            client_page(repo_root())  # the owner view is not reachable from here, whatever the URL says
        except Exception:  # noqa: BLE001 - a traceback on a client's screen could show other clients' data
            traceback.print_exc()
            st.error("This page cannot be shown right now. Please try again later.")
    elif owner_allowed():
        owner_page(repo_root())


main()
