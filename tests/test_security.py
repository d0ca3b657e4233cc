"""Security: names and patterns cannot steer a write outside invoices/, client text cannot inject markup or make
weasyprint fetch anything outside templates/, and one client's dashboard link cannot see another client's data.

Every write test snapshots the repo's PARENT folder (and the repo minus invoices/) before and after, so a file
written anywhere else, even next to the repo, fails it.
"""

from __future__ import annotations

import datetime as dt
import http.server
import os
import threading
from pathlib import Path

import pytest
from conftest import CLIENT, SETTINGS, make_repo, run, run_process, snapshot
from conftest import WEBSITE as PROJECT


def outside(parent: Path, repo: Path) -> dict[str, bytes]:
    """Every file under `parent` except the repo's invoices/ (the only place Billed may write)."""
    return {k: v for k, v in snapshot(parent).items()
            if not k.startswith(str((repo / "invoices").relative_to(parent)) + os.sep)}


def issue_everywhere(root: Path, parent: Path) -> list[int]:
    """check, plan and issue (in-process and through the console script): the exit codes."""
    codes = [run(root, "check").code, run(root, "plan", "--date", "2026-03-01").code]
    codes.append(run(root, "issue", "--no-pdf", "--date", "2026-03-01").code)
    proc = run_process(root, "issue", "--no-pdf", "--date", "2026-03-01")
    assert "Traceback" not in proc.err and "internal error" not in proc.err, proc.err
    codes.append(proc.code)
    return codes


BAD_PATTERNS = ["../{seq}", "../../x-{seq}", "/tmp/billed-{seq}", "{seq}/../../x", "INV/{seq}", "..{seq}",
                "INV-{seq}\\..\\x", "~/{seq}", "INV-{year}-{seq}\x00", "{seq:04}/x", "INV {seq}", ".{seq}",
                "INV-{seq!r}", "{seq.__class__}", "{year[0]}-{seq}", "{0}{seq}"]


@pytest.mark.parametrize("pattern", BAD_PATTERNS)
def test_numbering_patterns_cannot_escape_invoices(tmp_path: Path, pattern: str) -> None:
    settings = SETTINGS.replace("invoice: INV-{year}-{seq:04}", f"invoice: {pattern!r}".replace("\\\\", "\\"))
    settings = settings.replace("invoice: '", "invoice: \"").replace("'\n", "\"\n") if "\x00" in pattern else settings
    root = make_repo(tmp_path / "repo", {"projects/nordlicht/web.yaml": PROJECT})
    (root / "billed.yaml").write_text(settings, encoding="utf-8")
    before = outside(tmp_path, root)
    codes = issue_everywhere(root, tmp_path)
    assert outside(tmp_path, root) == before, "a file was written outside invoices/"
    assert codes[0] == 1, f"pattern {pattern!r} was accepted"
    assert not list((root / "invoices").rglob("*.json")) if (root / "invoices").exists() else True
    assert not Path("/tmp/billed-1").exists()


@pytest.mark.parametrize("name", ["...", "..x", "a b", "UPPER", "x" * 80, "-lead", "é", "a.b", "a:b", "a\\b"])
def test_client_folder_names_are_checked(tmp_path: Path, name: str) -> None:
    root = make_repo(tmp_path / "repo", base=False)
    (root / "billed.yaml").write_text(SETTINGS, encoding="utf-8")
    folder = root / "projects" / name
    folder.mkdir(parents=True)
    (folder / "client.yaml").write_text(CLIENT, encoding="utf-8")
    (folder / "web.yaml").write_text(PROJECT, encoding="utf-8")
    before = outside(tmp_path, root)
    codes = issue_everywhere(root, tmp_path)
    if not name.startswith("."):  # dot folders are skipped, never read (so nothing is issued from them either)
        assert codes[0] == 1 and codes[2] == 1
    assert outside(tmp_path, root) == before
    assert not (root / "invoices").exists() or not list((root / "invoices").rglob("*.json"))


@pytest.mark.parametrize("stem", ["..", "..x", "a b", "Web", ".hidden-but-yaml", "x" * 80, "a.b"])
def test_project_file_names_are_checked(tmp_path: Path, stem: str) -> None:
    root = make_repo(tmp_path / "repo")
    (root / "projects" / "nordlicht" / f"{stem}.yaml").write_text(PROJECT, encoding="utf-8")
    before = outside(tmp_path, root)
    codes = issue_everywhere(root, tmp_path)
    assert outside(tmp_path, root) == before
    if not stem.startswith("."):  # dot files are skipped (editor swap files), never read
        assert codes[0] == 1
    assert not (root / "invoices").exists() or not list((root / "invoices").rglob("*.json"))


@pytest.mark.parametrize("mid", ["../../x", "/etc/passwd", "a\x00b", "a/b", "..", "A", "a b", "x" * 60, "-a",
                                 "{seq}", "%2e%2e%2f"])
def test_milestone_ids_are_checked(tmp_path: Path, mid: str) -> None:
    text = PROJECT.replace("id: design", f"id: {mid!r}" if "\x00" not in mid else 'id: "a\\0b"')
    root = make_repo(tmp_path / "repo", {"projects/nordlicht/web.yaml": text})
    before = outside(tmp_path, root)
    codes = issue_everywhere(root, tmp_path)
    assert codes[0] == 1 and codes[2] == 1
    assert outside(tmp_path, root) == before


def test_symlinked_year_folder_is_not_followed_outside(tmp_path: Path) -> None:
    """invoices/2026 pointing elsewhere: issuing must refuse, not write through the link."""
    root = make_repo(tmp_path / "repo", {"projects/nordlicht/web.yaml": PROJECT})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / "invoices").mkdir()
    (root / "invoices" / "2026").symlink_to(elsewhere, target_is_directory=True)
    proc = run_process(root, "issue", "--no-pdf", "--date", "2026-03-01")
    assert proc.code == 1 and "symlink" in proc.err, proc.err
    assert list(elsewhere.iterdir()) == [], "a document was written through a symlink outside invoices/"


def test_symlinked_lock_file_does_not_truncate_its_target(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"projects/nordlicht/web.yaml": PROJECT})
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    (root / "invoices").mkdir()
    (root / "invoices" / ".lock").symlink_to(precious)
    proc = run_process(root, "issue", "--no-pdf", "--date", "2026-03-01")
    assert proc.code == 1 and "symlink" in proc.err, proc.err
    assert precious.read_text() == "keep me"


def test_symlinked_invoices_folder_is_not_followed_outside(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"projects/nordlicht/web.yaml": PROJECT})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / "invoices").symlink_to(elsewhere, target_is_directory=True)
    proc = run_process(root, "issue", "--no-pdf", "--date", "2026-03-01")
    assert proc.code == 1 and "symlink" in proc.err, proc.err
    written = list(elsewhere.rglob("*"))
    assert written == [], f"wrote through invoices -> {elsewhere}: {written}"


INJECTION = {
    "name": "<script>alert('x')</script> & <b>Co</b>",
    "title": "{{ 7*7 }} {% raw %}<img src=\"file:///etc/passwd\">",
}


def test_client_text_is_escaped_in_documents(tmp_path: Path) -> None:
    client = CLIENT.replace("name: Nordlicht Verlag GmbH", f"name: {INJECTION['name']!r}".replace("\\'", "''"))
    project = PROJECT.replace("title: Design", f"title: '{INJECTION['title']}'")
    root = make_repo(tmp_path / "repo", {"projects/nordlicht/client.yaml": client,
                                         "projects/nordlicht/web.yaml": project})
    assert run(root, "issue", "--no-pdf", "--date", "2026-03-01").code == 0
    html = next((root / "invoices").glob("*/*.html")).read_text(encoding="utf-8")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<b>Co</b>" not in html
    assert "{{ 7*7 }}" in html and "49" not in html.split("{{ 7*7 }}")[0][-5:]
    assert '<img src="file:///etc/passwd">' not in html and "&lt;img" in html


class _Counter(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        _Counter.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.end_headers()
        self.wfile.write(b"body{}")

    def log_message(self, *args: object) -> None:
        pass


def test_weasyprint_fetches_nothing_outside_templates(tmp_path: Path) -> None:
    """A template (replaceable by the user, so untrusted) that links the network, /etc and a parent folder."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    secret = tmp_path / "secret.css"
    secret.write_text("body { background: red }")
    root = make_repo(tmp_path / "repo", {"projects/nordlicht/web.yaml": PROJECT})
    template = root / "templates" / "invoice.html.j2"
    evil = (f'<link rel="stylesheet" href="http://127.0.0.1:{port}/x.css">'
            f'<link rel="stylesheet" href="file://{secret}"><link rel="stylesheet" href="../../secret.css">'
            f'<img src="http://127.0.0.1:{port}/i.png"><img src="file:///etc/hostname">'
            f'<style>@import url("http://127.0.0.1:{port}/imp.css");</style>')
    template.write_text(template.read_text(encoding="utf-8").replace("</head>", evil + "</head>"), encoding="utf-8")
    try:
        result = run_process(root, "issue", "--date", "2026-03-01")
    finally:
        server.shutdown()
    assert "Traceback" not in result.err, result.err
    assert _Counter.hits == [], f"weasyprint fetched {_Counter.hits}"
    if result.code == 0:  # rendered without the blocked resources
        assert next((root / "invoices").glob("*/*.pdf")).read_bytes().startswith(b"%PDF")


# --- the dashboard: one client's link never shows another client's data -----------------------------------------

TWO_CLIENTS = {
    "projects/nordlicht/web.yaml": PROJECT,
    "projects/rival/client.yaml": CLIENT.replace("Nordlicht Verlag GmbH", "Rival Secret AG")
                                        .replace("DE987654321", "DE111111111"),
    "projects/rival/secret-plan.yaml": PROJECT.replace("Website", "Confidential merger")
                                              .replace("title: Design", "title: Due diligence")
                                              .replace("1000.00", "777777.00"),
}


@pytest.fixture
def two_clients(tmp_path: Path) -> Path:
    root = make_repo(tmp_path / "repo", TWO_CLIENTS)
    assert run(root, "issue", "--no-pdf", "--date", "2026-03-01").code == 0
    return root


def test_a_token_opens_only_its_own_client(two_clients: Path) -> None:
    access = pytest.importorskip("billed.access")
    token_a = access.grant(two_clients, "nordlicht")
    token_b = access.grant(two_clients, "rival")
    grants = access.read(two_clients)
    assert access.client_for(grants, token_a) == "nordlicht"
    assert access.client_for(grants, token_b) == "rival"
    for forged in ["", None, token_a[:-1], token_a + "x", token_a.upper(), " " + token_a, token_b[:20],
                   access.digest(token_a), "nordlicht", "rival", "*", "../rival", "x" * 10_000]:
        assert access.client_for(grants, forged) is None, forged
    access.revoke(two_clients, "rival")
    assert access.client_for(access.read(two_clients), token_b) is None
    assert access.client_for(access.read(two_clients), token_a) == "nordlicht"


def test_tampered_access_file_fails_closed(two_clients: Path) -> None:
    access = pytest.importorskip("billed.access")
    for text in ["tokens: [", "tokens: {a: b}", "tokens:\n  - client: rival\n", "- 1\n", "\xff",
                 "tokens:\n  - client: [rival]\n    sha256: x\n", "tokens:\n  - client: rival\n    sha256: ''\n"]:
        (two_clients / access.FILE).write_text(text, encoding="utf-8", errors="surrogateescape")
        grants = access.read(two_clients)
        assert access.client_for(grants, "") is None and access.client_for(grants, "anything") is None


def test_client_view_holds_nothing_of_another_client(two_clients: Path) -> None:
    views = pytest.importorskip("billed.views")
    on = dt.date(2026, 3, 1)
    owner = views.load(two_clients, on)
    rival_numbers = [i.number for i in owner.invoices if i.client == "rival"]
    assert rival_numbers, "the rival client must have invoices for this test to mean anything"
    board = views.load(two_clients, on, client="nordlicht")
    dump = repr(board)
    for secret in ["rival", "Rival Secret AG", "Confidential merger", "Due diligence", "777", *rival_numbers]:
        assert secret not in dump, f"{secret!r} leaked into the nordlicht board"
    assert {p.client for p in board.projects} == {"nordlicht"}
    for probe in ["rival", "../rival", "", "nordlicht/../rival", "*", "NORDLICHT"]:
        other = views.load(two_clients, on, client=probe)
        if probe != "rival":
            assert other.projects == [] and other.invoices == [], probe
