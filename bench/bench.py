"""Billed's benchmark: every command side by side at several repo sizes, against two baselines, in one run.

Each measurement runs the real console script (or a small Python child) as a child process and takes its wall
time, its CPU seconds (user + system) and its peak RSS (os.wait4's rusage, the child alone). Baselines on the same
data: the floor (read and parse every YAML file with PyYAML's C loader, nothing else) and `bean-check` on a
beancount ledger with one transaction per milestone, run both ways beancount runs: without its pickle cache
(`bean-check -C`) and with it (run once to write the cache, then timed). Billed is measured the same two ways: with
an empty cache (a new BILLED_CACHE_DIR for every run: what a CI job on a fresh clone sees) and warm. Prints every
figure, its ratio to the baselines, its growth with size, and whether each target in bench/README.md holds
(judged on CPU seconds: the machine is shared, and other processes' load inflates wall time, not CPU time);
`--json FILE` also writes the figures.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import generate  # noqa: E402

BIN = Path(sys.executable).parent
BILLED = str(BIN / "billed")
BEAN_CHECK = str(BIN / "bean-check")

FLOOR = """
import sys, yaml
from pathlib import Path
root = Path(sys.argv[1])
files = [root / "billed.yaml", *sorted((root / "projects").glob("*/*.yaml"))]
for f in files:
    yaml.load(f.read_bytes().decode("utf-8"), Loader=yaml.CSafeLoader)
print(len(files))
"""

DASHBOARD = """
import datetime as dt, sys
from pathlib import Path
from billed import views
board = views.load(Path(sys.argv[1]), dt.date.fromisoformat(sys.argv[2]))
print(len(board.projects))
"""

# Each PDF child writes when its rendering started and ended (time.monotonic, one clock for every process; after
# imports and reading the HTML) to $BENCH_RENDER_SECONDS: starting Python and importing weasyprint (~1 s) is not
# rendering, and counting it would charge the parallel side a whole import against half of one in the ideal.
# WEASYPRINT_ALONE runs as a user would call weasyprint (a font configuration per document) or, with "shared" as
# its first argument, with one FontConfiguration for every document, as Billed does: the strict baseline, so the
# ratio measures the parallel overhead, not the font saving. That configuration is made inside the clock, as
# Billed's are (one per worker, in render_pdfs): ~10 ms, once. With $BENCH_GO set, it says it is ready (a file
# next to its figures) and starts only once that file exists: pdf_bench starts one per core together.
WEASYPRINT_ALONE = """
import os, sys, time, logging
from pathlib import Path
os.environ.setdefault("SOURCE_DATE_EPOCH", "1577836800")
logging.getLogger("weasyprint").setLevel(logging.ERROR)
from weasyprint import HTML
from weasyprint.text.fonts import FontConfiguration
templates = Path(sys.argv[2]).resolve().as_uri() + "/"
htmls = [Path(p).read_text(encoding="utf-8") for p in sys.argv[3:]]
if os.environ.get("BENCH_GO"):
    Path(os.environ["BENCH_RENDER_SECONDS"] + ".ready").touch()
    while not os.path.exists(os.environ["BENCH_GO"]):
        time.sleep(0.001)
start = time.monotonic()
fonts = FontConfiguration() if sys.argv[1] == "shared" else None  # in the clock, as Billed makes its own
for html in htmls:
    HTML(string=html, base_url=templates).write_pdf(font_config=fonts)
Path(os.environ["BENCH_RENDER_SECONDS"]).write_text(f"{start} {time.monotonic()}")
"""

BILLED_PDFS = """
import os, sys, time
from pathlib import Path
import weasyprint  # as on the other side: imports are not rendering
from billed.render import render_pdfs
htmls = [Path(p).read_text(encoding="utf-8") for p in sys.argv[2:]]
start = time.monotonic()
pdfs = render_pdfs(htmls, Path(sys.argv[1]))
Path(os.environ["BENCH_RENDER_SECONDS"]).write_text(f"{start} {time.monotonic()}")
assert all(p.startswith(b"%PDF") for p in pdfs)
"""


Figure = tuple[float, float, float]  # wall seconds, peak MB, CPU seconds (user + system)


def measure(cmd: list[str], cwd: Path | None = None, ok: tuple[int, ...] = (0,),
            env: dict[str, str] | None = None) -> Figure:
    """(wall seconds, peak MB, CPU seconds) of one child process; its output is discarded, a failure stops the
    bench. BILLED_CACHE_DIR "fresh" gives the child a new, empty cache folder (removed afterwards)."""
    env = dict(env or {})
    fresh = None
    if env.get("BILLED_CACHE_DIR") == "fresh":
        fresh = tempfile.mkdtemp(prefix="billed-bench-cache-")
        env["BILLED_CACHE_DIR"] = fresh
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, **(env or {})})
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if fresh:
        shutil.rmtree(fresh, ignore_errors=True)
    if proc.returncode not in ok:
        raise SystemExit(f"bench: {' '.join(cmd)} exited {proc.returncode}:\n{err[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def best(cmd: list[str], repeat: int, cwd: Path | None = None, env: dict[str, str] | None = None) -> Figure:
    """Best wall and best CPU of `repeat` runs (each its own minimum), highest peak."""
    return _best_of([measure(cmd, cwd, env=env) for _ in range(repeat)])


def _best_of(runs: list[Figure]) -> Figure:
    return min(r[0] for r in runs), max(r[1] for r in runs), min(r[2] for r in runs)


def side_by_side(cmds: list[list[str]], repeat: int, env: dict[str, str] | None = None) -> list[Figure]:
    """`best` of each command, their runs taken in turn (A, B, A, B, ...): two commands a target compares meet the
    same spells of this shared machine's load. Run one block after the other, a burst of other work during one
    block moved a ratio by 10-25% (bench/README.md, third and fourth passes)."""
    runs: list[list[Figure]] = [[] for _ in cmds]
    for _ in range(repeat):
        for cmd, figures in zip(cmds, runs, strict=True):
            figures.append(measure(cmd, env=env))
    return [_best_of(figures) for figures in runs]


EMPTY = {"BILLED_CACHE_DIR": "fresh"}  # an empty cache for each run, as on a fresh clone


def bean_check(ledger: Path, repeat: int) -> dict[str, Any]:
    """bean-check without its cache (-C), then with it: one run writes `.<ledger>.picklecache` (beancount writes
    it only when a load took at least a second, loader.PICKLE_CACHE_THRESHOLD), the timed runs read it."""
    cache_file = ledger.with_name(f".{ledger.name}.picklecache")
    cache_file.unlink(missing_ok=True)
    out: dict[str, Any] = {"bean_check_nocache": best([BEAN_CHECK, "-C", str(ledger)], repeat)}
    measure([BEAN_CHECK, str(ledger)])
    out["bean_cache_written"] = cache_file.exists()
    out["bean_check_cached"] = best([BEAN_CHECK, str(ledger)], repeat)
    return out


def machine() -> dict[str, Any]:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    mem = next((int(ln.split()[1]) // 1024 for ln in Path("/proc/meminfo").read_text().splitlines()
                if ln.startswith("MemTotal")), 0)
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_mb": mem, "python": platform.python_version()}


def compile_billed() -> str:
    """Compile Billed's modules to bytecode, as `pip install` does for an installed package (and for beancount,
    the baseline). An editable install under PYTHONDONTWRITEBYTECODE=1 (set on this machine) otherwise recompiles
    every module in every process: ~0.09 s CPU of each command, which no installed Billed pays."""
    package = HERE.parent / "billed"
    ok = compileall.compile_dir(str(package), quiet=1)
    return "compiled, as pip installs it" if ok else "compiling failed: Billed's start-up includes compiling"


def one_size(work: Path, size: int, seed: int, repeat: int, issue_pdf_size: int = 0, pairs: int = 5) -> dict[str, Any]:
    root, ledger = work / f"repo-{size}", work / f"ledger-{size}.beancount"
    t0 = time.perf_counter()
    # in a child: ru_maxrss of every later child counts the memory it was forked with, so the bench stays small
    made = subprocess.run([sys.executable, str(HERE / "generate.py"), str(root), "--projects", str(size), "--seed",
                           str(seed), "--beancount", str(ledger)], capture_output=True, text=True)
    if made.returncode != 0:
        raise SystemExit(f"bench: generating {size} projects failed:\n{made.stderr[-2000:]}")
    milestones = int(made.stdout.split()[2])
    out: dict[str, Any] = {"projects": size, "milestones": milestones, "generate": time.perf_counter() - t0}
    out["issued_before"] = sum(1 for _ in (root / "invoices").glob("*/*.json"))
    py = sys.executable
    old, new = str(generate.LEDGER_DATE), str(generate.NEW_DATE)
    out["floor"] = best([py, "-c", FLOOR, str(root)], repeat)
    out.update(bean_check(ledger, repeat))
    check = [BILLED, "check", "--repo", str(root)]
    out["check_nocache"] = measure(check, env={"BILLED_CACHE": "0"})
    plan_old = [BILLED, "plan", "--repo", str(root), "--date", old]  # nothing new to issue on the ledger's date
    # a fresh clone: empty cache, every file read. A target compares `plan` with `check`: best of 5 each even at
    # 10,000, taken in turn (`side_by_side`), here and warm below (best of 3 in turn still moved the ratio at 1,000
    # by 9% in a noisy run, where alternating by hand gave 1.00)
    out["check_empty"], out["plan_empty"] = side_by_side([check, plan_old], pairs, env=EMPTY)
    out["check_git"] = in_git(root, work / f"repo-{size}-git", repeat)
    out["check_sight"] = measure(check)  # a cache's first sight of the repo: it only makes its folder (cache.begin)
    out["check_first"] = measure(check)  # the second: fills billed/cache.py's cache
    out["check"], out["plan_nochange"] = side_by_side([check, plan_old], pairs)
    out["check_checkout"] = new_checkout(root, check)
    out["plan"] = best([BILLED, "plan", "--repo", str(root), "--date", new, "--json"], repeat)
    out["status"] = best([BILLED, "status", "--repo", str(root), "--date", old, "--json"], repeat)
    if (HERE.parent / "billed" / "views.py").exists():
        try:  # the dashboard is young: a failure there is reported, it does not stop the other figures
            dashboard = [py, "-c", DASHBOARD, str(root), old]
            out["dashboard_first"] = measure(dashboard)  # builds the board and stores it (billed/boardcache.py)
            out["dashboard"] = best(dashboard, max(2, repeat))  # warm as `check` is warm: after a filling run
        except SystemExit as exc:
            out["dashboard_error"] = str(exc).strip().splitlines()[-1]
    else:
        out["dashboard_error"] = "billed/views.py does not exist"
    if size == issue_pdf_size:  # before the --no-pdf issue below changes the repo
        out.update(issue_with_pdfs(root, work / f"repo-{size}-pdf", new))
    out["issue"] = measure([BILLED, "issue", "--repo", str(root), "--date", new, "--no-pdf", "--json"])
    out["issued_new"] = sum(1 for _ in (root / "invoices").glob("*/*.json")) - out["issued_before"]
    out["check_after"] = measure(check)
    return out


def in_git(root: Path, copy: Path, repeat: int) -> Figure:
    """Empty-cache `check` in a git repo, as CI runs it on a fresh clone: the same files, the projects in one
    commit and the records in an issuing commit (one Billed-Issued trailer each, as `issue --commit` writes),
    so the git witness (billed/witness.py) reads the history and vouches for every record."""
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(root, copy, symlinks=True)
    numbers = sorted(p.stem for p in (copy / "invoices").glob("*/*.json"))
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@billed.invalid",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@billed.invalid"}
    for args in (["init", "-q", "--initial-branch=main"], ["add", "-A", "--", ".", ":!invoices"],
                 ["commit", "-q", "-m", "Projects"], ["add", "-A", "invoices"],
                 ["commit", "-q", "-F", "-"]):
        message = "Issue documents\n\n" + "".join(f"Billed-Issued: {n}\n" for n in numbers)
        subprocess.run(["git", *args], cwd=copy, env=env, check=True, capture_output=True,
                       input=message.encode() if args[-1] == "-" else None)
    try:
        return best([BILLED, "check", "--repo", str(copy)], repeat, env=EMPTY)
    finally:
        shutil.rmtree(copy, ignore_errors=True)


def new_checkout(root: Path, check: list[str]) -> Figure:
    """`check` on a new checkout with the cache folder restored (what actions/cache gives a CI job): the repo is
    moved away and copied back, so every inode and ctime is new while the content and path are the same."""
    away = root.with_name(root.name + "-away")
    shutil.move(root, away)
    shutil.copytree(away, root, symlinks=True)
    shutil.rmtree(away)
    time.sleep(2.1)  # past the racy window (ledger.RACY_NS), as a checkout is by the time CI runs check
    return measure(check)


def issue_with_pdfs(root: Path, copy: Path, on: str) -> dict[str, Any]:
    """`billed issue` with PDFs on a copy of the repo with an empty cache, as a CI job on a fresh clone runs it
    (`render_pdfs` uses every core); its documents per second."""
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(root, copy, symlinks=True)
    before = sum(1 for _ in (copy / "invoices").glob("*/*.json"))
    figure = measure([BILLED, "issue", "--repo", str(copy), "--date", on, "--json"], env=EMPTY)
    new = sum(1 for _ in (copy / "invoices").glob("*/*.json")) - before
    pdfs = sorted((copy / "invoices").glob("*/*.pdf"))
    shutil.rmtree(copy, ignore_errors=True)
    return {"issue_pdf": figure, "issue_pdf_docs": new, "issue_pdf_files": len(pdfs),
            "issue_pdf_docs_per_s": new / figure[0]}


def pdf_bench(root: Path, count: int, repeat: int = 3) -> dict[str, Any]:
    """Bare weasyprint on the same HTML, one after another (as a user calls it, and with one shared font
    configuration), vs Billed's parallel rendering (every core). Each side runs `repeat` times, interleaved, best
    taken: the cores are shared, and a neighbour's burst should not decide the ratio.

    The ideal of `ratio` divides weasyprint's one-after-another time by the core count, as if two processes ran
    each at the speed of one alone. They do not on this machine (two busy cores share caches and memory, and a
    neighbour on either slows the pair), so weasyprint alone is also run on every core: one process per core with
    its share of the documents (every n-th), started together once each has imported and read its HTML, timed
    from the first start to the last end. `ratio_split` is Billed against that: what Billed's pool, forks and
    balancing cost over the simplest parallel use of the same cores."""
    htmls = sorted((root / "invoices").glob("*/*.html"))[-count:]
    templates = str(root / "templates")
    py = sys.executable
    cores = os.cpu_count() or 1
    runs: dict[str, list[float]] = {"alone": [], "shared": [], "split": [], "billed": [], "alone_wall": [],
                                    "billed_wall": []}
    mem = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        timing = Path(tmp) / "seconds"
        env = {"BENCH_RENDER_SECONDS": str(timing)}
        for _ in range(repeat):
            for side in ("alone", "shared"):
                wall, _, _ = measure([py, "-c", WEASYPRINT_ALONE, side, templates, *map(str, htmls)], env=env)
                runs[side].append(_span([timing]))
                if side == "alone":
                    runs["alone_wall"].append(wall)
            runs["split"].append(_split(py, templates, htmls, cores, Path(tmp)))
            wall, peak, _ = measure([py, "-c", BILLED_PDFS, templates, *map(str, htmls)], env=env)
            runs["billed"].append(_span([timing]))
            runs["billed_wall"].append(wall)
            mem = max(mem, peak)
    a, shared, split, b = min(runs["alone"]), min(runs["shared"]), min(runs["split"]), min(runs["billed"])
    return {"documents": len(htmls), "weasyprint_sequential": a, "per_document": a / len(htmls),
            "weasyprint_shared_fonts": shared, "billed_parallel": b, "ideal_parallel": shared / cores,
            "ratio": b / (shared / cores), "ratio_plain": b / (a / cores), "speedup": shared / b, "cores": cores,
            "weasyprint_split": split, "ratio_split": b / split, "runs": runs,
            "peak_mb": mem, "weasyprint_process": min(runs["alone_wall"]), "billed_process": min(runs["billed_wall"])}


def _span(files: list[Path]) -> float:
    """Seconds from the first child's start to the last one's end (each wrote "start end", time.monotonic)."""
    spans = [tuple(map(float, f.read_text().split())) for f in files]
    return max(end for _, end in spans) - min(start for start, _ in spans)


def _split(py: str, templates: str, htmls: list[Path], cores: int, tmp: Path) -> float:
    """weasyprint alone on every core: one process per core, every n-th document, started together."""
    go = tmp / "go"
    go.unlink(missing_ok=True)
    files = [tmp / f"split-{i}" for i in range(cores)]
    procs = [subprocess.Popen([py, "-c", WEASYPRINT_ALONE, "shared", templates, *map(str, htmls[i::cores])],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              env={**os.environ, "BENCH_RENDER_SECONDS": str(f), "BENCH_GO": str(go)})
             for i, f in enumerate(files)]
    while not all(f.with_name(f.name + ".ready").exists() for f in files):
        if any(p.poll() is not None for p in procs):
            break
        time.sleep(0.001)
    go.touch()
    for proc in procs:
        err = proc.communicate()[1].decode(errors="replace")
        if proc.returncode:
            raise SystemExit(f"bench: weasyprint alone on every core exited {proc.returncode}:\n{err[-2000:]}")
    for f in files:
        f.with_name(f.name + ".ready").unlink()
    return _span(files)


def fmt_t(value: float) -> str:
    return f"{value:6.2f}s" if value >= 1 else f"{value * 1000:5.0f}ms"


ROWS = [("floor", "parse floor (CSafeLoader)"), ("bean_check_nocache", "bean-check -C (no cache)"),
        ("bean_check_cached", "bean-check (its cache)"),
        ("check_nocache", "billed check, BILLED_CACHE=0"), ("check_empty", "billed check, empty cache"),
        ("check_git", "check, empty cache, git clone"),
        ("plan_empty", "billed plan, empty cache"), ("check_sight", "check, cache's 1st sight"),
        ("check_first", "check, 2nd run: fills cache"),
        ("check", "billed check, warm"), ("check_checkout", "check, new checkout+old cache"),
        ("plan_nochange", "billed plan (no change), warm"), ("plan", "billed plan (new docs), warm"),
        ("status", "billed status --json, warm"), ("dashboard_first", "dashboard data load, 1st run"),
        ("dashboard", "dashboard data load, warm"),
        ("issue_pdf", "billed issue (PDFs), fresh"),
        ("issue", "billed issue --no-pdf, warm"), ("check_after", "billed check after issue")]
RATIOS = (("empty-cache check / floor", "check_empty", "floor"),
          ("empty-cache check / bean-check -C", "check_empty", "bean_check_nocache"),
          ("empty-cache plan / check", "plan_empty", "check_empty"),
          ("git clone / plain, empty cache", "check_git", "check_empty"),
          ("warm check / bean-check cached", "check", "bean_check_cached"),
          ("warm check / floor", "check", "floor"),
          ("no-change plan / check, warm", "plan_nochange", "check"),
          ("dashboard / check, warm", "dashboard", "check"),
          ("dashboard 1st run / check, warm", "dashboard_first", "check"),
          ("BILLED_CACHE=0 check / floor", "check_nocache", "floor"),
          ("status / check, warm", "status", "check"))


def report(results: list[dict[str, Any]], pdf: dict[str, Any] | None, info: dict[str, Any]) -> list[str]:
    """The side-by-side table, ratios, growth and targets, as printable lines; returns the failed targets."""
    print(f"\nmachine: {info['nproc']} cores, {info['cpu']}, {info['ram_mb']} MB RAM, Python {info['python']}; "
          f"Billed's bytecode {info.get('bytecode', '?')}")
    print("each figure: wall / CPU seconds (user + system) / peak RSS of the child process; ratios and targets on CPU")
    sizes = [r["projects"] for r in results]
    print("\n" + f"{'':31}" + "".join(f"{s:>22,} proj" for s in sizes))
    print(f"{'milestones':31}" + "".join(f"{r['milestones']:>27,}" for r in results))
    print(f"{'issued documents (ledger)':31}" + "".join(f"{r['issued_before']:>27,}" for r in results))
    print(f"{'new documents issued':31}" + "".join(f"{r['issued_new']:>27,}" for r in results))
    print(f"{'generate (setup)':31}" + "".join(f"{fmt_t(r['generate']):>27}" for r in results))
    for key, label in ROWS:
        if any(key in r for r in results):
            print(f"{label:31}" + "".join(
                f"{fmt_t(r[key][0]):>9} /{fmt_t(r[key][2]):>8} {r[key][1]:5.0f}MB" if key in r else f"{'-':>27}"
                for r in results))
    print(f"{'bean-check cache written':31}" + "".join(
        f"{'yes' if r['bean_cache_written'] else 'no (load < 1 s)':>27}" for r in results))
    print("\nratios (CPU seconds)" + " " * 11 + "".join(f"{s:>22,} proj" for s in sizes))
    for name, num, den in RATIOS:
        if all(num in r and den in r for r in results):
            print(f"{name:31}" + "".join(f"{r[num][2] / r[den][2]:>27.2f}" for r in results))
    print(f"{'issue per new document, warm':31}" + "".join(
        f"{fmt_t(r['issue'][0] / max(1, r['issued_new'])):>27}" for r in results))
    for r in results:
        if "issue_pdf" in r:
            print(f"issue with PDFs on a fresh clone at {r['projects']:,} projects: {r['issue_pdf_docs']:,} documents "
                  f"({r['issue_pdf_files']:,} PDFs) in {r['issue_pdf'][0]:.1f}s wall, "
                  f"{r['issue_pdf_docs_per_s']:.1f} documents/s on {info['nproc']} cores")
    print("\ngrowth from each size to the next, CPU (for 10x the projects: 1 = flat, 10 = linear)")
    for key, label in ROWS:
        if all(key in r for r in results) and len(results) > 1:
            steps = [f"{b[key][2] / a[key][2]:.1f}x" for a, b in zip(results, results[1:], strict=False)]
            print(f"  {label:29} " + " then ".join(steps))
    for r in results:
        if "dashboard_error" in r:
            print(f"dashboard data load at {r['projects']:,} not measured: {r['dashboard_error']}")
    if pdf:
        print(f"\nPDF: {pdf['documents']} documents; weasyprint alone {pdf['per_document'] * 1000:.0f} ms/document, "
              f"{pdf['weasyprint_sequential']:.2f}s one after another ({pdf['weasyprint_shared_fonts']:.2f}s with one "
              f"font configuration, as Billed); Billed on {pdf['cores']} cores {pdf['billed_parallel']:.2f}s (speed-up "
              f"{pdf['speedup']:.2f}x, ideal {pdf['cores']}x); ratio to weasyprint alone (shared fonts) spread over "
              f"every core: {pdf['ratio']:.2f}, to plain weasyprint: {pdf['ratio_plain']:.2f} (whole processes, with "
              f"Python start-up and imports: {pdf['weasyprint_process']:.2f}s vs {pdf['billed_process']:.2f}s)")
        if "ratio_split" in pdf:
            print(f"PDF: weasyprint alone run on the same {pdf['cores']} cores (one process a core, the "
                  f"documents dealt out in turn, first start to last end) {pdf['weasyprint_split']:.2f}s, "
                  f"{pdf['weasyprint_split'] / pdf['ideal_parallel']:.2f}x the ideal; Billed against it: "
                  f"{pdf['ratio_split']:.2f}")
    return targets(results, pdf)


def targets(results: list[dict[str, Any]], pdf: dict[str, Any] | None) -> list[str]:
    """The targets of bench/README.md at every size of 1,000 projects or more (the largest if all are smaller),
    on CPU seconds; peak memory at the largest size."""
    big = results[-1]
    judged = [r for r in results if r["projects"] >= 1000] or [big]
    ours = {k: v for k, v in big.items() if isinstance(v, tuple) and k in dict(ROWS)
            and not k.startswith(("floor", "bean"))}
    heaviest = max(ours, key=lambda k: ours[k][1])  # (the baselines are not ours: bean-check alone takes ~545 MB)
    peak = ours[heaviest][1]
    checks = []
    for r in judged:
        n = f"{r['projects']:,}"
        cpu = {k: v[2] for k, v in r.items() if isinstance(v, tuple)}
        checks += [
            (f"empty cache: check within 2x the parse floor at {n}", cpu["check_empty"] <= 2 * cpu["floor"]),
            (f"empty cache: check faster than bean-check -C at {n}", cpu["check_empty"] < cpu["bean_check_nocache"]),
            (f"empty cache: plan no slower than check at {n}", cpu["plan_empty"] <= cpu["check_empty"] * 1.05),
            (f"warm: check faster than bean-check with its cache at {n}",
             cpu["check"] < cpu["bean_check_cached"]),
            (f"warm: no-change plan no slower than check at {n}", cpu["plan_nochange"] <= cpu["check"] * 1.05),
            (f"dashboard data load no slower than check at {n}",
             "dashboard" in cpu and cpu["dashboard"] <= cpu["check"] * 1.05)]
    checks.append((f"peak memory under 500 MB at {big['projects']:,} (every Billed command; {heaviest} {peak:.0f} MB)",
                   peak < 500))
    if pdf:
        checks.append(("PDF total within 1.2x of weasyprint alone (same font saving) on every core, ideal split",
                       pdf["ratio"] <= 1.2))
        if "ratio_split" in pdf:  # like with like: weasyprint really run on the same cores, as Billed is
            checks.append(("PDF total within 1.2x of weasyprint alone run on the same cores",
                           pdf["ratio_split"] <= 1.2))
    print("\ntargets (\"no slower\" allows 5% for noise)")
    for label, ok in checks:
        print(f"  [{'PASS' if ok else 'FAIL'}] {label}")
    return [label for label, ok in checks if not ok]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,1000,10000", help="project counts, comma-separated")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure below 10,000 projects (best)")
    parser.add_argument("--pairs", type=int, default=5, help="runs of each side of a check/plan target, taken in "
                        "turn, at every size (best)")
    parser.add_argument("--pdf-docs", type=int, default=48, help="documents for the PDF comparison (0: skip)")
    parser.add_argument("--issue-pdf-size", type=int, default=1000,
                        help="at this size (if measured) also issue with PDFs on a fresh copy (0: never)")
    parser.add_argument("--work", type=Path, help="keep generated repos here (default: a temp dir, removed)")
    parser.add_argument("--json", type=Path, help="write the figures as JSON to this file")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="billed-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    info = machine()
    info["bytecode"] = compile_billed()
    try:
        results = []
        for size in (int(s) for s in args.sizes.split(",")):
            print(f"measuring {size:,} projects ...", file=sys.stderr, flush=True)
            results.append(one_size(work, size, args.seed, args.repeat if size < 10_000 else 1,
                                       args.issue_pdf_size, args.pairs))
        pdf = pdf_bench(work / f"repo-{results[0]['projects']}", args.pdf_docs) if args.pdf_docs else None
        failed = report(results, pdf, info)
        if args.json:
            args.json.write_text(json.dumps({"machine": info, "sizes": results, "pdf": pdf}, indent=2) + "\n")
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if not failed else 4)


if __name__ == "__main__":
    main()
