"""The client's language: gettext catalogs beside the templates, compiled from their `.po` by babel.

A document, email or client page is written in its `language` (the words) and formatted in its `locale` (numbers
and dates). The words come from `templates/locale/<lang>/LC_MESSAGES/billed.po`: first the billing repo's own
(so a repo can reword or add any message), then the toolkit's, then the English source text itself. `de_AT` looks
for a `de_AT` catalog, then `de`. A language with no catalog anywhere prints English (`check` warns, W003).

The `.po` files are the source of truth and the only thing in the repo: each is compiled with babel
(`read_po` + `write_mo`) when first used and kept per process, keyed by its size and mtime. A `billed.mo` that
`pybabel compile` left beside it is used only when there is no `.po`. Fuzzy entries are not used (gettext's rule):
an unreviewed translation prints English.
"""

from __future__ import annotations

import functools
import gettext
import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from babel import Locale, UnknownLocaleError

from billed.errors import Finding
from billed.resources import toolkit_dir

if TYPE_CHECKING:
    import jinja2
    from markupsafe import Markup

DOMAIN = "billed"
SOURCE = "en"  # the language of the msgids: it needs no catalog
Translations = gettext.NullTranslations
ENGLISH = gettext.NullTranslations()


def N_(message: str) -> str:
    """Marks a message for extraction (`pybabel extract -k N_`) where it is defined; it is translated where it is
    printed, in the reader's language."""
    return message


def NC_(context: str, message: str) -> str:
    """N_ with a msgctxt (`pybabel extract -k NC_:1c,2`): the same English words needing other translations."""
    return message


def language_of(doc: Mapping[str, Any]) -> str:
    """The words of an issued record: its `language`; a record issued before languages and locales were told
    apart has only `locale`, which was both."""
    return doc.get("language") or doc.get("locale") or SOURCE


def candidates(language: str | None) -> list[str]:
    """'de_AT' -> ['de_AT', 'de']: the catalogs that can serve a language, most specific first."""
    if not language:
        return []
    try:
        loc = Locale.parse(language)
    except (ValueError, UnknownLocaleError):
        return [language]
    out = [str(loc)] if loc.territory or loc.script else []
    return [*out, loc.language]


def is_source(language: str | None) -> bool:
    return not language or candidates(language)[-1] == SOURCE


def _folders(templates: Path | None) -> list[Path]:
    """Where catalogs are looked up, in order: the repo's templates/locale, then the toolkit's."""
    out: list[Path] = []
    for folder in (templates, toolkit_dir("templates")):
        if folder is None:
            continue
        locale = (folder / "locale").resolve()
        if locale not in out:
            out.append(locale)
    return out


def catalog_files(language: str | None, templates: Path | None = None) -> list[Path]:
    """The catalog files that serve `language`, the one that wins first."""
    found = []
    for folder in _folders(templates):
        for lang in candidates(language):
            base = folder / lang / "LC_MESSAGES" / DOMAIN
            for path in (base.with_suffix(".po"), base.with_suffix(".mo")):
                if path.is_file():
                    found.append(path)
                    break
    return found


def has_catalog(language: str | None, templates: Path | None = None) -> bool:
    return is_source(language) or bool(catalog_files(language, templates))


def _stamp(path: Path) -> tuple[str, int, int]:
    st = os.stat(path)
    return str(path), st.st_size, st.st_mtime_ns


@functools.lru_cache(maxsize=64)
def _compiled(stamp: tuple[str, int, int]) -> bytes:
    """The `.mo` bytes of one catalog; a `.po` is compiled by babel (fuzzy entries left out)."""
    path = Path(stamp[0])
    if path.suffix == ".mo":
        return path.read_bytes()
    from babel.messages.mofile import write_mo  # here: `check` never needs them
    from babel.messages.pofile import read_po

    with path.open("rb") as handle:
        catalog = read_po(handle, domain=DOMAIN)
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


@functools.lru_cache(maxsize=64)
def _chain(stamps: tuple[tuple[str, int, int], ...]) -> gettext.NullTranslations:
    if not stamps:
        return ENGLISH
    chain = [gettext.GNUTranslations(io.BytesIO(_compiled(s))) for s in stamps]
    for first, then in zip(chain, chain[1:], strict=False):
        first.add_fallback(then)
    return chain[0]


def translations(language: str | None, templates: Path | None = None) -> gettext.NullTranslations:
    """The translations of `language`: the repo's catalog, then the toolkit's, then English (the msgid). English
    has no catalog of its own, but a repo may give it one (templates/locale/en/...) to reword a message."""
    return _chain(tuple(_stamp(p) for p in catalog_files(language or SOURCE, templates)))


def shipped(templates: Path | None = None) -> list[str]:
    """The languages that have a catalog (the repo's or the toolkit's), English included."""
    found = {SOURCE}
    for folder in _folders(templates):
        if folder.is_dir():
            found |= {p.parent.parent.name for p in folder.glob(f"*/LC_MESSAGES/{DOMAIN}.[pm]o")}
    return sorted(found)


def check_languages(settings: Any, clients: Mapping[str, Any], templates: Path) -> list[Finding]:
    """W003 for each language (billed.yaml's or a client's) that no catalog serves: English is printed instead."""
    named: list[tuple[Any, str]] = [(settings.loc, settings.language)] if settings is not None else []
    named += [(c.loc, c.language) for c in clients.values() if c.language]
    out = []
    served: dict[str, bool] = {}  # per language: thousands of clients share a few
    for loc, language in named:
        if language not in served:
            served[language] = has_catalog(language, templates)
        if not served[language]:
            # billed.yaml's words default to its `locale`: point at the key that chose them
            key = "language" if ("language",) in loc.doc.marks or loc.doc.path != "billed.yaml" else "locale"
            out.append(loc.finding((key,), "W003", f"no translation catalog for language '{language}': documents, "
                                   "emails and the client view in it print English",
                                   f"use one of {', '.join(shipped(templates))}, or add "
                                   f"templates/locale/{candidates(language)[-1]}/LC_MESSAGES/billed.po "
                                   "(docs/languages.md)"))
    return sorted(out)


# --- Jinja2 -------------------------------------------------------------------------------------------------
# The callables read the translations from the render context (`translations`), so one compiled environment
# serves documents in every language, the way the `money` and `date` filters read the document's locale.


def translations_of(ctx: Any) -> gettext.NullTranslations:
    """The translations a template is rendered with (`translations` in its context), English without."""
    return ctx.get("translations") or ENGLISH


_of = translations_of


def _gettext(ctx: Any, message: str) -> str:
    return _of(ctx).gettext(message)


def _ngettext(ctx: Any, singular: str, plural: str, n: int) -> str:
    return _of(ctx).ngettext(singular, plural, n)


def _pgettext(ctx: Any, context: str, message: str) -> str:
    return _of(ctx).pgettext(context, message)


def _npgettext(ctx: Any, context: str, singular: str, plural: str, n: int) -> str:
    return _of(ctx).npgettext(context, singular, plural, n)


def _translate(ctx: Any, text: str | None) -> str | None:
    """A text that comes as data (a record's legal note, billed.yaml's reminder text), looked up as a msgid
    without %-formatting: a seller's own wording passes through unless the repo's catalog translates it."""
    return _of(ctx).gettext(text) if text else text


def _nbsp(text: str) -> Markup:
    """'VAT ID' -> 'VAT&nbsp;ID': a short label that must not break across lines."""
    from markupsafe import Markup, escape

    return Markup(escape(text).replace(" ", Markup("&nbsp;")))


def install(env: jinja2.Environment) -> jinja2.Environment:
    """Jinja2's i18n extension (`{% trans %}`, `_()`), new-style: `_("%(n)s days", n=3)` formats and escapes.

    Jinja2 is imported here, not with the module: `billed check` reads words (N_) but renders nothing, and
    importing Jinja2 was ~16 ms of its start (issue 16)."""
    import jinja2
    from markupsafe import Markup

    ctx = jinja2.pass_context  # the callables take the render context first (see translations_of)
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(ctx(_gettext), ctx(_ngettext), newstyle=True,  # type: ignore[attr-defined]
                                  pgettext=ctx(_pgettext), npgettext=ctx(_npgettext))
    env.filters["translate"] = ctx(_translate)
    env.filters["nbsp"] = _nbsp
    env.filters["nowrap"] = lambda text: Markup('<span class="nowrap">%s</span>') % text
    return env
