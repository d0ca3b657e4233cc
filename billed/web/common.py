"""Settings and widgets both dashboard views use."""

from __future__ import annotations

import base64
import datetime as dt
import html
import os
import sys
from pathlib import Path

import streamlit as st

from billed import api

CLEAN_CHROME = ("<style>[data-testid='stToolbar'],[data-testid='stMainMenu'],[data-testid='stAppDeployButton'],"
                "[data-testid='stDecoration']{display:none !important}</style>")  # a client sees the page only


def setting(name: str) -> str | None:
    """An env var, else a top-level st.secrets entry; None when neither is set (a missing secrets.toml is fine).
    Returned exactly as given (no stripping): BILLED_MODE's check must see a stray `\\r` to refuse it."""
    if os.environ.get(name):
        return os.environ[name]
    try:
        value = st.secrets.get(name)
    except Exception:  # noqa: BLE001 - no secrets file at all
        return None
    return str(value) if value else None


def repo_root() -> Path:
    args = sys.argv[1:]
    if "--repo" in args and args.index("--repo") + 1 < len(args):
        return Path(args[args.index("--repo") + 1]).resolve()
    configured = setting("BILLED_REPO")
    return Path(configured).resolve() if configured else api.find_root(Path.cwd())


def today() -> dt.date:
    pinned = setting("BILLED_DATE")
    return dt.date.fromisoformat(pinned) if pinned else dt.date.today()


def oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001
        return False


def table(rows: list[dict[str, str]], key: str, narrow: tuple[str, ...]) -> None:
    """Rows in the data grid (it scrolls inside itself on a big table), twice: every column on a wide screen, and
    only the `narrow` columns, sized to fit, on a phone; CSS shows the one that fits (RESPONSIVE)."""
    height = "auto" if len(rows) <= 12 else 440
    with st.container(key=f"wide-{key}"):
        st.dataframe(rows, hide_index=True, width="stretch", height=height)
    with st.container(key=f"narrow-{key}"):
        first, *rest = narrow
        widths = {first: 170, **{k: int(180 / len(rest)) for k in rest}} if rest else {first: 350}
        st.dataframe([{k: r.get(k, "") for k in narrow} for r in rows], hide_index=True, width="stretch",
                     height=height, column_config={k: st.column_config.Column(width=w) for k, w in widths.items()})


RESPONSIVE = ("<style>@media (max-width: 640px){[class*='st-key-wide-']{display:none !important}}"
              "@media (min-width: 641px){[class*='st-key-narrow-']{display:none !important}}</style>")


def file_button(data: bytes, name: str, mime: str, label: str) -> None:
    """A download button whose file travels inside this session's own page, as a blob: no /media URL exists for
    it, so nobody without the page (the client's token) can fetch the file, even while the session is open.
    (st.download_button serves its file at /media/<hash>, reachable without the token until the session ends.)"""
    payload = base64.b64encode(data).decode("ascii")
    page = f"""<!doctype html><html><head><meta name="referrer" content="no-referrer"><style>
body{{margin:0;font-family:"Source Sans 3","Source Sans Pro",system-ui,sans-serif}}
a{{display:flex;align-items:center;justify-content:center;gap:.4em;box-sizing:border-box;width:100%;height:40px;
border:1px solid rgba(49,51,63,.2);border-radius:.5rem;color:rgb(49,51,63);background:#fff;text-decoration:none;
font-size:14px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}}
a:hover{{border-color:#ff4b4b;color:#ff4b4b}}</style></head><body>
<a id="file" download="{html.escape(name)}" href="#" data-testid="billedDownload">{html.escape(label)}</a>
<script>const raw=atob("{payload}"),bytes=new Uint8Array(raw.length);
for(let i=0;i<raw.length;i++)bytes[i]=raw.charCodeAt(i);
document.getElementById("file").href=URL.createObjectURL(new Blob([bytes],{{type:"{mime}"}}));</script>
</body></html>"""
    st.iframe(page, height=42)
