"""Interleaved pairs: ``python -m bench.pairs --accounts 100000 --months 60 --ask 12 --rounds 3``.

On a shared machine a single timing says more about the other jobs than about the code, so
this runs the floor and Retentio (each a whole process through ``bench.run.run_process``)
alternately, ``--rounds`` times, and reports each pair's ratio of wall time and of CPU time
(user + sys of the process) with the load average (``/proc/loadavg``) at the start of the
pair.  Books are generated once (``bench.books``) under ``--data`` and reused.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from bench.books import OUT, spec_for
from bench.run import prepare_book, run_process


def _load() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except OSError:
        return float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.pairs", description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=100_000)
    ap.add_argument("--months", type=int, default=60, help="history of the book")
    ap.add_argument("--ask", type=int, default=12, help="the last N months asked")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--engine", default="duckdb")
    ap.add_argument("--workload", default="retentio", help="the workload paired with the floor")
    ap.add_argument("--data", default=str(OUT))
    ap.add_argument("--timeout", type=float, default=900.0)
    ap.add_argument("--json", default=None, help="append the pairs (one JSON line) to this file")
    args = ap.parse_args(argv)

    spec = spec_for(args.accounts, args.months, usage=False)
    ws, _record = prepare_book(spec, Path(args.data), exports=False)
    a, b = spec.period.split("..")
    y, m = map(int, b.split("-"))
    k = y * 12 + m - 1 - (args.ask - 1)
    period = f"{k // 12:04d}-{k % 12 + 1:02d}..{b}"
    params = {"workspace": str(ws), "period": period, "base": "EUR"}
    work = Path(args.data) / "runs" / ("pairs-" + spec.name)
    print(f"== {args.accounts:,} accounts, {args.months} months of history, {period} asked ({args.workload}[{args.engine}])",
          flush=True)
    pairs = []
    for i in range(args.rounds):
        load = _load()
        f = run_process("floor", params, work, args.timeout)
        r = run_process(args.workload, {**params, "engine": args.engine}, work, args.timeout)
        if not (f["ok"] and r["ok"]):
            print(f"  round {i + 1}: FAILED {f.get('error', '')} {r.get('error', '')}", flush=True)
            continue
        same = all(row[6] == f["result"]["mrr"].get(mo) for mo, row in r["result"].get("waterfall", {}).items())
        pair = {"load": load, "floor_wall": f["wall_s"], "floor_cpu": f.get("cpu_s"), "wall": r["wall_s"],
                "cpu": r.get("cpu_s"), "peak_mb": r["peak_rss_mb"], "wall_ratio": round(r["wall_s"] / f["wall_s"], 2),
                "cpu_ratio": round(r["cpu_s"] / f["cpu_s"], 2) if f.get("cpu_s") else None, "mrr_equal_floor": same,
                "timings": r["result"].get("timings")}
        pairs.append(pair)
        print(f"  round {i + 1}: load {load:5.2f}  floor {f['wall_s']:6.2f} s wall {f.get('cpu_s', 0):6.2f} s cpu   "
              f"{args.workload} {r['wall_s']:6.2f} s wall {r.get('cpu_s', 0):6.2f} s cpu {r['peak_rss_mb']:6.0f} MB   "
              f"ratio wall {pair['wall_ratio']:5.2f} cpu {pair['cpu_ratio']}   MRR = floor: {same}", flush=True)
    if pairs:
        print(f"  median ratio: wall {statistics.median(p['wall_ratio'] for p in pairs):.2f}, "
              f"cpu {statistics.median(p['cpu_ratio'] for p in pairs):.2f}", flush=True)
    if args.json:
        with open(args.json, "a") as fh:
            fh.write(json.dumps({"accounts": args.accounts, "months": args.months, "ask": args.ask,
                                 "engine": args.engine, "workload": args.workload, "pairs": pairs}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
