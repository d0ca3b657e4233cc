"""The billing office `billed init` writes: its workflows linted (GitHub's schema, zizmor) and their `run:` steps
executed by the small runner of test_workflows.py against a bare origin served over HTTP by `git http-backend`
with token authentication and a protected `main` (a pre-receive hook lets only the GitHub App push), and a
loopback SMTP server: pull-request check, merge, issue + push + send, a rerun that does nothing, Billed's own
push skipped, a nightly reminder, the job token refused by the protected branch, and no SMTP secrets yet."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests._gitsandbox import (
    GIT_ENV,
    PROJECT,
    clone,
    commit_all,
    files_on,
    git,
    git_identity,  # noqa: F401 - autouse: git identity for in-process runs
    set_status,
)
from tests.conftest import CLIENT, SETTINGS, run
from tests.test_mail import Inbox, free_port
from tests.test_workflows import Runner, StepFailed, evaluate, substitute, tool

APP_TOKEN, JOB_TOKEN = "ghs_app_installation_token", "ghs_job_token"


# --- lint: the generated workflows ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`billed init` output, made real: the seller is Studio Nord, the example replaced by client nordlicht."""
    root = tmp_path_factory.mktemp("office") / "books"
    assert run(root.parent, "init", "books").code == 0
    (root / "billed.yaml").write_text(SETTINGS, encoding="utf-8")
    shutil.rmtree(root / "projects/example-client")
    (root / "projects/nordlicht").mkdir()
    (root / "projects/nordlicht/client.yaml").write_text(CLIENT, encoding="utf-8")
    (root / "projects/nordlicht/annual-report.yaml").write_text(PROJECT, encoding="utf-8")
    commit_all(root, "Studio Nord's office")
    return root


def test_generated_workflows_pass_githubs_schema_and_zizmor(office: Path) -> None:
    flows = sorted(str(p) for p in (office / ".github/workflows").glob("*.yml"))
    assert [Path(f).name for f in flows] == ["billing-check.yml", "billing-office.yml"]
    schema = tool("check-jsonschema", "--builtin-schema", "vendor.github-workflows", *flows)
    assert schema.returncode == 0, schema.stdout + schema.stderr
    audit = tool("zizmor", "--offline", "--persona=pedantic", "--no-progress", *flows)
    assert audit.returncode == 0, audit.stdout + audit.stderr


def test_no_step_keeps_a_credential_and_installs_are_pinned(office: Path) -> None:
    wf = load(office / ".github/workflows/billing-office.yml")
    (job,) = wf["jobs"].values()
    assert wf["permissions"] == {} and wf["concurrency"]["cancel-in-progress"] is False
    assert set(wf["on"]) == {"push", "schedule", "workflow_dispatch"}
    checkout = job["steps"][0]
    assert checkout["with"]["persist-credentials"] is False and checkout["with"]["fetch-depth"] == 0
    with_secrets = [s.get("name", s.get("uses")) for s in job["steps"] if "secrets." in json.dumps(s)
                    or "token" in json.dumps(s.get("env", {}))]
    assert with_secrets == ["Mint a GitHub App installation token (if configured)", "Push the invoices (git only)",
                            "Book Stripe payments and refunds since the last sync (if configured)",
                            "Send what is issued and not sent yet; at night, remind", "Push the send log (git only)"]
    names = [s.get("name") for s in job["steps"]]
    assert names.index("Install Billed, pinned by .github/billed-requirements.txt") < names.index(
        "Issue and commit (no credential here)") < names.index("Push the invoices (git only)")
    pins = (office / ".github/billed-requirements.txt").read_text().splitlines()
    packages = [p for p in pins if p and not p.startswith("#")]
    assert packages[0].startswith("billed") and all("==" in p or " @ " in p for p in packages)
    assert not any(p.lower().startswith("streamlit") for p in packages)  # the dashboard is an extra


def load(path: Path) -> dict[str, Any]:
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["on"] = data.pop(True, data.get("on"))
    return data


# --- a protected origin over HTTP --------------------------------------------------------------------------------


PROTECT = """#!/bin/sh
# main is protected: only the GitHub App may push to it over HTTP (the merge button is a local push here)
while read old new ref; do
  if [ "$ref" = refs/heads/main ] && [ -n "$REMOTE_ADDR" ] && [ "$REMOTE_USER" != billed-app ]; then
    echo "refs/heads/main is protected: $REMOTE_USER may not push to it" >&2
    exit 1
  fi
done
"""


class GitServer(BaseHTTPRequestHandler):
    """`git http-backend` behind HTTP basic auth: the App's token is user billed-app, the job token github-actions."""

    root: Path
    users = {APP_TOKEN: "billed-app", JOB_TOKEN: "github-actions"}
    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.backend()

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.backend()

    def log_message(self, *args: Any) -> None:
        pass

    def backend(self) -> None:
        user = self.user()
        if user is None:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="billing"')
            self.end_headers()
            return
        self.seen.append(user)
        path, _, query = self.path.partition("?")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        env = {"PATH": os.environ["PATH"], "GIT_PROJECT_ROOT": str(self.root), "GIT_HTTP_EXPORT_ALL": "1",
               "PATH_INFO": path.removeprefix("/studio"), "QUERY_STRING": query, "REQUEST_METHOD": self.command,
               "CONTENT_TYPE": self.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
               "REMOTE_USER": user, "REMOTE_ADDR": "127.0.0.1", "GIT_CONFIG_NOSYSTEM": "1",
               "GIT_CONFIG_GLOBAL": "/dev/null"}
        out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, check=True).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        headers = [line.split(": ", 1) for line in head.decode().split("\r\n") if ": " in line]
        status = next((int(v.split()[0]) for k, v in headers if k.lower() == "status"), 200)
        self.send_response(status)
        for key, value in headers:
            if key.lower() != "status":
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def user(self) -> str | None:
        scheme, _, value = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        login, _, token = base64.b64decode(value).decode().partition(":")
        return self.users.get(token) if login == "x-access-token" else None


@pytest.fixture
def origin(office: Path, tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A bare copy of the office, main protected, served on loopback; (bare, server URL)."""
    bare = tmp_path / "billing.git"
    git(tmp_path, "clone", "-q", "--bare", str(office), str(bare))
    hook = bare / "hooks/pre-receive"
    hook.write_text(PROTECT)
    hook.chmod(0o755)
    handler = type("Server", (GitServer,), {"root": tmp_path, "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield bare, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


# --- the runner, with what the office workflow reads: secrets, vars, step outputs, the job token -----------------


class Office(Runner):
    """test_workflows.Runner plus step `if:`s, per-step outputs, secrets, vars and the App token action."""

    def __init__(self, *args: Any, secrets: dict[str, str], app: bool, server: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.secrets, self.app, self.server = secrets, app, server
        self.outputs: dict[str, dict[str, str]] = {}

    @property
    def context(self) -> dict[str, Any]:
        ctx = super().context
        ctx["github"]["token"] = JOB_TOKEN
        return {**ctx, "secrets": self.secrets, "vars": {"BILLED_APP_CLIENT_ID": "Iv23li-billed" if self.app else ""},
                "steps": {k: {"outputs": v} for k, v in self.outputs.items()}}

    def environment(self) -> dict[str, str]:
        return {**super().environment(), "GITHUB_SERVER_URL": self.server, "GITHUB_REPOSITORY": "studio/billing"}

    def steps(self, steps: list[dict[str, Any]], env: dict[str, Any]) -> None:
        for step in steps:
            if "if" in step and not evaluate(substitute(step["if"], self.context) if "${{" in step["if"]
                                             else step["if"], self.context):
                continue
            if "create-github-app-token" in step.get("uses", ""):
                assert step["with"]["permission-contents"] == "write"
                self.outputs[step["id"]] = {"token": APP_TOKEN}  # what the action returns: a fresh App token
                continue
            out = self.temp / f"output-{len(self.log)}"
            out.write_text("")
            with open(self.env_file, "a", encoding="utf-8") as handle:
                handle.write(f"GITHUB_OUTPUT={out}\n")
            super().steps([step], env)
            if "id" in step and out.exists():
                self.outputs[step["id"]] = dict(ln.split("=", 1) for ln in out.read_text().splitlines() if "=" in ln)


OFFICE = ".github/workflows/billing-office.yml"


def office_run(bare: Path, tmp: Path, name: str, event_name: str, server: str, *, app: bool = True,
               smtp_port: int | None = None, stripe_key: str | None = None) -> Office:
    """A fresh checkout of main (as actions/checkout leaves it: no credential kept) and one office job run."""
    work = clone(bare, tmp / name)
    git(work, "remote", "set-url", "origin", "https://example.invalid/not-used.git")  # only billed-push pushes
    head = git(work, "log", "-1", "--format=%B")
    event = {"ref": "refs/heads/main", "head_commit": {"message": head}} if event_name == "push" else {}
    secrets = {} if smtp_port is None else {"BILLED_SMTP_HOST": "127.0.0.1", "BILLED_SMTP_PORT": str(smtp_port),
                                            "BILLED_SMTP_SECURITY": "none",
                                            "BILLED_SMTP_FROM": "invoices@studio-nord.example"}
    if stripe_key:
        secrets["STRIPE_API_KEY"] = stripe_key
    runner = Office(work, tmp / f"{name}-tmp", event_name, event, "refs/heads/main", git(work, "rev-parse", "HEAD"),
                    secrets=secrets, app=app, server=server)
    runner.ran = runner.run_job(work / OFFICE, "office")
    return runner


def merge(bare: Path, tmp: Path, branch: str) -> None:
    """The merge button: main fast-forwarded to the reviewed branch (a local push: the hook lets it through)."""
    git(tmp / f"{branch}-dev", "push", "-q", str(bare), f"{branch}:main")


def test_pr_check_merge_issue_push_send_rerun_and_nightly_reminder(origin: tuple[Path, str], smtp, tmp_path: Path):
    bare, server = origin
    inbox, port = smtp
    # an invoice issued two months ago and never emailed: the office sends it, and at night reminds it
    seed = clone(bare, tmp_path / "seed")
    old = (dt.date.today() - dt.timedelta(days=60)).isoformat()
    assert run(seed, "issue", "--date", old, "--commit").code == 0
    git(seed, "push", "-q", "origin", "main")

    dev = clone(bare, tmp_path / "layout-dev")
    git(dev, "checkout", "-q", "-b", "layout")
    set_status(dev, "layout", "done", done=(dt.date.today() - dt.timedelta(days=1)).isoformat())
    commit_all(dev, "Layout signed off")
    git(dev, "push", "-q", "origin", "layout")
    # the pull request's check: the merge result, no credential, the plan in the job summary
    pr = clone(bare, tmp_path / "pr")
    git(pr, "checkout", "-q", "--detach", "origin/main")
    git(pr, "merge", "-q", "--no-ff", "--no-edit", "origin/layout")
    check = Runner(pr, tmp_path / "pr-tmp", "pull_request", {"number": 3}, "refs/pull/3/merge",
                   git(pr, "rev-parse", "HEAD"), base_ref="main", head_ref="layout")
    assert check.run_job(pr / ".github/workflows/billing-check.yml", "check")
    assert "Merging this will issue INV-2026-0002, €7,140.00 to Nordlicht Verlag GmbH." in check.summary.read_text()

    merge(bare, tmp_path, "layout")
    first = office_run(bare, tmp_path, "merged", "push", server, smtp_port=port)
    assert first.ran
    subjects = [m["Subject"] for _, m in inbox.messages]
    assert subjects == ["Invoice INV-2026-0001 from Studio Nord GmbH", "Invoice INV-2026-0002 from Studio Nord GmbH"]
    log = git(bare, "log", "--format=%s|%an", "-3", "main").splitlines()
    assert log[:2] == ["Log sent mail|github-actions[bot]", "Issue INV-2026-0002|github-actions[bot]"]
    assert "Billed-Issued: INV-2026-0002" in git(bare, "log", "-1", "--format=%B", "main~1")
    assert files_on(bare) == ["invoices/.gitkeep"] + [f"invoices/2026/INV-2026-000{n}.{kind}" for n in (1, 2)
                              for kind in ("html", "json", "pdf")]
    assert f"Billed-Sent: {dt.date.today().isoformat()}" in git(bare, "log", "-1", "--format=%B", "main")
    sent = [json.loads(x) for x in git(bare, "show", "main:mail/sent.log").splitlines()]
    assert [(e["number"], e["status"]) for e in sent] == [("INV-2026-0001", "attempt"), ("INV-2026-0001", "sent"),
                                                          ("INV-2026-0002", "attempt"), ("INV-2026-0002", "sent")]
    # no credential was ever on disk in the checkout; only the App pushed
    assert APP_TOKEN not in (first.workspace / ".git/config").read_text()
    assert subprocess.run(["grep", "-rq", APP_TOKEN, str(first.workspace / ".git")]).returncode == 1
    tip = git(bare, "rev-parse", "main")

    # Billed's own push (an App token's push starts workflows): skipped by the job's `if:`
    own = office_run(bare, tmp_path, "own", "push", server, smtp_port=port)
    assert own.ran is False
    # a rerun (manual dispatch): nothing issued, nothing sent, nothing pushed
    again = office_run(bare, tmp_path, "rerun", "workflow_dispatch", server, smtp_port=port)
    assert again.ran and "Nothing to issue" in again.log[0].stdout and "Nothing to send" in again.log[2].stdout
    assert "No STRIPE_API_KEY secret" in again.log[1].stdout  # without the secret, the Stripe step only says so
    assert len(inbox.messages) == 2 and git(bare, "rev-parse", "main") == tip
    # the nightly run: INV-2026-0001 is overdue, a reminder goes and is logged on main
    nightly = office_run(bare, tmp_path, "nightly", "schedule", server, smtp_port=port)
    assert nightly.ran
    assert [m["Subject"] for _, m in inbox.messages[2:]] == [
        f"Reminder: invoice INV-2026-0001 is {(dt.date.today() - dt.date.fromisoformat(old)).days - 14} days overdue"]
    assert git(bare, "log", "-1", "--format=%s", "main") == "Log sent mail"
    assert "reminder" in git(bare, "show", "main:mail/sent.log")


def test_a_protected_main_refuses_the_job_token_and_nothing_is_sent(origin: tuple[Path, str], smtp,
                                                                     tmp_path: Path) -> None:
    bare, server = origin
    inbox, port = smtp
    tip = git(bare, "rev-parse", "main")
    with pytest.raises(StepFailed) as failed:
        office_run(bare, tmp_path, "no-app", "workflow_dispatch", server, app=False, smtp_port=port)
    assert "Push the invoices" in str(failed.value) and "the push to main was refused" in failed.value.proc.stdout
    assert git(bare, "rev-parse", "main") == tip and inbox.messages == []


def test_without_smtp_secrets_it_issues_says_so_once_and_sends_later(origin: tuple[Path, str], smtp,
                                                                     tmp_path: Path) -> None:
    bare, server = origin
    inbox, port = smtp
    quiet = office_run(bare, tmp_path, "quiet", "workflow_dispatch", server)
    assert git(bare, "log", "-1", "--format=%s", "main") == "Issue INV-2026-0001"
    assert quiet.summary.read_text().count("### Billed: nothing was emailed") == 1
    assert inbox.messages == [] and "mail/sent.log" not in git(bare, "ls-tree", "-r", "--name-only", "main")
    later = office_run(bare, tmp_path, "later", "workflow_dispatch", server, smtp_port=port)
    assert later.ran and [m["Subject"] for _, m in inbox.messages] == ["Invoice INV-2026-0001 from Studio Nord GmbH"]
    assert git(bare, "log", "-1", "--format=%s", "main") == "Log sent mail"


def test_while_the_example_is_there_the_office_issues_nothing_and_stays_green(tmp_path: Path) -> None:
    """Pushed as `init` made it: the example project is never billed; a notice, no failure, nothing pushed."""
    assert run(tmp_path, "init", "fresh").code == 0
    bare = tmp_path / "fresh.git"
    git(tmp_path, "clone", "-q", "--bare", str(tmp_path / "fresh"), str(bare))
    tip = git(bare, "rev-parse", "main")
    runner = office_run(bare, tmp_path, "first", "push", "http://127.0.0.1:9")  # the push step must not run
    assert runner.ran
    assert "::notice::The example project of billed init is still in projects/" in runner.log[0].stdout
    assert "[E081]" in runner.log[0].stderr
    assert git(bare, "rev-parse", "main") == tip and files_on(bare) == ["invoices/.gitkeep"]


def test_the_push_script_keeps_the_token_off_the_command_line(office: Path) -> None:
    script = (office / ".github/billed-push").read_text()
    assert "GIT_CONFIG_VALUE_0" in script and "$BILLED_PUSH_TOKEN@" not in script
    assert os.access(office / ".github/billed-push", os.X_OK)
    assert GIT_ENV  # (the sandbox identity the runner gives git)


def test_a_failing_stripe_sync_still_sends_but_does_not_remind_and_fails_the_run(
        origin: tuple[Path, str], smtp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bare, server = origin
    inbox, port = smtp
    seed = clone(bare, tmp_path / "seed")  # issued two months ago, never sent: overdue at night
    assert run(seed, "issue", "--date", (dt.date.today() - dt.timedelta(days=60)).isoformat(), "--commit").code == 0
    git(seed, "push", "-q", "origin", "main")
    monkeypatch.setenv("BILLED_STRIPE_API_BASE", "http://127.0.0.1:9")  # nothing listens: the sync fails
    with pytest.raises(StepFailed) as failed:
        office_run(bare, tmp_path, "stripe-down", "schedule", server, smtp_port=port, stripe_key="sk_test_down")
    assert "Fail the run if the Stripe sync failed" in str(failed.value)
    # the invoice on main was still mailed and its log pushed; no reminder went out on unsynced payments
    assert [m["Subject"] for _, m in inbox.messages] == ["Invoice INV-2026-0001 from Studio Nord GmbH"]
    assert git(bare, "log", "-1", "--format=%s", "main") == "Log sent mail"
    assert "reminder" not in git(bare, "show", "main:mail/sent.log")


def test_no_workflow_restores_billed_s_cache(office: Path) -> None:
    """Billed's cache is pickles that vouch for records: restored in CI, whoever can write a cache entry in main's
    scope (any workflow step running on main, a pull_request_target workflow) could run code in the job that
    later holds the push credential, or have forged records vouched for. The office runs from the files alone
    until the cache is authenticated (docs/office.md)."""
    for name in ("billing-office.yml", "billing-check.yml"):
        text = (office / ".github/workflows" / name).read_text(encoding="utf-8")
        assert "actions/cache" not in text and ".cache/billed" not in text, name
