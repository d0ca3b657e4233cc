"""Billed as a package: the sdist and the wheel built (the wheel from the sdist, as `python -m build` does), the
wheel installed into a fresh virtual environment, and `billed init` run from there: an installed Billed finds its
templates, schemas and office files without this source tree.

The fresh venv gets the wheel alone (`--no-deps --no-index`); its dependencies are lent from this environment
by a .pth line, so the test needs no network and stays fast. Billed's own editable install is not on that path
(an editable finder only works from a site folder it was installed in), so what runs is the wheel's copy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests._gitsandbox import GIT_ENV
from tests.conftest import TOOLKIT


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(TOOLKIT)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return out


def test_the_sdist_and_the_wheel_carry_the_data_billed_needs(dist: Path) -> None:
    (wheel,) = dist.glob("billed-*.whl")
    (sdist,) = dist.glob("billed-*.tar.gz")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("billed/_data/templates/invoice.html.j2", "billed/_data/templates/fonts/DejaVuSans.ttf",
                   "billed/_data/schemas/project.schema.json", "billed/_data/dashboard.py",
                   "billed/_office/workflows/billing-office.yml", "billed/_office/billed-push", "billed/cli/init.py",
                   "billed/_office/streamlit_app.py",  # the hosted dashboard's entrypoint that init writes
                   "billed/web/client.py", "billed/web/owner.py",  # the dashboard's pages, imported by dashboard.py
                   "billed/_data/schemas/iso20022/camt.053.001.08.xsd",  # billed import validates camt against them
                   "billed/_data/schemas/iso20022/camt.054.001.08.xsd",
                   *(f"billed/_data/schemas/iso20022/camt.05{m}.001.0{v}.xsd" for m in "34" for v in "24")):
        assert needed in names, needed
    meta = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "Requires-Dist: streamlit>=1.40; extra == \"dashboard\"" in meta  # not needed to issue
    with tarfile.open(sdist) as tar:
        members = {m.name.split("/", 1)[1] for m in tar.getmembers() if "/" in m.name}
    assert {"pyproject.toml", "billed/_office/workflows/billing-check.yml", "templates/invoice.css"} <= members


def test_the_wheel_installed_in_a_fresh_venv_runs_init(dist: Path, tmp_path: Path) -> None:
    (wheel,) = dist.glob("billed-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(subprocess.run([str(venv / "bin/python"), "-c", "import sysconfig; print(sysconfig.get_paths()"
                                "['purelib'])"], capture_output=True, text=True, check=True).stdout.strip())
    (site / "lend-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin/python"), "install",
                              "--quiet", "--no-deps", "--no-index", str(wheel)], capture_output=True, text=True)
    assert install.returncode == 0, install.stderr
    env = {**os.environ, **GIT_ENV, "PATH": f"{venv / 'bin'}{os.pathsep}/usr/bin:/bin"}
    env.pop("PYTHONPATH", None)
    where = subprocess.run([str(venv / "bin/python"), "-c", "import billed.cli, billed.resources as r; "
                            "print(billed.cli.__file__); print(r.toolkit_dir('templates'))"], cwd=tmp_path,
                           capture_output=True, text=True, env=env, check=True).stdout.split()
    assert all(p.startswith(str(site)) for p in where), where  # the wheel's copy, not this source tree

    init = subprocess.run([str(venv / "bin/billed"), "init", "office"], cwd=tmp_path, capture_output=True, text=True,
                          env=env)
    assert init.returncode == 0, init.stderr
    office = tmp_path / "office"
    log = subprocess.run(["git", "log", "--format=%s", "--name-only"], cwd=office, capture_output=True, text=True,
                         env=env, check=True).stdout
    assert log.startswith("Start the billing office (billed init, Billed 0.1.0)")
    for path in (".github/workflows/billing-office.yml", ".github/billed-requirements.txt", "templates/invoice.css",
                 "schemas/project.schema.json", ".pre-commit-config.yaml", "README.md", "streamlit_app.py",
                 "requirements.txt", ".streamlit/config.toml"):
        assert path in log, path
    pins = (office / ".github/billed-requirements.txt").read_text().splitlines()
    assert "billed==0.1.0" in pins  # installed from a file, not from git: pinned by version
    check = subprocess.run([str(venv / "bin/billed"), "check", "--json"], cwd=office, capture_output=True,
                           text=True, env=env)
    assert check.returncode == 0 and json.loads(check.stdout) == [], check.stderr
    issue = subprocess.run([str(venv / "bin/billed"), "issue"], cwd=office, capture_output=True, text=True, env=env)
    assert issue.returncode == 1 and "[E081]" in issue.stderr  # the example is never billed


def test_installed_from_a_git_commit_init_pins_that_commit(tmp_path: Path) -> None:
    """`pip install 'billed @ git+URL@COMMIT'` (what the docs tell a user): init pins exactly that commit."""
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=TOOLKIT, capture_output=True, text=True,
                            check=True).stdout.strip()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(subprocess.run([str(venv / "bin/python"), "-c", "import sysconfig; print(sysconfig.get_paths()"
                                "['purelib'])"], capture_output=True, text=True, check=True).stdout.strip())
    (site / "lend-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # setuptools too
    url = f"git+file://{TOOLKIT}@{commit}"
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin/python"), "install", "--quiet",
                              "--no-deps", "--no-index", "--no-build-isolation", f"billed @ {url}"],
                             capture_output=True, text=True, env={**os.environ, **GIT_ENV}, timeout=300)
    assert install.returncode == 0, install.stderr
    env = {**os.environ, **GIT_ENV, "PATH": f"{venv / 'bin'}{os.pathsep}/usr/bin:/bin"}
    init = subprocess.run([str(venv / "bin/billed"), "init", "office"], cwd=tmp_path, capture_output=True, text=True,
                          env=env)
    assert init.returncode == 0, init.stderr
    pins = (tmp_path / "office/.github/billed-requirements.txt").read_text().splitlines()
    assert pins[3] == f"billed @ git+file://{TOOLKIT}@{commit}"
