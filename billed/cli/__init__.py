"""The `billed` command line: a click group; each command lives in its own small module in this package.

Every module here that defines `COMMANDS` (a list of click commands) is registered, so adding a command never
touches this file. `main` is the console script: it turns every failure into one clear line and an exit code,
never a traceback (set BILLED_DEBUG=1 to see one).
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys

import click

from billed import gcpolicy, storage
from billed.errors import BilledError

EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="billed")
def cli() -> None:
    """Billed: milestone billing from plain YAML in git.

    Projects and milestones live in projects/<client>/<project>.yaml. Mark a milestone done, commit, and
    `billed issue` writes its invoice to invoices/, exactly once. Start with `billed init`, then `billed check`.
    """


for _info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
    if not _info.name.startswith("_"):
        for _command in getattr(importlib.import_module(f"{__name__}.{_info.name}"), "COMMANDS", []):
            cli.add_command(_command)


def main() -> None:
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
