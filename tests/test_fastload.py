"""The lean composer (billed/fastload.py) answers only where load.py's full composer would find nothing, and then
with the very same data; anywhere else the full composer decides. Checked on generated YAML of every kind: all
scalar resolutions, quoted and block scalars, duplicate and merge keys, anchors, aliases, tags, complex keys,
several documents, deep nesting, unicode, and random edits that break the syntax."""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from billed import fastload, load

PLAIN = ["", "~", "null", "Null", "NULL", "nul", "true", "True", "TRUE", "false", "FALSE", "tRUE", "yes", "NO", "on",
         "0", "-0", "+12", "010", "12345678901234567890", "9" * 40, "9" * 41, "-" + "9" * 41, "0.10", "1.", ".5",
         "-0.0", "+.5", "1e5", "1E-3", "2.5e+10", "1e40", "1e41", "1e-41", "1e999", "-1e999", ".inf", "-.Inf", "+.INF",
         ".NaN", ".nan", ".NAN", "inf", "nan", "0x10", "0o7", "1_000", "1,5", "2026-03-01", "12%", "15.5%", "rest",
         "café", "日本語", "a b", "Design 1", "1.2.3", "-", ".", "+", "e5", "1e", "--1", "<<", "=", "@x", "tab\there"]
KEYS = ["a", "b", "c", "id", "1", "null", "true", "é", "a b", "x-y"]
NAMES = ["x", "y", "z"]
SAFE = st.text(st.characters(codec="utf-8", categories=["L", "N", "Zs"]), min_size=1, max_size=6)
WORDS = st.one_of(st.sampled_from(PLAIN), st.sampled_from(PLAIN), SAFE, st.text(max_size=6))


def same(a: Any, b: Any) -> bool:
    """Equal, of the same types, Decimals of the same digits and exponent, keys in the same order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Decimal):
        return a.as_tuple() == b.as_tuple()
    return a == b


@st.composite
def props(draw: st.DrawFn, odd: bool) -> str:
    """An anchor and a tag, sometimes: the full composer takes some tags (!!str, !), refuses others."""
    if not odd:
        return ""
    anchor = draw(st.sampled_from([""] * 6 + ["&x ", "&y "]))
    tag = draw(st.sampled_from([""] * 12 + ["!!str ", "! ", "!!int ", "!!map ", "!!seq ", "!local "]))
    return anchor + tag


@st.composite
def scalar(draw: st.DrawFn, odd: bool) -> str:
    word = draw(WORDS)
    style = draw(st.sampled_from(["plain"] * 6 + ["single", "double", "block"] + ["alias"] * odd))
    if style == "alias":
        return "*" + draw(st.sampled_from(NAMES))
    pre = draw(props(odd))
    if style == "single":
        return pre + "'" + word.replace("'", "''") + "'"
    if style == "double":
        return pre + '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if style == "block":
        return pre + "|\n" + "".join(f"{{pad}}  {line}\n" for line in (word.splitlines() or [""]))
    return pre + word


def tree(odd: bool) -> st.SearchStrategy[Any]:
    """("s", text) leaves in ("m", [(key, node)], flow, props) and ("l", [node], flow, props); `odd` adds anchors,
    aliases, tags and keys that are not plain words."""
    leaves = st.builds(lambda t: ("s", t), scalar(odd))
    strange = st.sampled_from(["? [k]", "[k]", "? {k: v}", "*x", "&x k", "!!str k", "!!int 1", "'<<'", "<<", "? k"])
    keys = st.one_of(st.sampled_from(KEYS), st.sampled_from(KEYS).map(lambda k: f"'{k}'"), SAFE,
                     *([strange, st.text(max_size=3)] if odd else []))
    return st.recursive(leaves, lambda kids: st.one_of(
        st.tuples(st.just("m"), st.lists(st.tuples(keys, kids), max_size=4), st.booleans(), props(odd)),
        st.tuples(st.just("l"), st.lists(kids, max_size=4), st.booleans(), props(odd))), max_leaves=14)


def inline(node: Any) -> str:
    if node[0] == "s":
        text = node[1]
        return text.split("|\n")[0] + '""' if "|\n" in text else text
    kind, items, _, pre = node
    if kind == "m":
        return pre + "{" + ", ".join(f"{k}: {inline(v)}" for k, v in items) + "}"
    return pre + "[" + ", ".join(inline(v) for v in items) + "]"


def value(node: Any, pad: str) -> str:
    """The node as written after `key:` or `-` at indentation `pad`."""
    if node[0] == "s":
        return " " + node[1].replace("{pad}", pad) + ("" if "|\n" in node[1] else "\n")
    if node[2] or not node[1]:
        return " " + inline(node) + "\n"
    return (" " + node[3].strip() if node[3].strip() else "") + "\n" + body(node, pad + "  ")


def body(node: Any, pad: str) -> str:
    """The items of a block collection at indentation `pad`."""
    if node[0] == "m":
        return "".join(f"{pad}{k}:" + value(v, pad) for k, v in node[1])
    return "".join(f"{pad}-" + value(v, pad) for v in node[1])


@st.composite
def documents(draw: st.DrawFn) -> str:
    root = draw(st.booleans().flatmap(tree))
    if root[0] == "s" or root[2] or not root[1]:
        text = inline(root) + "\n"
    else:
        text = (root[3].strip() + "\n" if root[3].strip() else "") + body(root, "")
    if draw(st.integers(0, 9)) == 0:
        text += draw(st.sampled_from(["---\na: 1\n", "...\n", "--- x\n", "# end\n", "---\n"]))
    for op, at, blob in draw(st.lists(st.tuples(st.sampled_from(["ins", "del"]), st.integers(0, 10**4),
                                                st.sampled_from(list(":-[]{}#&*!|>'\"\t\x01\x85é ,?\n") + ["\n  "])),
                                      max_size=draw(st.sampled_from([0, 0, 0, 1, 2])))):
        at %= len(text) + 1
        text = text[:at] + blob + text[at:] if op == "ins" else text[:at] + text[at + 1:]
    return text


def check(text: str) -> None:
    full = load._compose_fully(text, "f.yaml")
    fast = fastload.compose(text)
    if fast is not fastload.UNSURE:
        assert full.findings == [], "the lean composer answered where the full one reports"
        assert same(fast, full.data)
    doc = load.load_text(text, "f.yaml")
    assert doc.findings == full.findings
    assert same(doc.data, full.data)
    assert doc.marks == full.marks and doc.key_marks == full.key_marks


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
@example("a: 1\nb: [x, 0.10, ~, True]\nc: {d: 1e5, e: '7'}\n")
@example("a: 1\na: 2\n")
@example("a: &x [1]\nb: *x\n")
@example("<<: {a: 1}\n")
@example("'<<': 1\n")
@example("a: !!str 1\n")
@example("a: 1\n---\nb: 2\n")
@example("[[x]]: 1\n")
@example("- .nan\n")
@example("7\n")
@example("")
@example("# nothing\n")
def test_lean_and_full_composers_agree(text: str) -> None:
    check(text)


@pytest.mark.parametrize("depth", [load.MAX_DEPTH - 1, load.MAX_DEPTH, load.MAX_DEPTH + 1])
@pytest.mark.parametrize("flow", [True, False])
def test_nesting_at_the_limit(depth: int, flow: bool) -> None:
    if flow:
        text = "[" * depth + "x" + "]" * depth + "\n"
    else:
        text = "".join(" " * (2 * i) + "k:\n" for i in range(depth)) + " " * (2 * depth) + "k: x\n"
    check(text)


@pytest.mark.parametrize(("items", "more"), [(66_665, "b: x\n"), (66_665, "b: [x]\n"), (66_666, "")])
def test_size_at_the_limit(items: int, more: str) -> None:
    """load.py counts a value once for itself and once for each collection above it: `a: [...]` with n scalars
    is 1 + 2 + 3n, `b: x` adds 2, `b: [x]` adds 2 + 3; 200,000 is allowed, one more is E005."""
    text = "a: [" + ", ".join(["x"] * items) + "]\n" + more
    check(text)
    expected = 3 + 3 * items + {"": 0, "b: x\n": 2, "b: [x]\n": 5}[more]
    assert (expected > load.MAX_NODES) == bool(load.load_text(text, "f.yaml").findings)


BAD = fastload.Bad
RESOLVED = {  # written by hand from the YAML 1.2 core schema, with exact numbers and Billed's range
    "": None, "~": None, "null": None, "Null": None, "NULL": None, "nul": "nul", "true": True, "True": True,
    "TRUE": True, "false": False, "FALSE": False, "tRUE": "tRUE", "yes": "yes", "NO": "NO", "on": "on", "0": 0,
    "-0": 0, "+12": 12, "010": 10, "12345678901234567890": 12345678901234567890, "9" * 40: int("9" * 40),
    "9" * 41: BAD, "-" + "9" * 41: BAD, "0.10": Decimal("0.10"), "1.": Decimal("1"), ".5": Decimal("0.5"),
    "-0.0": Decimal("-0.0"), "+.5": Decimal("0.5"), "1e5": Decimal("1E+5"), "1E-3": Decimal("0.001"),
    "2.5e+10": Decimal("2.5E+10"), "1e40": Decimal("1E+40"), "1e41": BAD, "1e-41": BAD, "1e999": BAD, "-1e999": BAD,
    ".inf": BAD, "-.Inf": BAD, "+.INF": BAD, ".NaN": BAD, ".nan": BAD, ".NAN": BAD, "inf": "inf", "nan": "nan",
    "0x10": "0x10", "0o7": "0o7", "1_000": "1_000", "1,5": "1,5", "2026-03-01": "2026-03-01", "12%": "12%",
    "15.5%": "15.5%", "rest": "rest", "café": "café", "日本語": "日本語", "a b": "a b", "Design 1": "Design 1",
    "1.2.3": "1.2.3", "-": "-", ".": ".", "+": "+", "e5": "e5", "1e": "1e", "--1": "--1", "<<": "<<", "=": "=",
    "@x": "@x", "tab\there": "tab\there"}


@pytest.mark.parametrize("word", PLAIN)
def test_plain_scalars_resolve_by_the_core_schema(word: str) -> None:
    for _ in range(2):  # resolved, then remembered
        value = fastload.plain(word)
        assert type(value) is BAD if RESOLVED[word] is BAD else same(value, RESOLVED[word])
        if word == "1.":
            assert str(value) == "1"  # Decimal("1.") keeps no trailing point; "0.10" keeps its digits (above)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.sampled_from(PLAIN), st.from_regex(r"[-+.~nNtTfF0-9eE_x]{0,6}", fullmatch=True), st.text()))
@example("\n")  # `$` matched before a final newline: "\n" resolved as null, its shortcut as text
@example("1\n")
def test_plain_takes_its_shortcuts_and_memory_faithfully(word: str) -> None:
    """`plain` answers text from the first character and remembers the rest: the same as resolving afresh."""
    fresh = fastload._resolve(word)
    for _ in range(2):  # resolved, then remembered
        value = fastload.plain(word)
        assert same(fresh, value) or (type(fresh) is type(value) is BAD and fresh.message == value.message)


def test_lean_docs_build_their_places_on_first_use() -> None:
    doc = load.load_text("title: x\nmilestones:\n  - id: a\n    amount: 5\n", "f.yaml")
    assert doc.tables is None and doc.data == {"title": "x", "milestones": [{"id": "a", "amount": 5}]}
    assert doc.where(("milestones", 0, "amount")) == (4, 13)
    assert doc.where(("milestones", 0, "amount"), key=True) == (4, 5)
    assert load.load_text("a: 1\n", "f.yaml", places=True).tables == ({("a",): (1, 4), (): (1, 1)}, {("a",): (1, 1)})


LINE_VALUES = ["x", "Design 1", "0.10", "-5", "-.5", "-a", "-", "- x", "--", "~", "null", "true", "2026-03-01", "café",
               "a:b", "a: b", "a:", "x #c", "x#c", "#c", "'q'", "'it''s'", "'a' #c", "'a'x", "''", '"d"', '"a\\"b"',
               '"a" #c', '""', "[a, b]", "[]", "[ ]", "[a,]", "[a: b]", "[a, [b]]", "[a] #c", "[a]x", "{a: b}",
               "&x a", "*x", "!t a", "|", ">", "? x", "?x", ": x", "@x", "`x", "%x", "x?", "a{b", "1e999", ".nan",
               "9" * 41, "a  b", "x ", "=x", "(x)", "/x", "+1", ".", "...", "---", "é:", "<<"]
LINE_KEYS = ["a", "b", "id", "x-y", "_k", "1", "a b", "'a'", "é", "<<", "a:"]


GOOD_VALUES = ["x", "Design 1", "0.10", "-5", "~", "true", "2026-03-01", "café", "a:b", "x #c", "'q'", '"d"',
               "[a, b]", "[]", "12%", "rest", "+1", "a  b"]
GOOD_KEYS = ["a", "b", "id", "x-y", "_k", "title"]


@st.composite
def block_tree(draw: st.DrawFn, pad: str, depth: int) -> list[str]:
    """The lines of a block mapping or list at `pad`, mostly as the line reader takes them: nested collections,
    `- key:` items, lists at their key's indentation, comments and blank lines anywhere, comments after values."""
    mapping = depth == 0 or draw(st.booleans())
    out: list[str] = []
    keys = draw(st.lists(st.sampled_from(GOOD_KEYS), min_size=1, max_size=4, unique=True))
    for key in keys if mapping else range(len(keys)):
        lead = f"{pad}{key}:" if mapping else f"{pad}-"
        if depth < 3 and draw(st.integers(0, 3)) == 0:
            inner = draw(st.sampled_from(["  ", "    ", " ", ""] if mapping else ["  ", "   "]))
            kids = draw(block_tree(pad + inner, depth + 1))
            if not mapping and inner and draw(st.booleans()) and not kids[0].lstrip().startswith("-"):
                out.append(f"{pad}-{' ' * (len(inner) - 1)}{kids[0].lstrip()}")  # `- key: value`
                out.extend(kids[1:])
            else:
                out.append(lead + draw(st.sampled_from(["", "", " # c", "  "])))
                out.extend(kids)
        else:
            word = draw(st.sampled_from(GOOD_VALUES * 3 + LINE_VALUES))
            out.append(f"{lead} {word}" + draw(st.sampled_from(["", "", "", " ", " # c"])))
        if draw(st.integers(0, 7)) == 0:
            out.append(" " * draw(st.integers(0, 6)) + draw(st.sampled_from(["# note", "", "#"])))
    return out


@st.composite
def block_lines(draw: st.DrawFn) -> str:
    """Block YAML near the line reader's border: mostly what it takes, with values of every kind it takes or
    refuses, and now and then a line moved, a character inserted or deleted, a line ending it refuses."""
    text = "\n".join(draw(block_tree("", 0))) + draw(st.sampled_from(["\n"] * 8 + ["", "\n\n", "\r\n", "\t\n"]))
    for op, at, blob in draw(st.lists(st.tuples(st.sampled_from(["ins", "del"]), st.integers(0, 10**4),
                                                st.sampled_from(list(" -:#'\"[],\n\t&*!|>{}?") + ["\n  ", "  "])),
                                      max_size=draw(st.sampled_from([0, 0, 0, 1, 2])))):
        at %= len(text) + 1
        text = text[:at] + blob + text[at:] if op == "ins" else text[:at] + text[at + 1:]
    return text


@settings(max_examples=int(os.environ.get('BILLED_LINE_EXAMPLES', '600')), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(block_lines())
@example("a: 1\nb:\n- x\n- y: 2\n  z: [p, q]\nc: 'it''s' # note\n")
@example("a:\n  b:\n    - x\n  c: 1\n")
@example("- x\n")
@example("a: 1\n  b: 2\n")
@example("a" * 128 + ": 1\n" + "b" * 129 + ": 2\n")
@example("a" * 1100 + ": 1\n")  # libyaml refuses a plain key past 1024 characters
@example("a: x\n  # c\nb: y\n")
@example("- a:\n  - x\n  b: 1\n")
def test_line_reader_answers_only_as_the_event_composer_does(text: str) -> None:
    """fastload.lines reads the plainest block YAML line by line; where it answers, libyaml's events composed by
    fastload._compose give the same data (and the full composer finds nothing: `check`)."""
    answer = fastload.lines(text)
    if answer is not fastload.UNSURE:
        import yaml
        from yaml._yaml import CParser

        try:
            events = fastload._compose(CParser(text).get_event)
        except yaml.YAMLError:
            events = "a YAML error"
        assert events is not fastload.UNSURE and same(answer, events)
    check(text)


def test_line_reader_reads_a_billing_file() -> None:
    """It answers for the shape of the files it is for (else it would only cost time)."""
    text = ("title: Site\nstart: 2026-01-05\ntotal: 1000.00  # net\nmilestones:\n  - id: a\n    title: 'A: one'\n"
            "    amount: 40%\n    deliverables: [Plan, Review 2]\n  - id: b\n    title: \"B\"\n    amount: rest\n"
            "    done: ~\n")
    assert same(fastload.lines(text), {"title": "Site", "start": "2026-01-05", "total": Decimal("1000.00"),
                                       "milestones": [{"id": "a", "title": "A: one", "amount": "40%",
                                                       "deliverables": ["Plan", "Review 2"]},
                                                      {"id": "b", "title": "B", "amount": "rest", "done": None}]})
