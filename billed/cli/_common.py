"""Options and output helpers shared by the commands: --repo, --json, --date, findings and tables."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from billed.errors import Finding


def repo_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--repo", "repo", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
                        help="Billing repo folder (default: the nearest folder with billed.yaml, from here up).")(f)


def json_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON on stdout.")(f)


class Day(click.ParamType):
    """A date written YYYY-MM-DD, read by date.fromisoformat (click.DateTime goes through strptime, whose first
    use imports and compiles the locale's time formats: ~4 ms of every `plan` and `status` with --date)."""

    name = "date"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> dt.date:
        if isinstance(value, dt.date):
            return value
        text = str(value)
        if len(text) == 10 and text[4] == text[7] == "-" and text.replace("-", "").isdigit() and text.isascii():
            try:
                return dt.date.fromisoformat(text)
            except ValueError:
                pass
        self.fail(f"{value!r} is not a date written YYYY-MM-DD.", param, ctx)


def date_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--date", "on", type=Day(), default=None,
                        help="The date to act on, YYYY-MM-DD (default: today). Makes runs reproducible.")(f)


def day(on: dt.date | None) -> dt.date:
    return on or dt.date.today()


def count(n: int, noun: str) -> str:
    """'1 project', '3 projects'."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def emit_json(data: Any) -> None:
    """JSON on stdout. An array is written one element per line, as it goes: still one JSON value for `jq`, a line
    per project or finding for `grep`, and fast. An indented dump goes through json's pure-Python encoder, which
    was ~30% of `status --json` at 10,000 projects and held the whole text in memory."""
    if not isinstance(data, list) or not data:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
        return
    encode = json.JSONEncoder(ensure_ascii=False, default=str).encode
    last = len(data) - 1
    click.echo("[")
    for i, item in enumerate(data):
        click.echo(f"  {encode(item)}{',' if i < last else ''}")
    click.echo("]")


def report(findings: Sequence[Finding], as_json: bool) -> None:
    """Findings on stderr for people (stdout stays clean for --json); as a JSON array on stdout for CI."""
    if as_json:
        emit_json([f.as_json() for f in findings])
        return
    for f in findings:
        click.echo(f.render(), err=True)
    if findings:
        files = len({f.path for f in findings})
        click.secho(f"{count(len(findings), 'problem')} in {count(files, 'file')}; nothing was written.", fg="red",
                    err=True)


def settled(result: Any, findings: Sequence[Finding], as_json: bool) -> bool:
    """The common end of a writing command: findings reported and exit 1 (nothing was written), or the result as
    JSON for CI. True when the command is done; False when it goes on to print its result for people."""
    if findings or result is None:
        report(findings, as_json)
        sys.exit(1)
    if as_json:
        emit_json(result)
        return True
    return False


def table(rows: Sequence[Sequence[str]], header: Sequence[str], right: set[int] | None = None) -> str:
    """A plain aligned text table (numbers right-aligned), readable in a terminal and in CI logs."""
    right = right or set()
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]

    def fmt(row: Sequence[str]) -> str:
        cells = [str(c).rjust(w) if i in right else str(c).ljust(w) for i, (c, w) in
                 enumerate(zip(row, widths, strict=False))]
        return "  ".join(cells).rstrip()

    lines = [fmt(header), "  ".join("-" * w for w in widths)]
    lines += [fmt(r) for r in rows]
    return "\n".join(lines)


def interactive() -> bool:
    return sys.stderr.isatty()
