"""Shared fixtures: real temporary billing repos written from inline YAML, and the CLI run against them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from billed.cli import cli

TOOLKIT = Path(__file__).resolve().parents[1]
BILLED = str(Path(sys.executable).with_name("billed"))

SETTINGS = """\
seller:
  name: Studio Nord GmbH
  address: [Hafenstraße 12, 20457 Hamburg]
  country: DE
  vat_id: DE123456789
  email: billing@studio-nord.example
currency: EUR
tax_rate: 19
locale: en_GB
payment_terms: 14
bank:
  iban: DE89370400440532013000
  bic: COBADEFFXXX
pay_link: https://pay.example.com/{number}?amount={amount}&currency={currency}
numbering:
  invoice: INV-{year}-{seq:04}
  credit_note: CN-{year}-{seq:04}
  reset: yearly
"""

CLIENT = """\
name: Nordlicht Verlag GmbH
address: [Torstraße 140, 10119 Berlin]
country: DE
vat_id: DE987654321
email: rechnungen@nordlicht.example
"""


WEBSITE = """\
title: Website
start: 2026-01-05
milestones:
  - id: design
    title: Design
    amount: 1000.00
    status: done
    done: 2026-02-01
"""
"""One done milestone of 1000.00: the smallest project that issues an invoice."""


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def json(self):
        return json.loads(self.out)


def write(root: Path, files: dict[str, str | bytes]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(textwrap.dedent(text), encoding="utf-8")


def make_repo(root: Path, files: dict[str, str | bytes] | None = None, *, base: bool = True) -> Path:
    """A billing repo in `root`: billed.yaml, client `nordlicht`, the toolkit's templates, plus `files`."""
    root.mkdir(parents=True, exist_ok=True)
    if base:
        write(root, {"billed.yaml": SETTINGS, "projects/nordlicht/client.yaml": CLIENT})
    shutil.copytree(TOOLKIT / "templates", root / "templates", dirs_exist_ok=True)
    write(root, files or {})
    return root


def run(root: Path, *args: str) -> Result:
    """The CLI in-process (fast), from inside `root`, the way a user runs it."""
    runner = CliRunner()
    old = Path.cwd()
    os.chdir(root)
    try:
        result = runner.invoke(cli, list(args), catch_exceptions=True)
    finally:
        os.chdir(old)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Result(result.exit_code, result.stdout, result.stderr)


def run_process(root: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Result:
    """The real console script in a subprocess: what CI and users see, tracebacks included if any."""
    proc = subprocess.run([BILLED, *args], cwd=root, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    return Result(proc.returncode, proc.stdout, proc.stderr)


EXAMPLE = ("billed.yaml", "projects", "templates")


def copy_example(root: Path) -> Path:
    """A copy of the bundled example repo (billed.yaml, projects/, templates/), as `make example` makes it."""
    root.mkdir(parents=True, exist_ok=True)
    for name in EXAMPLE:
        src = TOOLKIT / name
        if src.is_dir():
            shutil.copytree(src, root / name, dirs_exist_ok=True)
        else:
            shutil.copy(src, root / name)
    return root


@pytest.fixture
def repo(tmp_path: Path):
    def factory(files: dict[str, str | bytes] | None = None, base: bool = True) -> Path:
        return make_repo(tmp_path / "repo", files, base=base)

    return factory


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root with its bytes: to prove a command wrote nothing."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
