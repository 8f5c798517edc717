"""Run the benchmark: ``python -m bench.run [--quick] [--sizes 10000,100000,1000000] [--engines duckdb,polars,spark]``.

Every workload of bench.workloads runs as its own process, started with the same Python; its
wall time (start-up included) and peak RSS (``os.wait4`` rusage of the process) are recorded.
Figures are cross-checked (Retentio on each engine = floor MRR = naive pandas = saas-metrics
waterfall) and the result is written to ``bench/results.json`` (``--quick``:
``bench/out/quick/results.json``) with a chart next to it (SVG).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from dataclasses import asdict

from bench.books import OUT, BookSpec, spec_for
from bench.workloads import REGISTRY

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZE = 300
QUICK_MONTHS = 12
SPARK_MAX_ACCOUNTS = 1_000_000
# Start-up workloads take a fraction of a second: each is run this many times, the median kept.
STARTUP_RUNS = 5


def size_key(s: str) -> tuple:
    """Results are keyed by accounts ("100000") or accounts, history and months asked
    ("100000-h60-ask12", the long-history books)."""
    return (int(s.split("-")[0]), s)


def size_label(s: str) -> str:
    n, *rest = s.split("-")
    return f"{int(n):,} accounts" + (" (" + ", ".join(rest) + ")" if rest else "")


def machine() -> dict:
    info: dict = {"nproc": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["mem_gb"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    # Versions without importing anything: the driver stays small (see bench/launch.py).
    from importlib.metadata import PackageNotFoundError, version

    info["versions"] = {}
    for pkg in ("duckdb", "polars", "narwhals", "pandas", "pyspark", "saas-metrics", "pyarrow"):
        try:
            info["versions"][pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return info


def run_process(name: str, params: dict, out_dir: Path, timeout: float) -> dict:
    """Run one workload in a child process; wall time and peak RSS of that process."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tag = name + (f"-{params['engine']}" if "engine" in params else "") + (f"-{params['format']}" if "format" in params else "")
    out_file = out_dir / f"{tag}.json"
    err_file = out_dir / f"{tag}.stderr"
    out_file.unlink(missing_ok=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    if not REGISTRY[name].figure_cache:
        env["RETENTIO_NO_CACHE"] = "1"  # a computation is measured, not an answer read back
    stat_file = out_dir / f"{tag}.stat"
    stat_file.unlink(missing_ok=True)
    launcher = [sys.executable, "-S", str(ROOT / "bench" / "launch.py"), str(stat_file)]
    cmd = [sys.executable, "-m", "bench.workloads", name, json.dumps(params), str(out_file)]
    t0 = time.perf_counter()
    timed_out = False
    with open(err_file, "wb") as err:
        proc = subprocess.Popen(launcher + cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err,
                                start_new_session=True)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)  # the launcher's own process group: it and the workload
            proc.wait()
            timed_out = True
    wall = time.perf_counter() - t0
    stat = json.loads(stat_file.read_text()) if stat_file.exists() else {"wall_s": wall, "maxrss_kb": 0, "exit": -9}
    proc.returncode = stat["exit"]
    wall = stat["wall_s"]
    rec: dict = {"wall_s": round(wall, 3), "peak_rss_mb": round(stat["maxrss_kb"] / 1024, 1), "ok": False}
    if "cpu_s" in stat:  # user + sys of the workload process (less sensitive to a shared machine's load)
        rec["cpu_s"] = round(stat["cpu_s"], 3)
    if timed_out:
        rec["error"] = f"timed out after {timeout:.0f} s"
    elif proc.returncode != 0 or not out_file.exists():
        tail = err_file.read_text(errors="replace").strip().splitlines()[-3:]
        rec["error"] = f"exit {proc.returncode}: " + " | ".join(tail)
    else:
        rec["ok"] = True
        rec["result"] = json.loads(out_file.read_text())
    return rec


def _cmp_waterfall(a: dict, b: dict) -> list[str]:
    diffs = []
    for month in sorted(set(a) | set(b)):
        if a.get(month) != b.get(month):
            diffs.append(f"{month}: {a.get(month)} != {b.get(month)}")
    return diffs


def cross_checks(runs: dict) -> dict:
    """Compare the figures of every run with Retentio on DuckDB (or the first Retentio run)."""
    ref_name = next((k for k in runs if k.startswith("retentio[") and runs[k]["ok"]), None)
    checks: dict = {}
    # engagement §9: each Retentio engine against the floor's one query (active users at the
    # month ends, the last month's adoption counts)
    floor = runs.get("floor-engagement")
    for name, rec in runs.items():
        if name.startswith("engagement-core[") and rec.get("ok") and floor and floor.get("ok"):
            a, b = rec["result"], floor["result"]
            diffs = [f"{k}: {a['active'].get(k)} != {b['active'].get(k)}" for k in sorted(set(a["active"]) | set(b["active"]))
                     if a["active"].get(k) != b["active"].get(k)]
            diffs += [f"{k}: {a['adoption'].get(k)} != {b['adoption'].get(k)}"
                      for k in sorted(set(a["adoption"]) | set(b["adoption"])) if a["adoption"].get(k) != b["adoption"].get(k)]
            checks[f"{name} = floor-engagement"] = {"equal": not diffs, "differences": diffs[:5], "n_differences": len(diffs),
                                                    "compared": len(set(a["active"]) | set(a["adoption"])),
                                                    "active_users": sum(a["active"].values())}
    if ref_name is None:
        return {"reference": None, **checks}
    ref = runs[ref_name]["result"]
    checks["reference"] = ref_name
    for name, rec in runs.items():
        if name == ref_name or not rec.get("ok"):
            continue
        res = rec["result"]
        diffs: list[str] = []
        if name == "floor":
            end = {m: row[6] for m, row in ref["waterfall"].items()}
            diffs = _cmp_waterfall(end, res["mrr"])
        elif "waterfall" in res:
            ref_wf = ref["waterfall"]
            if "fx" in ref and "fx" not in res:
                # Retentio separates the currency effect (metrics.md §3): expansion and
                # contraction at constant currency plus a signed fx movement.  The other
                # implementations count rate moves as expansion / contraction, so they are
                # compared on start, new, reactivation, churn, end and on the net
                # expansion - contraction (+ fx for Retentio).
                def net(wf, fxm):
                    return {m: row[:3] + [row[3] - row[4] + fxm.get(m, 0)] + row[5:] for m, row in wf.items()}
                ref_wf, res_wf = net(ref_wf, ref["fx"]), net(res["waterfall"], {})
            else:
                res_wf = res["waterfall"]
            diffs = _cmp_waterfall(ref_wf, res_wf)
            for month, k in res.get("kpis", {}).items():
                for key, v in k.items():
                    if ref["kpis"].get(month, {}).get(key) != v:
                        diffs.append(f"{month} {key}: {ref['kpis'].get(month, {}).get(key)} != {v}")
            if "cohort_sizes" in res and res["cohort_sizes"] != ref.get("cohort_sizes"):
                diffs.append("cohort sizes differ")
        else:
            continue
        checks[name] = {"equal": not diffs, "differences": diffs[:5], "n_differences": len(diffs)}
    return checks


def ratios(runs: dict) -> dict:
    def wall(k):
        r = runs.get(k)
        return r["wall_s"] if r and r.get("ok") else None

    def ratio(a, b):
        return None if a is None or b is None or b == 0 else round(a / b, 2)

    ret = wall("retentio[duckdb]")
    out = {
        "retentio/floor": ratio(ret, wall("floor")),
        "retentio/floor-waterfall": ratio(ret, wall("floor-waterfall")),
        "pandas/retentio": ratio(wall("pandas"), ret),
        "saas-metrics/retentio": ratio(wall("saas-metrics"), ret),
    }
    for eng in ("polars", "spark"):
        if wall(f"retentio[{eng}]") is not None:
            out[f"retentio[{eng}]/retentio[duckdb]"] = ratio(wall(f"retentio[{eng}]"), ret)
    return out


def prepare_book(spec: BookSpec, out: Path, exports: bool) -> tuple[Path, dict]:
    """Generate / export the book in a child process (the driver must not grow: bench/launch.py)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "bench.books", json.dumps(asdict(spec)), str(out)] + (["--exports"] if exports else [])
    proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"preparing book {spec.name} failed (exit {proc.returncode})")
    rec = json.loads(proc.stdout.strip().splitlines()[-1])
    return Path(rec["workspace"]), rec


def run_size(spec: BookSpec, engines: list[str], names: list[str], timeout: float, out: Path, log,
             ask: int | None = None) -> dict:
    ws, record = prepare_book(spec, out, exports="import" in names)
    period = spec.period
    if ask is not None and ask < spec.months:
        a, b = spec.period.split("..")
        y, m = map(int, b.split("-"))
        k = y * 12 + m - 1 - (ask - 1)
        period = f"{k // 12:04d}-{k % 12 + 1:02d}..{b}"
    params = {"workspace": str(ws), "period": period, "base": "EUR"}
    work = out / "runs" / spec.name
    runs: dict = {}

    def go(key: str, name: str, extra: dict | None = None) -> None:
        log(f"  {key:<28}", end="")
        if REGISTRY[name].warm_up:
            run_process(name, {**params, **(extra or {})}, work, timeout)  # fills the figure cache
        rec = run_process(name, {**params, **(extra or {})}, work, timeout)
        if REGISTRY[name].group == "startup" and rec["ok"]:
            # a start-up takes a fraction of a second: the median of STARTUP_RUNS processes
            recs = [rec] + [run_process(name, {**params, **(extra or {})}, work, timeout)
                            for _ in range(STARTUP_RUNS - 1)]
            ok = sorted((r for r in recs if r["ok"]), key=lambda r: r["wall_s"])
            rec = dict(ok[len(ok) // 2])
            rec["runs"] = [{"wall_s": r["wall_s"], "cpu_s": r.get("cpu_s")} for r in recs]
            cpus = sorted(r["cpu_s"] for r in ok if r.get("cpu_s") is not None)
            if cpus:
                rec["cpu_s"] = cpus[len(cpus) // 2]
            rec["load"] = round(os.getloadavg()[0], 2)
        runs[key] = rec
        msg = f"{rec['wall_s']:>9.2f} s {rec['peak_rss_mb']:>9.0f} MB"
        if rec.get("cpu_s") is not None:
            msg += f" (CPU {rec['cpu_s']:.2f} s" + (f", median of {len(rec['runs'])}, load {rec['load']}"
                                                   if "runs" in rec else "") + ")"
        jvm = (rec.get("result") or {}).get("jvm_peak_rss_mb")
        if jvm:
            msg += f" (+ JVM {jvm:.0f} MB)"
        tps = (rec.get("result") or {}).get("texts_per_s")
        if tps:
            res = rec["result"]["results"]
            msg += " (" + ", ".join(f"{k} {v:,} texts/s, {res[k + '_texts_per_cpu_s']:,} per CPU s" for k, v in tps.items()) + ")"
        log(msg + ("" if rec["ok"] else f"  FAILED: {rec['error'][:200]}"))

    for name in names:
        wl = REGISTRY[name]
        if wl.max_accounts is not None and spec.accounts > wl.max_accounts:
            continue
        if name == "import":
            files = record["exports"]
            for fmt in ("csv", "parquet"):
                go(f"import[{fmt}]", name, {"format": fmt, "files": {k: str(v) for k, v in files[fmt].items()},
                                            "target": str(work / f"import-{fmt}")})
        elif name == "incremental":
            go("incremental", name, {"scratch": str(work / "incremental")})
        elif wl.per_engine:
            for eng in engines:
                if wl.engines is not None and eng not in wl.engines:
                    continue
                if eng == "spark" and spec.accounts > SPARK_MAX_ACCOUNTS:
                    runs[f"{name}[spark]"] = {"ok": False, "skipped": True,
                                              "error": f"not run above {SPARK_MAX_ACCOUNTS:,} accounts locally"}
                    continue
                go(f"{name}[{eng}]", name, {"engine": eng})
        else:
            go(name, name)
    result = {"accounts": spec.accounts, "book": record, "period": spec.period, "runs": runs,
              "ratios": ratios(runs), "checks": cross_checks(runs)}
    for k, v in result["ratios"].items():
        log(f"  {k:<34} {v}")
    inc = (runs.get("incremental") or {}).get("result", {}).get("incremental")
    if inc:
        result["ratios"]["refresh_s"] = round(inc["refresh_s"], 3)
        log(f"  incremental refresh {inc['refresh_s']:.2f} s ({inc['mode']} from {inc['from_month']}, "
            f"{inc['accounts_recomputed']} accounts), equal to full recompute: {inc['equal_to_full_recompute']}")
    for k, v in result["checks"].items():
        if isinstance(v, dict):
            log(f"  check {k:<28} {'equal' if v['equal'] else 'DIFFERENT: ' + '; '.join(v['differences'])}")
    return result


def strip_results(size_result: dict) -> dict:
    """results.json keeps timings and summaries, not every figure."""
    out = dict(size_result)
    runs = {}
    for k, rec in size_result["runs"].items():
        r = {kk: vv for kk, vv in rec.items() if kk != "result"}
        res = rec.get("result") or {}
        keep = {kk: vv for kk, vv in res.items() if kk in ("timings", "inner_seconds", "entities", "results",
                                                            "input_rows", "checks", "incremental", "cohort_rows", "texts_per_s",
                                                            "jvm_peak_rss_mb")}
        if "waterfall" in res:
            last = sorted(res["waterfall"])[-1]
            keep["waterfall_last_month"] = {last: res["waterfall"][last]}
            if "fx" in res:  # Retentio's signed currency effect (metrics.md §3), outside the waterfall
                keep["fx_last_month"] = {last: res["fx"].get(last, 0)}
        if keep:
            r["summary"] = keep
        runs[k] = r
    out["runs"] = runs
    return out


def write_svg(results: dict, path: Path) -> None:
    """A grouped bar chart of wall times per size (log scale), written by hand (no plotting dependency)."""
    import math

    sizes = sorted(results["sizes"], key=size_key)
    keys = ["floor", "floor-waterfall", "retentio[duckdb]", "retentio[polars]", "retentio[spark]", "pandas", "saas-metrics"]
    colors = ["#888888", "#bbbbbb", "#1f77b4", "#17becf", "#ff7f0e", "#d62728", "#9467bd"]
    vals = {s: [results["sizes"][s]["runs"].get(k, {}) for k in keys] for s in sizes}
    all_v = [r["wall_s"] for s in sizes for r in vals[s] if r.get("ok")]
    if not all_v:
        return
    lo, hi = math.floor(math.log10(min(all_v))), math.ceil(math.log10(max(all_v)))
    hi = max(hi, lo + 1)
    W, H, left, top, bottom = 900, 400, 60, 40, 70
    ph = H - top - bottom
    gw = (W - left - 20) / max(len(sizes), 1)
    bw = gw / (len(keys) + 1)

    def y(v):
        return top + ph - (math.log10(v) - lo) / (hi - lo) * ph

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="11">',
             f'<text x="{left}" y="20" font-size="14">Wall time per workload (s, log scale, whole process)</text>']
    for e in range(lo, hi + 1):
        yy = y(10 ** e)
        parts.append(f'<line x1="{left}" x2="{W - 20}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#ddd"/>'
                     f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end">{10 ** e:g}</text>')
    for i, s in enumerate(sizes):
        x0 = left + i * gw + bw / 2
        for j, r in enumerate(vals[s]):
            if not r.get("ok"):
                continue
            yy = y(r["wall_s"])
            parts.append(f'<rect x="{x0 + j * bw:.1f}" y="{yy:.1f}" width="{bw * 0.9:.1f}" height="{top + ph - yy:.1f}" '
                         f'fill="{colors[j]}"><title>{keys[j]}: {r["wall_s"]} s</title></rect>')
        parts.append(f'<text x="{x0 + gw / 2 - bw / 2:.1f}" y="{top + ph + 16}" text-anchor="middle">{size_label(s)}</text>')
    for j, k in enumerate(keys):
        xx = left + j * 115
        parts.append(f'<rect x="{xx}" y="{H - 30}" width="10" height="10" fill="{colors[j]}"/>'
                     f'<text x="{xx + 14}" y="{H - 21}">{k}</text>')
    parts.append("</svg>")
    path.write_text("\n".join(parts))


def print_table(results: dict, log) -> None:
    log("\nsize       workload                       wall s    peak MB")
    for s in sorted(results["sizes"], key=size_key):
        for k, r in results["sizes"][s]["runs"].items():
            if r.get("skipped"):
                log(f"{size_label(s):>20}  {k:<28} {'skipped':>9}")
            else:
                log(f"{size_label(s):>20}  {k:<28} {r['wall_s']:>9.2f} {r['peak_rss_mb']:>9.0f}" + ("" if r["ok"] else "  FAILED"))
        log("           " + ", ".join(f"{k} = {v}" for k, v in results["sizes"][s]["ratios"].items()))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help=f"one tiny book ({QUICK_SIZE} accounts, {QUICK_MONTHS} months)")
    ap.add_argument("--sizes", help="comma-separated numbers of accounts (default 10000,100000,1000000)")
    ap.add_argument("--months", type=int, default=None)
    ap.add_argument("--engines", default=None, help="comma-separated: duckdb,polars,spark (default all; --quick: duckdb,polars)")
    ap.add_argument("--workloads", default=None, help="comma-separated names (default all): " + ", ".join(REGISTRY))
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per workload process")
    ap.add_argument("--out", default=None, help="results.json path (default bench/results.json; --quick: bench/out/quick/)")
    ap.add_argument("--data", default=str(OUT), help="where books are cached (default bench/out)")
    ap.add_argument("--fresh", action="store_true", help="do not merge with an existing results.json")
    ap.add_argument("--ask", type=int, default=None,
                    help="months asked (the last N of the book's history; default: all) - the long-history books")
    ap.add_argument("--no-usage", action="store_true", help="books without usage events (revenue workloads only)")
    ap.add_argument("--events-per-user-month", type=float, default=None,
                    help="usage volume of the books (default: 2, capped to ~21 M events above 100 k accounts; "
                         "2 at 1 M accounts = ~210 M events, written in batches)")
    args = ap.parse_args(argv)

    months = args.months or (QUICK_MONTHS if args.quick else 36)
    if args.sizes:
        sizes = [int(s.replace("_", "")) for s in args.sizes.split(",")]
    else:
        sizes = [QUICK_SIZE] if args.quick else list(DEFAULT_SIZES)
    engines = (args.engines or ("duckdb,polars" if args.quick else "duckdb,polars,spark")).split(",")
    names = args.workloads.split(",") if args.workloads else list(REGISTRY)
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        ap.error(f"unknown workloads {unknown}; known: {', '.join(REGISTRY)}")
    data = Path(args.data)
    out = Path(args.out) if args.out else (data / "quick" / "results.json" if args.quick else ROOT / "bench" / "results.json")
    out.parent.mkdir(parents=True, exist_ok=True)

    def log(msg="", end="\n"):
        print(msg, end=end, flush=True)

    results: dict = {"machine": machine(), "sizes": {}}
    if out.exists() and not args.fresh:
        try:
            old = json.loads(out.read_text())
            if old.get("machine", {}).get("cpu") == results["machine"].get("cpu"):
                results["sizes"] = old.get("sizes", {})
        except (OSError, ValueError):
            pass
    for n in sizes:
        spec = spec_for(n, months, usage=not args.no_usage)
        if args.events_per_user_month is not None and not args.no_usage:
            spec = dataclasses.replace(spec, events_per_user_month=args.events_per_user_month)
        log(f"== {n:,} accounts, {months} months ({spec.period})" + (f", the last {args.ask} asked" if args.ask else ""))
        res = run_size(spec, engines, names, args.timeout, data, log, ask=args.ask)
        key = str(n) if not args.ask and not args.no_usage else f"{n}-h{months}-ask{args.ask or months}"
        if args.events_per_user_month is not None:
            key += f"-epum{args.events_per_user_month:g}"
        results["sizes"][key] = strip_results(res)
        results["written_at"] = time.strftime("%Y-%m-%d %H:%M:%S")
        out.write_text(json.dumps(results, indent=1, default=str))
    write_svg(results, out.with_name("results.svg"))
    print_table(results, log)
    log(f"\nwrote {out} and {out.with_name('results.svg')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
