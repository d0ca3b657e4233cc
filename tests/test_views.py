"""billed/views.py: the dashboard's figures, per audience, on the issued example repo."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import time
from decimal import Decimal as D
from pathlib import Path

import pytest
from _dashboard import DAY, MARKER, OTHER_CLIENT_WORDS, example_repo
from conftest import make_repo

from billed import api, ledger, views

ON = dt.date.fromisoformat(DAY)


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return example_repo(tmp_path_factory.mktemp("views") / "repo", pdf=False)


def test_portfolio_is_per_currency_and_matches_status(example: Path) -> None:
    board = views.load(example, ON)
    totals = views.portfolio(board)
    assert list(totals) == ["EUR", "GBP"]  # never summed across currencies
    eur, gbp = totals["EUR"], totals["GBP"]
    assert (gbp.contract, gbp.done, gbp.invoiced, gbp.remaining) == (D("48000.00"), D("16800.00"), D("26400.00"),
                                                                      D("21600.00"))
    assert eur.contract == D("18500.00") + D("12345.67") + D("8999.99")
    assert eur.done == D("3500.00") + D("4938.27") + D("7000.00")
    assert eur.billed == D("3000.00") + D("3500.00") + D("5283.95") + D("4998.00") + D("3332.00")  # gross
    assert eur.paid == 0 and eur.outstanding == eur.billed  # nothing paid yet
    assert board.fmt(gbp.contract, "GBP") == "£48,000.00"


def test_per_client_and_project(example: Path) -> None:
    board = views.load(example, ON)
    clients = views.per_client(board)
    assert list(clients) == ["acme", "kaffeehaus", "nordlicht"]
    assert clients["nordlicht"]["EUR"].contract == D("21345.66")
    rows = {r["key"]: r for r in views.totals_rows(board)}
    assert rows["nordlicht/brand-refresh"]["progress"] == "77%"
    assert rows["acme/robot-portal"]["invoiced"] == "£26,400.00"


def test_milestone_board_has_lanes_documents_and_payment_state(example: Path) -> None:
    board = views.load(example, ON)
    shop = next(p for p in board.projects if p.key == "kaffeehaus/webshop")
    lanes = views.board_lanes(shop)
    assert [m.id for m in lanes["done"]] == ["wireframes"]
    assert [m.id for m in lanes["in progress"]] == ["shop"]
    assert [m.id for m in lanes["upcoming"]] == ["launch"]
    assert [m.id for m in lanes["cancelled"]] == ["newsletter"]
    wire = lanes["done"][0]
    assert wire.documents == ("INV-2026-0005",) and wire.payment == "open"
    assert shop.deposit_documents == ("INV-2026-0004",)
    assert shop.progress == D("0.1892")


def test_charts_data(example: Path) -> None:
    board = views.load(example, ON)
    flows = views.over_time(board)
    assert flows["GBP"] == [{"month": "2026-11", "invoiced": D("26400.00"), "paid": 0,
                             "invoiced to date": D("26400.00"), "paid to date": 0}]
    outlook = views.ahead(board)
    assert outlook["GBP"] == [{"month": "2026-09", "amount": D("19200.00")},
                              {"month": "2026-12", "amount": D("12000.00")}]
    assert {r["month"]: r["amount"] for r in outlook["EUR"]}["2027-01"] == D("3086.42") + D("1999.99")


def test_every_project_figure_is_what_status_prints(example: Path) -> None:
    """The board reads status's figures as Decimals (api.project_figures), not from its printed rows: they agree,
    figure for figure, rounding included."""
    board = views.load(example, dt.date(2026, 12, 20))
    rows = {r["project"]: r for r in api.status(api.load(example), on=dt.date(2026, 12, 20))}
    assert [p.key for p in board.projects] == sorted(rows)
    for p in board.projects:
        row, t = rows[p.key], p.totals
        assert (str(t.contract), str(t.done), str(t.invoiced), str(t.remaining), str(t.paid), str(t.outstanding),
                str(t.overdue), str(t.credit), str(p.deposit), str(p.progress)) == tuple(
            row[k] for k in ("total", "done", "invoiced", "remaining", "paid", "outstanding", "overdue", "credit",
                             "deposit", "progress"))
        assert list(p.deposit_documents) == row["deposit_invoiced"]
        assert [(m.id, str(m.amount), str(m.invoiced), list(m.documents), m.due and m.due.isoformat(),
                 m.done and m.done.isoformat(), m.final) for m in p.milestones] == [
            (m["id"], m["amount"], m["invoiced"], m["documents"], m["due"], m["done"], m["final"])
            for m in row["milestones"]]
    shop = next(p for p in board.projects if p.key == "kaffeehaus/webshop")
    # an Austrian business client: reverse charge, no VAT; deposit and wireframes both unpaid past their due days
    assert (shop.totals.contract, shop.totals.overdue) == (D("18500.00"), D("3000.00") + D("3500.00"))


def test_documents_link_their_files_when_they_exist(example: Path) -> None:
    board = views.load(example, ON)
    first = board.invoices[0]
    assert first.number == "INV-2026-0001" and first.pdf is None  # issued with --no-pdf
    assert first.html == example.resolve() / "invoices" / "2026" / "INV-2026-0001.html" and first.html.is_file()
    link = example / "invoices" / "2026" / "INV-2026-0001.pdf"
    try:
        link.symlink_to("nowhere.pdf")  # a link that leads nowhere is no file to offer
        assert views.load(example, ON).invoices[0].pdf is None
        link.unlink()
        link.symlink_to("INV-2026-0001.html")
        assert views.load(example, ON).invoices[0].pdf == link.resolve().parent / link.name
    finally:
        link.unlink(missing_ok=True)


def test_ahead_puts_undated_milestones_last(repo) -> None:
    root = repo({"projects/nordlicht/site.yaml": """\
        title: Site
        start: 2026-01-05
        milestones:
          - {id: a, title: A, amount: 100.00, due: 2026-03-01}
          - {id: b, title: B, amount: 50.00}
        """})
    outlook = views.build(api.load(root), ON)
    assert [r["month"] for r in views.ahead(outlook)["EUR"]] == ["2026-03", views.NO_DATE]


def test_invoice_filters(example: Path) -> None:
    board = views.load(example, ON)
    assert [i.number for i in views.filter_invoices(board, client="acme")] == [
        "INV-2026-0001", "INV-2026-0002", "INV-2026-0003"]
    assert [i.number for i in views.filter_invoices(board, project="nordlicht/brand-refresh")] == [
        "INV-2026-0007", "INV-2026-0008"]
    assert [i.number for i in views.filter_invoices(board, states=["overdue"])] == []
    both = views.filter_invoices(board, client=["acme", "kaffeehaus"], project=[])  # the owner's multi-selects
    assert {i.client for i in both} == {"acme", "kaffeehaus"} and len(both) == len(
        views.filter_invoices(board, client="acme")) + len(views.filter_invoices(board, client="kaffeehaus"))
    later = views.load(example, dt.date(2026, 12, 20))  # deposits were due on issue, the rest on 12-09
    assert len(views.filter_invoices(later, states=["overdue"])) == 8
    assert views.invoice_rows(board, board.invoices[:1])[0]["client"] == "ACME Robotics Ltd"


def test_client_board_holds_only_that_client_and_nothing_internal(example: Path) -> None:
    board = views.load(example, ON, client="acme")
    assert [p.key for p in board.projects] == ["acme/robot-portal"]
    assert [i.number for i in board.invoices] == ["INV-2026-0001", "INV-2026-0002", "INV-2026-0003"]
    assert board.clients == {"acme": "ACME Robotics Ltd"} and board.findings == []
    text = repr(board) + repr(views.over_time(board)) + repr(views.ahead(board)) + repr(views.totals_rows(board))
    assert MARKER not in text
    for word in OTHER_CLIENT_WORDS:
        assert word not in text
    owner = repr(views.load(example, ON))
    assert MARKER not in owner and "Kaffeehaus" in owner  # the owner's board has everyone, internal still never


def test_unknown_client_gets_an_empty_board(example: Path) -> None:
    board = views.load(example, ON, client="nobody")
    assert board.projects == [] and board.invoices == [] and board.clients == {}


def test_payments_show_as_paid_and_outstanding(tmp_path: Path) -> None:
    root = example_repo(tmp_path / "repo", pdf=False)
    _, problems = api.record_payment(root, "INV-2026-0002", "7200.00", dt.date(2026, 11, 28))
    assert problems == []
    board = views.load(root, dt.date(2026, 11, 30))
    gbp = views.portfolio(board)["GBP"]
    assert gbp.paid == D("7200.00") and gbp.outstanding == D("19200.00")
    portal = next(p for p in board.projects if p.key == "acme/robot-portal")
    assert portal.milestones[0].payment == "paid"
    assert views.over_time(board)["GBP"][0]["paid"] == D("7200.00")
    assert views.load(root, dt.date(2026, 11, 30), client="kaffeehaus").payments == []


def test_cache_follows_every_save(tmp_path: Path) -> None:
    root = example_repo(tmp_path / "repo", pdf=False)
    first = views.load(root, ON)
    start = time.perf_counter()
    again = views.load(root, ON)
    assert time.perf_counter() - start < 0.05  # a rerun costs a fingerprint, not a load
    assert views.portfolio(again) == views.portfolio(first)
    path = root / "projects/nordlicht/brand-refresh.yaml"
    stamp = api.fingerprint(root)
    path.write_text(path.read_text().replace("amount: 1999.99", "amount: 2999.99"))
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))  # a coarse-mtime filesystem still sees a change
    assert api.fingerprint(root) != stamp
    assert views.portfolio(views.load(root, ON))["EUR"].contract == views.portfolio(first)["EUR"].contract + 1000


def test_a_new_process_reads_the_stored_board_until_a_file_changes(example: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLED_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("BILLED_CACHE", raising=False)
    monkeypatch.setattr(ledger, "RACY_NS", 0)  # files written a moment ago may be trusted by their stat
    views.cache_clear()
    views.load(example, ON)  # (a cache's first sight of a repo writes nothing: cache.begin)
    views.cache_clear()
    built = views.load(example, ON)
    client = views.load(example, ON, client="acme")
    views.cache_clear()  # as a new process: nothing in memory
    again = views.load(example, ON)
    assert views._state.cache_info().currsize == 0  # read back, the repo was not loaded
    assert repr(again) == repr(built)  # every figure, Decimal exponents and days included
    assert views.portfolio(again)["GBP"].invoiced == D("26400.00")
    mine = views.load(example, ON, client="acme")  # each audience keeps its own board
    assert repr(mine) == repr(client) and [p.key for p in mine.projects] == ["acme/robot-portal"]
    assert views._state.cache_info().currsize == 0
    views.load(example, dt.date(2026, 11, 26))  # another day is built again
    assert views._state.cache_info().currsize == 1


def test_the_state_behind_the_boards_is_loaded_once(example: Path) -> None:
    """The portal's pay redirect needs the loaded repo itself: the one the boards were built from, not a new load."""
    views.cache_clear()
    views.load(example, ON, client="acme")
    first = views.state(example)
    assert views.state(example) is first and views._state.cache_info().currsize == 1
    assert api.pay_redirect(views.only_client(first, "acme"), "INV-2026-0003", ON) == (
        "https://pay.studio-nord.example/invoice/INV-2026-0003?amount=9600.00&currency=GBP")  # nothing paid yet


def test_a_stored_board_is_not_used_once_a_file_changed(repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLED_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("BILLED_CACHE", raising=False)
    monkeypatch.setattr(ledger, "RACY_NS", 0)
    text = "title: Site\nstart: 2026-01-05\nmilestones:\n  - {id: a, title: A, amount: 100.00}\n"
    root = repo({"projects/nordlicht/site.yaml": text})
    assert views.portfolio(views.load(root, ON))["EUR"].contract == D("100.00")
    views.cache_clear()
    (root / "projects/nordlicht/site.yaml").write_text(text.replace("100.00", "250.00"))
    assert views.portfolio(views.load(root, ON))["EUR"].contract == D("250.00")


def test_a_stored_board_names_files_as_seen_from_where_it_is_read(repo, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLED_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("BILLED_CACHE", raising=False)
    monkeypatch.setattr(ledger, "RACY_NS", 0)
    root = repo({"projects/nordlicht/site.yaml": "title: Site\nstart: 2026-13-05\nmilestones:\n"
                                                 "  - {id: a, title: A, amount: 100.00}\n"})
    monkeypatch.chdir(root)
    views.cache_clear()
    assert [f.split(":")[0] for f in views.load(root, ON).findings] == ["projects/nordlicht/site.yaml"]
    views.cache_clear()
    monkeypatch.chdir(root / "projects")
    assert [f.split(":")[0] for f in views.load(root, ON).findings] == ["nordlicht/site.yaml"]


def test_a_board_built_from_files_just_written_is_not_stored(repo, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A file written within the racy window could change again without its stat changing: not trusted yet."""
    monkeypatch.setenv("BILLED_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("BILLED_CACHE", raising=False)
    monkeypatch.setattr(ledger, "RACY_NS", 3600 * 10**9)  # everything here was written within the hour
    root = repo({"projects/nordlicht/site.yaml": "title: Site\nstart: 2026-01-05\nmilestones:\n"
                                                 "  - {id: a, title: A, amount: 100.00}\n"})
    views.load(root, ON)
    views.cache_clear()
    views.load(root, ON)
    assert views._state.cache_info().currsize == 1  # built again


def test_generated_thousand_project_repo_builds_in_seconds(tmp_path: Path) -> None:
    """The figure in docs/dashboard.md: a generated repo of 1,000 projects (no ledger here, to keep this fast)."""
    files = {}
    for c in range(200):
        files[f"projects/c{c:03}/client.yaml"] = f"name: Client {c}\naddress: [Street {c}]\ncountry: DE\n" \
                                                  f"email: c{c}@example.com\n"
        for p in range(5):
            ms = "\n".join(f"  - {{id: m{i}, title: Milestone {i}, amount: {100 + i}.00, due: 2026-{i + 1:02}-15"
                           f"{', status: done, done: 2026-0' + str(i + 1) + '-10' if i < 3 else ''}}}"
                           for i in range(10))
            files[f"projects/c{c:03}/p{p}.yaml"] = f"title: Project {p}\nstart: 2026-01-01\nmilestones:\n{ms}\n"
    root = make_repo(tmp_path / "big", files)
    start = time.perf_counter()
    board = views.load(root, ON)
    cold = time.perf_counter() - start
    assert len(board.projects) == 1000 and not board.findings
    start = time.perf_counter()
    views.portfolio(views.load(root, ON))
    warm = time.perf_counter() - start
    print(f"1,000 projects: cold build {cold:.2f}s, cached rerun {warm:.3f}s")
    assert cold < 20 and warm < 0.5


def git(root: Path, *args: str, author: str = "Ann Owner") -> None:
    subprocess.run(["git", "-c", f"user.name={author}", "-c", "user.email=a@example.com", *args], cwd=root,
                   check=True, capture_output=True)


def test_scope_history_from_git(tmp_path: Path) -> None:
    root = example_repo(tmp_path / "repo", pdf=False)
    assert views.project_history(root, "nordlicht/brand-refresh") is None  # not a git repo yet
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "Start")
    path = root / "projects/nordlicht/brand-refresh.yaml"
    path.write_text(path.read_text().replace("amount: 1999.99", "amount: 2999.99"))
    git(root, "commit", "-qam", "Templates got bigger", author="Bea Builder")
    board = views.load(root, ON)
    rows = views.history_rows(board, views.project_history(root, "nordlicht/brand-refresh"))
    assert [r["author"] for r in rows] == ["Bea Builder", "Ann Owner"]  # newest first
    assert rows[0]["changes"] == "templates: amount €1,999.99 -> €2,999.99"  # the CLI's words (history.describe)
    assert (rows[0]["total before"], rows[0]["total after"]) == ("€8,999.99", "€9,999.99")
    assert rows[0]["message"] == "Templates got bigger" and len(rows[0]["commit"]) == 7


def test_inline_document_has_its_style_and_sends_no_referrer(example: Path) -> None:
    html = views.inline_html(example / "invoices/2026/INV-2026-0002.html")
    assert '<meta name="referrer" content="no-referrer">' in html  # the page URL holds a client's token
    assert "<style>" in html and 'href="invoice.css"' not in html


def test_scope_history_when_the_billing_repo_is_a_sub_folder_of_a_git_repo(tmp_path: Path) -> None:
    top = tmp_path / "company"
    root = example_repo(top / "billing", pdf=False)
    git(top, "init", "-q")
    git(top, "add", "-A")
    git(top, "commit", "-qm", "Start")
    path = root / "projects/nordlicht/brand-refresh.yaml"
    path.write_text(path.read_text().replace("amount: 1999.99", "amount: 2999.99"))
    git(top, "commit", "-qam", "Templates got bigger", author="Bea Builder")
    rows = views.project_history(root, "nordlicht/brand-refresh")
    assert rows is not None and len(rows) == 2  # .git is not inside the billing folder: found via git itself
