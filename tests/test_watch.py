"""billed watch: a real `billed watch` process sees saves, reports them in one line, keeps previews current."""

from __future__ import annotations

import datetime as dt
import os
import queue
import subprocess
import threading
import time
from pathlib import Path

from conftest import BILLED

from billed import watch

PROJECT = """\
title: Site
start: 2026-01-05
milestones:
  - {id: design, title: Design, amount: 1000.00, status: done, done: 2026-02-01}
  - {id: build, title: Build, amount: 2000.00}
"""


def test_relevant_files(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    for name in ("billed.yaml", "projects/acme/site.yaml", "templates/invoice.css"):
        assert watch.relevant(root, str(root / name)), name
    for name in ("invoices/2026/INV-2026-0001.json", ".billed/preview/x.html", "projects/acme/.site.yaml.swp",
                 "projects/acme/site.yaml~", "README.md", ".git/index"):
        assert not watch.relevant(root, str(root / name)), name
    assert not watch.relevant(root, "/elsewhere/billed.yaml")


def test_check_once_reports_ok_and_previews(repo) -> None:
    root = repo({"projects/nordlicht/site.yaml": PROJECT})
    preview = root / ".billed" / "preview"
    lines = watch.check_once(root, dt.date(2026, 3, 1), preview)
    assert len(lines) == 1 and "OK: 1 projects; 1 document would be issued" in lines[0]
    assert [p.name for p in preview.glob("*.html")] == ["INV-2026-0001.html"]
    assert "Design" in (preview / "INV-2026-0001.html").read_text()
    assert not (root / "invoices").exists() or not list((root / "invoices").rglob("*.json"))


def test_check_once_survives_a_half_written_file(repo) -> None:
    root = repo({"projects/nordlicht/site.yaml": PROJECT[:70]})
    lines = watch.check_once(root, dt.date(2026, 3, 1), root / ".billed" / "preview")
    assert "problem" in lines[0]
    assert any("projects/nordlicht/site.yaml:" in line for line in lines[1:])


def test_debouncer_fires_once_per_burst(tmp_path: Path) -> None:
    fired = []
    handler = watch.Debouncer(tmp_path.resolve(), lambda: fired.append(time.monotonic()), delay=0.2)

    class Event:
        event_type = "modified"
        src_path = str(tmp_path.resolve() / "billed.yaml")
        dest_path = ""

    for _ in range(10):
        handler.on_any_event(Event())
        time.sleep(0.01)
    time.sleep(0.5)
    assert len(fired) == 1


class Lines:
    """The output of a running process, line by line, with a timeout (the reader thread never blocks the test)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, args=(proc,), daemon=True).start()

    def _pump(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            self.queue.put(line.rstrip("\n"))

    def until(self, text: str, timeout: float = 20) -> list[str]:
        seen, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.queue.get(timeout=0.2)
            except queue.Empty:
                continue
            seen.append(line)
            if text in line:
                return seen
        raise AssertionError(f"no line with {text!r} within {timeout}s; saw {seen}")


def test_watch_process_sees_each_save(repo) -> None:
    root = repo({"projects/nordlicht/site.yaml": PROJECT})
    project = root / "projects/nordlicht/site.yaml"
    proc = subprocess.Popen([BILLED, "watch", "--date", "2026-03-01", "--delay", "0.2"], cwd=root, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ,
                                                                                    "PYTHONUNBUFFERED": "1"})
    try:
        out = Lines(proc)
        out.until("1 document would be issued")
        project.write_text(PROJECT.replace("amount: 2000.00}", "amount: 2000.00, status: done, done: 2026-02-20}"))
        out.until("2 documents would be issued")
        assert sorted(p.name for p in (root / ".billed/preview").glob("*.html")) == [
            "INV-2026-0001.html", "INV-2026-0002.html"]
        with open(project, "w") as handle:  # a save caught half-way, then an invalid amount
            handle.write(PROJECT[:60])
            handle.flush()
            time.sleep(0.05)
            handle.write("\n  - {id: x, title: X, amount: 1.234}\n")
        seen = out.until("projects/nordlicht/site.yaml:")
        assert any("problem" in line for line in seen)
        project.write_text(PROJECT)
        out.until("1 document would be issued")
        assert proc.poll() is None  # still running after all that
    finally:
        proc.terminate()
        proc.wait(timeout=10)
