"""billed share: private dashboard links for clients (only a hash of each link is kept, in access.yaml)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from billed import api
from billed.cli._common import emit_json, json_option, repo_option, table
from billed.errors import BilledError

URL_ENV = "BILLED_DASHBOARD_URL"
DEFAULT_URL = "http://localhost:8501/"


@click.command()
@click.argument("client", required=False)
@repo_option
@click.option("--url", "base_url", default=None, metavar="URL",
              help=f"The hosted dashboard's address (default: ${URL_ENV}, else {DEFAULT_URL}).")
@click.option("--label", default="", help="A note stored with the hash, e.g. who the link is for.")
@click.option("--revoke", is_flag=True, help="Remove every link of CLIENT instead of creating one.")
@click.option("--list", "list_", is_flag=True, help="List the stored links (client, date, hash prefix).")
@json_option
def share(client: str | None, repo: Path | None, base_url: str | None, label: str, revoke: bool, list_: bool,
          as_json: bool) -> None:
    """Create a private dashboard link for CLIENT (or revoke its links).

    Prints a link with a long random token: give it to the client. Only the token's SHA-256 is written, to
    access.yaml at the repo root; commit that file so the hosted dashboard (BILLED_MODE=client) accepts the link.
    The holder sees only CLIENT's projects, milestones and invoices. The link is shown once and cannot be
    recovered: create a new one if it is lost, and revoke a client's links with --revoke (then commit).
    """
    if list_:
        grants = api.shares(repo)
        if as_json:
            emit_json([{"client": g.client, "sha256": g.sha256, "created": g.created, "label": g.label}
                       for g in grants])
        else:
            click.echo(table([[g.client, g.created, g.sha256[:12], g.label] for g in grants],
                             ["client", "created", "sha256", "label"]) if grants else "no links shared")
        return
    if not client:
        raise click.UsageError("name the CLIENT (its folder under projects/), or use --list")
    if revoke:
        n = api.unshare(repo, client)
        if as_json:
            emit_json({"client": client, "revoked": n})
        else:
            click.echo(f"revoked {n} link{'s' if n != 1 else ''} of {client}; commit access.yaml to apply it to the "
                       "hosted dashboard" if n else f"{client} had no links")
        return
    from billed.access import link

    try:
        token = api.share(repo, client, label)
    except BilledError as exc:
        raise click.ClickException(str(exc)) from None
    url = link(base_url or os.environ.get(URL_ENV) or DEFAULT_URL, token)
    if as_json:
        emit_json({"client": client, "url": url})
        return
    click.echo(url)
    if not (base_url or os.environ.get(URL_ENV)):
        click.echo(f"(a local address: pass --url or set {URL_ENV} to your hosted dashboard's address)", err=True)
    click.echo(f"Give this link to {client}; it is shown only once. Commit access.yaml so the hosted dashboard "
               "knows it.", err=True)


COMMANDS = [share]
