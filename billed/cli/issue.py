"""billed plan / billed issue / billed render."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from billed import api, money
from billed.cli._common import date_option, day, emit_json, interactive, json_option, repo_option, report, table
from billed.errors import BilledError
from billed.repo import shown
from billed.titles import title

PLAN_FIELDS = ("number", "kind", "type_code", "client", "project", "issue_date", "due_date", "currency", "net",
               "tax", "total", "corrects")


def summary(doc: dict[str, Any]) -> dict[str, Any]:
    refs = [line["ref"] for line in doc["lines"] if line["role"] in ("charge", "deposit")]
    return {**{k: doc.get(k) for k in PLAN_FIELDS}, "milestones": refs, "title": title(doc)}


def plan_table(docs: list[dict[str, Any]], locale: str) -> str:
    rows = [[d["number"], title(d), f"{d['client']}/{d['project']}", ", ".join(summary(d)["milestones"]),
             money.fmt(Decimal(d["net"]), d["currency"], locale), money.fmt(Decimal(d["tax"]), d["currency"], locale),
             money.fmt(Decimal(d["total"]), d["currency"], locale), d["due_date"] or "-"] for d in docs]
    return table(rows, ["number", "document", "project", "milestone", "net", "tax", "total", "due"], {4, 5, 6})


@click.command()
@repo_option
@date_option
@json_option
def plan(repo: Path | None, on: Any, as_json: bool) -> None:
    """Show the documents `billed issue` would write now. Writes nothing.

    Exit 0 (an empty plan is fine), 1 when the repo has problems.
    """
    state = api.load(repo)
    refused = state.findings or api.guards.examples(state.repo.projects)
    if refused:
        report(refused, as_json)
        sys.exit(1)
    try:
        docs = api.plan(state, day(on))
    except BilledError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        emit_json([summary(d) for d in docs])
    elif not docs:
        click.echo("Nothing to issue: every billable milestone is invoiced.")
    else:
        click.echo(plan_table(docs, state.repo.settings.locale))
        click.echo(f"\n{len(docs)} document{'s' if len(docs) != 1 else ''} would be issued; run `billed issue`.")


@click.command()
@repo_option
@date_option
@json_option
@click.option("--no-pdf", is_flag=True, help="Write the record and HTML only (render PDFs later: `billed render`).")
@click.option("--commit", "do_commit", is_flag=True,
              help="git commit exactly the new documents (the message lists them, with a Billed-Issued trailer).")
@click.option("--push", is_flag=True, help="Also push that commit (implies --commit). If the branch moved on, drop "
              "the commit, fetch, re-plan from the new state and try again.")
@click.option("--remote", default="origin", show_default=True, help="The remote to push to.")
@click.option("--branch", default=None, help="The branch to push to (default: the current branch).")
@click.option("--retries", type=click.IntRange(0, 50), default=5, show_default=True,
              help="How many times to re-plan and push again after a rejected push.")
@click.option("--allow-dirty", is_flag=True, help="Issue although billed.yaml, projects/ or templates/ have "
              "uncommitted changes; each record then names those files in its `source`. Not with --commit.")
def issue(repo: Path | None, on: Any, as_json: bool, no_pdf: bool, do_commit: bool, push: bool, remote: str,
          branch: str | None, retries: int, allow_dirty: bool) -> None:
    """Issue the plan: write each new document to invoices/<year>/ as a record, HTML and PDF.

    Exactly once: a second run issues nothing. Nothing is written when the repo has problems. In CI, use
    `billed issue --commit --push`: two runs at the same time never issue a number twice.

    In a git repository, an invoice must come from a committed state: uncommitted, untracked or ignored files
    in billed.yaml, projects/ or templates/ are refused (E080), unless --allow-dirty. Outside git, issuing is
    allowed and the records name no commit. The example project of `billed init` is never billed (E081).
    """
    if allow_dirty and (do_commit or push):
        raise click.UsageError("--allow-dirty cannot be combined with --commit or --push: a commit must hold "
                               "exactly what its invoices were made from")
    bar = None

    def progress(done: int, total: int, number: str) -> None:
        nonlocal bar
        if as_json:
            return
        if interactive() and total > 1:
            if bar is None:
                bar = click.progressbar(length=total, label="Issuing", file=sys.stderr)
                bar.__enter__()
            bar.update(1)
        else:
            click.echo(f"issued {number} ({done}/{total})", err=True)

    try:
        if do_commit or push:
            published = api.issue_and_push(repo, day(on), pdf=not no_pdf, progress=progress,
                                           push_to=remote if push else None, branch=branch, retries=retries)
            written, findings = published.written, published.findings
            if published.attempts > 1:
                click.echo(f"{remote}/{published.branch} moved on while issuing: re-planned from it "
                           f"{published.attempts - 1} time(s).", err=True)
            if published.commit:
                where = f" and pushed it to {remote}" if published.pushed else ""
                earlier = ", ".join(r["number"] for r in published.adopted)
                also = f" (with {earlier}, issued here earlier and not committed yet)" if earlier else ""
                click.echo(f"Committed {published.commit[:7]}{where}{also}.", err=True)
        else:
            written, findings = api.issue(repo, day(on), pdf=not no_pdf, progress=progress, allow_dirty=allow_dirty)
    except BilledError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    if findings:
        report(findings, as_json)
        sys.exit(1)
    if as_json:
        emit_json([summary(d) for d in written])
        return
    if not written:
        click.echo("Nothing to issue: every billable milestone is invoiced.")
        return
    settings = api.settings(repo)  # (not a whole second load: ~5 s at 10,000 projects)
    click.echo(plan_table(written, settings.locale if settings else "en"))
    click.echo(f"\nIssued {len(written)} document{'s' if len(written) != 1 else ''} in "
               f"{shown(api.find_root(repo) / 'invoices')}/.")


@click.command()
@repo_option
def render(repo: Path | None) -> None:
    """Render the PDFs of documents issued with --no-pdf. An existing PDF is never rewritten."""
    made, findings = api.render_missing(repo)
    if findings:
        report(findings, False)
        sys.exit(1)
    click.echo(f"Rendered {len(made)} PDF{'s' if len(made) != 1 else ''}.")


COMMANDS = [plan, issue, render]
