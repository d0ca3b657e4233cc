"""The owner's dashboard: every client, project, milestone and document, and what needs attention."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from billed import portal, views
from billed.web.common import RESPONSIVE, file_button, table

STATE_COLOURS = {"paid": "green", "open": "blue", "overdue": "red", "partially paid": "orange", "credited": "gray",
                 "credit note": "gray"}
LANE_ICONS = {"done": ":material/task_alt:", "in progress": ":material/construction:",
              "upcoming": ":material/event:", "cancelled": ":material/block:"}  # bundled icon font, no emoji needed


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


def attention(board: views.Board) -> None:
    """Late milestones and overdue documents, before any figure: what the owner has to act on today."""
    late, overdue = portal.late_milestones(board), portal.overdue_documents(board)
    if not late and not overdue:
        return
    lines = [f"- :red[**late**] {s.title} ({s.project.client_name}, {s.project.title}): due "
             f"{s.due.isoformat() if s.due else ''}, {s.days_late} days ago" for s in late]
    lines += [f"- :red[**overdue**] {i.number} ({board.clients.get(i.client, i.client)}): "
              f"{board.fmt(i.balance, i.currency)} due {i.due_date.isoformat() if i.due_date else ''}, "
              f"{i.days_overdue} days ago" for i in overdue]
    with st.container(border=True):
        st.markdown(f"**Needs attention:** {len(late)} late milestones, {len(overdue)} overdue documents")
        st.markdown("\n".join(lines[:20]) + (f"\n\n… and {len(lines) - 20} more" if len(lines) > 20 else ""))


def portfolio_section(board: views.Board) -> None:
    for totals in views.portfolio(board).values():
        st.subheader(totals.currency)
        totals_metrics(board, totals)


def milestone_card(board: views.Board, project: views.ProjectView, m: views.MilestoneView) -> None:
    with st.container(border=True):
        final = " · final" if m.final else ""
        st.markdown(f"**{m.title}**{final}  \n{board.fmt(m.amount, project.currency)}")
        facts = []
        late = portal.days_late(m.due, m.status, board.on)
        if late:
            facts.append(f":red[**late**: due {m.due.isoformat() if m.due else ''}, {late} days ago]")
        elif m.due:
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
    cols = st.columns([1, 1, 3])  # in-page downloads: a /media URL would serve the file without the password
    if inv.pdf:
        with cols[0]:
            file_button(inv.pdf.read_bytes(), inv.pdf.name, "application/pdf", "Download PDF")
    if inv.html:
        with cols[1]:
            file_button(inv.html.read_bytes(), inv.html.name, "text/html", "Download HTML")
        if cols[2].toggle("Show document", key=f"show-{key}-{inv.number}"):
            st.iframe(views.inline_html(inv.html), height=900)


def invoices_table(board: views.Board, invoices: list[views.InvoiceView], key: str) -> None:
    if not invoices:
        st.info("No invoices yet.")
        return
    table(views.invoice_rows(board, invoices), f"invoices-{key}", ("number", "total", "state"))
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


def owner_page(root: Path, on) -> None:
    board = views.load(root, on)
    st.html(RESPONSIVE)
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
    attention(board)
    portfolio_section(board)
    charts(board)
    st.markdown("#### Per client")
    rows = [{"client": board.clients.get(cid, cid), **views.formatted(board, t)}
            for cid, by_cur in views.per_client(board).items() for t in by_cur.values()]
    table(rows, "clients", ("client", "outstanding", "overdue"))
    st.markdown("#### Per project")
    table(views.totals_rows(board), "projects", ("project", "progress", "outstanding"))


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
        table(views.history_rows(board, history), "history", ("date", "changes"))
    st.markdown("#### Invoices")
    invoices_table(board, views.filter_invoices(board, project=project.key), "project")


def owner_invoices(board: views.Board) -> None:
    st.title("Invoices")
    cols = st.columns(3)
    clients = cols[0].multiselect("Client", list(board.clients), format_func=lambda c: board.clients[c])
    projects = cols[1].multiselect("Project", [p.key for p in board.projects if not clients or p.client in clients])
    states = cols[2].multiselect("Status", list(dict.fromkeys([*views.STATES, *(i.state for i in board.invoices)])))
    chosen = views.filter_invoices(board, clients, projects, states)
    invoices_table(board, chosen, "all")
    payments = views.payment_rows(board, chosen)
    if payments:
        st.markdown("#### Payments")
        st.caption("Source: manual (`billed pay`), stripe (`billed sync stripe`), bank (`billed import`); a "
                   "negative amount reverses the payment it names.")
        table(payments, "payments", ("invoice", "amount", "source"))
