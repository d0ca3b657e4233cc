"""billed watch / billed dashboard: the live preview while editing, and the Streamlit dashboard on this repo."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from billed.api import find_root
from billed.cli._common import date_option, repo_option
from billed.resources import toolkit_path

DASHBOARD = toolkit_path("dashboard.py")


@click.command()
@repo_option
@date_option
@click.option("--delay", type=float, default=0.3, show_default=True,
              help="Seconds of quiet after a save before re-checking (editors save in bursts).")
@click.option("--preview", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the HTML previews (default: .billed/preview/ in the repo, git-ignored).")
def watch(repo: Path | None, on: Any, delay: float, preview: Path | None) -> None:
    """Re-check the repo on every save and preview the documents `issue` would write.

    Watches billed.yaml, projects/ and templates/. After each save prints one line: OK with the number of
    documents that would be issued, or every problem as path:line:col: [CODE] message. The HTML of each document
    that would be issued is rendered to the preview folder (open it in a browser and reload). Nothing is issued
    and invoices/ is never touched. Stop with Ctrl-C.
    """
    from billed import gcpolicy
    from billed.watch import watch as run_watch

    gcpolicy.long_lived()  # it reloads on every save until stopped: nothing loaded may be frozen
    root = find_root(repo)
    click.echo(f"watching {root} (Ctrl-C to stop)")
    run_watch(root, on, lambda line: click.echo(line), delay, preview)


@click.command()
@repo_option
@click.option("--address", default="127.0.0.1", show_default=True,
              help="Address to listen on. The default serves this machine only; the owner view then needs no "
                   "password. Any other address (0.0.0.0: every network) requires BILLED_OWNER_SECRET or OIDC login "
                   "for the owner view.")
@click.option("--port", type=int, default=None, help="Port to serve on (default: Streamlit's, 8501).")
@click.option("--client-mode", is_flag=True,
              help="Serve the client portal only (as when hosted for clients): a valid ?token= link is required.")
@click.argument("streamlit_args", nargs=-1, type=click.UNPROCESSED)
def dashboard(repo: Path | None, address: str, port: int | None, client_mode: bool,
              streamlit_args: tuple[str, ...]) -> None:
    """Start the dashboard (Streamlit) on this billing repo.

    The owner view shows every client, project, milestone and invoice. With --client-mode (or BILLED_MODE=client)
    only the client portal is served. Streamlit's developer menu and Deploy button are hidden and no usage
    statistics are sent. Extra arguments after `--` go to `streamlit run`, e.g.
    `billed dashboard -- --server.headless true`.
    """
    import importlib.util

    if importlib.util.find_spec("streamlit") is None:
        raise click.ClickException("the dashboard needs Streamlit, an optional extra: pip install 'billed[dashboard]' "
                                   "(a development checkout: make .venv/.dev)")
    root = find_root(repo)
    env = {**os.environ, "BILLED_REPO": str(root)}
    if client_mode:
        env["BILLED_MODE"] = "client"
    cmd = [sys.executable, "-m", "streamlit", "run", str(DASHBOARD), "--server.address", address,
           "--browser.gatherUsageStats", "false",
           "--client.toolbarMode", "minimal" if env.get("BILLED_MODE") == "client" else "viewer"]
    if env.get("BILLED_MODE") == "client":
        cmd += ["--client.showErrorDetails", "none"]
    if port:
        cmd += ["--server.port", str(port)]
    cmd += list(streamlit_args)
    sys.stdout.flush()
    os.execve(sys.executable, cmd, env)  # become Streamlit: Ctrl-C and signals reach it directly, no orphan


COMMANDS = [watch, dashboard]
