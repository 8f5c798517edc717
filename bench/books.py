"""Benchmark books: demo workspaces of N accounts, cached under bench/out/books/.

A book is generated once per (accounts, months, seed, end, usage volume) and reused by later
runs: the folder holds a ``book.json`` marker written only after generation succeeded.

Usage-event volume (the engagement workloads need a matching one): the demo generator draws
``events_per_user_month`` events per active named user and month.  We keep about 200 events
per account over 36 months up to 100 k accounts (2 events per user-month, ~21 M events at
100 k) and cap the volume at 1 M accounts to the same ~21 M events (0.2 events per
user-month): 210 M events would be 10 GB of generator memory and an hour of generation on a
laptop, and the engagement workloads scan events linearly, so their cost at 10x the volume
is extrapolated in docs/benchmarks.md rather than measured.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
END = "2025-12"


@dataclass(frozen=True)
class BookSpec:
    accounts: int
    months: int = 36
    seed: int = 7
    end: str = END
    events_per_user_month: float = 2.0

    @property
    def name(self) -> str:
        epum = str(self.events_per_user_month).replace(".", "p")
        return f"a{self.accounts}-m{self.months}-s{self.seed}-e{epum}-{self.end}"

    @property
    def first_month(self) -> str:
        y, m = map(int, self.end.split("-"))
        k = y * 12 + m - 1 - (self.months - 1)
        return f"{k // 12:04d}-{k % 12 + 1:02d}"

    @property
    def period(self) -> str:
        return f"{self.first_month}..{self.end}"


def spec_for(accounts: int, months: int = 36, usage: bool = True) -> BookSpec:
    """The book of a size; ``usage=False``: no usage events (the long-history revenue books)."""
    epum = 2.0 if accounts <= 100_000 else 2.0 * 100_000 / accounts
    if not usage:
        epum = 0.0
    return BookSpec(accounts=accounts, months=months, events_per_user_month=round(epum, 4))


def book_dir(spec: BookSpec, out: Path = OUT) -> Path:
    return out / "books" / spec.name


def ensure_book(spec: BookSpec, out: Path = OUT, log=print) -> tuple[Path, dict]:
    """The workspace of ``spec`` (generated when missing) and its generation record."""
    root = book_dir(spec, out)
    marker = root / "book.json"
    if marker.exists():
        return root / "ws", json.loads(marker.read_text())
    from retentio.service import Workspace

    root.mkdir(parents=True, exist_ok=True)
    log(f"generating book {spec.name} ...")
    t0 = time.perf_counter()
    summary = Workspace.demo(
        root / "ws", accounts=spec.accounts, months=spec.months, seed=spec.seed, end_month=spec.end,
        force=True, usage=spec.events_per_user_month > 0, events_per_user_month=spec.events_per_user_month,
    )
    record = {"spec": asdict(spec), "rows": summary.rows, "seconds": round(time.perf_counter() - t0, 2)}
    marker.write_text(json.dumps(record, indent=2))
    log(f"  generated in {record['seconds']} s: {summary.rows}")
    return root / "ws", record


EXPORT_TABLES = ("accounts", "subscriptions", "usage", "fx_rates")


def ensure_exports(spec: BookSpec, ws: Path, out: Path = OUT) -> dict[str, dict[str, Path]]:
    """CSV and Parquet files of the canonical tables (for the import throughput workload)."""
    import duckdb

    root = book_dir(spec, out) / "export"
    root.mkdir(parents=True, exist_ok=True)
    files: dict[str, dict[str, Path]] = {"csv": {}, "parquet": {}}
    con = None
    try:
        for table in EXPORT_TABLES:
            for fmt in ("csv", "parquet"):
                path = root / f"{table}.{fmt}"
                files[fmt][table] = path
                if path.exists():
                    continue
                if con is None:
                    con = duckdb.connect(str(ws / "analytics.duckdb"), read_only=True)
                tmp = path.with_suffix(path.suffix + ".tmp")
                opts = "(FORMAT csv, HEADER true)" if fmt == "csv" else "(FORMAT parquet)"
                con.execute(f"COPY (SELECT * FROM \"{table}\") TO '{tmp}' {opts}")
                tmp.rename(path)
    finally:
        if con is not None:
            con.close()
    return files


def main(argv: list[str]) -> int:
    """``python -m bench.books SPEC_JSON OUT [--exports]``: prints the book's record as the last line (JSON)."""
    import sys

    spec, out = BookSpec(**json.loads(argv[0])), Path(argv[1])
    ws, record = ensure_book(spec, out, log=lambda m: print(m, file=sys.stderr, flush=True))
    record = dict(record, workspace=str(ws))
    if "--exports" in argv:
        files = ensure_exports(spec, ws, out)
        record["exports"] = {fmt: {t: str(p) for t, p in f.items()} for fmt, f in files.items()}
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
