"""``python -m bench.report [results.json]``: the Markdown tables of docs/benchmarks.md."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ORDER = ("floor", "floor-waterfall", "retentio[duckdb]", "retentio[polars]", "retentio[spark]", "pandas", "saas-metrics",
         "engagement[duckdb]", "engagement[polars]", "incremental", "import[csv]", "import[parquet]")


def size_key(s: str) -> tuple:
    """Results are keyed by accounts ("100000") or accounts, history and months asked
    ("100000-h60-ask12", the long-history books)."""
    return (int(s.split("-")[0]), s)


def size_label(s: str) -> str:
    n, *rest = s.split("-")
    return f"{int(n):,} accounts" + (" (" + ", ".join(rest) + ")" if rest else "")


def render(results: dict) -> str:
    m = results["machine"]
    out = [f"Machine: {m.get('nproc')} CPUs ({m.get('cpu')}), {m.get('mem_gb')} GB RAM, Python {m.get('python')}; "
           + ", ".join(f"{k} {v}" for k, v in m.get("versions", {}).items()) + ".", ""]
    sizes = sorted(results["sizes"], key=size_key)
    out.append("| workload | " + " | ".join(f"{size_label(s)}: wall s / peak MB" for s in sizes) + " |")
    out.append("|---|" + "---|" * len(sizes))
    keys = [k for k in ORDER if any(k in results["sizes"][s]["runs"] for s in sizes)]
    for k in keys:
        cells = []
        for s in sizes:
            r = results["sizes"][s]["runs"].get(k)
            if r is None:
                cells.append("not run")
            elif r.get("skipped"):
                cells.append("skipped")
            elif not r.get("ok"):
                cells.append("failed: " + r.get("error", "")[:60])
            else:
                jvm = (r.get("summary") or {}).get("jvm_peak_rss_mb")
                cells.append(f"{r['wall_s']:.2f} / {r['peak_rss_mb']:.0f}" + (f" (+ JVM {jvm:.0f})" if jvm else ""))
        out.append(f"| {k} | " + " | ".join(cells) + " |")
    out.append("")
    names = sorted({k for s in sizes for k in results["sizes"][s]["ratios"]})
    out.append("| ratio | " + " | ".join(f"{size_label(s)}" for s in sizes) + " |")
    out.append("|---|" + "---|" * len(sizes))
    for n in names:
        out.append(f"| {n} | " + " | ".join(str(results["sizes"][s]["ratios"].get(n)) for s in sizes) + " |")
    out.append("")
    out.append("| figures equal to retentio[duckdb] | " + " | ".join(f"{size_label(s)}" for s in sizes) + " |")
    out.append("|---|" + "---|" * len(sizes))
    checked = sorted({k for s in sizes for k, v in results["sizes"][s]["checks"].items() if isinstance(v, dict)})
    for k in checked:
        cells = []
        for s in sizes:
            v = results["sizes"][s]["checks"].get(k)
            cells.append("-" if not isinstance(v, dict) else ("yes" if v["equal"] else f"NO ({v['n_differences']})"))
        out.append(f"| {k} | " + " | ".join(cells) + " |")
    out.append("")
    imp = []
    for s in sizes:
        for fmt in ("csv", "parquet"):
            r = results["sizes"][s]["runs"].get(f"import[{fmt}]")
            if r and r.get("ok"):
                for ent, e in r["summary"]["entities"].items():
                    rss = e.get("peak_rss_mb")
                    imp.append(f"| {size_label(s)} | {fmt} | {ent} | {e['rows']:,} | {e['seconds']:.2f} | {e['rows_per_s']:,.0f} | "
                               + ("-" if rss is None else f"{rss:,.0f}") + " |")
    if imp:
        out += ["| accounts | format | entity | rows | seconds (whole CLI process) | rows/s | peak MB |",
                "|---|---|---|---|---|---|---|", *imp, ""]
    for s in sizes:
        r = results["sizes"][s]["runs"].get("incremental")
        if r and r.get("ok"):
            i = r["summary"]["incremental"]
            out.append(f"- {size_label(s)}: change table built in {i['initial_build_s']:.2f} s; one more day "
                       f"({i['lines_changed']} subscription rows, {i['events_imported']:,} usage events) imported in "
                       f"{i['import_day_s']:.2f} s; **refresh {i['refresh_s']:.2f} s**: the change table kept by the "
                       f"import {i['change_table_s']:.2f} s ({i['mode']}, from {i['from_month']}, "
                       f"{i['accounts_recomputed']} accounts recomputed; parts "
                       + ", ".join(f"{k} {v:.2f}" for k, v in i["refresh_parts_s"].items())
                       + f") and the figures of its {i['months_refreshed']} month(s) read from it {i['figures_s']:.2f} s; "
                       f"computed from every line (Polars) {i['full_series_same_months_s']:.2f} s; "
                       f"equal to the full recompute: {i['equal_to_full_recompute']}.")
    return "\n".join(out)


if __name__ == "__main__":
    path = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent / "results.json")
    print(render(json.loads(path.read_text())))
