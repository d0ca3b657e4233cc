"""billed check / billed verify."""

from __future__ import annotations

import datetime as dt
import os
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from billed import api, money
from billed.cli._common import count, emit_json, json_option, repo_option, report
from billed.cli.issue import plan_table, summary
from billed.errors import BilledError, Finding
from billed.titles import title


@click.command()
@repo_option
@json_option
@click.option("--base", metavar="REV", default=None,
              help="Also review the change since REV (e.g. origin/main): any file under invoices/ that it "
              "adds, edits, deletes or renames is an error (E061), and the documents merging it would issue are shown.")
@click.option("--summary", "summary_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Append the result as Markdown to FILE (default with --base: $GITHUB_STEP_SUMMARY, the job "
              "summary page in GitHub Actions).")
def check(repo: Path | None, as_json: bool, base: str | None, summary_file: Path | None) -> None:
    """Validate every file of the billing repo and verify the issued documents.

    Prints each problem as path:line:col: [CODE] message, with a hint, all at once, sorted by file and line.
    With --base, --json prints {"findings": [...], "plan": [...]}. Warnings (W001 the placeholder seller of
    `billed init`, W002 its example project) go to stderr and do not change the exit code.
    Exit 0 when clean, 1 when there are problems, 2 on a usage error.
    """
    state = api.load(repo)
    findings, docs = list(state.findings), []
    if base:
        try:
            extra, docs = api.check_base(state, base, dt.date.today())
        except BilledError as exc:
            raise click.ClickException(str(exc)) from None
        findings = sorted(set(findings + extra))
    if as_json and base:
        emit_json({"findings": [f.as_json() for f in findings], "plan": [summary(d) for d in docs]})
    else:
        report(findings, as_json)
    warned = api.guards.warnings(state.repo.settings, state.repo.projects) if state.ok else []
    warned += state.warnings  # languages without a catalog (W003)
    if not as_json:
        for w in warned:
            click.secho(f"warning: {w.render()}", fg="yellow", err=True)
    if not findings and not as_json:
        click.echo(f"OK: {count(len(state.repo.projects), 'project')}, {count(len(state.repo.clients), 'client')}, "
                   f"{count(len(state.ledger.records), 'issued document')} verified.")
    if base and not as_json and state.ok:
        locale = state.repo.settings.locale if state.repo.settings else "en"
        click.echo(f"\nMerging this will issue:\n{plan_table(docs, locale)}" if docs else
                   "\nMerging this issues no new document.")
    job_summary = os.environ.get("GITHUB_STEP_SUMMARY") if base else None  # the PR review is what it is for
    summary_file = summary_file or (Path(job_summary) if job_summary else None)
    if summary_file:
        with open(summary_file, "a", encoding="utf-8") as handle:
            handle.write(markdown(findings, docs, base, state.repo.settings.locale if state.repo.settings else "en",
                                  warned))
    sys.exit(1 if findings else 0)


def markdown(findings: list[Finding], docs: list[dict[str, Any]], base: str | None, locale: str,
             warned: list[Finding] | None = None) -> str:
    """The job summary: problems first, then what merging would issue, as a sentence and a table."""
    out = ["### Billed", ""]
    if warned:
        out += ["Warnings:", "", "```", *(w.render() for w in warned), "```", ""]
    if findings:
        out += [f"**{count(len(findings), 'problem')}**, fix before merging:", "", "```",
                *(f.render() for f in findings), "```", ""]
    if docs:
        def cell(text: Any) -> str:
            return str(text).replace("|", "\\|")

        def amount(d: dict[str, Any], key: str = "total") -> str:
            return money.fmt(Decimal(d[key]), d["currency"], locale)

        out.append("Merging this will issue " + "; ".join(f"{d['number']}, {amount(d)} to {d['buyer']['name']}"
                                                           for d in docs) + ".")
        out += ["", "| Number | Document | Client | Project | Milestones | Net | Tax | Total | Due |",
                "|---|---|---|---|---|--:|--:|--:|---|"]
        out += ["| " + " | ".join(cell(x) for x in (d["number"], title(d), d["buyer"]["name"], d["project"],
                                                      ", ".join(summary(d)["milestones"]), amount(d, "net"),
                                                      amount(d, "tax"), amount(d), d["due_date"] or "-")) + " |"
                for d in docs]
    elif base and not findings:
        out.append("Merging this issues no new document.")
    return "\n".join(out) + "\n\n"


@click.command()
@repo_option
@json_option
def verify(repo: Path | None, as_json: bool) -> None:
    """Check that no issued document under invoices/ was edited, deleted, inserted or renumbered.

    Walks the SHA-256 hash chain of each series, and takes git as witness: each committed record must have
    entered history in Billed's issuing commit (its Billed-Issued trailer), and no issued record may be gone.
    Exit 1 with the path of every damaged file.
    """
    from billed import ledger, witness
    from billed.repo import find_root

    root = find_root(repo)
    state = api.load(root, verify=False)
    problems, warned = witness.findings(root, state.ledger.records)
    found = sorted(ledger.verify(state.ledger, state.yearly) + problems)
    report(found, as_json)
    if not as_json:
        for w in warned:  # W004: a shallow clone
            click.secho(f"warning: {w.render()}", fg="yellow", err=True)
    if not found and not as_json:
        click.echo(f"OK: {len(state.ledger.records)} issued documents, hash chains intact.")
    sys.exit(1 if found else 0)


COMMANDS = [check, verify]
