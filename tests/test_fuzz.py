"""Hostile input: mutated and random YAML fed to check, plan and issue. Never a traceback, never a write when the
input is invalid, always findings with a place, bounded time and memory.

Most examples run in-process (the click group itself, which lets any exception escape, so a bug cannot hide
behind main()'s one-line handler); a few classic bombs go through the real console script as well.
"""

from __future__ import annotations

import re
import resource
import shutil
import time
from pathlib import Path

import pytest
import yaml
from conftest import TOOLKIT, make_repo, run, run_process, snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLE_FILES = ["billed.yaml", *sorted(str(p.relative_to(TOOLKIT)) for p in (TOOLKIT / "projects").rglob("*.yaml"))]
LOCATED = re.compile(r"^(?P<path>[^:\n]+):(?P<line>\d+):(?P<col>\d+): \[E\d{3}\] ", re.M)
NASTY = [b"\x00", b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b": :", b"&a [*a, *a]", b"*undefined",
         b"!!python/object/apply:os.system ['echo x']", b"!!binary aGk=", b"<<: *a", b"- ", b"{", b"}", b"[", b"'",
         b'"', b"\t", b"\r", b"? ", b"---\n", b"...\n", b"%YAML 1.1\n", b"9" * 400, b"1e999999", b".nan", b"-.inf",
         b"0x1F", b"0o17", b"1_000", b"2026-02-30", b"99999999999999999999.999", b"\xe2\x80\xae", b"\\u0000",
         b"{{ doc }}", b"<script>", b"../../etc/passwd", b"#", b"|", b">-", b"*", b"&", b"!", b"%", b"@", b"`"]

CAP_SECONDS = 30.0  # per example: four commands on a repo of a few files, on a shared 2-core machine


def example_repo(root: Path) -> Path:
    """The bundled example repo (3 clients, 4 projects, deposits, percentages, a rest, a cancellation)."""
    make_repo(root, base=False)
    for name in EXAMPLE_FILES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(TOOLKIT / name, root / name)
    return root


@pytest.fixture(scope="module")
def fuzz_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = example_repo(tmp_path_factory.mktemp("fuzz") / "repo")
    assert run(root, "check").code == 0, "the example repo must be valid to start from"
    return root


def mutate(raw: bytes, ops: list[tuple[str, int, bytes]]) -> bytes:
    data = bytearray(raw)
    for op, pos, blob in ops:
        at = pos % (len(data) + 1)
        if op == "flip" and data:
            data[at % len(data)] ^= blob[0] or 1
        elif op == "truncate":
            del data[at:]
        elif op == "insert":
            data[at:at] = blob
        elif op == "delete":
            del data[at:at + len(blob)]
        elif op == "duplicate_line":
            lines = bytes(data).split(b"\n")
            i = pos % len(lines)
            lines.insert(i, lines[i])
            data = bytearray(b"\n".join(lines))
    return bytes(data)


OPS = st.lists(st.tuples(st.sampled_from(["flip", "truncate", "insert", "insert", "delete", "duplicate_line"]),
                         st.integers(0, 4000), st.one_of(st.sampled_from(NASTY), st.binary(min_size=1, max_size=8))),
               min_size=1, max_size=4)

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20), st.floats(allow_nan=False),
                    st.sampled_from(["rest", "10%", "done", "2026-01-01", "EUR", "-1", "1e308"]))
KEYS = st.sampled_from(["title", "start", "milestones", "id", "amount", "status", "done", "total", "deposit",
                        "final", "currency", "name", "address", "country", "email", "seller", "numbering", "x"])
RANDOM_YAML = st.recursive(SCALARS, lambda kids: st.one_of(st.lists(kids, max_size=4),
                                                           st.dictionaries(KEYS, kids, max_size=6)), max_leaves=30)


def assert_clean_failure_or_success(root: Path, before: dict[str, bytes]) -> None:
    """check, plan and issue on the damaged repo: exit 0 or 1, findings located, nothing written on findings."""
    start = time.monotonic()
    for args in (("check",), ("plan", "--date", "2026-12-31"), ("check", "--json")):
        result = run(root, *args)
        assert result.code in (0, 1), (args, result.code, result.err)
        if result.code == 1 and "--json" not in args:
            assert LOCATED.search(result.err), f"finding without a place: {result.err[:500]}"
        assert snapshot(root) == before, f"`billed {args[0]}` wrote a file"
    issued = run(root, "issue", "--no-pdf", "--date", "2026-12-31")
    assert issued.code in (0, 1), issued.err
    if issued.code == 1:
        assert LOCATED.search(issued.err), issued.err[:500]
        assert snapshot(root) == before, "issue wrote files although the repo has problems"
    assert time.monotonic() - start < CAP_SECONDS


def restore(root: Path) -> None:
    for name in EXAMPLE_FILES:
        shutil.copy(TOOLKIT / name, root / name)
    shutil.rmtree(root / "invoices", ignore_errors=True)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(target=st.sampled_from(EXAMPLE_FILES), ops=OPS)
def test_mutated_example_files(fuzz_root: Path, target: str, ops: list[tuple[str, int, bytes]]) -> None:
    restore(fuzz_root)
    path = fuzz_root / target
    path.write_bytes(mutate(path.read_bytes(), ops))
    assert_clean_failure_or_success(fuzz_root, snapshot(fuzz_root))


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(target=st.sampled_from(EXAMPLE_FILES), data=RANDOM_YAML)
def test_random_yaml_documents(fuzz_root: Path, target: str, data: object) -> None:
    restore(fuzz_root)
    (fuzz_root / target).write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert_clean_failure_or_success(fuzz_root, snapshot(fuzz_root))


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(target=st.sampled_from(EXAMPLE_FILES), raw=st.binary(max_size=300))
def test_random_bytes(fuzz_root: Path, target: str, raw: bytes) -> None:
    restore(fuzz_root)
    (fuzz_root / target).write_bytes(raw)
    assert_clean_failure_or_success(fuzz_root, snapshot(fuzz_root))


def alias_bomb(levels: int = 12) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join(f'*a{i - 1}' for _ in range(9))}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


BOMBS = {
    "alias bomb": alias_bomb(),
    "deep nesting (flow)": "title: " + "[" * 5000 + "]" * 5000 + "\n",
    "deep nesting (block)": "".join("  " * i + f"k{i}:\n" for i in range(300)) + "  " * 300 + "v: 1\n",
    "huge number": "title: X\nstart: 2026-01-01\nmilestones:\n  - id: a\n    title: A\n    amount: 1" + "0" * 5000
                   + "\n",
    "huge exponent": "title: X\nstart: 2026-01-01\nmilestones:\n  - id: a\n    title: A\n    amount: 1e999999999\n",
    "huge decimal": "title: X\nstart: 2026-01-01\nmilestones:\n  - id: a\n    title: A\n    amount: 0."
                    + "0" * 3000 + "1\n",
    "non-utf-8": b"title: Caf\xe9\nstart: 2026-01-01\n",
    "utf-16": "title: X\n".encode("utf-16"),
    "nul bytes": b"title: X\x00\n",
    "long line": "title: " + "x" * 1_500_000 + "\n",
    "too large": "# " + "x" * 2_100_000 + "\n",
    "many keys": "".join(f"k{i}: {i}\n" for i in range(20_000)),
    "python tag": "!!python/object/apply:os.system ['touch /tmp/billed-pwned']\n",
    "merge key": "base: &b {title: X}\nproject:\n  <<: *b\n",
    "several documents": "title: X\n---\ntitle: Y\n",
    "only a comment": "# nothing\n",
    "a list": "- 1\n- 2\n",
    "a scalar": "hello\n",
}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_hostile_files_in_process(fuzz_root: Path, name: str) -> None:
    restore(fuzz_root)
    target = fuzz_root / "projects/acme/robot-portal.yaml"
    bomb = BOMBS[name]
    target.write_bytes(bomb if isinstance(bomb, bytes) else bomb.encode("utf-8"))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    before = snapshot(fuzz_root)
    result = run(fuzz_root, "check")
    assert result.code == 1 and LOCATED.search(result.err), result.err[:500]
    assert "robot-portal.yaml" in result.err
    assert_clean_failure_or_success(fuzz_root, before)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss) / 1024
    assert grown_mb < 300, f"{name} made the process grow by {grown_mb:.0f} MB"
    assert not Path("/tmp/billed-pwned").exists()


@pytest.mark.parametrize("name", ["alias bomb", "deep nesting (flow)", "non-utf-8", "huge exponent", "python tag"])
def test_hostile_files_through_the_console_script(tmp_path: Path, name: str) -> None:
    root = example_repo(tmp_path / "repo")
    bomb = BOMBS[name]
    (root / "projects/acme/robot-portal.yaml").write_bytes(bomb if isinstance(bomb, bytes) else bomb.encode())
    before = snapshot(root)
    for args in (("check",), ("plan",), ("issue", "--no-pdf")):
        start = time.monotonic()
        result = run_process(root, *args, timeout=60)
        assert result.code == 1, (args, result.code, result.err)
        assert "Traceback" not in result.err and "internal error" not in result.err, result.err
        assert LOCATED.search(result.err), result.err[:500]
        assert time.monotonic() - start < 30
    assert snapshot(root) == before
