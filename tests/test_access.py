"""billed/access.py and `billed share`: links whose tokens are never stored, only their SHA-256."""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from conftest import run

from billed import access


def test_grant_keeps_only_the_hash(tmp_path: Path) -> None:
    token = access.grant(tmp_path, "acme", "Jane")
    assert len(token) >= 43
    text = (tmp_path / access.FILE).read_text()
    assert token not in text
    assert hashlib.sha256(token.encode()).hexdigest() in text
    assert access.read(tmp_path) == [access.Grant("acme", access.digest(token), access.read(tmp_path)[0].created,
                                                  "Jane")]


def test_lookup_by_token(tmp_path: Path) -> None:
    a1, a2, b = access.grant(tmp_path, "acme"), access.grant(tmp_path, "acme"), access.grant(tmp_path, "kaffeehaus")
    grants = access.read(tmp_path)
    assert access.client_for(grants, a1) == "acme" and access.client_for(grants, a2) == "acme"
    assert access.client_for(grants, b) == "kaffeehaus"
    for wrong in (None, "", a1[:-1], a1 + "x", access.digest(a1), "x" * 10_000):
        assert access.client_for(grants, wrong) is None  # the hash itself is not a token


def test_revoke_removes_every_link_of_that_client_only(tmp_path: Path) -> None:
    a, b = access.grant(tmp_path, "acme"), access.grant(tmp_path, "kaffeehaus")
    access.grant(tmp_path, "acme")
    assert access.revoke(tmp_path, "acme") == 2
    grants = access.read(tmp_path)
    assert access.client_for(grants, a) is None and access.client_for(grants, b) == "kaffeehaus"
    assert access.revoke(tmp_path, "acme") == 0


def test_missing_or_malformed_file_grants_nothing(tmp_path: Path) -> None:
    assert access.read(tmp_path) == []
    for text in ("tokens: [", "- a\n- b\n", "tokens: 3\n", "tokens:\n  - client: acme\n", "\x00\x01"):
        (tmp_path / access.FILE).write_text(text)
        assert access.read(tmp_path) == []


def test_owner_secret_check() -> None:
    assert access.owner_ok("s3cret-long", "s3cret-long")
    assert not access.owner_ok("s3cret-long", "s3cret-lon")
    assert not access.owner_ok(None, "") and not access.owner_ok("", "") and not access.owner_ok("x", None)


def test_link_keeps_existing_query() -> None:
    assert access.link("https://d.example/", "t-1") == "https://d.example/?token=t-1"
    assert access.link("https://d.example/?embed=true", "t") == "https://d.example/?embed=true&token=t"


def test_share_cli_prints_a_link_and_revokes(repo, monkeypatch) -> None:
    root = repo()
    monkeypatch.setenv("BILLED_DASHBOARD_URL", "https://billing.example.com/")
    out = run(root, "share", "nordlicht")
    assert out.code == 0, out.err
    url = out.out.strip()
    assert url.startswith("https://billing.example.com/?token=")
    token = parse_qs(urlparse(url).query)["token"][0]
    assert access.client_for(access.read(root), token) == "nordlicht"
    assert token not in (root / "access.yaml").read_text()
    listed = run(root, "share", "--list", "--json").json
    assert [g["client"] for g in listed] == ["nordlicht"]
    assert run(root, "share", "nordlicht", "--url", "http://x.test/").out.startswith("http://x.test/?token=")
    revoked = run(root, "share", "nordlicht", "--revoke")
    assert revoked.code == 0 and "revoked 2 links" in revoked.out
    assert access.client_for(access.read(root), token) is None
    assert run(root, "check").code == 0  # access.yaml is not mistaken for billing data


def test_share_unknown_client_is_a_clear_error(repo) -> None:
    root = repo()
    out = run(root, "share", "nobody")
    assert out.code == 1 and "no client 'nobody'" in out.err and "nordlicht" in out.err
    assert not (root / "access.yaml").exists()
    assert run(root, "share").code == 2


def test_oidc_owner_access_fails_closed_without_an_allowlist():
    from billed.access import owner_email_ok

    assert not owner_email_ok("anyone@gmail.com", None)  # any Google account must not see every client
    assert not owner_email_ok("anyone@gmail.com", " , ")
    assert not owner_email_ok("", "owner@studio.example")
    assert owner_email_ok("Owner@Studio.example", "owner@studio.example, partner@studio.example")
    assert not owner_email_ok("client@acme.example", "owner@studio.example")


def test_mode_accepts_exactly_the_two_modes() -> None:
    assert access.mode(None) == "owner" and access.mode("") == "owner"  # a local `billed dashboard`
    assert access.mode("owner") == "owner" and access.mode("client") == "client"
    for typo in ("client\r", "client ", " client", "clients", "Client", "CLIENT", "client\n", "owner\r", "admin"):
        assert access.mode(typo) is None, repr(typo)  # an error page, never the owner view


def test_only_a_loopback_server_reached_from_loopback_without_a_proxy_is_local() -> None:
    assert access.is_local("127.0.0.1", None, {}) and access.is_local("::1", None, {})
    assert access.is_local("localhost", "127.0.0.1", {"Host": "localhost:8501"})
    assert not access.is_local(None, None, {})  # Streamlit listens on every interface when no address is set
    assert not access.is_local("", None, {}) and not access.is_local("0.0.0.0", None, {})
    assert not access.is_local("192.168.1.5", None, {}) and not access.is_local("::", None, {})
    assert not access.is_local("127.0.0.1", "203.0.113.9", {})
    for header in ("X-Forwarded-For", "x-real-ip", "Forwarded", "X-Forwarded-Host"):
        assert not access.is_local("127.0.0.1", None, {header: "203.0.113.9"}), header  # a proxy on this machine


def test_throttle_limits_each_caller_and_everyone_together() -> None:
    now = [1000.0]
    throttle = access.Throttle(per_caller=3, overall=5, window=60, clock=lambda: now[0])
    for _ in range(3):
        assert throttle.wait("a") == 0
        assert throttle.admit("a") == (0, 1000.0)  # counted as it is admitted
    assert throttle.wait("a") == 60 and throttle.wait("b") == 0  # a is limited, b not yet
    assert throttle.admit("a") == (60, 1000.0)  # refused: not counted again
    throttle.admit("b")
    throttle.admit("c")
    assert throttle.wait("d") == 60  # five failures from anyone: everyone waits
    now[0] += 30
    assert throttle.wait("d") == 30
    now[0] += 30.5
    assert throttle.wait("a") == 0 and throttle.wait("d") == 0  # the window has passed


def test_a_limited_caller_is_refused_even_with_the_right_password() -> None:
    now = [0.0]
    throttle = access.Throttle(per_caller=2, overall=10, window=60, clock=lambda: now[0])
    assert access.try_owner_password("pw-long-enough", "wrong", "ip", throttle) == (False, 0.0)
    assert access.try_owner_password("pw-long-enough", "", "ip", throttle) == (False, 0.0)  # empty is not a try
    assert access.try_owner_password("pw-long-enough", "wrong again", "ip", throttle) == (False, 0.0)
    assert access.try_owner_password("pw-long-enough", "pw-long-enough", "ip", throttle) == (False, 60.0)
    assert access.try_owner_password("pw-long-enough", "pw-long-enough", "other", throttle) == (True, 0.0)
    now[0] = 61
    assert access.try_owner_password("pw-long-enough", "pw-long-enough", "ip", throttle) == (True, 0.0)


def test_a_burst_of_guesses_at_the_same_moment_is_compared_no_more_than_the_limit(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An attacker's script sends its guesses at once, from many connections. Each try is counted before its
    password is compared, so however they interleave, no more than `per_caller` are compared in a window. (The
    real comparison, slowed down so that every guess is in flight at the same time.)"""
    import threading
    import time

    real, compared = access.owner_ok, []

    def slow(secret: str | None, presented: str | None) -> bool:
        compared.append(presented)
        time.sleep(0.2)
        return real(secret, presented)

    monkeypatch.setattr(access, "owner_ok", slow)
    throttle = access.Throttle(per_caller=3, overall=100, window=60)
    answers: list[tuple[bool, float]] = []
    start = threading.Barrier(12)

    def guess(n: int) -> None:
        start.wait()
        answers.append(access.try_owner_password("pw-long-enough", f"guess {n}", "203.0.113.9", throttle))

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(compared) == 3 and sorted(a for a, _ in answers) == [False] * 12
    assert sum(1 for _, wait in answers if wait > 0) == 9
    assert access.try_owner_password("pw-long-enough", "pw-long-enough", "203.0.113.9", throttle)[0] is False
    ok, wait = access.try_owner_password("pw-long-enough", "pw-long-enough", "198.51.100.7", throttle)
    assert (ok, wait) == (True, 0.0)  # another caller, within the overall limit: the right password is taken back
    assert [len(throttle._recent(key, time.monotonic())) for key in ("caller:198.51.100.7", "*")] == [0, 3]
