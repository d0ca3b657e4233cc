"""YAML -> plain data with a map from each value's path to its line and column.

Built on PyYAML's C event parser (libyaml) with our own tiny composer, because PyYAML's constructors get three
things wrong for money files: they read `0.10` through float, silently keep the last of two duplicate keys, and
expand alias bombs without limit. Scalars resolve by the YAML 1.2 core schema (so `country: NO` stays Norway and
`2026-03-01` stays a string that the model parses with a located error), numbers become `int` or `Decimal` from
their source text, and every problem comes back as a `Finding`, never an exception.

Most files have nothing to report, and their places are read only when a later finding points into them; so
`load_text` first lets billed/fastload.py build the data alone (~2x faster), and composes here, with every check and
place, only the files it gives up on, and the others' places when first asked for.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from billed import fastload
from billed.errors import Finding
from billed.fastload import MAX_DEPTH, MAX_NODES

# Only the C parser's events are used (composition and construction are ours); it is ~10x faster than the pure
# Python one, which stays as a fallback where libyaml is missing.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_BYTES = 2_000_000

PathKey = tuple[str | int, ...]

_STD = "tag:yaml.org,2002:"


def _tag(tag: str) -> str:
    """A tag as the user wrote it: `!!binary`, not `tag:yaml.org,2002:binary`."""
    return "!!" + tag[len(_STD):] if tag.startswith(_STD) else tag


@dataclass
class Doc:
    """A loaded YAML file: its data, where each value and key sits, and what went wrong reading it.

    The line/column tables are the biggest part of a loaded repo (~20 KB a project file), and they are only read
    when a finding must point into the file. So a doc can `release` them, and its data once the model is built,
    keeping only its text: the tables are rebuilt from the text by parsing it again on first use."""

    path: str
    data: Any = None
    findings: list[Finding] = field(default_factory=list)
    invalid: set[PathKey] = field(default_factory=set)  # values the schema rejected: later checks skip them
    text: str | None = field(default=None, repr=False, compare=False)
    source: str | None = field(default=None, repr=False, compare=False)  # read for `text` on first use, if unset
    tables: tuple[dict[PathKey, tuple[int, int]], dict[PathKey, tuple[int, int]]] | None = field(
        default=None, repr=False, compare=False)

    @property
    def marks(self) -> dict[PathKey, tuple[int, int]]:
        """Path of each value -> (line, column)."""
        return self._tables()[0]

    @property
    def key_marks(self) -> dict[PathKey, tuple[int, int]]:
        """Path of each mapping key -> (line, column)."""
        return self._tables()[1]

    def _tables(self) -> tuple[dict[PathKey, tuple[int, int]], dict[PathKey, tuple[int, int]]]:
        if self.tables is None:
            if self.text is None and self.source is not None:  # (billed/repo.py: a project vouched for by stat)
                self.text, _ = read_text(Path(self.source), self.path)
            again = _compose_fully(self.text, self.path) if self.text is not None else None
            self.tables = (again.marks, again.key_marks) if again is not None else ({}, {})
        return self.tables

    def release(self) -> None:
        """Drop the data and the position tables (rebuilt from `text` when a finding needs a line)."""
        self.data, self.tables = None, None

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (billed/cache.py) without the tables: the cache hands back the text to rebuild them from."""
        return {**self.__dict__, "tables": None, "text": None, "source": None}

    def where(self, path: PathKey, key: bool = False) -> tuple[int, int]:
        """Line and column of `path`, or of its nearest ancestor that has one (aliases share their anchor's)."""
        table = self.key_marks if key else self.marks
        probe = tuple(path)
        while probe:
            if probe in table:
                return table[probe]
            if key and probe in self.marks:
                return self.marks[probe]
            probe = probe[:-1]
        return self.marks.get((), (1, 1))

    def finding(self, path: PathKey, code: str, message: str, hint: str | None = None, key: bool = False):
        line, col = self.where(path, key)
        return Finding(self.path, line, col, code, message, hint)


def read_text(path: Path, shown: str) -> tuple[str | None, list[Finding]]:
    """File -> text, or a located E001 finding for every way a file can be unreadable."""

    def bad(message: str, hint: str | None = None, line: int = 1, col: int = 1):
        return None, [Finding(shown, line, col, "E001", message, hint)]

    try:  # one stat, not three (is_dir, exists, is_file): this runs for every file of the repo
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None  # reported by open() below, as before
    except OSError as exc:
        return bad(f"cannot read file: {exc.strerror or exc}", "check the file's permissions")
    if mode is not None and stat.S_ISDIR(mode):
        return bad("is a directory, expected a YAML file", "remove or rename the directory")
    if mode is not None and not stat.S_ISREG(mode):  # a FIFO or device would block or never end
        return bad("not a regular file, expected a YAML file", "replace it with a plain text file")
    try:
        raw = _read_bytes(path, MAX_BYTES + 1)  # never more: a huge file is reported, not read into memory
    except FileNotFoundError:
        return bad("file not found", "create it, or pass --repo DIR if this is not the billing repo")
    except OSError as exc:
        return bad(f"cannot read file: {exc.strerror or exc}", "check the file's permissions")
    if len(raw) > MAX_BYTES:
        return bad(f"file is larger than the {MAX_BYTES:,} bytes a billing file may have",
                   "split the project, or move attachments out of projects/")
    if b"\x00" in raw:
        return bad("binary file (contains NUL bytes), expected YAML text",
                   "only YAML files belong in projects/; move images and documents elsewhere")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return bad("not valid UTF-8", "save the file as UTF-8", line, col)
    if text.startswith("\ufeff"):
        text = text[1:]
    if not _opens_with_content(text) and (not text.strip() or all(not ln.strip() or ln.lstrip().startswith("#")
                                                                 for ln in text.splitlines())):
        return bad("file is empty", "see `billed init` for a complete example")
    return text, []


def _read_bytes(path: Path, limit: int) -> bytes:
    """Up to `limit` bytes of the file, as `path.open("rb").read(limit)` gives them, with the same errors, without
    a buffered file object (half the time of reading 12,000 small files)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        raw = os.read(fd, limit)
        while raw and len(raw) < limit:  # a short read is the end of the file, or a signal: ask until it says so
            more = os.read(fd, limit - len(raw))
            if not more:
                break
            raw += more
        return raw
    finally:
        os.close(fd)


def _opens_with_content(text: str) -> bool:
    """Whether the first line holds more than blanks and a comment: then the file is not empty, and the test
    above need not split all of it into lines (~4% of reading 10,000 project files). A printable line holds none of
    the characters `splitlines` also breaks at, so it is the first line that test would see."""
    end = text.find("\n")
    head = text if end < 0 else text[:end]
    return head.isprintable() and bool(head.strip()) and not head.lstrip().startswith("#")


def load_file(path: Path, shown: str | None = None, places: bool = False) -> Doc:
    shown = shown or str(path)
    text, findings = read_text(path, shown)
    if text is None:
        return Doc(shown, findings=findings)
    return load_text(text, shown, places)


def load_text(text: str, shown: str, places: bool = False) -> Doc:
    """Text -> Doc. Its position tables are built only when first read, unless `places` asks for them now (for a
    caller that reads the place of every value, where composing twice would be waste)."""
    if not places:
        data = fastload.compose(text)
        if data is not fastload.UNSURE:  # nothing to report: the tables are built by `_compose_fully` if asked
            return Doc(shown, data=data, text=text)
    return _compose_fully(text, shown)


def _compose_fully(text: str, shown: str) -> Doc:
    """The data, every finding at its place, and the position tables of every value and key."""
    doc = Doc(shown, text=text, tables=({}, {}))  # filled as it is composed; rebuilt from `text` once released
    try:
        _Composer(doc).run(yaml.parse(text, Loader=_LOADER))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        hint = "check the indentation and quoting on this line or the one before"
        if "nesting depth" in problem:
            doc.findings.append(Finding(shown, line, col, "E005", "nesting too deep", None))
        else:
            doc.findings.append(Finding(shown, line, col, "E002", f"YAML syntax error: {problem}", hint))
        doc.data = None
    except _Abort:
        doc.data = None
    except yaml.reader.ReaderError as exc:  # control characters: a position in the text, not a mark
        before = text[:exc.position]
        line, col = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        doc.findings.append(Finding(shown, line, col, "E002", f"control character #x{exc.character:04x} is not "
                                    "allowed in YAML", "delete it (it is often pasted from a PDF or terminal)"))
        doc.data = None
    except yaml.YAMLError as exc:  # pragma: no cover - every libyaml error is marked or a reader error
        doc.findings.append(Finding(shown, 1, 1, "E002", f"YAML error: {exc}", None))
        doc.data = None
    return doc


class _Abort(Exception):
    """Stop composing: a limit was hit and a finding recorded."""


class _Composer:
    """Events -> data, keeping marks; iterative with an explicit stack, so depth is bounded by us, not Python."""

    def __init__(self, doc: Doc) -> None:
        self.doc = doc
        self.marks, self.key_marks = doc.marks, doc.key_marks
        self.nodes = 0
        self.anchors: dict[str, tuple[Any, int]] = {}

    def fail(self, event: Any, code: str, message: str, hint: str | None = None) -> None:
        mark = event.start_mark
        self.doc.findings.append(Finding(self.doc.path, mark.line + 1, mark.column + 1, code, message, hint))

    def run(self, events: Any) -> None:
        stack: list[list[Any]] = []  # frames: [container, path, pending_key, anchor, size, seen_keys]
        documents = 0
        for event in events:
            kind = type(event)
            if kind is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    self.fail(event, "E004", "several YAML documents in one file", "keep one document per file")
                    raise _Abort
                continue
            if kind in (yaml.StreamStartEvent, yaml.StreamEndEvent, yaml.DocumentEndEvent):
                continue
            if kind in (yaml.MappingStartEvent, yaml.SequenceStartEvent):
                if len(stack) >= MAX_DEPTH:
                    self.fail(event, "E005", f"nesting deeper than {MAX_DEPTH} levels")
                    raise _Abort
                self.check_tag(event, "map" if kind is yaml.MappingStartEvent else "seq")
                path = self.child_path(stack, event)
                self.mark(path, event)
                container: Any = {} if kind is yaml.MappingStartEvent else []
                stack.append([container, path, None, event.anchor, 1, {}])
                continue
            if kind in (yaml.MappingEndEvent, yaml.SequenceEndEvent):
                frame = stack.pop()
                if isinstance(frame[0], dict) and frame[2] is not None:  # pragma: no cover - parser forbids
                    raise _Abort
                self.finish(stack, frame[0], frame[4], frame[3], event)
                continue
            if kind is yaml.AliasEvent:
                if event.anchor not in self.anchors:  # pragma: no cover - the parser rejects undefined aliases
                    self.fail(event, "E002", f"undefined alias *{event.anchor}")
                    raise _Abort
                value, size = self.anchors[event.anchor]
                if stack and isinstance(stack[-1][0], dict) and stack[-1][2] is None:
                    self.fail(event, "E004", "an alias cannot be a mapping key")
                    raise _Abort
                self.mark(self.child_path(stack, event), event)
                self.finish(stack, value, size, None, event)
                continue
            if kind is yaml.ScalarEvent:
                if stack and isinstance(stack[-1][0], dict) and stack[-1][2] is None:
                    self.take_key(stack[-1], event)
                    continue
                self.mark(self.child_path(stack, event), event)
                self.finish(stack, self.scalar(event, stack), 1, event.anchor, event)

    def check_tag(self, event: Any, kind: str) -> None:
        if event.tag and event.tag not in (_STD + kind, "!"):
            self.fail(event, "E004", f"YAML tag {_tag(event.tag)} is not supported", "remove the tag")
            raise _Abort

    def child_path(self, stack: list[list[Any]], event: Any) -> PathKey:
        if not stack:
            return ()
        frame = stack[-1]
        if isinstance(frame[0], dict):
            if frame[2] is None:
                self.fail(event, "E004", "mapping keys must be plain text", "write the key as a simple word")
                raise _Abort
            return (*frame[1], frame[2])
        return (*frame[1], len(frame[0]))

    def mark(self, path: PathKey, event: Any) -> None:
        self.marks[path] = (event.start_mark.line + 1, event.start_mark.column + 1)

    def take_key(self, frame: list[Any], event: Any) -> None:
        key = event.value
        if key == "<<" and event.implicit[0]:
            self.fail(event, "E004", "merge keys (<<) are not supported", "write the keys out in full")
            raise _Abort
        path = (*frame[1], key)
        where = (event.start_mark.line + 1, event.start_mark.column + 1)
        if key in frame[5]:
            first = frame[5][key]
            self.fail(event, "E003", f"duplicate key '{key}' (first defined on line {first[0]})",
                      "YAML keeps only the last one; remove or rename one of them")
        frame[5][key] = where
        self.key_marks[path] = where
        frame[2] = key

    def finish(self, stack: list[list[Any]], value: Any, size: int, anchor: str | None, event: Any) -> None:
        self.nodes += size
        if self.nodes > MAX_NODES:
            self.fail(event, "E005", f"document expands to more than {MAX_NODES:,} values",
                      "an alias bomb or a file far too large; remove the aliases")
            raise _Abort
        if anchor:
            self.anchors[anchor] = (value, size)
        if not stack:
            self.doc.data = value
            return
        parent = stack[-1]
        parent[4] += size
        if isinstance(parent[0], dict):
            parent[0][parent[2]] = value
            parent[2] = None
        else:
            parent[0].append(value)

    def scalar(self, event: Any, stack: list[list[Any]]) -> Any:
        text = event.value
        tag = event.tag
        if tag and tag not in ("!",):
            if tag == _STD + "str":
                return text
            self.fail(event, "E004", f"YAML tag {_tag(tag)} is not supported", "remove the tag (quote text instead)")
            return None
        if not event.implicit[0]:  # quoted or block scalar: always text
            return text
        value = fastload.plain(text)
        if type(value) is fastload.Bad:
            self.fail(event, "E006", value.message, value.hint)
            return None
        return value
