"""`billed watch`: re-check the repo on every save and keep HTML previews of what `issue` would write.

Editors save in bursts (write temp file, rename, touch the backup), so events are debounced: a check runs once the
repo has been quiet for `delay` seconds. A half-written or invalid file is just a finding (the loader never raises
for bad data), and anything else that goes wrong is one printed line: the watcher keeps running either way.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from billed import api

RELEVANT_DIRS = ("projects", "templates")
RELEVANT_FILES = ("billed.yaml",)
IGNORED_PARTS = (".git", ".billed", "invoices", "__pycache__")


def relevant(root: Path, path: str) -> bool:
    """A project, client, template or billed.yaml: the files that change what Billed would issue."""
    try:
        rel = Path(path).resolve().relative_to(root)
    except ValueError:
        return False
    parts = rel.parts
    if not parts or any(p in IGNORED_PARTS for p in parts) or parts[-1].startswith(".") or parts[-1].endswith("~"):
        return False
    return parts[0] in RELEVANT_DIRS or rel.as_posix() in RELEVANT_FILES


def check_once(root: Path, on: dt.date, preview: Path) -> list[str]:
    """One round: the lines to print (a summary line, then each finding as path:line:col: [CODE] message)."""
    stamp = time.strftime("%H:%M:%S")
    try:
        state, written = api.preview(root, on, preview)
    except Exception as exc:  # noqa: BLE001 - a watcher must outlive any one bad save
        return [f"{stamp} error: {type(exc).__name__}: {exc}"]
    if not state.ok:
        n = len(state.findings)
        return [f"{stamp} {n} problem{'s' if n != 1 else ''}:", *(f"  {f.render()}" for f in state.findings)]
    docs = f"{len(written)} document{'s' if len(written) != 1 else ''} would be issued"
    where = f", previews in {_shown(preview, root)}" if written else ""
    return [f"{stamp} OK: {len(state.repo.projects)} projects; {docs}{where}"]


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root)) + "/"
    except ValueError:
        return str(path) + "/"


class Debouncer(FileSystemEventHandler):
    """Collects relevant events and fires `action` once after `delay` seconds without another one."""

    def __init__(self, root: Path, action: Callable[[], None], delay: float) -> None:
        self.root, self.action, self.delay = root, action, delay
        self.lock = threading.Lock()
        self.timer: threading.Timer | None = None

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        paths = [str(event.src_path), str(getattr(event, "dest_path", "") or "")]
        if not any(p and relevant(self.root, p) for p in paths):
            return
        with self.lock:
            if self.timer is not None:
                self.timer.cancel()
            self.timer = threading.Timer(self.delay, self.action)
            self.timer.daemon = True
            self.timer.start()


def watch(root: Path, on: dt.date | None, echo: Callable[[str], None], delay: float = 0.3,
          preview: Path | None = None, stop: threading.Event | None = None) -> None:
    """Check now, then after every (debounced) save until `stop` is set or the process is interrupted."""
    root = root.resolve()
    preview = preview or root / ".billed" / "preview"
    run_lock = threading.Lock()

    def run() -> None:
        with run_lock:  # never two checks at once: the second waits and sees the newest files
            for line in check_once(root, on or dt.date.today(), preview):
                echo(line)

    observer = Observer()
    handler = Debouncer(root, run, delay)
    observer.schedule(handler, str(root), recursive=False)  # billed.yaml; not .git/ or .venv/ below it
    for folder in RELEVANT_DIRS:
        if (root / folder).is_dir():
            observer.schedule(handler, str(root / folder), recursive=True)
    observer.start()  # before the first check, so a save made while it runs is not missed
    run()
    stop = stop or threading.Event()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        observer.stop()
        observer.join()
