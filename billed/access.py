"""Client access links for the hosted dashboard: a long random token per link, only its SHA-256 kept in the repo.

The hashes live in `access.yaml` at the repo root and are committed with the repo, because the hosted dashboard
only sees what is in git. A hash of a 256-bit random token cannot be turned back into a link, so the file may be
public to anyone who can read the repo; the link itself is printed once by `billed share` and never stored.
Lookups hash the presented token and compare it with every stored hash in constant time (hmac.compare_digest),
without stopping at the first match, so the response time says nothing about which prefix was right.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
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
