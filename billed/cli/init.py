"""billed init / billed upgrade: a new billing office, and moving the Billed its workflows install."""

from __future__ import annotations

from pathlib import Path

import click

from billed import office
from billed.cli._common import repo_option
from billed.errors import BilledError
from billed.repo import find_root

PIN_HELP = ("The requirement the workflows install Billed from, e.g. 'billed @ git+https://github.com/you/billed@"
            "v0.2.0' (default: this Billed: its git commit when installed from git, else billed==VERSION).")


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=".")
@click.option("--pin", "billed", metavar="REQUIREMENT", default=None, help=PIN_HELP)
def init(directory: Path, billed: str | None) -> None:
    """Create a private billing office in DIRECTORY (default: here), as a git repository with a first commit.

    Writes billed.yaml (a placeholder seller: `check` warns until it is yours), an example client and project
    marked `example: true` (never billed), templates/, schemas/, .gitignore, .pre-commit-config.yaml, a README,
    and .github/: a pull-request check, the office workflow (issue, push, email, remind) and
    billed-requirements.txt, which pins this exact Billed and its packages; and for hosting the dashboard
    (Streamlit Community Cloud) streamlit_app.py, requirements.txt and .streamlit/config.toml. Refuses to
    overwrite any file.
    Inside an existing git repository the files are written but not committed.
    """
    try:
        _, created = office.init(directory, billed)
    except BilledError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Created a billing office in {directory}" + (" (git repository, first commit made)." if created else
                                                                ". Commit the files yourself."))
    click.echo("Next: put yourself under `seller:` in billed.yaml, replace projects/example-client/ with your "
               "clients, `billed check`, commit, and push to a new PRIVATE GitHub repository (docs/office.md).")


@click.command()
@repo_option
@click.option("--pin", "billed", metavar="REQUIREMENT", default=None, help=PIN_HELP)
def upgrade(repo: Path | None, billed: str | None) -> None:
    """Pin the workflows to this Billed: rewrite .github/billed-requirements.txt (Billed and its packages) and,
    where there is one, requirements.txt (the same Billed with its dashboard, for a dashboard host).

    Install the Billed you want first (e.g. pip install 'billed @ git+https://github.com/you/billed@v0.2.0'), run
    this in the billing repo, then review and commit the file; the next workflow run installs exactly that.
    """
    try:
        before, after = office.upgrade(find_root(repo), billed)
    except BilledError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{office.REQUIREMENTS}: {before} -> {after}. Review and commit it.")


COMMANDS = [init, upgrade]
