"""Rendering: real weasyprint PDFs read back with pypdf, byte-identical re-renders (also across processes), what an
EU invoice must carry, and the attacks: templates or fields naming host files or the network, markup in fields."""

from __future__ import annotations

import functools
import http.server
import io
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from pypdf import PdfReader

from billed.render import BlockedFetch, PdfPool, _fetcher, render_html, render_pdf, render_pdfs
from tests.conftest import CLIENT, run, run_process, write

SITE = """\
title: Website relaunch
start: 2026-01-05
milestones:
  - id: design
    title: Design and prototype
    description: Three rounds of revisions.
    deliverables: [Style guide, Clickable prototype]
    amount: 1234.56
    status: done
    done: 2026-02-01
"""


def pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


@pytest.fixture
def issued(repo) -> Path:
    root = repo({"projects/nordlicht/site.yaml": SITE})
    assert run(root, "issue", "--date", "2026-02-10").code == 0
    return root


def test_the_pdf_reads_back_with_number_buyer_and_total(issued):
    text = pdf_text(issued / "invoices/2026/INV-2026-0001.pdf")
    for expected in ("INV-2026-0001", "Nordlicht Verlag GmbH", "€1,469.13", "Design and prototype", "€234.57"):
        assert expected in text, expected
    meta = PdfReader(issued / "invoices/2026/INV-2026-0001.pdf").metadata
    assert (meta["/Title"], meta["/Author"], meta["/CreationDate"]) == ("Invoice INV-2026-0001", "Studio Nord GmbH",
                                                                        "D:20260210")  # from the record, not the clock


def test_the_invoice_carries_what_the_vat_directive_requires(issued):
    html = (issued / "invoices/2026/INV-2026-0001.html").read_text(encoding="utf-8")
    text = pdf_text(issued / "invoices/2026/INV-2026-0001.pdf")
    required = {
        "number": "INV-2026-0001", "issue date": "10 Feb 2026", "date of supply": "1 Feb 2026",
        "seller": "Studio Nord GmbH", "seller address": "Hafenstraße 12", "seller VAT id": "DE123456789",
        "buyer": "Nordlicht Verlag GmbH", "buyer address": "Torstraße 140", "buyer VAT id": "DE987654321",
        "description": "Design and prototype", "deliverables": "Clickable prototype", "net per line": "€1,234.56",
        "rate": "19%", "tax per rate": "€234.57", "total": "€1,469.13", "currency": "EUR",
        "payment terms": "within 14 days", "due date": "24 Feb 2026", "bank": "DE89 3704 0044 0532 0130 00",
    }
    missing = [name for name, value in required.items() if value not in text]
    assert not missing, missing
    for label in ("Issue date", "Date of supply", "Due date", "VAT 19%"):
        assert label in html


def test_a_credit_note_names_the_invoice_it_corrects_and_has_no_payment_request(issued):
    write(issued, {"projects/nordlicht/site.yaml": SITE.replace("status: done\n    done: 2026-02-01",
                                                                "status: cancelled")})
    assert run(issued, "issue", "--date", "2026-03-01").code == 0
    text = pdf_text(issued / "invoices/2026/CN-2026-0001.pdf")
    assert "Credit note" in text and "INV-2026-0001" in text and "Corrects invoice" in text
    assert "Please pay" not in text and "€1,469.13" in text


def test_re_rendering_a_record_is_byte_identical_also_in_another_process(issued):
    folder = issued / "invoices/2026"
    html = (folder / "INV-2026-0001.html").read_text(encoding="utf-8")
    pdf = (folder / "INV-2026-0001.pdf").read_bytes()
    assert render_pdf(html, issued / "templates") == pdf
    script = ("import sys; from pathlib import Path; from billed.render import render_pdf; "
              "sys.stdout.buffer.write(render_pdf(Path(sys.argv[1]).read_text(), Path(sys.argv[2])))")
    other = subprocess.run([sys.executable, "-c", script, str(folder / "INV-2026-0001.html"),
                            str(issued / "templates")], capture_output=True, check=True, timeout=120).stdout
    assert other == pdf


def test_the_same_repo_issued_in_two_processes_gives_identical_files(repo, tmp_path):
    first = repo({"projects/nordlicht/site.yaml": SITE})
    second = shutil.copytree(first, tmp_path / "second")
    for root in (first, second):
        assert run_process(root, "issue", "--date", "2026-02-10").code == 0
    for suffix in ("json", "html", "pdf"):
        name = f"invoices/2026/INV-2026-0001.{suffix}"
        assert (first / name).read_bytes() == (second / name).read_bytes(), suffix


def test_parallel_rendering_gives_the_same_bytes_as_serial(issued):
    templates = issued / "templates"
    doc = {"number": "X", "type_code": "380", "kind": "milestone", "currency": "EUR", "locale": "en_GB",
           "series": "invoice", "issue_date": "2026-02-10", "seller": {"name": "S", "address": [], "country": "DE"},
           "buyer": {"name": "B", "address": [], "country": "DE"}, "lines": [], "taxes": [], "total": "1.00",
           "prepaid": [], "project_title": "P"}
    htmls = [render_html({**doc, "number": f"INV-{i}"}, templates) for i in range(3)]
    assert render_pdfs(htmls, templates, workers=2) == render_pdfs(htmls, templates, workers=1)


def test_fonts_loaded_once_per_process_change_no_byte(issued, tmp_path, monkeypatch):
    """render_pdf keeps one FontConfiguration per process (fonts registered once); weasyprint's default is a
    fresh one per document. Same bytes either way, and pool workers remove the font copies they made."""
    import tempfile

    from weasyprint import HTML

    from billed import render

    templates = issued / "templates"
    html = (issued / "invoices/2026/INV-2026-0001.html").read_text(encoding="utf-8")
    fresh = HTML(string=html, base_url=templates.resolve().as_uri() + "/", url_fetcher=render._fetcher(templates)
                 ).write_pdf(pdf_identifier=b"billed", uncompressed_pdf=False)
    assert render_pdf(html, templates) == render_pdf(html, templates) == fresh
    assert render._font_config(templates) is render._font_config(templates)  # one configuration, reused
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where weasyprint copies fonts (forked workers too)
    assert render_pdfs([html] * 4, templates, workers=2) == [fresh] * 4
    assert not list(tmp_path.glob("weasyprint-*"))


def test_a_replaced_font_file_starts_a_new_font_configuration(issued, tmp_path):
    from billed import render

    templates = shutil.copytree(issued / "templates", tmp_path / "templates")
    first = render._font_config(templates)
    font = templates / "fonts" / "DejaVuSans.ttf"
    font.write_bytes(font.read_bytes() + b"\0")  # weasyprint would not look at the file again by itself
    assert render._font_config(templates) is not first


def test_a_rendering_process_leaves_no_font_copies(issued, tmp_path):
    """The process's own configuration is removed at exit (atexit), as each worker's is (a finalizer)."""
    html = issued / "invoices/2026/INV-2026-0001.html"
    script = ("import sys; from pathlib import Path; from billed.render import render_pdf, render_pdfs; "
              "h = Path(sys.argv[1]).read_text(); t = Path(sys.argv[2]); render_pdf(h, t); render_pdfs([h] * 3, t)")
    subprocess.run([sys.executable, "-c", script, str(html), str(issued / "templates")], check=True, timeout=120,
                   env={**os.environ, "TMPDIR": str(tmp_path)})
    assert not list(tmp_path.glob("weasyprint-*"))


def test_a_pool_renders_batches_ahead_on_the_same_workers_with_the_serial_bytes(issued):
    """PdfPool forks its workers once and keeps them across batches; a batch handed over before the last one was
    waited for comes back in its own order, with the bytes render_pdf gives one by one."""
    templates = issued / "templates"
    html = (issued / "invoices/2026/INV-2026-0001.html").read_text(encoding="utf-8")
    htmls = [html.replace("INV-2026-0001", f"INV-2026-000{i}") for i in range(1, 6)]
    with PdfPool(templates, workers=2) as pool:
        first = pool.start(htmls[:2])
        workers = set(pool._pool._processes)
        later = [pool.start(htmls[2:3]), pool.start(htmls[3:])]
        got = first() + later[0]() + later[1]()
        assert set(pool._pool._processes) == workers and len(workers) == 2
    assert got == [render_pdf(h, templates) for h in htmls]
    assert len(set(got)) == 5


def test_issuing_in_several_batches_writes_what_one_batch_writes(repo, tmp_path, monkeypatch):
    """write_documents hands batch n+1 to the workers before it writes batch n: same files as a single batch."""
    from billed.api import issuing

    site = SITE + "".join(f"""\
  - id: phase{i}
    title: Phase {i}
    amount: {i}00
    status: done
    done: 2026-02-0{i + 1}
""" for i in range(1, 5))
    one = repo({"projects/nordlicht/site.yaml": site})
    batched = shutil.copytree(one, tmp_path / "batched")
    assert run(one, "issue", "--date", "2026-02-10").code == 0
    monkeypatch.setattr(issuing, "write_documents", functools.partial(issuing.write_documents, batch=2))
    assert run(batched, "issue", "--date", "2026-02-10").code == 0
    names = sorted(p.name for p in (one / "invoices/2026").iterdir())
    assert len([n for n in names if n.endswith(".pdf")]) == 5
    assert names == sorted(p.name for p in (batched / "invoices/2026").iterdir())
    for name in names:
        assert (one / "invoices/2026" / name).read_bytes() == (batched / "invoices/2026" / name).read_bytes(), name
    assert run(batched, "check").code == 0


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


def test_pool_workers_end_when_their_parent_dies(issued, tmp_path):
    """A crash while the documents are written (the pool lives across the run) leaves no worker behind waiting
    forever, and no font copies."""
    script = ("import os, sys; from pathlib import Path; from billed.render import PdfPool; "
              "h = Path(sys.argv[1]).read_text(); pool = PdfPool(Path(sys.argv[2]), workers=2); pool.start([h, h])(); "
              "print(*pool._pool._processes, flush=True); os._exit(75)")
    out = subprocess.run([sys.executable, "-c", script, str(issued / "invoices/2026/INV-2026-0001.html"),
                          str(issued / "templates")], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "TMPDIR": str(tmp_path)})
    assert out.returncode == 75, out.stderr
    workers = [int(pid) for pid in out.stdout.split()]
    assert len(workers) == 2
    deadline = time.monotonic() + 30
    while any(map(_alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(map(_alive, workers))
    assert not list(tmp_path.glob("weasyprint-*"))


# --- attacks ----------------------------------------------------------------------------------------------------

class Recorder(http.server.BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        Recorder.requests.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.end_headers()
        self.wfile.write(b"body { background: red }")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server():
    Recorder.requests = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def attachments(path: Path) -> dict[str, list[bytes]]:
    return dict(PdfReader(path).attachments)


def test_a_template_cannot_pull_host_files_or_the_network_into_the_pdf(repo, tmp_path, server):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-outside-templates", encoding="utf-8")
    root = repo({"projects/nordlicht/site.yaml": SITE})
    templates = root / "templates"
    (templates / "inside.txt").write_text("harmless inside file", encoding="utf-8")
    (templates / "evil.svg").write_text(  # a logo can reach out too: SVG resources go through the same fetcher
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="10" height="10">'
        f'<image href="http://127.0.0.1:{server}/svg.png" width="5" height="5"/>'
        f'<image xlink:href="file:///etc/passwd" width="5" height="5"/></svg>', encoding="utf-8")
    (templates / "link.txt").symlink_to(secret)
    shutil.copy(secret, root / "secret.txt")  # reachable as ../secret.txt from templates/
    evil = (f'<link rel="attachment" href="/etc/passwd"><link rel="attachment" href="file:///etc/passwd">'
            f'<link rel="attachment" href="link.txt"><link rel="attachment" href="../secret.txt">'
            f'<link rel="attachment" href="fonts/../../secret.txt">'
            f'<link rel="stylesheet" href="http://127.0.0.1:{server}/style.css">'
            f'<img src="file:///etc/passwd"><img src="http://127.0.0.1:{server}/x.png">'
            f'<img src="../secret.txt"><img src="evil.svg"><object data="file:///etc/passwd"></object>'
            f'<link rel="attachment" href="inside.txt">')
    page = templates / "invoice.html.j2"
    page.write_text(page.read_text(encoding="utf-8").replace("</body>", evil + "</body>"), encoding="utf-8")
    result = run(root, "issue", "--date", "2026-02-10")
    assert result.code == 0, result.err
    pdf = root / "invoices/2026/INV-2026-0001.pdf"
    files = attachments(pdf)
    assert list(files) == ["inside.txt"]  # the control: attachments do work, for files inside templates/ only
    raw = pdf.read_bytes()
    for leaked in (b"TOPSECRET", b"root:x:0:0"):
        assert leaked not in raw and leaked.decode() not in pdf_text(pdf)
    assert Recorder.requests == []


def test_the_fetcher_serves_only_data_urls_and_files_inside_templates(tmp_path, server):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "logo.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>", encoding="utf-8")
    (tmp_path / "outside.txt").write_text("no", encoding="utf-8")
    (templates / "sneaky").symlink_to(tmp_path)
    fetch = _fetcher(templates).fetch
    assert fetch((templates / "logo.svg").as_uri()).read().startswith(b"<svg")
    assert fetch("data:text/plain,hello").read() == b"hello"
    for url in ("file:///etc/passwd", (tmp_path / "outside.txt").as_uri(), (templates / "sneaky/outside.txt").as_uri(),
                (templates / "../outside.txt").as_uri(), f"http://127.0.0.1:{server}/x", "https://example.com/",
                "ftp://127.0.0.1/x", "file://otherhost/etc/passwd", templates.as_uri()):
        with pytest.raises(BlockedFetch):
            fetch(url)
    assert Recorder.requests == []


def test_markup_in_client_and_milestone_text_is_escaped_and_harmless(repo, server):
    name = "Evil <script>alert(1)</script> {{ 7*7 }} Ltd"
    title = f"Design <img src=\"http://127.0.0.1:{server}/t.png\"> <link rel=attachment href=/etc/passwd> {{{{ 7*7 }}}}"
    root = repo({"projects/nordlicht/client.yaml": CLIENT.replace("Nordlicht Verlag GmbH", json.dumps(name)),
                 "projects/nordlicht/site.yaml": SITE.replace("Design and prototype", json.dumps(title))})
    result = run(root, "issue", "--date", "2026-02-10")
    assert result.code == 0, result.err
    html = (root / "invoices/2026/INV-2026-0001.html").read_text(encoding="utf-8")
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=\"http" not in html and "&lt;img src=" in html
    assert "<link rel=attachment" not in html and "{{ 7*7 }}" in html
    pdf = root / "invoices/2026/INV-2026-0001.pdf"
    assert attachments(pdf) == {} and Recorder.requests == []
    text = pdf_text(pdf)
    assert "<script>alert(1)</script>" in text and "{{ 7*7 }}" in text  # shown as text, never run
    assert io.BytesIO(pdf.read_bytes()).read(4) == b"%PDF"


def test_a_logo_in_templates_is_printed(repo):
    from PIL import Image

    root = repo({"projects/nordlicht/site.yaml": SITE})
    buffer = io.BytesIO()
    Image.new("RGB", (40, 20), (11, 110, 79)).save(buffer, "PNG")
    (root / "templates/logo.png").write_bytes(buffer.getvalue())
    assert run(root, "issue", "--date", "2026-02-10").code == 0
    assert '<img class="logo" src="logo.png"' in (root / "invoices/2026/INV-2026-0001.html").read_text()
    images = PdfReader(root / "invoices/2026/INV-2026-0001.pdf").pages[0].images
    assert (40, 20) in [image.image.size for image in images]


def test_the_issued_html_carries_its_styles_so_it_opens_from_invoices(issued):
    html = (issued / "invoices/2026/INV-2026-0001.html").read_text(encoding="utf-8")
    assert "<style>" in html and ".totals" in html and 'rel="stylesheet"' not in html


def test_a_repo_without_templates_issues_with_the_built_in_ones(repo):
    root = repo()
    shutil.rmtree(root / "templates")
    write(root, {"projects/nordlicht/site.yaml": """\
        title: Site
        start: 2026-01-05
        milestones:
          - {id: a, title: Alpha, amount: 1000.00, status: done, done: 2026-02-01}
        """})
    assert run(root, "check").code == 0
    result = run_process(root, "issue", "--date", "2026-02-10")
    assert result.code == 0, result.err
    text = "".join(page.extract_text() for page in PdfReader(root / "invoices/2026/INV-2026-0001.pdf").pages)
    assert "INV-2026-0001" in text and "1,190.00" in text
    assert not (root / "templates").exists()  # nothing is copied into the repo


def test_company_particulars_and_buyer_references_are_printed(repo):
    from tests.conftest import SETTINGS

    company = ("  register_court: Amtsgericht Hamburg\n  register_number: HRB 123456\n"
               "  managing_directors: [Jana Nord, Ole Berg]\n  share_capital: 25.000 EUR\n")
    root = repo({"billed.yaml": SETTINGS.replace("  vat_id: DE123456789\n", "  vat_id: DE123456789\n" + company),
                 "projects/nordlicht/client.yaml": CLIENT + "buyer_reference: 991-12345-67\n",
                 "projects/nordlicht/site.yaml": SITE.replace("start: 2026-01-05", "start: 2026-01-05\n"
                                                              "purchase_order: PO-4711\ndeposit: 500.00")
                 .replace("    done: 2026-02-01\n", "    done: 2026-02-01\n    final: true\n")})
    assert run(root, "issue", "--date", "2026-01-10").code == 0  # the deposit alone
    text = pdf_text(root / "invoices/2026/INV-2026-0001.pdf")
    for expected in ("Amtsgericht Hamburg, HRB 123456", "Managing directors: Jana Nord, Ole Berg",
                     "Share capital: 25.000 EUR", "991-12345-67", "PO-4711", "Prepayment invoice"):
        assert expected in text, expected
    assert "Date of supply" not in text and "Project start" not in text  # a prepayment has no date of supply
