"""One record file: its exact bytes, its hash, its head, and whether it is what Billed wrote.

Split from billed/ledger.py (which keeps the ledger: reading every record, the index, verify, writing). A record
is canonical JSON; `pretty` gives the only bytes its file may hold and `canonical` the bytes its hash covers.
Reading checks both with orjson (`_fast_forms`), and only a record that fails that, or holds a float, goes through
json's own encoder, which words what is wrong (`_content_problems`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import operator
import os
import sys
from decimal import Decimal
from typing import Any

import msgspec
import orjson

FORMAT = 1


def canonical(record: dict[str, Any]) -> bytes:
    """The bytes that are hashed: sorted keys, no whitespace, UTF-8; the `hash` field itself left out."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pretty(record: dict[str, Any]) -> bytes:
    """The exact bytes of a record file: any other byte in the file is tampering."""
    return (json.dumps(record, sort_keys=True, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _fast_forms(record: dict[str, Any]) -> tuple[bytes, bytes]:
    """`canonical` and `pretty` of a record that holds no float, with orjson's encoder: ~8x faster than json's
    indenting one, which is pure Python (the exact-bytes check of 57,000 records took ~3 s at 10,000 projects).
    Byte for byte the same as json's for such data: every code point in keys and values, key order, nesting and
    empty containers (tests/test_ledger.py proves it); orjson raises TypeError where they could differ (an integer
    beyond 64 bits, a lone surrogate). Floats are the one type they print differently (`1e-07` and `1e-7`): a
    record holding one is never given here (`_parse`)."""
    exact = orjson.dumps(record, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE)
    if "hash" not in record:
        return orjson.dumps(record, option=orjson.OPT_SORT_KEYS), exact
    seal = record.pop("hash")  # left out of the canonical form; put back (keys are sorted, so order is moot)
    try:
        return orjson.dumps(record, option=orjson.OPT_SORT_KEYS), exact
    finally:
        record["hash"] = seal


def seal(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "hash": digest(canonical(record))}


# The fields every run needs from every record (numbering, chain, reconciliation, payment states, the dashboard's
# list), kept in a tuple per record; anything else (parties, line texts, taxes) is read from the file when a
# document is rendered, mailed or exported. Holding all 57,000 records of the 10,000-project bench as parsed JSON
# took ~520 MB (bench/README.md); their heads take a tenth of that.
HEAD = ("billed", "number", "series", "year", "seq", "client", "project", "project_title", "kind", "type_code",
        "currency", "issue_date", "due_date", "supply_date", "net", "total", "hash", "prev", "files", "corrects")
_AT = {name: i for i, name in enumerate(HEAD)}
_SERIES, _YEAR, _SEQ, _ISSUED = _AT["series"], _AT["year"], _AT["seq"], _AT["issue_date"]
REQUIRED = ("number", "series", "year", "seq", "client", "project", "lines", "hash")
_REQUIRED = operator.itemgetter(*REQUIRED)
# role, ref, net, tax_rate, category: what reconciliation reads of each line (`Record.amounts`; the record's own
# "lines", with texts, are dicts and come from the file)
Line = tuple[str, str, str, str, str]


# A key the record does not have: Ellipsis, which no JSON decoder gives, so it cannot be mistaken for a value; one
# object in every process, and marshal (the ledger index, billed/ledger.py) stores it as it stores the rest.
ABSENT: Any = ...


_FIELDS = operator.itemgetter(*HEAD)
# fields whose texts repeat across records (one `client-00175` or `2026-06-30` for thousands of heads)
_POOLED = tuple(_AT[k] for k in ("series", "client", "project", "project_title", "kind", "type_code", "currency",
                                 "issue_date", "due_date", "supply_date"))
_HASH, _PREV, _FILES = _AT["hash"], _AT["prev"], _AT["files"]
_CLIENT, _PROJECT, _KIND, _CURRENCY = _AT["client"], _AT["project"], _AT["kind"], _AT["currency"]
_DUE, _SUPPLY = _AT["due_date"], _AT["supply_date"]
_NET, _TOTAL, _CORRECTS, _TYPE = _AT["net"], _AT["total"], _AT["corrects"], _AT["type_code"]
# UNTDID 1001 document codes a record may carry: the ones Billed titles (billed/titles.py TITLES), 380 commercial
# invoice, 381 credit note, 384 corrected invoice, 386 prepayment invoice
TYPE_CODES = frozenset({"380", "381", "384", "386"})


def head_of(data: dict[str, Any], hashes: dict[str, str] | None = None) -> tuple[tuple[Any, ...], tuple[Line, ...]]:
    """The indexed fields of a record and the reconciliation view of its lines. Short repeated strings are
    interned, so 57,000 heads share one `client-00175` or `2026-06-30` each; with `hashes` (one per ledger read),
    a record's `prev` is the very string of its predecessor's `hash`, so the index pickles each once. Written
    out field by field: this ran for every record of an empty-cache check (~2 s at 10,000 projects as a
    generator over HEAD)."""
    try:
        fields = list(_FIELDS(data))
    except KeyError:
        fields = [data.get(k, ABSENT) for k in HEAD]
    intern = sys.intern
    for i in _POOLED:
        value = fields[i]
        if type(value) is str and len(value) < 40:
            fields[i] = intern(value)
    if hashes is not None:
        for i in (_HASH, _PREV):
            value = fields[i]
            if type(value) is str:
                fields[i] = hashes.setdefault(value, value)
    lines = []
    for line in data["lines"]:
        try:  # a line as Billed writes it: five texts (else each field as `_line` reads it, with its errors)
            role, ref, net, rate, category = _LINE(line)
        except (KeyError, TypeError):
            lines.append(_line(line))
            continue
        if type(role) is str and type(ref) is str and type(net) is str and type(rate) is str \
                and type(category) is str:
            lines.append((intern(role), intern(ref), net, intern(rate), intern(category)))
        else:
            lines.append(_line(line))
    return tuple(fields), tuple(lines)


_LINE = operator.itemgetter("role", "ref", "net", "tax_rate", "category")


def _line(line: dict[str, Any]) -> Line:
    """One line's reconciliation view, whatever its fields hold (absent ones are empty texts)."""
    intern = sys.intern
    return (intern(str(line.get("role", ""))), intern(str(line.get("ref", ""))), str(line.get("net", "")),
            intern(str(line.get("tax_rate", ""))), intern(str(line.get("category", ""))))


def _read_bytes(path: str, size: int) -> bytes:
    """A whole file, in as few system calls as its size allows (io.open's buffered reader and its context manager
    cost more than reading a 3 KB record; 115,000 files are read by an empty-cache check at 10,000 projects)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return _read_fd(fd, size)
    finally:
        os.close(fd)


def _read_fd(fd: int, size: int) -> bytes:
    parts, total = [], 0
    while True:  # one read when the file is as its stat said; else on to the end (it grew, or a short read)
        want = size + 1 - total
        chunk = os.read(fd, want if want > 1 << 16 else 1 << 16)
        if not chunk:
            break
        parts.append(chunk)
        total += len(chunk)
        if total == size:
            break
    return parts[0] if len(parts) == 1 else b"".join(parts)


_OPEN = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY  # (a FIFO or a terminal neither blocks nor adopts)
_REGULAR = 0o100000


def _open_read(path: str) -> tuple[os.stat_result, bytes | None]:
    """The stat of a file and, if it is a regular file, its bytes: one path lookup (open, then fstat of what was
    opened) instead of two (stat, then open), for a file that no index entry can vouch for and that is read
    anyway. The stat is taken before the bytes are read, as `os.stat` then `_read_bytes` took it, so a write
    during the read changes the file's ctime after the stat this run keeps (it is not vouched for next time)."""
    fd = os.open(path, _OPEN)
    try:
        st = os.fstat(fd)
        if (st.st_mode & 0o170000) != _REGULAR:
            return st, None
        return st, _read_fd(fd, st.st_size)
    finally:
        os.close(fd)


_UNREADABLE = (OSError, ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError, ArithmeticError)


def _parse(raw: bytes, hashes: dict[str, str] | None = None) -> tuple[dict[str, Any], tuple[Any, ...],
                                                                     tuple[Line, ...], tuple[str, ...]]:
    """The bytes of a record file -> (data, head, amounts, what is wrong with the bytes themselves). Raises one
    of _UNREADABLE when they are not a Billed record at all. Used on reading and again when the whole record is
    needed later (Record.data), so both check the same things."""
    try:
        data, plain = _FAST.decode(raw), True
    except Exception:  # noqa: BLE001 - a float (see _fast_forms), or not JSON at all: json decides and words it
        data, plain = _decode(raw)
    if not isinstance(data, dict) or data.get("billed") != FORMAT:
        raise ValueError("not a Billed record")
    _REQUIRED(data)  # present (a KeyError names the first one missing)
    head, amounts = head_of(data, hashes)
    _well_formed(head, amounts)
    return data, head, amounts, _content_problems(data, raw, plain)


def _decode(raw: bytes) -> tuple[Any, bool]:
    """json's reading of a record that msgspec would not take (with json's own words for what is wrong), and
    whether it holds no float."""
    try:
        text = raw.decode("utf-8")
        try:
            if text.startswith("\ufeff"):
                json.loads(text)  # raises json's own words for it ("Unexpected UTF-8 BOM")
            data, plain = _PLAIN.decode(text), True
        except _Float:  # a float Billed never writes: checked by json's own encoder alone, see _fast_forms
            data, plain = json.loads(text), False
    except RecursionError:  # e.g. 200,000 nested [: tampering, not a bug (the decoder recurses per level)
        raise ValueError("nested too deeply to be a Billed record") from None
    return data, plain


class _Float(Exception):
    """A float (or NaN, Infinity) in a record file."""


def _no_float(_: str) -> Any:
    raise _Float


# msgspec's decoder (C; ~1.6x json's on records) with floats refused, so what it returns is float-free. Where it
# succeeds json would give the same data: a record passes only if its bytes are orjson's (= json's) printing of
# that data, and json reads such bytes back to exactly that data. Anything it refuses goes to json (_decode).
_FAST = msgspec.json.Decoder(float_hook=_no_float)
_PLAIN = json.JSONDecoder(parse_float=_no_float, parse_constant=_no_float)  # one, not one per record (json.loads
# with arguments builds a decoder on every call: ~0.1 s of an empty-cache check at 10,000 projects)


_DAYS: set[str] = set()  # day texts already proven to be dates as Billed writes them (a few hundred distinct)


def _is_day(value: Any) -> bool:
    """A date as Billed writes it (date.isoformat: YYYY-MM-DD), not merely one date.fromisoformat reads."""
    if type(value) is not str:
        return False
    if value in _DAYS:
        return True
    try:
        good = dt.date.fromisoformat(value).isoformat() == value
    except ValueError:
        return False
    if good:
        _DAYS.add(value)
    return good


_RENDERINGS = frozenset({"html", "pdf"})  # what `files` may name: billed/api/issuing.py writes these two


def _well_formed(head: tuple[Any, ...], amounts: tuple[Line, ...]) -> None:
    """What numbering, the chain and reconciliation compute with must have its type: a record resealed with,
    say, a text `seq` or a null net is unreadable (E060), not a crash further on. (Exact types: a decoder gives
    no subclass of int or str, and `type(x) is int` leaves bool out.)"""
    if type(head[_YEAR]) is not int or type(head[_SEQ]) is not int:
        raise TypeError("year and seq must be whole numbers")
    if type(head[1]) is not str or type(head[_SERIES]) is not str or type(head[_CLIENT]) is not str \
            or type(head[_PROJECT]) is not str or type(head[_ISSUED]) is not str:
        raise TypeError("number, series, client, project and issue_date must be text")
    if type(head[_KIND]) is not str or type(head[_CURRENCY]) is not str:  # (billed_state orders and sums by them)
        raise TypeError("kind and currency must be text")
    if type(head[_TYPE]) is not str or head[_TYPE] not in TYPE_CODES:  # (every title and e-invoice is chosen by it)
        raise ValueError("type_code must be one of 380, 381, 384 and 386")
    if not _is_day(head[_ISSUED]):  # (sorted as text, read back with date.fromisoformat by status, dunning...)
        raise ValueError("issue_date must be a date written YYYY-MM-DD")
    for day in (head[_DUE], head[_SUPPLY]):
        if day is not ABSENT and day is not None and not _is_day(day):
            raise ValueError("due_date and supply_date must be dates written YYYY-MM-DD, or null")
    files = head[_FILES]
    if not (files is ABSENT or files is None or type(files) is dict):
        raise TypeError("files must be a mapping of rendered files to their SHA-256")
    if files and files is not ABSENT and not _RENDERINGS.issuperset(files):  # (each is read beside the record:
        raise ValueError("files may name the html and pdf renderings only")  # a made-up name is a path to follow)
    corrects = head[_CORRECTS]  # (status, payments and plan look it up among the document numbers)
    if not (corrects is ABSENT or corrects is None or type(corrects) is str):
        raise TypeError("corrects must be the number of a document, or null")
    if type(head[_NET]) is not str or type(head[_TOTAL]) is not str:  # (status, payments and exports sum them)
        raise TypeError("net and total must be amounts written as text")
    try:
        finite = Decimal(head[_NET]).is_finite() and Decimal(head[_TOTAL]).is_finite()
    except ArithmeticError:
        finite = False
    if not finite:
        raise ValueError("net and total must be amounts")
    for line in amounts:
        Decimal(line[2])
        Decimal(line[3])


def _content_problems(data: dict[str, Any], raw: bytes, plain: bool = False) -> tuple[str, ...]:
    """The record's own integrity, checked once when its bytes are read: its hash, then its exact bytes (each
    message follows the record's number). A `plain` record (no float) is first checked with orjson; only a record
    that fails that, or cannot be given to it, goes through json's encoder, which words what is wrong."""
    if plain:
        try:
            canon, exact = _fast_forms(data)
        except TypeError:
            pass
        else:
            if raw == exact and digest(canon) == data["hash"]:
                return ()
    try:
        if digest(canonical(data)) != data["hash"]:
            return (" was edited after it was issued (its hash does not match)",)
        if raw != pretty(data):
            return (": the file's bytes were changed after it was issued",)
    except UnicodeEncodeError:  # a \ud800-style escape: JSON allows it, UTF-8 (and so Billed) never writes it
        return (" was edited after it was issued (it holds text that is not valid Unicode)",)
    return ()


# --- the rest of a record, checked when a command opens it whole (Record.data) ------------------------------------

_TEXT_OR_NULL = ("buyer_reference", "purchase_order", "pay_link", "tax_note", "language", "locale", "tax")


def _text(value: Any) -> bool:
    return value is None or type(value) is str


def _party(value: Any) -> bool:
    """buyer, seller, bank: text fields, and lists of texts (an address, managing directors: model.Party)."""
    return type(value) is dict and all(_text(v) or _texts(v) for v in value.values())


def _rows(value: Any, flags: tuple[str, ...] = ()) -> bool:
    """taxes, prepaid, lines: a list of mappings of text (or null), `flags` true or false; a line's `details` is
    a list of texts, its `wording` the message and the texts it was worded from (engine.wording)."""
    return type(value) is list and all(type(row) is dict and all(
        _text(v) or (k in flags and type(v) is bool) or (k == "details" and _texts(v)) or (k == "wording" and _said(v))
        for k, v in row.items()) for row in value)


def _texts(value: Any) -> bool:
    return type(value) is list and all(type(x) is str for x in value)


def _said(value: Any) -> bool:
    return type(value) is dict and type(value.get("id")) is str and type(value.get("args")) is dict and all(
        type(x) is str for x in value["args"].values()) and value.keys() == {"id", "args"}


def shape_problem(data: dict[str, Any]) -> str | None:
    """What is wrong with the parts of a record outside its head (which `_well_formed` checks on every read), or
    None: each as Billed writes it. Checked when a command opens a record whole (render, mail, export, the pay
    page), so that a record resealed with a mapping turned into text is refused with its name instead of failing
    deep inside that command. (Not on every read: ~1 us a record, ~60 ms of an empty-cache check at 10,000.)"""
    for key in ("buyer", "seller"):
        if not _party(data.get(key)):
            return f"{key} must be a party: text fields and lists of texts"
    if not (data.get("bank") is None or _party(data["bank"])):
        return "bank must be text fields (iban, bic) or null"
    for key, flags in (("lines", ()), ("taxes", ()), ("prepaid", ("paid",))):
        if key in data and not _rows(data[key], flags):
            return f"{key} must be a list of mappings of text"
    for key in _TEXT_OR_NULL:
        if not _text(data.get(key)):
            return f"{key} must be text or null"
    terms = data.get("payment_terms")
    if not (terms is None or type(terms) is int):
        return "payment_terms must be a whole number of days or null"
    if not (data.get("source") is None or type(data["source"]) is dict):
        return "source must be a mapping or null"
    return None
