"""Billed dashboard (Streamlit): the owner's view of every client, and a private portal for each client.

Run it with `billed dashboard` (or `streamlit run dashboard.py` from a billing repo). Settings, from the
environment or st.secrets (never from the repo):
  BILLED_REPO          the billing repo (default: the nearest folder with billed.yaml from the working directory)
  BILLED_MODE          `client`: serve only the client portal (a visitor needs a link from `billed share CLIENT`);
                       `owner` or unset: the owner view; anything else is refused with an error page
  BILLED_OWNER_SECRET  the password the owner view asks for (tries are rate-limited); or configure Streamlit's
                       OIDC login ([auth] in secrets.toml), restricted to BILLED_OWNER_EMAILS (comma-separated).
                       Without either, the owner view is only served to this machine (loopback, no proxy)
  BILLED_DATE          the day to show the repo as of (YYYY-MM-DD, default today): reproducible screenshots
This file only decides who sees what; the pages are billed/web/owner.py and billed/web/client.py, and every
figure comes from billed.views and billed.portal (tested without Streamlit).
"""

from __future__ import annotations

import traceback
from collections.abc import Callable

import streamlit as st

from billed import access, i18n
from billed.web.common import CLEAN_CHROME, oidc_configured, repo_root, setting, today

NOT_LOCAL = ("The owner view is only shown without a password on this machine. Set BILLED_OWNER_SECRET (or an "
             "[auth] section for OIDC login) to open it from elsewhere, or serve BILLED_MODE=client.")


def refuse(title: str, message: str) -> None:
    st.title(title)
    st.error(message)
    st.stop()


def remote_ip() -> str | None:
    """The connection's address; None for loopback (Streamlit's convention), "?" when there is no real one."""
    ip = st.context.ip_address
    return ip if isinstance(ip, str | None) else "?"


def caller() -> str:
    """Who is trying the owner password, for the rate limit: the connection's address and any proxy's claim."""
    return f"{remote_ip() or 'loopback'}|{st.context.headers.get('X-Forwarded-For', '')}"


def owner_allowed() -> bool:
    """OIDC login (limited to BILLED_OWNER_EMAILS) when configured, else the owner password when one is set, else
    only a request from this machine to a server listening on loopback alone. Everything else is refused."""
    if oidc_configured():
        if not st.user.is_logged_in:
            st.title("Billed")
            st.button("Log in", on_click=st.login)
            return False
        if not access.owner_email_ok(str(st.user.get("email", "")), setting("BILLED_OWNER_EMAILS")):
            st.error("This account may not open the owner view (the owner's addresses are listed in "
                     "BILLED_OWNER_EMAILS).")
            return False
        return True
    secret = setting("BILLED_OWNER_SECRET")
    if not secret:
        if access.is_local(st.get_option("server.address"), remote_ip(), dict(st.context.headers)):
            return True
        refuse("Billed", NOT_LOCAL)
    if st.session_state.get("owner_ok"):
        return True
    st.title("Billed")
    typed = st.text_input("Owner password", type="password")
    accepted, wait = access.try_owner_password(secret, typed, caller())
    if accepted:
        st.session_state["owner_ok"] = True
        st.rerun()
    if wait:
        st.error(f"Too many wrong passwords. Try again in {int(wait) + 1} seconds.")
    elif typed:
        st.error("Wrong password.")
    return False


def visitor_words() -> Callable[[str], str]:
    """Before a link says whose page it is, the page speaks the browser's language (English without a catalog),
    with the repo's own catalogs first, as its documents do."""
    locale = st.context.locale
    try:
        return i18n.translations(locale.replace("-", "_") if isinstance(locale, str) else None,
                                 repo_root() / "templates").gettext
    except Exception:  # noqa: BLE001 - an odd Accept-Language must not break the page
        return str


def ask_for_link() -> None:
    _ = visitor_words()
    st.title(_("Private project dashboard"))
    st.write(_("This page only opens with your personal link. Please use the link you were sent, or ask for your "
               "link."))


def serve_client() -> None:
    st.html(CLEAN_CHROME)
    try:  # repo_root() too: a misconfigured BILLED_REPO must not put a traceback on a client's screen
        from billed.web.client import client_page, pay_page

        root = repo_root()
        token = st.query_params.get("token") or ""
        client = access.client_for(access.read(root), token)
        if client is None:
            ask_for_link()
        elif st.query_params.get("pay"):
            pay_page(root, client, st.query_params["pay"], today())
        else:
            client_page(root, client, today(), token)  # the owner view is not reachable from here, whatever the URL
    except Exception:  # noqa: BLE001 - a traceback on a client's screen could show other clients' data
        traceback.print_exc()
        _ = visitor_words()
        st.error(_("This page cannot be shown right now. Please try again later."))


def main() -> None:
    mode = access.mode(setting("BILLED_MODE"))
    st.set_page_config(page_title="Billed", page_icon="🧾", layout="centered" if mode == "client" else "wide")
    if mode is None:  # fail closed: a typo must not serve every client's data
        refuse("Billed", "This dashboard is not configured correctly: BILLED_MODE must be exactly `client` or "
                         "`owner`. Nothing is shown until it is fixed.")
    elif mode == "client":
        serve_client()
    elif owner_allowed():
        from billed.web.owner import owner_page

        owner_page(repo_root(), today())


main()
