"""The GitHub workflows, the composite action and the pre-commit hook: linted offline, and their own steps run.

The workflows are the toolkit's own (test.yml) and the two a billing office gets from `billed init`
(billing-check.yml, billing-office.yml, from billed/_office/): the toolkit repository is not a template any more.
The office workflow's full road (push over HTTP with a token, sending, reminding) is run in tests/test_office.py.

Lint: check-jsonschema (GitHub's workflow and action schemas) and zizmor --offline (injection, unpinned actions,
over-broad permissions), pedantic persona.

Run: a small runner (`Runner` below) reads a job from the workflow file and executes its `run:` steps with bash
the way GitHub does (`bash --noprofile --norc -eo pipefail`), in a sandbox: a bare origin plus a clone standing
in for what actions/checkout leaves behind, with the variables a runner sets (GITHUB_EVENT_PATH, GITHUB_SHA,
GITHUB_REF, GITHUB_BASE_REF, GITHUB_STEP_SUMMARY, GITHUB_PATH, ...). The job's `if:` and `${{ }}` values are
evaluated by a tiny expression evaluator. Two kinds of step are not executed: `uses:` steps (the test prepares
the checkout itself and checks the options it relies on, e.g. fetch-depth 0) and steps whose id starts with
`install` (pip, make, apt): instead this toolkit's existing .venv/bin is put first on PATH, which is what those
steps achieve on a runner. Everything else runs verbatim, so a workflow cannot drift from what is tested.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests._gitsandbox import GIT_ENV, clone, commit_all, git, origin, set_status
from tests.conftest import TOOLKIT

OFFICE_FILES = TOOLKIT / "billed" / "_office" / "workflows"


def generated() -> Path:
    """The workflows exactly as `billed init` writes them (the version filled in), in a folder of their own."""
    from billed import office

    folder = Path(tempfile.mkdtemp(prefix="billed-office-workflows-"))
    for name, text in office.files().items():
        if name.startswith(".github/workflows/"):
            (folder / Path(name).name).write_text(text, encoding="utf-8")
    return folder


GENERATED = generated()
WORKFLOWS = sorted((TOOLKIT / ".github" / "workflows").glob("*.yml")) + sorted(GENERATED.glob("*.yml"))
BIN = Path(sys.executable).parent
TRAILER_SUBJECT = "Issue INV-2026-0001, INV-2026-0002"


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if True in data:  # YAML 1.1 reads the key `on` as true
        data["on"] = data.pop(True)
    return data


# --- offline linters ------------------------------------------------------------------------------------------


def tool(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / name), *args], cwd=TOOLKIT, capture_output=True, text=True, timeout=120)


def test_workflows_and_action_match_githubs_schemas() -> None:
    assert [p.name for p in WORKFLOWS] == ["test.yml", "billing-check.yml", "billing-office.yml"]
    flows = tool("check-jsonschema", "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS))
    assert flows.returncode == 0, flows.stdout + flows.stderr
    action = tool("check-jsonschema", "--builtin-schema", "vendor.github-actions", "action.yml")
    assert action.returncode == 0, action.stdout + action.stderr


def test_zizmor_finds_nothing() -> None:
    result = tool("zizmor", "--offline", "--persona=pedantic", "--no-progress", ".github/workflows", "action.yml",
                  str(GENERATED))
    assert result.returncode == 0, result.stdout + result.stderr


def test_actions_are_pinned_by_commit_and_no_expression_reaches_a_shell() -> None:
    for path in [*WORKFLOWS, TOOLKIT / "action.yml"]:
        for step in steps_of(load(path)):
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), f"{path.name}: {step['uses']}"
            assert "${{" not in step.get("run", ""), f"{path.name}: expression in a run script (injection)"


def steps_of(data: dict[str, Any]) -> list[dict[str, Any]]:
    if "runs" in data:
        return data["runs"]["steps"]
    return [s for job in data["jobs"].values() for s in job.get("steps", [])]


def test_the_issuing_workflow_is_shaped_to_never_race_or_loop() -> None:
    wf = load(ISSUE)
    assert set(wf["on"]) == {"push", "workflow_dispatch", "schedule"} and wf["on"]["push"]["branches"] == ["main"]
    assert wf["permissions"] == {} and wf["concurrency"]["cancel-in-progress"] is False
    (job,) = wf["jobs"].values()
    assert job["permissions"] == {"contents": "write"}
    assert "Billed-Issued:" in job["if"] and "Billed-Sent:" in job["if"]
    checkout = job["steps"][0]
    assert checkout["uses"].startswith("actions/checkout@") and checkout["with"]["fetch-depth"] == 0
    assert checkout["with"]["persist-credentials"] is False
    pr = load(CHECK)
    assert list(pr["on"]) == ["pull_request"] and pr["permissions"] == {"contents": "read"}
    assert all(s.get("with", {}).get("fetch-depth") == 0 for s in steps_of(pr) if "checkout" in s.get("uses", ""))


# --- a small GitHub Actions runner ----------------------------------------------------------------------------


_TOKEN = re.compile(r"\s*(?:('(?:[^']|'')*')|(&&|\|\||==|!=|!|\(|\)|,)|([A-Za-z_][\w.-]*)|(\d+))")


def evaluate(expr: str, ctx: dict[str, Any]) -> Any:
    """A GitHub expression (`${{ }}` stripped): literals, property paths, !, &&, ||, ==, !=, contains()."""
    expr = expr.strip()
    if expr.startswith("${{") and expr.endswith("}}"):
        expr = expr[3:-2]
    out, pos = [], 0
    while pos < len(expr.rstrip()):
        m = _TOKEN.match(expr, pos)
        assert m, f"cannot parse expression at: {expr[pos:]}"
        pos = m.end()
        literal, op, name, number = m.groups()
        if literal:
            out.append(repr(literal[1:-1].replace("''", "'")))
        elif op:
            out.append({"&&": " and ", "||": " or ", "!": " not "}.get(op, op))
        elif number:
            out.append(number)
        elif expr[pos:].lstrip().startswith("("):
            assert name in ("contains", "startsWith"), f"function {name} not supported"
            out.append(f"_{name}")
        else:
            out.append(repr(lookup(ctx, name)) if name not in ("true", "false", "null") else
                       {"true": "True", "false": "False", "null": "None"}[name])

    def _contains(a: Any, b: Any) -> bool:
        return a is not None and str(b).lower() in str(a).lower()

    def _startsWith(a: Any, b: Any) -> bool:  # noqa: N802 - GitHub's name
        return str(a or "").lower().startswith(str(b).lower())

    return eval("".join(out), {"__builtins__": {}, "_contains": _contains, "_startsWith": _startsWith})  # noqa: S307


def lookup(ctx: dict[str, Any], path: str) -> Any:
    value: Any = ctx
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def substitute(value: Any, ctx: dict[str, Any]) -> str:
    return re.sub(r"\$\{\{(.*?)\}\}", lambda m: str(evaluate(m.group(1), ctx) or ""), str(value))


@dataclass
class Runner:
    """Runs one job's steps in `workspace` (the checkout) as a GitHub-hosted runner would."""

    workspace: Path
    temp: Path
    event_name: str
    event: dict[str, Any]
    ref: str
    sha: str
    base_ref: str = ""
    head_ref: str = ""
    inputs: dict[str, str] = field(default_factory=dict)
    log: list[subprocess.CompletedProcess[str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.temp.mkdir(parents=True, exist_ok=True)
        self.summary = self.temp / "step_summary.md"
        self.event_path = self.temp / "event.json"
        self.event_path.write_text(json.dumps(self.event), encoding="utf-8")
        self.path_file, self.env_file = self.temp / "path", self.temp / "env"
        for f in (self.summary, self.path_file, self.env_file):
            f.write_text("")

    @property
    def context(self) -> dict[str, Any]:
        return {"github": {"event_name": self.event_name, "event": self.event, "ref": self.ref, "sha": self.sha,
                           "base_ref": self.base_ref, "head_ref": self.head_ref, "workspace": str(self.workspace),
                           "action_path": str(TOOLKIT), "ref_name": self.ref.rsplit("/", 1)[-1]},
                "inputs": self.inputs, "runner": {"temp": str(self.temp)}}

    def environment(self) -> dict[str, str]:
        extra_path = [ln for ln in self.path_file.read_text().splitlines() if ln][::-1]
        env = {**os.environ, **GIT_ENV, "CI": "true", "GITHUB_ACTIONS": "true",
               "GITHUB_WORKSPACE": str(self.workspace), "GITHUB_EVENT_NAME": self.event_name,
               "GITHUB_EVENT_PATH": str(self.event_path), "GITHUB_SHA": self.sha, "GITHUB_REF": self.ref,
               "GITHUB_REF_NAME": self.ref.rsplit("/", 1)[-1], "GITHUB_BASE_REF": self.base_ref,
               "GITHUB_HEAD_REF": self.head_ref, "GITHUB_REPOSITORY": "studio/billing",
               "GITHUB_STEP_SUMMARY": str(self.summary), "GITHUB_PATH": str(self.path_file),
               "GITHUB_ENV": str(self.env_file), "GITHUB_OUTPUT": str(self.temp / "output"),
               "RUNNER_TEMP": str(self.temp)}
        env.pop("VIRTUAL_ENV", None)
        env["PATH"] = os.pathsep.join([*extra_path, "/usr/local/bin", "/usr/bin", "/bin"])
        for line in self.env_file.read_text().splitlines():
            key, _, value = line.partition("=")
            env[key] = value
        return env

    def run_job(self, workflow: Path, job_id: str) -> bool:
        """Run the job's steps; False when its `if:` skips it. Stops at the first failing step, like GitHub."""
        wf = load(workflow)
        job = wf["jobs"][job_id]
        if "if" in job and not evaluate(job["if"], self.context):
            return False
        self.steps(job["steps"], {**wf.get("env", {}), **job.get("env", {})})
        return True

    def steps(self, steps: list[dict[str, Any]], env: dict[str, Any]) -> None:
        for step in steps:
            if "uses" in step:
                continue  # checkout: prepared by the test; setup-python: this interpreter
            if step.get("id", "").startswith("install"):
                with open(self.path_file, "a", encoding="utf-8") as handle:
                    handle.write(f"{BIN}\n")  # what pip/make install achieves: billed on PATH
                continue
            full = {**self.environment(), **{k: substitute(v, self.context) for k, v in {**env,
                                                                                        **step.get("env", {})}.items()}}
            cwd = self.workspace / substitute(step.get("working-directory", "."), self.context)
            proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=cwd,
                                  env=full, capture_output=True, text=True, timeout=300)
            self.log.append(proc)
            if proc.returncode != 0:
                raise StepFailed(step.get("name", step["run"]), proc)


class StepFailed(AssertionError):
    def __init__(self, name: str, proc: subprocess.CompletedProcess[str]) -> None:
        super().__init__(f"step '{name}' failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        self.proc = proc


def test_the_expression_evaluator_reads_github_conditions() -> None:
    ctx = {"github": {"ref": "refs/heads/main", "event": {"head_commit": {"message": "x\n\nBilled-Issued: A"}}}}
    cond = "github.ref == 'refs/heads/main' && !contains(github.event.head_commit.message, 'Billed-Issued:')"
    assert evaluate(cond, ctx) is False
    assert evaluate(cond, {"github": {"ref": "refs/heads/main", "event": {}}}) is True  # schedule: no head_commit
    assert evaluate("${{ github.ref == 'refs/heads/dev' || false }}", ctx) is False


# --- the workflows, run -----------------------------------------------------------------------------------------


ISSUE = GENERATED / "billing-office.yml"
CHECK = GENERATED / "billing-check.yml"


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    return origin(tmp_path)


def push_event(workspace: Path, message: str) -> dict[str, Any]:
    return {"ref": "refs/heads/main", "after": git(workspace, "rev-parse", "HEAD"),
            "head_commit": {"id": git(workspace, "rev-parse", "HEAD"), "message": message}}


# The office job itself (merge -> issue -> push -> send, a rerun, Billed's own push skipped, the nightly run, the
# example project left in place) runs in tests/test_office.py, against an origin served over HTTP with a token.


def pull_request(bare: Path, tmp_path: Path, name: str, change) -> Runner:
    """A feature branch pushed to origin, checked out as GitHub does for a PR: the merge into main, detached."""
    dev = clone(bare, tmp_path / f"{name}-dev")
    git(dev, "checkout", "-q", "-b", name)
    change(dev)
    commit_all(dev, f"PR {name}")
    git(dev, "push", "-q", "origin", name)
    work = clone(bare, tmp_path / f"{name}-checkout")
    git(work, "checkout", "-q", "--detach", "origin/main")
    git(work, "merge", "-q", "--no-ff", "--no-edit", f"origin/{name}")
    event = {"number": 7, "pull_request": {"head": {"ref": name}, "base": {"ref": "main"}}}
    return Runner(work, tmp_path / f"{name}-tmp", "pull_request", event, "refs/pull/7/merge",
                  git(work, "rev-parse", "HEAD"), base_ref="main", head_ref=name)


def issue_on_main(bare: Path, tmp_path: Path) -> None:
    ci = clone(bare, tmp_path / "ci")
    proc = subprocess.run([str(BIN / "billed"), "issue", "--no-pdf", "--commit", "--push"], cwd=ci,
                          env={**os.environ, **GIT_ENV}, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_a_pull_request_shows_the_plan_in_the_job_summary(bare: Path, tmp_path: Path) -> None:
    issue_on_main(bare, tmp_path)
    runner = pull_request(bare, tmp_path, "layout-done", lambda repo: set_status(repo, "layout", "done"))
    assert runner.run_job(CHECK, "check")
    summary = runner.summary.read_text()
    assert "Merging this will issue INV-2026-0002, €7,140.00 to Nordlicht Verlag GmbH." in summary
    assert "| INV-2026-0002 | Invoice | Nordlicht Verlag GmbH | annual-report | layout |" in summary
    assert "Merging this will issue:" in runner.log[-1].stdout


def test_a_pull_request_that_edits_an_issued_invoice_fails_and_names_the_file(bare: Path, tmp_path: Path) -> None:
    issue_on_main(bare, tmp_path)

    def edit(repo: Path) -> None:
        path = repo / "invoices/2026/INV-2026-0001.html"
        path.write_text(path.read_text().replace("Concept", "Concept and more"))

    runner = pull_request(bare, tmp_path, "sneaky", edit)
    with pytest.raises(StepFailed) as failed:
        runner.run_job(CHECK, "check")
    assert failed.value.proc.returncode == 1
    assert "invoices/2026/INV-2026-0001.html:1:1: [E061]" in failed.value.proc.stderr
    assert "[E061] invoices/2026/INV-2026-0001.html was already issued" in runner.summary.read_text()


def test_the_composite_action_runs_billed_with_its_inputs(bare: Path, tmp_path: Path) -> None:
    runner = pull_request(bare, tmp_path, "via-action", lambda repo: set_status(repo, "layout", "done"))
    runner.inputs = {"command": "check", "args": "--base origin/main --json", "working-directory": "."}
    runner.steps(load(TOOLKIT / "action.yml")["runs"]["steps"], {})
    out = json.loads(runner.log[-1].stdout)
    assert out["findings"] == [] and [d["milestones"] for d in out["plan"]] == [["concept"], ["layout"]]


def test_the_composite_action_installs_pdf_libraries_and_commits_as_the_bot(bare: Path, tmp_path: Path) -> None:
    action = load(TOOLKIT / "action.yml")
    steps = action["runs"]["steps"]
    system = next(s for s in steps if s.get("id") == "install-system")
    assert "libpango-1.0-0" in system["run"] and "libharfbuzz-subset0" in system["run"]
    work = clone(bare, tmp_path / "action")
    set_status(work, "layout", "done")
    commit_all(work, "Layout signed off")
    runner = Runner(work, tmp_path / "action-tmp", "push", {}, "refs/heads/main", git(work, "rev-parse", "HEAD"))
    defaults = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}  # as GitHub fills in
    runner.inputs = {**defaults, "command": "issue", "args": "--commit --no-pdf"}
    runner.steps(steps, {})
    assert git(work, "log", "-1", "--format=%an <%ae>|%cn|%s") == (
        "github-actions[bot] <41898282+github-actions[bot]@users.noreply.github.com>|github-actions[bot]|"
        "Issue INV-2026-0001, INV-2026-0002")


def test_the_pre_commit_hook_runs_billed_check(bare: Path, tmp_path: Path) -> None:
    (hook,) = yaml.safe_load((TOOLKIT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "billed-check" and hook["language"] == "python" and hook["pass_filenames"] is False
    assert re.search(hook["files"], "projects/acme/site.yaml") and not re.search(hook["files"], "README.md")
    repo = clone(bare, tmp_path / "hooked")
    env = {**os.environ, **GIT_ENV, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    env.pop("GITHUB_STEP_SUMMARY", None)
    good = subprocess.run(hook["entry"].split(), cwd=repo, env=env, capture_output=True, text=True)
    assert good.returncode == 0, good.stderr
    (repo / "projects/nordlicht/annual-report.yaml").write_text("title: [broken\n")
    bad = subprocess.run(hook["entry"].split(), cwd=repo, env=env, capture_output=True, text=True)
    assert bad.returncode == 1 and "[E002]" in bad.stderr


def test_the_toolkits_example_in_an_office_passes_its_pull_request_check(tmp_path: Path) -> None:
    """`billed init`, then this repository's example billing files in place of its example: the PR check passes
    and the summary lists the plan."""
    from tests.conftest import run

    assert run(tmp_path, "init", "office").code == 0
    seed = tmp_path / "office"
    shutil.rmtree(seed / "projects")
    shutil.copytree(TOOLKIT / "projects", seed / "projects")
    (seed / "billed.yaml").write_bytes((TOOLKIT / "billed.yaml").read_bytes())
    commit_all(seed, "The toolkit's example")
    bare = tmp_path / "office.git"
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(bare))

    def describe(repo: Path) -> None:
        path = repo / "projects/acme/robot-portal.yaml"
        path.write_text(path.read_text(encoding="utf-8").replace("title: Robot fleet portal\n",
                                                                 "title: Robot fleet portal (phase 1)\n"))

    runner = pull_request(bare, tmp_path, "retitle", describe)
    assert runner.run_job(runner.workspace / ".github/workflows/billing-check.yml", "check")
    plan = subprocess.run([str(BIN / "billed"), "plan", "--json"], cwd=runner.workspace, capture_output=True,
                          text=True, env={**os.environ, **GIT_ENV}, check=True)
    numbers = [d["number"] for d in json.loads(plan.stdout)]
    summary = runner.summary.read_text()
    assert numbers and f"Merging this will issue {numbers[0]}, " in summary
    assert all(f"| {n} |" in summary for n in numbers)
