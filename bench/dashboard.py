"""How fast the dashboard shows its first content in a real browser (issue 15: within 2 s at 100 projects).

Usage: python bench/dashboard.py [--projects 100] [--runs 3]

Generates a repo (bench/generate.py), renders the PDFs of one client's documents (the portal carries them inside
the page, so their size counts), grants that client a link, starts `streamlit run dashboard.py` twice on loopback
(owner and client mode, as hosted) and opens each in headless Chromium. Printed per view: the first load after
the server started (data not cached yet), then warm loads (what a visitor gets while the repo is unchanged):
  first content  the page's title (owner) or the client's greeting is on screen
  complete       the script run has finished (every element drawn)
Measured, not asserted: a timed assertion would be flaky on a shared machine. tests/test_dashboard_browser.py
checks what is shown; this file only times it.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

TOOLKIT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOOLKIT))
sys.path.insert(0, str(TOOLKIT / "bench"))
CHROMIUM = "/usr/bin/chromium"
DAY = "2026-09-30"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(repo: Path, mode: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "BILLED_REPO": str(repo), "BILLED_MODE": mode, "BILLED_DATE": DAY}
    env.pop("BILLED_OWNER_SECRET", None)
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(TOOLKIT / "dashboard.py"),
                             "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
                             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                            env=env, cwd=repo, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    for _ in range(300):
        try:
            with urllib.request.urlopen(url + "_stcore/health", timeout=1):
                return proc, url
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"streamlit did not start ({mode})")


def with_pdfs(repo: Path, client: str) -> int:
    """Render the PDFs of one client's documents from their issued HTML (the ledger is issued without PDFs)."""
    from billed.render import render_pdfs

    htmls = sorted(p for p in (repo / "invoices").glob("*/*.html")
                   if f'"client": "{client}"' in p.with_suffix(".json").read_text(encoding="utf-8"))
    for path, pdf in zip(htmls, render_pdfs([p.read_text(encoding="utf-8") for p in htmls], repo / "templates"),
                         strict=True):
        path.with_suffix(".pdf").write_bytes(pdf)
    return len(htmls)


def timed(page, url: str, first: str) -> tuple[float, float]:
    start = time.perf_counter()
    page.goto(url)
    page.get_by_text(first).first.wait_for(timeout=120_000)
    shown = time.perf_counter() - start
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=120_000)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=120_000)
    return shown, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--projects", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3, help="warm loads per view after the first")
    args = parser.parse_args()
    from generate import generate
    from playwright.sync_api import sync_playwright

    from billed import access

    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        t0 = time.perf_counter()
        milestones = generate(repo, args.projects, new=0)
        client = "client-00000"
        pdfs = with_pdfs(repo, client)
        token = access.grant(repo, client)
        print(f"{args.projects} projects, {milestones} milestones, "
              f"{len(list((repo / 'invoices').glob('*/*.json')))} documents; {client}: {pdfs} documents with PDFs "
              f"(setup {time.perf_counter() - t0:.1f} s)")
        servers = {"owner": serve(repo, "owner"), "client": serve(repo, "client")}
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
                views = {"owner": (servers["owner"][1], "Portfolio"),
                         "client (phone)": (f"{servers['client'][1]}?token={token}", "Your projects with")}
                for name, (url, first) in views.items():
                    viewport = {"width": 390, "height": 844} if "phone" in name else {"width": 1440, "height": 1000}
                    context = browser.new_context(viewport=viewport)
                    page = context.new_page()
                    cold = timed(page, url, first)
                    warm = [timed(page, url, first) for _ in range(args.runs)]
                    best = min(warm)
                    print(f"{name:15} first load: first content {cold[0]:.2f} s, complete {cold[1]:.2f} s | warm "
                          f"(best of {args.runs}): first content {best[0]:.2f} s, complete {best[1]:.2f} s")
                    context.close()
                browser.close()
            print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        finally:
            for proc, _ in servers.values():
                proc.terminate()
                proc.wait(timeout=10)


if __name__ == "__main__":
    main()
