"""Hostile and careless input that would make a document unsendable or a run explode (billed/untrusted.py, and the
record parser): control characters in mail headers, addresses a regex let through, unbounded format widths,
symlinks out of the repo, records nested 200,000 levels deep. Each is refused by `check` with a place, and
`issue` writes nothing."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from billed import untrusted
from tests.conftest import CLIENT, SETTINGS, WEBSITE, make_repo, run, run_process, snapshot
from tests.test_mail import smtp  # noqa: F401 - fixture: a real SMTP server on loopback

DATE = "2026-03-01"


def repo_with(tmp_path: Path, files: dict[str, str]) -> Path:
    return make_repo(tmp_path / "repo", {"projects/nordlicht/web.yaml": WEBSITE, **files})


def refused(root: Path, code: str) -> str:
    """check and issue both exit 1 naming `code`, and nothing is written."""
    before = snapshot(root)
    checked = run(root, "check")
    assert checked.code == 1 and f"[{code}]" in checked.err, checked.err
    issued = run_process(root, "issue", "--no-pdf", "--date", DATE)
    assert issued.code == 1 and "Traceback" not in issued.err, issued.err
    assert snapshot(root) == before
    return checked.err


@pytest.mark.parametrize(("field", "value", "named"), [
    ("name", '"Nordlicht\\r\\nBcc: all@evil.example"', "U+000D carriage return"),
    ("name", '"Nordlicht\\u0085Verlag"', "U+0085 next line"),
    ("name", '"Nordlicht\\u2028Verlag"', "U+2028 LINE SEPARATOR"),
    ("email", '"rechnungen@nordlicht.example\\u0001"', "U+0001 control character"),
])
def test_control_characters_in_header_text_are_refused(tmp_path: Path, field: str, value: str, named: str) -> None:
    client = CLIENT.replace(f"{field}: " + ("Nordlicht Verlag GmbH" if field == "name" else
                                            "rechnungen@nordlicht.example"), f"{field}: {value}")
    root = repo_with(tmp_path, {"projects/nordlicht/client.yaml": client})
    err = refused(root, "E045")
    assert f"[E045] the client's {field} holds a control character ({named})" in err


@pytest.mark.parametrize("address", ["rechnungen@nordlicht.example\n", "a..b@nordlicht.example",
                                     "rechnungen@nordlicht_verlag.example", "rechnungen@nordlicht.test",
                                     "x@y.example\r\nBcc: all@evil.example", "two@a.example, three@b.example"])
def test_addresses_are_parsed_not_matched(address: str) -> None:
    assert untrusted.email_problem(address)


@pytest.mark.parametrize("address", ["rechnungen@nordlicht.example", "büro@bücher.example", "a+tag@x.example"])
def test_real_addresses_pass(address: str) -> None:
    assert untrusted.email_problem(address) is None


# Pieces of addresses: of the plain shape (hypothesis writes them from its parts' regexes) or near its edges: case,
# every dot-atom symbol, dots and hyphens in runs, underscores, punycode, non-ASCII, spaces, brackets, reserved
# names, and labels and parts around their length limits.
_LOCAL = st.one_of(st.from_regex(r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*", fullmatch=True),
                   st.text(alphabet="aZ09._+-!#~\"é <>", max_size=70))
_LABEL = st.one_of(st.from_regex(r"[a-z0-9]+(?:-[a-z0-9]+)*", fullmatch=True),
                   st.text(alphabet="ab09-", min_size=58, max_size=66),
                   st.text(alphabet="az09-_AÄ.", max_size=10), st.sampled_from(["xn--n3h", "ab--c"]))
_TLD = st.one_of(st.from_regex(r"[a-z]+", fullmatch=True), st.sampled_from(sorted(untrusted.RESERVED_TLDS)),
                 st.sampled_from(["e1", "Com", "co-uk", "é"]))


@settings(max_examples=300, deadline=None)
@given(local=_LOCAL, labels=st.lists(_LABEL, min_size=1, max_size=5), tld=_TLD, repeat=st.integers(1, 5))
@example(local="a" * 64, labels=["b" * 63] * 2, tld="example", repeat=1)  # 246 characters: plain
@example(local="a" * 70, labels=["b" * 63] * 2, tld="example", repeat=1)  # 252: plain (local parts are not capped)
@example(local="a" * 64, labels=["b" * 63] * 3, tld="de", repeat=1)  # 259: too long
def test_a_plain_address_is_one_email_validator_accepts(local: str, labels: list[str], tld: str, repeat: int) -> None:
    """The shortcut of `email_problem` never lets through what the parser would refuse."""
    from email_validator import validate_email

    address = f"{local * (1 if len(local) > 9 else repeat)}@{'.'.join([*labels, tld])}"
    if untrusted.plainly_valid(address):
        validate_email(address, check_deliverability=False)  # raises if the shortcut was wrong


def test_the_plain_shortcut_covers_ordinary_addresses_and_reserved_names_are_email_validator_s() -> None:
    import email_validator

    assert set(email_validator.SPECIAL_USE_DOMAIN_NAMES) == untrusted.RESERVED_TLDS
    assert all(untrusted.plainly_valid(a) for a in ["rechnungen@nordlicht.example", "a+tag@x.example",
                                                    "Max.Muster_1@mail.studio-nord.de", "accounts0@client.example"])
    assert not any(untrusted.plainly_valid(a) for a in ["büro@bücher.example", "x@Nordlicht.example",
                                                        "x@xn--bcher-kva.example", "x@nordlicht.test"])


def test_an_email_with_a_trailing_newline_is_refused(tmp_path: Path) -> None:
    """The schema's `$` matched before a trailing newline: patterns are anchored at the very end now."""
    client = CLIENT.replace("email: rechnungen@nordlicht.example", 'email: "rechnungen@nordlicht.example\\n"')
    root = repo_with(tmp_path, {"projects/nordlicht/client.yaml": client})
    assert "projects/nordlicht/client.yaml:5:8: [E013] email:" in refused(root, "E013")


def test_a_document_issued_before_the_check_is_still_sendable(tmp_path: Path, smtp) -> None:  # noqa: F811
    """A record keeps the name it was issued with: `send` puts it on one line instead of exiting 3."""
    hostile = CLIENT.replace("name: Nordlicht Verlag GmbH", 'name: "Nordlicht Verlag GmbH\\r\\nBcc: all@evil.example"')
    root = repo_with(tmp_path, {"projects/nordlicht/client.yaml": hostile})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(untrusted, "party_text", lambda *a: [])  # as Billed was before it checked header text
        assert run(root, "issue", "--date", DATE).code == 0
    (root / "projects/nordlicht/client.yaml").write_text(CLIENT, encoding="utf-8")
    result = run(root, "send", "--date", DATE)
    assert result.code == 0, result.err
    [(rcpt, msg)] = smtp.messages
    assert rcpt == ["rechnungen@nordlicht.example"]
    assert msg["To"] == '"Nordlicht Verlag GmbH Bcc: all@evil.example" <rechnungen@nordlicht.example>'
    assert msg["Bcc"] is None


def test_an_invalid_smtp_sender_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = repo_with(tmp_path, {})
    assert run(root, "issue", "--date", DATE).code == 0
    monkeypatch.setenv("BILLED_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("BILLED_SMTP_FROM", "invoices@studio-nord.example\r\nBcc: x@evil.example")
    result = run_process(root, "send", "--date", DATE)
    assert result.code == 1 and "BILLED_SMTP_FROM is" in result.err and "Traceback" not in result.err


@pytest.mark.parametrize(("old", "new", "code"), [
    ("invoice: INV-{year}-{seq:04}", "invoice: INV-{year}-{seq:0999999999}", "E042"),
    ("invoice: INV-{year}-{seq:04}", "invoice: INV-{year}-{seq:>33}", "E042"),
    ("invoice: INV-{year}-{seq:04}", "invoice: INV-{year}-{seq:.{seq}}", "E042"),
    ("pay_link: https://pay.example.com/{number}?amount={amount}", "pay_link: https://pay.example.com/{number}?"
     "amount={amount:>999999999}", "E044"),
    ("pay_link: https://pay.example.com/{number}?amount={amount}", "pay_link: https://pay.example.com/{number}?"
     "amount={amount:.999999999}", "E044"),
])
def test_format_widths_are_bounded_before_anything_is_formatted(tmp_path: Path, old: str, new: str,
                                                                 code: str) -> None:
    assert old in SETTINGS
    root = repo_with(tmp_path, {"billed.yaml": SETTINGS.replace(old, new)})
    started = time.monotonic()
    err = refused(root, code)
    assert time.monotonic() - started < 20  # was 21 s and 7.8 GB for `check` alone
    assert max(len(line) for line in err.splitlines()) < 300
    assert "at most 32" in err or "nests a field" in err


def test_a_width_within_bounds_still_works(tmp_path: Path) -> None:
    settings = SETTINGS.replace("{seq:04}", "{seq:06}").replace("amount={amount}", "amount={amount:>10}")
    root = repo_with(tmp_path, {"billed.yaml": settings})
    assert run(root, "issue", "--no-pdf", "--date", DATE).code == 0
    assert (root / "invoices/2026/INV-2026-000001.json").exists()


def test_symlinks_out_of_the_repo_are_refused_and_never_read(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.yaml").write_text("title: TOP-SECRET-TEXT\n", encoding="utf-8")
    (outside / "acme").mkdir()
    (outside / "acme/client.yaml").write_text(CLIENT, encoding="utf-8")
    root = repo_with(tmp_path, {})
    (root / "projects/nordlicht/leak.yaml").symlink_to(outside / "secret.yaml")
    (root / "projects/acme").symlink_to(outside / "acme")
    (root / "projects/nordlicht/gone.yaml").symlink_to(tmp_path / "nothing-here.yaml")
    (root / "projects/nordlicht/alias.yaml").symlink_to("web.yaml")  # inside the repo: committed, fine
    err = refused(root, "E047")
    assert "projects/acme:1:1: [E047] projects/acme is a symlink that points outside the repo, to " in err
    assert "projects/nordlicht/leak.yaml:1:1: [E047]" in err
    assert "projects/nordlicht/gone.yaml:1:1: [E047] projects/nordlicht/gone.yaml is a symlink that points to " \
           "nothing" in err
    assert "alias.yaml:1:1: [E047]" not in err
    assert "TOP-SECRET-TEXT" not in err


def test_a_symlinked_billed_yaml_out_of_the_repo_is_refused(tmp_path: Path) -> None:
    root = repo_with(tmp_path, {})
    (tmp_path / "settings.yaml").write_text(SETTINGS, encoding="utf-8")
    (root / "billed.yaml").unlink()
    (root / "billed.yaml").symlink_to(tmp_path / "settings.yaml")
    assert "billed.yaml:1:1: [E047]" in refused(root, "E047")


@pytest.mark.parametrize("command", [("verify",), ("check",), ("issue", "--no-pdf", "--date", DATE), ("status",)])
def test_a_record_nested_200k_deep_is_tampering_not_a_crash(tmp_path: Path, command: tuple[str, ...]) -> None:
    root = repo_with(tmp_path, {"invoices/2026/INV-2026-0001.json": "[" * 200_000})
    result = run_process(root, *command)
    assert result.code == 1, result.err
    assert "Traceback" not in result.err and "internal error" not in result.err
    if command[0] in ("verify", "check"):
        assert ("invoices/2026/INV-2026-0001.json:1:1: [E060] issued record is unreadable (nested too deeply to "
                "be a Billed record)") in result.err
