"""Client access links for the hosted dashboard: a long random token per link, only its SHA-256 kept in the repo.

The hashes live in `access.yaml` at the repo root and are committed with the repo, because the hosted dashboard
only sees what is in git. A hash of a 256-bit random token cannot be turned back into a link, so the file may be
public to anyone who can read the repo; the link itself is printed once by `billed share` and never stored.
Lookups hash the presented token and compare it with every stored hash in constant time (hmac.compare_digest),
without stopping at the first match, so the response time says nothing about which prefix was right.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import ipaddress
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import yaml

from billed.ledger import atomic_write

FILE = "access.yaml"
HEADER = ("# Client access links for the hosted dashboard, written by `billed share CLIENT`.\n"
          "# Only SHA-256 hashes of the tokens are kept: a link cannot be recovered from this file.\n"
          "# Commit this file so the hosted dashboard sees it; `billed share CLIENT --revoke` removes a client's "
          "links.\n")


@dataclass(frozen=True)
class Grant:
    client: str
    sha256: str
    created: str
    label: str = ""


def new_token() -> str:
    """43 URL-safe characters, 256 bits of randomness: unguessable, fits in a link."""
    return secrets.token_urlsafe(32)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def read(root: Path) -> list[Grant]:
    """Every grant in access.yaml; a missing or malformed file grants nothing (the dashboard fails closed)."""
    path = root / FILE
    if not path.is_file():
        return []
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError, OSError):
        return []
    items = (data.get("tokens") if isinstance(data, dict) else None) or []
    grants = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get("client"), str) and isinstance(item.get("sha256"), str):
            grants.append(Grant(item["client"], item["sha256"].lower(), str(item.get("created", "")),
                                str(item.get("label") or "")))
    return grants


def write(root: Path, grants: list[Grant]) -> None:
    items = [{"client": g.client, "sha256": g.sha256, "created": g.created, **({"label": g.label} if g.label else {})}
             for g in grants]
    body = yaml.safe_dump({"tokens": items}, sort_keys=False, allow_unicode=True, default_flow_style=False)
    atomic_write(root / FILE, (HEADER + body).encode("utf-8"))


def grant(root: Path, client: str, label: str = "", on: dt.date | None = None) -> str:
    """A new link token for `client`; only its hash is written. Earlier links of the client stay valid."""
    token = new_token()
    created = (on or dt.date.today()).isoformat()
    write(root, [*read(root), Grant(client, digest(token), created, label)])
    return token


def revoke(root: Path, client: str) -> int:
    """Remove every link of `client`; returns how many there were."""
    grants = read(root)
    kept = [g for g in grants if g.client != client]
    if len(kept) != len(grants):
        write(root, kept)
    return len(grants) - len(kept)


def client_for(grants: list[Grant], token: str | None) -> str | None:
    """The client a token belongs to, or None. Constant-time per hash, and every hash is compared."""
    if not token or len(token) > 200:
        return None
    presented = digest(token)
    found = None
    for g in grants:
        if hmac.compare_digest(presented, g.sha256) and found is None:
            found = g.client
    return found


def link(base_url: str, token: str) -> str:
    """The link to give the client: the dashboard's URL with the token as `?token=`."""
    sep = "&" if "?" in base_url else "?"
    return f"{base_url}{sep}{urlencode({'token': token})}"


def owner_email_ok(email: str, allowlist: str | None) -> bool:
    """Whether an OIDC-logged-in account may open the owner view. Fails closed: with no BILLED_OWNER_EMAILS, an
    OIDC provider such as Google would otherwise let in anyone who has an account there."""
    allowed = {e.strip().lower() for e in (allowlist or "").split(",") if e.strip()}
    return bool(email) and email.strip().lower() in allowed


def owner_ok(secret: str | None, presented: str | None) -> bool:
    """The owner's password check for a hosted dashboard: constant time, and no secret configured means no access."""
    if not secret or not presented:
        return False
    return hmac.compare_digest(presented.encode("utf-8"), secret.encode("utf-8"))


# --- who may see what: the dashboard's mode and the owner's gate -----------------------------------------------

MODES = ("owner", "client")
FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-forwarded-host", "x-real-ip", "x-forwarded-proto")


def mode(value: str | None) -> str | None:
    """The dashboard's mode from BILLED_MODE: unset or empty is the owner's (a local `billed dashboard`), exactly
    `owner` or `client` is that mode, and anything else (`client\r`, `client `, `clients`, `Client`) is None: an
    error page, never a guess. A typo must not turn a client server into an owner server."""
    if not value:
        return "owner"
    return value if value in MODES else None


def _loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_local(server_address: str | None, remote_ip: str | None, headers: Mapping[str, str]) -> bool:
    """Whether this request can only have come from the owner's own machine: the server listens on a loopback
    address only (Streamlit listens on every interface when server.address is unset), the connection comes from
    loopback (Streamlit reports None for it), and no reverse proxy forwarded it (a proxy on the same machine would
    otherwise make every visitor look local). Anything else needs the owner's password or OIDC login."""
    if not _loopback(server_address):
        return False
    if remote_ip is not None and not _loopback(remote_ip):
        return False
    names = {k.lower() for k in headers}
    return not any(h in names for h in FORWARDING_HEADERS)


class Throttle:
    """Failed owner-password attempts, counted in the server process across every session (a new browser tab must
    not reset the count): at most `per_caller` failures per `window` seconds from one caller, and `overall` from
    everyone together, so rotating addresses does not help either. While limited, a password is not even compared.
    The price of the overall limit: someone guessing can keep the owner waiting too (a minute at most after the
    guessing stops); a locked door is the safer failure than an open one."""

    def __init__(self, per_caller: int = 5, overall: int = 30, window: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_caller, self.overall, self.window, self.clock = per_caller, overall, window, clock
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures[key]
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def wait(self, caller: str) -> float:
        """Seconds until `caller` may try again; 0 when a try is allowed now."""
        with self._lock:
            return self._wait(caller, self.clock())

    def _wait(self, caller: str, now: float) -> float:
        waits = [0.0]
        for key, limit in ((f"caller:{caller}", self.per_caller), ("*", self.overall)):
            times = self._recent(key, now)
            if len(times) >= limit:
                waits.append(times[len(times) - limit] + self.window - now)
        return max(waits)

    def admit(self, caller: str) -> tuple[float, float]:
        """(seconds until `caller` may try again, when this try was counted). When the wait is 0 the try is counted
        at once, as a failure until `forget` takes it back: with `wait` then `failed`, tries sent at the same moment
        all passed `wait` before any was counted, and a burst was compared far beyond the limit."""
        with self._lock:
            now = self.clock()
            wait = self._wait(caller, now)
            if wait == 0:
                self._failures[f"caller:{caller}"].append(now)
                self._failures["*"].append(now)
            return wait, now

    def forget(self, caller: str, at: float) -> None:
        """Take back the try `admit` counted at `at`: it was the right password."""
        with self._lock:
            for key in (f"caller:{caller}", "*"):
                with contextlib.suppress(ValueError):  # (already out of the window)
                    self._failures[key].remove(at)

    def reset(self) -> None:
        with self._lock:
            self._failures.clear()


OWNER_THROTTLE = Throttle()  # one per server process: Streamlit re-runs dashboard.py, but imports this module once


def try_owner_password(secret: str | None, presented: str | None, caller: str,
                       throttle: Throttle = OWNER_THROTTLE) -> tuple[bool, float]:
    """(accepted, seconds to wait). A limited caller's password is not compared at all; a wrong one counts, and
    is counted before it is compared (`Throttle.admit`); an empty one is no try."""
    if not presented:
        return False, throttle.wait(caller)
    wait, at = throttle.admit(caller)
    if wait > 0:
        return False, wait
    if owner_ok(secret, presented):
        throttle.forget(caller, at)
        return True, 0.0
    return False, 0.0
