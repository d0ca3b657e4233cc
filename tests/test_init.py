"""billed init: a new billing repo that passes check at once, and never a clobbered file."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import TOOLKIT, run, run_process, snapshot

from billed.office import files


def test_init_creates_a_valid_repo(tmp_path: Path) -> None:
    target = tmp_path / "books"
    result = run(tmp_path, "init", "books")
    assert result.code == 0, result.err
    for name in files():
        assert (target / name).is_file(), name
    for folder in ("templates", "schemas"):
        assert sorted(p.name for p in (target / folder).iterdir()) == \
            sorted(p.name for p in (TOOLKIT / folder).iterdir() if p.name not in ("__pycache__", "locale"))
    # no copy of the toolkit's catalogs (it would hide their later corrections); its words come from the toolkit
    from billed import i18n

    assert i18n.translations("de", target / "templates").gettext("Invoice") == "Rechnung"
    assert ".venv/" in (target / ".gitignore").read_text(encoding="utf-8")
    check = run(target, "check")
    assert check.code == 0, check.err
    assert check.out.startswith("OK: 1 project, 1 client, 0 issued documents verified.")
    status = run(target, "status", "--json").json
    assert [(r["project"], r["total"], r["deposit"]) for r in status] == \
        [("example-client/website", "10000.00", "2000.00")]


def test_init_in_the_current_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("unrelated files are fine\n", encoding="utf-8")
    result = run_process(tmp_path, "init")
    assert result.code == 0, result.err
    assert (tmp_path / "billed.yaml").is_file() and (tmp_path / "notes.txt").is_file()
    assert run_process(tmp_path, "check").code == 0


def test_init_refuses_to_overwrite_and_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "books"
    target.mkdir()
    (target / "billed.yaml").write_text("# mine\n", encoding="utf-8")
    before = snapshot(tmp_path)
    result = run_process(tmp_path, "init", "books")
    assert result.code == 1
    assert "refusing to overwrite" in result.err and "billed.yaml" in result.err
    assert "Traceback" not in result.err
    assert snapshot(tmp_path) == before
    assert not (target / "projects").exists()


def test_init_twice_refuses_the_second_time(tmp_path: Path) -> None:
    assert run(tmp_path, "init", "books").code == 0
    before = snapshot(tmp_path)
    second = run(tmp_path, "init", "books")
    assert second.code != 0
    assert snapshot(tmp_path) == before


def test_scaffolded_files_point_editors_at_the_schemas(tmp_path: Path) -> None:
    run(tmp_path, "init", "books")
    books = tmp_path / "books"
    for name, schema in [("billed.yaml", "billed"), ("projects/example-client/client.yaml", "client"),
                         ("projects/example-client/website.yaml", "project")]:
        first = (books / name).read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema=") and first.endswith(f"{schema}.schema.json")
        path = (books / name).parent / first.split("=", 1)[1]
        assert json.loads(path.read_text(encoding="utf-8"))["title"]


def test_upgrade_moves_the_pin_and_keeps_every_package_pinned(tmp_path: Path) -> None:
    assert run(tmp_path, "init", "books", "--pin", "billed @ git+https://example.org/studio/billed@v0.1.0").code == 0
    pins = tmp_path / "books/.github/billed-requirements.txt"
    before = pins.read_text().splitlines()
    assert before[3] == "billed @ git+https://example.org/studio/billed@v0.1.0"
    result = run(tmp_path / "books", "upgrade", "--pin", "billed @ git+https://example.org/studio/billed@v0.2.0")
    assert result.code == 0, result.err
    assert result.out.strip() == (".github/billed-requirements.txt: billed @ git+https://example.org/studio/"
                                  "billed@v0.1.0 -> billed @ git+https://example.org/studio/billed@v0.2.0. "
                                  "Review and commit it.")
    after = pins.read_text().splitlines()
    assert after[3] == "billed @ git+https://example.org/studio/billed@v0.2.0" and after[4:] == before[4:]
    # the dashboard host's requirements.txt moves with it: the same Billed, with its dashboard extra
    hosting = (tmp_path / "books/requirements.txt").read_text().splitlines()
    assert hosting[2:] == ["billed[dashboard] @ git+https://example.org/studio/billed@v0.2.0"]
    assert all("==" in line for line in after[4:]) and any(line.startswith("weasyprint==") for line in after)
    # without --pin: this Billed, an editable checkout here, is pinned by its version
    assert run(tmp_path / "books", "upgrade").code == 0
    assert pins.read_text().splitlines()[3] == "billed==0.1.0"
    assert (tmp_path / "books/requirements.txt").read_text().splitlines()[2:] == ["billed[dashboard]==0.1.0"]


def test_init_writes_a_dashboard_entrypoint_that_serves_this_repo(tmp_path: Path, monkeypatch) -> None:
    """Streamlit Community Cloud runs an entrypoint file of the repo: init writes streamlit_app.py, which runs the
    installed Billed's dashboard on the folder it sits in, whatever the working directory."""
    from streamlit.testing.v1 import AppTest

    from billed import access

    assert run(tmp_path, "init", "books", "--pin", "billed @ git+https://example.org/studio/billed@v0.1.0").code == 0
    books = tmp_path / "books"
    assert (books / "requirements.txt").read_text().splitlines()[2:] == [
        "billed[dashboard] @ git+https://example.org/studio/billed@v0.1.0"]
    assert 'showErrorDetails = "none"' in (books / ".streamlit/config.toml").read_text()
    assert ".streamlit/secrets.toml" in (books / ".gitignore").read_text().splitlines()
    assert "streamlit_app.py" in run_git(books, "ls-files")  # in the first commit
    for name in ("BILLED_REPO", "BILLED_OWNER_SECRET", "BILLED_OWNER_EMAILS", "BILLED_DATE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # not the repo: the entrypoint finds it by its own place
    monkeypatch.setattr(access, "is_local", lambda *args: True)  # AppTest has no real connection
    monkeypatch.setenv("BILLED_MODE", "owner")
    at = AppTest.from_file(str(books / "streamlit_app.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    assert "Example Client GmbH" in str([e.proto for e in at.main]) + str([e.proto for e in at.sidebar])
    monkeypatch.setenv("BILLED_MODE", "client")  # no token: the page that asks for a link, nothing else
    at = AppTest.from_file(str(books / "streamlit_app.py"), default_timeout=60).run()
    assert not at.exception and "Example Client" not in str([e.proto for e in at.main])


def run_git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout
