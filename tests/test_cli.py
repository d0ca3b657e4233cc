"""The command line as users and CI meet it: help everywhere, exit codes, finding the repo, and the README."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from conftest import CLIENT, TOOLKIT, copy_example, make_repo, run, run_process, snapshot

from billed.cli import WHERE, every_command

README = (TOOLKIT / "README.md").read_text(encoding="utf-8")


COMMANDS = every_command()


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help(name: str, tmp_path: Path) -> None:
    command = COMMANDS[name]
    assert (command.help or "").strip(), f"`billed {name}` has no help text"
    assert (command.short_help or command.help.split("\n")[0]).strip()
    result = run(tmp_path, name, "--help")
    assert result.code == 0
    assert f"Usage: cli {name}" in result.out or f"Usage: billed {name}" in result.out
    for param in command.params:
        if param.param_type_name == "option":
            assert param.help, f"`billed {name} {param.opts[0]}` has no help text"


def test_every_command_is_found_in_its_module() -> None:
    """`billed X` imports only the module WHERE names for X: a command missing there would never be found."""
    import importlib
    import pkgutil

    import billed.cli

    found = {command.name: info.name for info in pkgutil.iter_modules(billed.cli.__path__)
             if not info.name.startswith("_")
             for command in importlib.import_module(f"billed.cli.{info.name}").COMMANDS}
    assert found == WHERE


def test_a_mistyped_command_is_told_the_nearest_one(tmp_path: Path) -> None:
    result = run_process(tmp_path, "chek")
    assert result.code == 2
    assert "Error: No such command 'chek'. Did you mean 'check'?" in result.err


# What no reading command imports, nor `issue` when there is nothing to issue (most runs on main): other commands,
# rendering, e-invoices, mail, payment providers, the dashboard, and jsonschema while every file is valid
# (billed/fastschema.py). Start-up is most of a small run.
NOT_AT_START = {"billed.cli.export", "billed.cli.history", "billed.cli.init", "billed.cli.interest", "billed.cli.mail",
                "billed.cli.pay", "billed.cli.share", "billed.cli.statement", "billed.cli.sync", "billed.cli.watch",
                "billed.render", "billed.einvoice", "billed.qr", "billed.mail", "billed.office", "billed.portal",
                "billed.views", "billed.stripe_sync", "billed.banks", "billed.reconcile", "weasyprint", "jinja2",
                "lxml", "segno", "streamlit", "smtplib", "jsonschema", "importlib.metadata", "difflib",
                "secrets", "_strptime"}


@pytest.mark.parametrize("args", [("check",), ("plan", "--date", "2026-11-25"), ("status",), ("verify",),
                                  ("issue", "--date", "2026-01-01")])  # (nothing to issue then)
def test_a_command_imports_only_what_it_needs(args: tuple[str, ...], tmp_path: Path) -> None:
    """The real console script's `main` in a fresh interpreter; what it imported is read when it exits."""
    import subprocess
    import sys

    root = copy_example(tmp_path / "repo")
    seen = tmp_path / "modules.txt"
    script = ("import atexit, os, sys; out, end = sys.argv[1], os._exit\n"
              "def seen(): open(out, 'w').write(' '.join(sys.modules))\n"
              "atexit.register(seen); os._exit = lambda code: (seen(), end(code))  # (cli.hard_exit)\n"
              "sys.argv = ['billed', *sys.argv[2:]]; from billed.cli import main; main()")
    proc = subprocess.run([sys.executable, "-c", script, str(seen), *args], cwd=root, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "BILLED_CACHE_DIR": str(tmp_path / "cache")})
    assert proc.returncode == 0, proc.stderr
    modules = set(seen.read_text(encoding="utf-8").split())
    assert f"billed.cli.{WHERE[args[0]]}" in modules and "billed.api" in modules  # (it did run)
    assert modules & NOT_AT_START == set()


@pytest.mark.parametrize("written", ["2026-02-30", "26-02-01", "20260201", "2026-W05-1", "2026-02-01T10:00", "",
                                     "\uff12\uff10\uff12\uff16-02-01"])
def test_a_date_is_written_yyyy_mm_dd_or_refused_as_a_usage_error(written: str, tmp_path: Path) -> None:
    root = copy_example(tmp_path / "repo")
    result = run_process(root, "plan", "--date", written)
    assert result.code == 2 and f"Invalid value for '--date': {written!r} is not a date written YYYY-MM-DD" in \
        result.err and "Traceback" not in result.err
    assert run_process(root, "status", "--date", "2026-02-28", "--json").code == 0


def test_group_help_and_version(tmp_path: Path) -> None:
    result = run_process(tmp_path, "--help")
    assert result.code == 0 and "Commands:" in result.out
    assert run_process(tmp_path, "--version").code == 0


def test_clean_repo_exits_0_with_a_summary(tmp_path: Path) -> None:
    root = copy_example(tmp_path / "repo")
    result = run(root, "check")
    assert result.code == 0, result.err
    assert result.out.startswith("OK: 4 projects, 3 clients, 0 issued documents verified.")
    as_json = run(root, "check", "--json")
    assert as_json.code == 0 and json.loads(as_json.out) == []


def test_a_reading_command_keeps_what_it_loaded_until_its_hard_exit(tmp_path: Path) -> None:
    """plan returns from its command function before the process ends: the repo it loaded must not be freed
    object by object on the way (gcpolicy.keep_loaded), as check's, ended by sys.exit, never was. Asked in a
    fresh interpreter, as the console script runs it; a writing command keeps nothing."""
    root = copy_example(tmp_path / "repo")
    script = ("import os, sys; from billed import gcpolicy; end = os._exit\n"
              "os._exit = lambda code: (print(len(gcpolicy._kept), file=sys.stderr), end(code))\n"
              "sys.argv = ['billed', *sys.argv[1:]]; from billed.cli import main; main()")
    for args, kept in ((["plan", "--date", "2026-11-25"], "1"), (["status"], "1"), (["check"], "1")):
        proc = subprocess.run([sys.executable, "-c", script, *args], cwd=root, capture_output=True, text=True,
                              timeout=60, env={**os.environ, "BILLED_CACHE_DIR": str(tmp_path / "cache")})
        assert proc.returncode == 0 and proc.stderr.split()[-1:] == [kept], (args, proc.stderr)
    from billed import api, gcpolicy

    assert not gcpolicy._keep and api.load(root) is not None and gcpolicy._kept == []  # (this process: no)


def test_a_reading_command_ends_with_its_output_complete(tmp_path: Path) -> None:
    """check, status, plan and verify end their process at once (cli.hard_exit): all their output still arrives
    through the pipe, and the exit code is theirs (exit 1 with findings: test_findings_exit_1_with_a_count)."""
    root = copy_example(tmp_path / "repo")
    status = run_process(root, "status", "--json")
    assert status.code == 0 and json.loads(status.out) == run(root, "status", "--json").json
    checked = run_process(root, "check")
    assert (checked.code, checked.out) == (0, "OK: 4 projects, 3 clients, 0 issued documents verified.\n")
    planned = run_process(root, "plan", "--date", "2026-11-25", "--json")
    assert planned.code == 0 and len(json.loads(planned.out)) == 8


def test_findings_exit_1_with_a_count(repo) -> None:
    root = repo({"projects/nordlicht/site.yaml": "title: Site\nstart: 2026-03-01\nmilestones: []\n"})
    result = run_process(root, "check")
    assert result.code == 1
    assert result.err.splitlines() == [
        "projects/nordlicht/site.yaml:3:13: [E013] milestones: must not be empty",
        "1 problem in 1 file; nothing was written.",
    ]
    assert result.out == ""


@pytest.mark.parametrize("args", [("check", "--bogus"), ("check", "extra"), ("status", "--date", "someday"),
                                  ("nosuchcommand",), ("check", "--repo")])
def test_usage_errors_exit_2(args: tuple[str, ...], tmp_path: Path) -> None:
    root = copy_example(tmp_path / "repo")
    result = run_process(root, *args)
    assert result.code == 2, result
    assert "Traceback" not in result.err
    assert "Usage:" in result.err or "Error:" in result.err


def test_repo_option_pointing_at_a_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    result = run_process(tmp_path, "check", "--repo", str(tmp_path / "missing"))
    assert result.code == 2
    assert "does not exist" in result.err and "Traceback" not in result.err


def test_no_billing_repo_anywhere_is_one_clear_line(tmp_path: Path) -> None:
    folder = tmp_path / "not-a-repo"
    folder.mkdir()
    for args in [("check",), ("status",), ("check", "--json"), ("check", "--repo", str(folder))]:
        result = run_process(folder, *args)
        assert result.code == 1, args
        assert result.err.startswith("error: no billed.yaml found in "), result.err
        assert "billed init" in result.err and "Traceback" not in result.err
        assert len(result.err.strip().splitlines()) == 1


def test_works_from_any_sub_folder_and_with_repo(tmp_path: Path) -> None:
    root = copy_example(tmp_path / "repo")
    deep = root / "projects" / "acme"
    assert run(deep, "check").code == 0
    assert run(tmp_path, "check", "--repo", str(root)).code == 0
    assert [r["project"] for r in run(deep, "status", "--json").json][0] == "acme/robot-portal"
    (root / "projects" / "acme" / "robot-portal.yaml").write_text("title: [\n", encoding="utf-8")
    result = run(deep, "check")  # paths are shown relative to where the user is, so editors can open them
    assert result.code == 1
    assert result.err.splitlines()[0].startswith("robot-portal.yaml:2:1: [E002]")
    result = run(tmp_path, "check", "--repo", str(root))
    assert result.err.splitlines()[0].startswith("repo/projects/acme/robot-portal.yaml:2:1: [E002]")


def test_findings_go_to_stderr_and_json_to_stdout(repo) -> None:
    root = repo({"projects/nordlicht/site.yaml": "title: Site\nstart: 2026-03-01\nmilestones: []\n"})
    human = run(root, "check")
    assert human.out == "" and "[E013]" in human.err
    machine = run(root, "check", "--json")
    assert machine.json == [{"file": "projects/nordlicht/site.yaml", "line": 3, "column": 13, "code": "E013",
                             "message": "milestones: must not be empty", "hint": None}]
    assert run(root, "status").code == 1 and run(root, "plan").code == 1


def _project_example(doc: str) -> str:
    """The full project-file example of a document (its first YAML block)."""
    return re.search(r"```yaml\n(.*?)```", (TOOLKIT / doc).read_text(encoding="utf-8"), re.S).group(1)


@pytest.mark.parametrize("doc", ["README.md", "docs/format.md"])
def test_documented_project_example_passes_check(doc: str, tmp_path: Path) -> None:
    text = _project_example(doc)
    target = re.match(r"# (projects/\S+\.yaml)\n", text).group(1)
    client = target.split("/")[1]
    root = make_repo(tmp_path / "repo", {f"projects/{client}/client.yaml": CLIENT, target: text})
    result = run(root, "check")
    assert result.code == 0, result.err
    status = run(root, "status", "--json").json
    portal = next(r for r in status if r["project"] == f"{client}/{Path(target).stem}")
    assert portal["total"] == "48000.00" and portal["deposit"] == "9600.00"
    assert sum(Path(target).stem in r["project"] for r in status) == 1


def test_readme_command_table_matches_the_cli(tmp_path: Path) -> None:
    table = re.findall(r"^\| `billed (\w+)([^`]*)` \|", README, re.M)
    assert len(table) >= 6
    for name, usage in table:
        assert name in COMMANDS, f"README documents `billed {name}`, which does not exist"
        command = COMMANDS[name]
        sub = re.match(r" (\w+)", usage)
        if isinstance(command, click.Group) and sub:  # `billed sync stripe`: the options are the subcommand's
            assert sub[1] in command.commands, f"README documents `billed {name} {sub[1]}`, which does not exist"
            command = command.commands[sub[1]]
        options = set(re.findall(r"--[\w-]+", usage))
        known = {opt for p in command.params for opt in p.opts}
        assert options <= known, f"README shows {options - known} for `billed {name}`"


def test_readme_commands_run_on_the_example(tmp_path: Path) -> None:
    """The README's command table, run in order on a copy of the example (PDF rendering left to its own tests)."""
    root = copy_example(tmp_path / "repo")
    steps = [("init", str(tmp_path / "new")), ("check",), ("check", "--json"), ("status",), ("status", "--json"),
             ("status", "webshop"), ("plan", "--date", "2026-11-25"), ("plan", "--date", "2026-11-25", "--json"),
             ("issue", "--date", "2026-11-25", "--no-pdf"), ("verify",), ("check",)]
    for args in steps:
        result = run(root, *args)
        assert result.code == 0, (args, result.err)
    assert run(tmp_path / "new", "check").code == 0
    before = snapshot(root)
    again = run(root, "issue", "--date", "2026-11-25", "--no-pdf")
    assert again.code == 0 and "Nothing to issue" in again.out
    assert snapshot(root) == before


@pytest.mark.parametrize("first", ["remind", "send", "pay_url", "issue", "fingerprint"])
def test_the_api_s_use_cases_load_on_first_use_as_functions_in_any_order(first: str) -> None:
    """billed.api imports its use-case modules on first use (start-up time); `send` is also the name of the
    module that defines it, so whichever name is asked for first, `api.send` must end up the function."""
    import subprocess
    import sys

    script = ("import inspect, billed.api as api; getattr(api, sys.argv[1]); "
              "print(all(inspect.isfunction(getattr(api, n)) for n in api._LAZY))")
    proc = subprocess.run([sys.executable, "-c", "import sys; " + script, first], capture_output=True, text=True,
                          timeout=60)
    assert proc.stdout.split() == ["True"], proc.stderr
