"""Records -> HTML (Jinja2, autoescaped) -> PDF (weasyprint). Formatting only: no business rules here.

The PDF is deterministic (bundled fonts, fixed metadata, HarfBuzz subsetting where the system has it), so the same
record always renders to the same bytes. weasyprint only ever reads `data:` URLs and files inside templates/.
"""

from __future__ import annotations

import atexit
import datetime as dt
import functools
import gc
import logging
import multiprocessing
import multiprocessing.connection
import multiprocessing.util
import os
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import jinja2
from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.languages import get_official_languages

from billed import engine, i18n, money
from billed.resources import toolkit_dir
from billed.titles import IN_SENTENCE, SENTENCE, TITLES, in_sentence, title  # noqa: F401 - re-exported

LOGOS = ("logo.svg", "logo.png")  # drop one into templates/ and it is printed above the seller
EPOCH = "1577836800"  # 2020-01-01: any fixed value makes weasyprint's font subsets reproducible


def templates_for(root: Path) -> Path:
    """The repo's templates/ when it has the invoice template, else the toolkit's own: a repo made by hand (or
    one that never copied templates/) still issues, with the built-in look."""
    own = root / "templates"
    return own if (own / "invoice.html.j2").is_file() else toolkit_dir("templates")


@functools.cache
def environment(templates: Path) -> jinja2.Environment:
    """One environment per templates folder, so the template is compiled once, not per document (auto_reload
    still notices an edited template)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(templates), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["money"] = _money
    env.filters["date"] = _date
    env.filters["country"] = _country
    env.filters["iban"] = lambda v: " ".join(v[i:i + 4] for i in range(0, len(v), 4))
    env.filters["describe"] = _describe
    env.filters["legal_notes"] = _legal_notes
    return i18n.install(env)


def _locale(ctx: Any) -> str:
    return ctx["doc"].get("locale") or "en"


@jinja2.pass_context
def _money(ctx: Any, value: Any) -> str:
    """Filters read the document from the render context, so one shared environment serves every document."""
    return money.fmt(Decimal(value), ctx["doc"]["currency"], _locale(ctx))


@jinja2.pass_context
def _date(ctx: Any, value: str) -> str:
    return format_date(dt.date.fromisoformat(value), "medium", locale=_locale(ctx))


@jinja2.pass_context
def _describe(ctx: Any, line: dict[str, Any]) -> str:
    """A line's description in the document's language: a line Billed worded itself (`wording`, see engine.py) is
    translated, with its amounts in the document's number format; a milestone's own title is printed as written."""
    words = line.get("wording")
    if not words:
        return line["description"]
    args = {k: _money(ctx, v) if k in engine.AMOUNT_ARGS else _date(ctx, v) if k in engine.DATE_ARGS else v
            for k, v in words["args"].items()}
    return i18n.translations_of(ctx).gettext(words["id"]) % args


@jinja2.pass_context
def _legal_notes(ctx: Any, doc: dict[str, Any]) -> list[str]:
    """Why no VAT is charged, each reason once, in the document's language. Billed's own notes are messages
    (engine.py); a client's own `tax_note` is printed as written unless the repo's catalog translates it. A record
    from before lines carried their note has only `tax_note`."""
    words = i18n.translations_of(ctx)
    texts = [(x.get("note"), x["exemption"]) for x in doc["lines"] if x.get("exemption")]
    if not texts:
        return [words.gettext(doc["tax_note"])] if doc.get("tax_note") else []
    out: list[str] = []
    for note, text in texts:
        if note == "outside_eu" and text == engine.outside_eu(doc["seller"]["country"]):
            text = engine.outside_eu(doc["seller"]["country"], _language(ctx), words)
        else:
            text = words.gettext(text)
        if text not in out:
            out.append(text)
    return out


def _language(ctx: Any) -> str:
    try:
        return str(Locale.parse(i18n.language_of(ctx["doc"])))
    except (ValueError, UnknownLocaleError):
        return "en"


@jinja2.pass_context
def _country(ctx: Any, code: str, address: list[str] | tuple[str, ...] = ()) -> str:
    """'AT' -> 'Austria' / 'Österreich': a cross-border address must name the country (VAT directive art. 226),
    in the document's language; empty when an address line is the country's name, in that language, in English or
    in one of the country's own (an Austrian address ending in "Austria" gets no second line "Österreich"). A
    whole line, not a part: "12 Rue de France" does not name France."""
    name = Locale.parse(_language(ctx)).territories.get(code, code)
    lines = {line.strip().casefold() for line in address}
    for lang in {_language(ctx), "en", *get_official_languages(code)}:
        try:
            known = Locale.parse(lang).territories.get(code)
        except (ValueError, UnknownLocaleError):
            continue
        if known and known.casefold() in lines:
            return ""
    return name


def render_html(doc: dict[str, Any], templates: Path, extra: dict[str, Any] | None = None) -> str:
    env = environment(templates)
    logo = next((name for name in LOGOS if (templates / name).is_file()), None)
    language = i18n.language_of(doc)
    words = i18n.translations(language, templates)
    context = {"doc": doc, "title": title(doc, words), "qr": None, "logo": logo, "language": language,
               "translations": words, **(extra or {})}
    return env.get_template("invoice.html.j2").render(**context)


class BlockedFetch(ValueError):
    """A template or field asked for a URL outside templates/."""


def _fetcher(templates: Path):
    from weasyprint.urls import URLFetcher

    root = templates.resolve()

    class TemplatesOnly(URLFetcher):
        """Serves `data:` URLs and files that stay inside templates/ once links are resolved; nothing else."""

        def fetch(self, url: str, headers: Any = None) -> Any:
            parsed = urlparse(url)
            if parsed.scheme == "data":
                return super().fetch(url, headers)
            if parsed.scheme == "file" and parsed.netloc in ("", "localhost"):
                path = Path(unquote(parsed.path)).resolve()
                if path.is_file() and (root == path.parent or root in path.parents):
                    return super().fetch(path.as_uri(), headers)
            raise BlockedFetch(f"blocked: {url} (only files in templates/ and data: URLs may be loaded)")

    return TemplatesOnly(allowed_protocols=("data", "file"), allow_redirects=False)


_FONTS: dict[tuple[int, str], tuple[tuple[Any, ...], Any]] = {}
_FONTS_LOCK = threading.Lock()


def _font_config(templates: Path) -> Any:
    """One weasyprint FontConfiguration per process and templates folder. weasyprint keeps the @font-face fonts
    it loaded in it, so they are read and registered once, not for every document: ~11% of each PDF, with the
    same bytes out (tested). Keyed by pid: a forked pool worker makes its own instead of sharing the parent's.
    weasyprint skips a font face it has seen without looking at the file, so a replaced file under templates/
    (its name, size or mtime) starts a new configuration. The lock guards this table only: Billed renders PDFs in
    processes, never threads, and weasyprint does not promise that two threads may share a configuration.
    """
    folder = templates.resolve()
    fonts = tuple(sorted((e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in os.scandir(folder / "fonts")
                         if e.is_file())) if (folder / "fonts").is_dir() else ()
    key = (os.getpid(), str(folder))
    with _FONTS_LOCK:
        held = _FONTS.get(key)
        if held is not None and held[0] == fonts:
            return held[1]
        from weasyprint.text.fonts import FontConfiguration

        config = FontConfiguration()
        _FONTS[key] = (fonts, config)
        if held is not None:
            _drop_fonts(held[1])
        if multiprocessing.parent_process() is not None:  # a pool worker ends in os._exit, skipping __del__
            multiprocessing.util.Finalize(config, _drop_fonts, args=(config,), exitpriority=10)
        else:
            atexit.register(_drop_fonts, config)
        return config


def _drop_fonts(config: Any) -> None:
    """Remove the folder weasyprint copied the fonts into (its own __del__ does the same)."""
    if getattr(config, "_folder", None):
        shutil.rmtree(config._folder, ignore_errors=True)


def render_pdf(html: str, templates: Path, variant: str | None = None) -> bytes:
    """`variant` "pdf/a-3b" is what a Factur-X e-invoice is embedded in (billed/einvoice.py)."""
    os.environ.setdefault("SOURCE_DATE_EPOCH", EPOCH)
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    from weasyprint import HTML

    document = HTML(string=html, base_url=templates.resolve().as_uri() + "/", url_fetcher=_fetcher(templates))
    return document.write_pdf(pdf_identifier=b"billed", uncompressed_pdf=False, pdf_variant=variant,
                              font_config=_font_config(templates))


def _render_one(args: tuple[str, str, str | None]) -> bytes:
    html, templates, variant = args
    return render_pdf(html, Path(templates), variant)


def _worker_start() -> None:
    """A pool worker ends with the process that forked it. The pool lives across a whole run, so a parent that dies
    while writing (a crash, a kill, BILLED_FAULT_AFTER_WRITES) would otherwise leave its workers waiting forever
    for work: each holds the task pipe's write end itself, so it never sees it close.

    It also freezes what it inherited (gc.freeze, as Python's gc docs advise for forked workers): the collector
    would otherwise walk every object of the parent again, copying each memory page it touches into the worker.
    Only the worker's own objects are collected; the parent is not affected."""
    gc.freeze()
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent.sentinel,), daemon=True).start()


def _exit_with(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])
    for (pid, _), (_, config) in list(_FONTS.items()):  # os._exit skips the finalizers that would remove them
        if pid == os.getpid():
            _drop_fonts(config)
    os._exit(1)


class PdfPool:
    """PDFs on every core for a whole run: weasyprint is single-threaded and CPU-bound. The workers are forked once,
    at the first batch of two or more, and serve every batch after it, so a run of many batches pays once for the
    fork, for each worker's font configuration and first-document warm-up, and for copying the parent's memory
    pages it writes to (a worker forked from a loaded repo faults in ~9 MB a document at first). `start` hands a
    batch to the workers and returns the function that waits for its PDFs: a caller can write one batch while the
    next one renders, and the workers never wait for it (api.write_documents)."""

    def __init__(self, templates: Path, variant: str | None = None, workers: int | None = None) -> None:
        self.templates, self.variant = templates, variant
        self.workers = workers or os.cpu_count() or 1
        self._pool: ProcessPoolExecutor | None = None

    def start(self, htmls: list[str]) -> Callable[[], list[bytes]]:
        if self._pool is None and (len(htmls) < 2 or self.workers == 1):
            pdfs = [render_pdf(h, self.templates, self.variant) for h in htmls]
            return lambda: pdfs
        if self._pool is None:
            import weasyprint  # noqa: F401 - imported before the pool forks, so no worker pays the ~1 s import again

            self._pool = ProcessPoolExecutor(max_workers=self.workers, initializer=_worker_start)
        jobs = [self._pool.submit(_render_one, (h, str(self.templates), self.variant)) for h in htmls]
        return lambda: [job.result() for job in jobs]

    def __enter__(self) -> PdfPool:
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=kind is not None)
            self._pool = None


def render_pdfs(htmls: list[str], templates: Path, workers: int | None = None,
                variant: str | None = None) -> list[bytes]:
    """PDFs for many documents, on every core (one batch of a PdfPool)."""
    with PdfPool(templates, variant, min(workers or os.cpu_count() or 1, max(len(htmls), 1))) as pool:
        return pool.start(htmls)()
