"""The `billed` command line: a click group; each command lives in its own small module in this package.

Each module defines `COMMANDS` (a list of click commands) and `WHERE` below names the module of every command, so
that running one imports only its own module: start-up is most of a small run, and `billed check` has no use for
what `send` or `watch` import. A command missing from `WHERE` fails tests/test_cli.py. `main` is the console
script: it turns every failure into one clear line and an exit code, never a traceback (set BILLED_DEBUG=1 to
see one).
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from billed import gcpolicy, storage
from billed.errors import BilledError

EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3


# command -> the module of this package that defines it (in its COMMANDS)
WHERE = {"aging": "export", "check": "check", "dashboard": "watch", "export": "export", "history": "history",
         "import": "statement", "init": "init", "interest": "interest", "issue": "issue", "pay": "pay",
         "payments": "pay", "plan": "issue", "refund": "pay", "remind": "mail", "render": "issue", "send": "mail",
         "share": "share", "status": "status", "sync": "sync", "upgrade": "init", "verify": "check",
         "watch": "watch"}


class Commands(click.Group):
    """A group that imports a command's module when the command is asked for (run, helped or listed)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(WHERE)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            # an unknown name loads them all: click's "Did you mean 'check'?" looks through self.commands
            for module in [WHERE[cmd_name]] if cmd_name in WHERE else sorted(set(WHERE.values())):
                for command in importlib.import_module(f"{__name__}.{module}").COMMANDS:
                    self.add_command(command)
        return self.commands.get(cmd_name)


def every_command() -> dict[str, click.Command]:
    """Each command by name, every module imported (for the tests and the docs)."""
    for name in WHERE:
        cli.get_command(click.Context(cli), name)
    return dict(cli.commands)


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="billed")
def cli() -> None:
    """Billed: milestone billing from plain YAML in git.

    Projects and milestones live in projects/<client>/<project>.yaml. Mark a milestone done, commit, and
    `billed issue` writes its invoice to invoices/, exactly once. Start with `billed init`, then `billed check`.
    """


# Reading commands: no thread, pool or temporary file outlives them and every file they write is closed, so their
# process may end without freeing what they loaded (`hard_exit`).
READING = {"check", "verify", "plan", "status"}


def main() -> None:
    if sys.argv[1:2] and sys.argv[1] in READING:
        gcpolicy.keep_loaded()  # it ends in hard_exit: what it loads is not freed on the way there either
    try:
        _main()
    except SystemExit as end:
        if sys.argv[1:2] and sys.argv[1] in READING and (end.code is None or isinstance(end.code, int)):
            hard_exit(end.code or 0)
        raise


def hard_exit(code: int) -> None:
    """End the process at once, as mypy does: tearing down the heap of a loaded repo frees every object one by
    one (~20 ms CPU at 1,000 projects, ~45 ms at 10,000) for a process that is gone a moment later. Output is
    flushed first; when that fails (a closed pipe), the normal exit reports it as before."""
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:  # (None: started with the stream closed)
                stream.flush()
    except (OSError, ValueError):
        return
    os._exit(code)


def _main() -> None:
    gcpolicy.short_lived()  # what a command loads lives until it exits (billed/gcpolicy.py)
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except BilledError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_FINDINGS)
    except OSError as exc:
        disk = storage.full(exc)
        if disk is None:
            raise_internal(exc)
        click.echo(f"error: {disk}", err=True)
        sys.exit(EXIT_FINDINGS)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # the last line of defence: a bug, reported without a traceback
        raise_internal(exc)
    sys.exit(0)


def raise_internal(exc: Exception) -> None:
    if os.environ.get("BILLED_DEBUG"):
        raise exc
    click.echo(f"internal error: {type(exc).__name__}: {exc}\n"
               "This is a bug in Billed; rerun with BILLED_DEBUG=1 and report the traceback.", err=True)
    sys.exit(EXIT_INTERNAL)
