"""Import one file into one canonical entity, atomically, losing and inventing nothing.

Pipeline: read (CSV / Parquet / Excel, or a Stripe / Chargebee export) -> translate the
billing export -> apply the mapping file (rename, derive, drop) -> match headers to the
canonical columns -> fatal checks (required columns) -> vectorised row validation ->
one transaction in the warehouse (accepted rows upserted, bad rows to the quarantine table,
the import logged).  Anything fatal is raised BEFORE the write, so the workspace is
unchanged; a failure inside the write is rolled back.

``rows_read = rows_accepted + rows_quarantined`` always (the warehouse asserts it too).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from retentio.config import Settings
from retentio.errors import DataError, UsageError
from retentio.ingest.mapping import Mapping, derive_column, load_mapping, resolve_column, snake
from retentio.ingest.readers import RawTable, check_file, read_csv, read_parquet, read_xlsx
from retentio.ingest.validate import REASONS, Check, Context, duplicates, to_arrow, validate
from retentio.model import entity as find_entity
from retentio.warehouse import Warehouse

__all__ = ["ImportReport", "import_file", "KINDS", "REASONS"]

KINDS = ("auto", "csv", "parquet", "xlsx", "stripe", "chargebee")
EXTENSIONS = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv", ".tab": "csv",
    ".parquet": "parquet", ".pq": "parquet",
    ".xlsx": "xlsx", ".xlsm": "xlsx",
}

Progress = Callable[[int, int | None], None]


@dataclass
class ImportReport:
    entity: str
    file: str
    kind: str
    rows_read: int
    rows_accepted: int
    rows_quarantined: int
    reasons: dict[str, int]
    import_id: str
    replaced: bool
    notes: list[str] = field(default_factory=list)  # how the file was read: encoding, delimiter, decimal ...
    ignored_columns: list[str] = field(default_factory=list)  # columns not in the model (entities other than accounts)
    attributes: list[str] = field(default_factory=list)  # accounts: extra columns kept as attributes

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve_kind(kind: str, path: Path) -> str:
    kind = (kind or "auto").strip().lower()
    if kind not in KINDS:
        raise UsageError(f"unknown input kind {kind!r}", hint="--as takes one of: " + ", ".join(KINDS))
    if kind != "auto":
        return kind
    ext = path.suffix.lower()
    if ext in EXTENSIONS:
        return EXTENSIONS[ext]
    if ext == ".xls":
        raise UsageError(f"{path}: old .xls workbooks are not supported", hint="save it as .xlsx or export a CSV")
    raise UsageError(
        f"{path}: cannot tell the file's kind from its extension {ext or '(none)'}",
        hint="say it with --as csv, --as parquet, --as xlsx, --as stripe or --as chargebee",
    )


def import_file(
    warehouse: Warehouse,
    settings: Settings,
    entity: str,
    path: Path,
    *,
    mapping: Path | None = None,
    kind: str = "auto",
    replace: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    ent = find_entity(entity)
    path = Path(path)
    kind = resolve_kind(kind, path)
    if kind in ("stripe", "chargebee") and ent.name != "subscriptions":
        raise UsageError(
            f"--as {kind} reads a subscriptions export, not {ent.name}",
            hint=f"run: retentio import subscriptions {path} --as {kind}",
        )
    check_file(path)
    m = load_mapping(mapping) if mapping else Mapping()
    where = str(mapping) if mapping else "mapping"

    # -- read ------------------------------------------------------------------------------
    if kind in ("csv", "stripe", "chargebee"):
        raw = read_csv(path, delimiter=m.delimiter, encoding=m.encoding, decimal=m.decimal, progress=progress)
    elif kind == "parquet":
        raw = read_parquet(path)
    else:
        raw = read_xlsx(path, sheet=m.sheet, decimal=m.decimal)
    n = raw.num_rows
    if progress:
        progress(0, n)
    decimal = m.decimal or raw.decimal
    notes = list(raw.notes)
    if m.decimal and not any(x.startswith("decimal") for x in notes):
        notes.append(f"decimal {m.decimal}")
    pre: list[Check] = []
    if raw.bad_rows:
        mask = np.zeros(n, dtype=bool)
        mask[list(raw.bad_rows)] = True
        pre.append(Check("bad_row", None, mask, [None] * n, [raw.bad_rows.get(i, "") for i in range(n)]))  # type: ignore[arg-type]

    # -- billing-system exports ------------------------------------------------------------
    if kind in ("stripe", "chargebee"):
        from retentio.ingest import providers

        frame, problems = (providers.stripe if kind == "stripe" else providers.chargebee)(raw, str(path))
        pre += _problem_checks(problems, n)
    else:
        frame = raw.frame

    # -- mapping: rename, header matching, derive, drop --------------------------------------
    frame = _rename(frame, m, ent, path, where)
    for target, spec in m.derive.items():
        if target not in ent.column_names and not ent.keeps_extra_columns:
            raise DataError(
                f"{where}: derive.{target}: {ent.name} has no column {target!r}",
                hint=f"columns of {ent.name}: " + ", ".join(ent.column_names),
            )
        series, problems = derive_column(spec, frame, decimal, Path(where), target)
        for mask, reason, column, values, detail in problems:
            if mask.any():
                pre.append(Check(reason, column, mask.to_numpy().astype(bool), values, detail))
        frame = frame.with_columns(series.alias(target))
    for col in m.drop:
        found = resolve_column(col, frame.columns)
        if found is None:
            raise DataError(f"{where}: drop: column {col!r} is not in {path}", hint="columns: " + ", ".join(frame.columns))
        frame = frame.drop(found)

    missing = [c for c in ent.required if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: missing required column(s) for {ent.name}: {', '.join(missing)}",
            hint=_missing_hint(raw, ent, frame.columns),
            details={"missing": missing, "columns": raw.headers},
        )
    extras = [c for c in frame.columns if c not in ent.column_names]
    attr_frame = None
    attributes: list[str] = []
    ignored: list[str] = []
    if ent.keeps_extra_columns and extras:
        names = [snake(c) or c for c in extras]
        dupes = [k for k, v in Counter(names).items() if v > 1]
        if dupes:
            raise DataError(
                f"{path}: several columns become the same attribute {dupes[0]!r} once lower-cased and snake_cased",
                hint="rename one of them with a mapping file (rename:) or drop it (drop:)",
            )
        attr_frame = pl.DataFrame(
            {a: frame[c].cast(pl.String).str.strip_chars().replace("", None) for a, c in zip(names, extras)}
        )
        attributes = names
    else:
        ignored = extras

    # -- validate ----------------------------------------------------------------------------
    refs = _references(warehouse, ent.references_accounts, ent.name in ("subscriptions", "costs"))
    ctx = Context(
        base_currency=settings.workspace.base_currency,
        date_order=m.date_order or settings.workspace.date_order,
        decimal=decimal,
        date_formats=dict(m.dates),
        account_ids=refs[0],
        fx_first_dates=refs[1],
        file=str(path),
    )
    # Validation runs in chunks of CHUNK_ROWS rows: parsing holds several intermediate copies
    # of a column, so a large file would otherwise need ~800 bytes a row at once.  Only the
    # duplicate check needs every row; it runs once over the typed columns.
    file_key = str(path.resolve())
    body = frame.select([c for c in frame.columns if c in ent.column_names])
    typed_parts: list[pl.DataFrame] = []
    quarantined: list[dict[str, Any]] = []
    bad_parts: list[np.ndarray] = []
    for start in range(0, max(n, 1), CHUNK_ROWS):
        stop = min(n, start + CHUNK_ROWS)
        part, checks = validate(ent, body.slice(start, stop - start), [_slice(c, start, stop) for c in pre], ctx)
        q, part_bad = _quarantine_rows(checks, stop - start, _raw_slice(raw, start, stop), file_key)
        typed_parts.append(part)
        quarantined += q
        bad_parts.append(part_bad)
        del checks
    typed = pl.concat(typed_parts) if len(typed_parts) > 1 else typed_parts[0]
    del typed_parts
    bad = np.concatenate(bad_parts) if bad_parts else np.zeros(0, dtype=bool)
    dup_q, dup_bad = _quarantine_rows(duplicates(ent, typed, attr_frame, ~bad), n, raw, file_key)
    quarantined += dup_q
    bad |= dup_bad

    # -- split -------------------------------------------------------------------------------
    good = ~bad
    accepted = to_arrow(ent, typed.filter(pl.Series(good)))
    attrs = _attributes(typed, attr_frame, good) if attr_frame is not None else None
    import_id = warehouse.write_import(
        ent, accepted, quarantined, file=file_key, kind=kind, rows_read=n, replace=replace, attributes=attrs
    )
    if progress:
        progress(n, n)
    reasons = Counter(q["reason"] for q in quarantined)
    return ImportReport(
        entity=ent.name,
        file=str(path),
        kind=kind,
        rows_read=n,
        rows_accepted=accepted.num_rows,
        rows_quarantined=len(quarantined),
        reasons=dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        import_id=import_id,
        replaced=replace,
        notes=notes,
        ignored_columns=ignored,
        attributes=attributes,
    )


# -- helpers ---------------------------------------------------------------------------------


def _rename(frame: pl.DataFrame, m: Mapping, ent, path: Path, where: str) -> pl.DataFrame:
    renames: dict[str, str] = {}
    for src, dst in m.rename.items():
        found = resolve_column(src, frame.columns)
        if found is None:
            raise DataError(
                f"{where}: rename: column {src!r} is not in {path}",
                hint="columns of the file: " + ", ".join(frame.columns),
            )
        renames[found] = dst
    frame = frame.rename(renames)
    # Headers matching a canonical column once snake_cased ("Account ID" -> account_id).
    auto: dict[str, str] = {}
    present = set(frame.columns)
    for c in frame.columns:
        s = snake(c)
        if c not in ent.column_names and s in ent.column_names and s not in present and s not in auto.values():
            auto[c] = s
    frame = frame.rename(auto)
    counts = Counter(frame.columns)
    dup = [c for c, k in counts.items() if k > 1]
    if dup:
        raise DataError(f"{path}: two columns are both {dup[0]!r} after renaming", hint="rename or drop one of them in the mapping file")
    return frame


def _missing_hint(raw: RawTable, ent, columns: list[str]) -> str:
    if len(raw.headers) == 1 and any(d in raw.headers[0] for d in ("|", ":", ",", ";", "\t")):
        return (
            f"the header was read as ONE column {raw.headers[0]!r}: the delimiter is not , ; or tab as expected; "
            "convert the file or set `delimiter:` in a mapping file"
        )
    return (
        f"the file's columns are: {', '.join(raw.headers) or '(none)'}; rename yours with a mapping file "
        f"(rename: {{Your Column: {next(iter(c for c in ent.required if c not in columns))}}}) or derive them; see docs/import-guide.md"
    )


def _references(warehouse: Warehouse, accounts: bool, fx: bool) -> tuple[set[str] | None, dict[str, Any]]:
    """Known account ids and, per currency, the earliest FX rate date (one read-only connection)."""
    if not (accounts or fx):
        return None, {}
    with warehouse.connect(read_only=True) as con:
        ids = {r[0] for r in con.execute("SELECT account_id FROM accounts").fetchall()} if accounts else None
        first = (
            dict(con.execute("SELECT currency, min(date) FROM fx_rates WHERE rate > 0 GROUP BY currency").fetchall())
            if fx else {}
        )
    return ids, first


def _problem_checks(problems: dict[int, tuple[str, str, str | None, str]], n: int) -> list[Check]:
    groups: dict[tuple[str, str], list[int]] = {}
    for i, (reason, column, _v, _d) in problems.items():
        groups.setdefault((reason, column), []).append(i)
    out = []
    for (reason, column), rows in groups.items():
        mask = np.zeros(n, dtype=bool)
        mask[rows] = True
        values: list[Any] = [None] * n
        details: list[str] = [""] * n
        for i in rows:
            values[i], details[i] = problems[i][2], problems[i][3]
        out.append(Check(reason, column, mask, values, details))  # type: ignore[arg-type]
    return out


CHUNK_ROWS = 1_000_000


def _slice(c: Check, start: int, stop: int) -> Check:
    """The part of a whole-file check that concerns rows [start, stop)."""
    values = c.values[start:stop] if c.values is not None else None
    detail = c.detail if isinstance(c.detail, str) else c.detail[start:stop]
    return Check(c.reason, c.column, c.mask[start:stop], values, detail)  # type: ignore[arg-type]


def _raw_slice(raw: RawTable, start: int, stop: int) -> RawTable:
    if start == 0 and stop == raw.num_rows:
        return raw
    return RawTable(raw.headers, raw.frame.slice(start, stop - start), raw.row_numbers[start:stop], {}, raw.decimal, raw.notes)


def _quarantine_rows(checks: list[Check], n: int, raw: RawTable, file_key: str) -> tuple[list[dict[str, Any]], np.ndarray]:
    if not checks or n == 0:
        return [], np.zeros(n, dtype=bool)
    masks = np.vstack([c.mask for c in checks])
    bad = masks.any(axis=0)
    rows = np.flatnonzero(bad)
    if rows.size == 0:
        return [], bad
    first = masks[:, rows].argmax(axis=0)
    counts = masks[:, rows].sum(axis=0)
    raws = raw.frame[rows.tolist()].to_dicts()
    headers = dict(zip(raw.frame.columns, raw.headers))
    cache: dict[int, list[Any]] = {}
    out = []
    for k, i in enumerate(rows.tolist()):
        ci = int(first[k])
        c = checks[ci]
        if ci not in cache:
            cache[ci] = c.values.to_list() if isinstance(c.values, pl.Series) else list(c.values or [None] * n)
        value = cache[ci][i]
        detail = c.detail if isinstance(c.detail, str) else c.detail[i]
        extra = int(counts[k]) - 1
        if extra:
            others = [checks[j].reason for j in np.flatnonzero(masks[:, i]) if j != ci]
            detail += f" (this row has {extra} other problem(s): {', '.join(others)})"
        out.append(
            {
                "file": file_key,
                "row_number": raw.row_numbers[i],
                "column": c.column,
                "value": None if value is None else str(value),
                "reason": c.reason,
                "detail": detail,
                "raw": {headers.get(key, key): v for key, v in raws[k].items()},
            }
        )
    return out, bad


def _attributes(typed: pl.DataFrame, attr_frame: pl.DataFrame, good: np.ndarray) -> pa.Table:
    keep = pl.Series(good)
    wide = pl.concat([typed.select("account_id"), attr_frame], how="horizontal").filter(keep)
    long = wide.unpivot(index="account_id", variable_name="attribute", value_name="value").drop_nulls("value")
    schema = pa.schema([("account_id", pa.string()), ("attribute", pa.string()), ("value", pa.string())])
    return long.select("account_id", "attribute", "value").to_arrow().cast(schema)
