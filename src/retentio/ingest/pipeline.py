"""Import one file into one canonical entity, atomically, losing and inventing nothing.

Pipeline: open the file (CSV / Parquet / Excel, or a Stripe / Chargebee export translated
to subscriptions) -> plan the mapping file (rename, derive, drop) and match headers to the
canonical columns -> fatal checks (required columns) -> then, in one transaction of the
warehouse, batch after batch of at most BATCH_ROWS rows: map, validate (vectorised), stage
the accepted rows and quarantine the bad ones -> the duplicate check over the whole file ->
merge the staged rows (upsert or replace), log the import, commit.  Anything fatal in the
file's shape is raised before the transaction starts; a failure later (a damaged block of
the file, the disk) rolls it back: the workspace is then exactly as it was.

Plain UTF-8 CSV and Parquet files are read from disk batch by batch, so memory is bounded
by the batch size, not by the file; other files are read whole, then handed out in batches
through the same code.

``rows_read = rows_accepted + rows_quarantined`` always (the warehouse asserts it too), but for the
discount lines a billing export's coupons add: ``rows_read + lines_added = accepted + quarantined``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from retentio.config import Settings
from retentio.errors import DataError, UsageError
from retentio.ingest.mapping import Mapping, derive_column, load_mapping, resolve_column, snake
from retentio.ingest.readers import RawTable, check_file, open_csv, open_parquet, read_csv, read_xlsx, whole
from retentio.ingest.validate import REASONS, Check, Context, duplicates, key_hash, to_arrow, validate
from retentio.model import Entity
from retentio.model import entity as find_entity
from retentio.warehouse import KEY_HASH, ROW_INDEX, ImportWriter, Warehouse

__all__ = ["ImportReport", "import_file", "KINDS", "REASONS", "BATCH_ROWS"]

KINDS = ("auto", "csv", "parquet", "xlsx", "stripe", "chargebee", "stripe-invoice-lines", "chargebee-invoice-lines")
BILLING_KINDS = ("stripe", "chargebee", "stripe-invoice-lines", "chargebee-invoice-lines")
EXTENSIONS = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv", ".tab": "csv",
    ".parquet": "parquet", ".pq": "parquet",
    ".xlsx": "xlsx", ".xlsm": "xlsx",
}

# Rows read, validated and staged at once.  Validation holds several copies of a column
# (~800 bytes a row), so a batch needs ~0.4 GB whatever the file's size (batches of 250 000
# or 1 M rows were no faster).
BATCH_ROWS = 500_000

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
    ignored_columns: list[str] = field(default_factory=list)  # columns of the file not used (entities other than accounts)
    attributes: list[str] = field(default_factory=list)  # accounts: extra columns kept as attributes
    lines_added: int = 0  # billing exports: discount lines made from coupons (accepted + quarantined = rows_read + lines_added)
    attribute_problems: list[dict[str, Any]] = field(default_factory=list)  # accounts: date attributes that are not dates (not kept)
    # subscriptions and FX rates: how the stored change table was brought up to date after the
    # import (retentio.metrics.incremental.refresh: mode, from_month, accounts_recomputed ...)
    change_table: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Batch:
    start: int  # index in the file of its first row (0-based)
    raw: RawTable  # the rows as read: the quarantine shows them
    frame: pl.DataFrame  # what the mapping reads: the rows as read, or a billing export's translation
    pre: list[Check]  # problems found before the mapping: the row's shape, the translation


@dataclass
class _Input:
    headers: list[str]
    columns: pl.DataFrame  # the frame's columns, without rows
    decimal: str
    notes: list[str]
    total: int | None
    batches: Callable[[], Iterator[_Batch]]  # each call reads the file again
    rows: Callable[[np.ndarray], RawTable]  # the rows as read at these (sorted) indexes of the file
    sources: dict[str, str] | None = None  # billing exports: canonical column -> the export's column
    used: set[str] | None = None  # billing exports: the export's columns that were read
    lines_added: int = 0  # billing exports: lines beyond one per export row
    columns_read: list[str] | None = None  # billing exports: the export's frame columns, in header order


@dataclass
class _Shaped:
    body: pl.DataFrame  # the entity's columns found in the file, canonical names
    attributes: pl.DataFrame | None  # accounts: the other columns as text, named as attributes
    problems: list[Check]  # rows a derived column cannot be computed for
    attribute_names: list[str]
    ignored: list[str]  # other entities: columns that are not in the model
    origin: dict[str, str] = field(default_factory=dict)  # canonical column -> the file's column it comes from
    attribute_headers: list[str] = field(default_factory=list)  # accounts: the file's column of each attribute


def resolve_kind(kind: str, path: Path) -> str:
    kind = (kind or "auto").strip().lower()
    if kind not in KINDS:
        raise UsageError(f"unknown input kind {kind!r}", hint="kind takes one of: " + ", ".join(KINDS), details={"parameter": "kind"})
    if kind != "auto":
        return kind
    ext = path.suffix.lower()
    if ext in EXTENSIONS:
        return EXTENSIONS[ext]
    if ext == ".xls":
        raise UsageError(f"{path}: old .xls workbooks are not supported", hint="save it as .xlsx or export a CSV")
    raise UsageError(
        f"{path}: cannot tell the file's kind from its extension {ext or '(none)'}",
        hint="say it with kind=csv, kind=parquet, kind=xlsx, kind=stripe, kind=chargebee or kind=stripe-invoice-lines",
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
    if kind in BILLING_KINDS and ent.name != "subscriptions":
        raise UsageError(
            f"kind {kind} reads a subscriptions export (billing), not {ent.name}",
            hint=f"import {path} as subscriptions with kind={kind}",
        )
    check_file(path)
    m = load_mapping(mapping) if mapping else Mapping()
    where = str(mapping) if mapping else "mapping"

    inp = _open(kind, path, m, progress, settings)
    decimal = m.decimal or inp.decimal
    notes = list(inp.notes)
    if m.decimal and not any(x.startswith("decimal") for x in notes):
        notes.append(f"decimal {m.decimal}")

    def shape(frame: pl.DataFrame) -> _Shaped:
        return _shape(frame, m, ent, path, where, decimal, inp.headers)

    plan = shape(inp.columns)  # the file's columns alone: fatal problems surface before any write
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
    file_key = str(path.resolve())
    if progress:
        progress(0, inp.total)
    reasons: Counter[str] = Counter()
    lines = 0
    attribute_problems: list[dict[str, Any]] = []
    with warehouse.import_writer(ent, file=file_key, kind=kind, replace=replace) as writer:
        for batch in inp.batches():
            shaped = shape(batch.frame)
            if inp.sources is not None:
                shaped.origin = dict(inp.sources)
            quarantined = _stage(writer, ent, batch, shaped, ctx, file_key, attribute_problems)
            reasons.update(q["reason"] for q in quarantined)
            lines += batch.raw.num_rows
            if progress:
                progress(min(lines, inp.total) if inp.total is not None else lines, inp.total)
        reasons.update(q["reason"] for q in _reject_duplicates(writer, ent, inp, file_key, plan.origin))
        import_id = writer.finish(lines)
    rows_read = lines - inp.lines_added
    if progress:
        progress(rows_read, rows_read)
    if inp.used is not None:
        ignored = [h for c, h in zip(inp.columns_read, inp.headers) if c not in inp.used]
    else:
        ignored = plan.ignored
    if inp.lines_added:
        notes.append(f"{inp.lines_added} discount line(s) made from coupons of limited duration")
    if attribute_problems:
        notes.append(f"{len(attribute_problems)} date attribute value(s) not kept (not valid dates): see attribute_problems")
    return ImportReport(
        entity=ent.name,
        file=str(path),
        kind=kind,
        rows_read=rows_read,
        rows_accepted=writer.rows_accepted,
        rows_quarantined=writer.rows_quarantined,
        reasons=dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        import_id=import_id,
        replaced=replace,
        notes=notes,
        ignored_columns=ignored,
        attributes=plan.attribute_names,
        lines_added=inp.lines_added,
        attribute_problems=attribute_problems,
    )


def _open(kind: str, path: Path, m: Mapping, progress: Progress | None, settings: Settings) -> _Input:
    if kind in BILLING_KINDS:
        return _translated(kind, path, m, progress, settings)
    if kind == "csv":
        source = open_csv(
            path, batch_rows=BATCH_ROWS, delimiter=m.delimiter, encoding=m.encoding, decimal=m.decimal, progress=progress
        )
    elif kind == "parquet":
        source = open_parquet(path, batch_rows=BATCH_ROWS)
    else:
        source = whole(read_xlsx(path, sheet=m.sheet, decimal=m.decimal), BATCH_ROWS)

    def batches() -> Iterator[_Batch]:
        start = 0
        for raw in source.batches():
            yield _Batch(start, raw, raw.frame, _bad_rows(raw))
            start += raw.num_rows

    return _Input(source.headers, source.columns, source.decimal, source.notes, source.total, batches, source.rows)


def _translated(kind: str, path: Path, m: Mapping, progress: Progress | None, settings: Settings) -> _Input:
    """A billing-system export is read and translated whole, then handed out in batches.

    A translated line keeps the export row it comes from (a coupon of limited duration adds
    a discount line to its row): the quarantine shows that row as read."""
    from retentio.ingest import providers

    raw = read_csv(path, delimiter=m.delimiter, encoding=m.encoding, decimal=m.decimal, progress=progress)
    opts = providers.Options(
        unpaid=settings.workspace.unpaid_mrr,
        coupons={k: v.model_dump() for k, v in m.coupons.items()},
    )
    tr = providers.TRANSLATORS[kind](raw, str(path), opts)
    source = np.asarray(tr.source, dtype=np.int64)
    lines = raw.take(source) if tr.lines_added else raw
    n = len(source)
    pre = _bad_rows(lines) + _problem_checks(tr.problems, n)

    def batches() -> Iterator[_Batch]:
        for start in range(0, n, BATCH_ROWS):
            stop = min(n, start + BATCH_ROWS)
            yield _Batch(start, lines.slice(start, BATCH_ROWS), tr.frame.slice(start, BATCH_ROWS), [_slice(c, start, stop) for c in pre])

    inp = _Input(raw.headers, tr.frame.clear(), raw.decimal, raw.notes + tr.notes, raw.num_rows, batches, lines.take,
                 sources=tr.sources, used=tr.used, lines_added=tr.lines_added)
    inp.columns_read = list(raw.frame.columns)
    return inp


def _stage(writer: ImportWriter, ent: Entity, batch: _Batch, shaped: _Shaped, ctx: Context, file_key: str,
           attribute_problems: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Validate one batch: stage its good rows (with their index in the file and key hash),
    quarantine the others; returns the quarantined rows."""
    typed, checks = validate(ent, shaped.body, batch.pre + shaped.problems, ctx)
    quarantined, bad = _quarantine_rows(checks, batch.raw.num_rows, batch.raw, file_key, shaped.origin)
    keep = pl.Series(~bad)
    good = typed.filter(keep)
    index = pl.Series(ROW_INDEX, batch.start + np.flatnonzero(~bad), dtype=pl.Int64)
    rows = to_arrow(ent, good).append_column(ROW_INDEX, index.to_arrow()).append_column(KEY_HASH, key_hash(ent, good).to_arrow())
    attributes = None
    if shaped.attributes is not None:
        kept = shaped.attributes.filter(keep)
        numbers = [n for n, b in zip(batch.raw.row_numbers, bad) if not b]
        kept, problems = typed_attributes(kept, ctx, numbers, dict(zip(shaped.attribute_names, shaped.attribute_headers)))
        if attribute_problems is not None:
            attribute_problems.extend(problems)
        attributes = _attributes(good, kept, index)
    writer.append(rows, quarantined, attributes)
    return quarantined


def _reject_duplicates(writer: ImportWriter, ent: Entity, inp: _Input, file_key: str, origin: dict[str, str]) -> list[dict[str, Any]]:
    """The duplicate check over the whole file: the staged rows whose key hash repeats are
    compared on their values; duplicates are unstaged and quarantined (their rows as read
    are read again from the file: only the batches holding them)."""
    candidates = pl.from_arrow(writer.repeated_keys())
    assert isinstance(candidates, pl.DataFrame)
    if candidates.height == 0:
        return []
    index = candidates[ROW_INDEX]
    values = candidates.drop(ROW_INDEX)
    if ent.keeps_extra_columns:
        values = _with_attributes(values, writer.staged_attributes(index.to_list()), index)
    checks = duplicates(ent, values)
    if not checks:
        return []
    rows = index.to_numpy()
    quarantined, bad = _quarantine_rows(checks, len(rows), inp.rows(rows), file_key, inp.sources if inp.sources is not None else origin)
    writer.reject(rows[bad].tolist(), quarantined)
    return quarantined


# -- helpers ---------------------------------------------------------------------------------


def _shape(frame: pl.DataFrame, m: Mapping, ent: Entity, path: Path, where: str, decimal: str, headers: list[str]) -> _Shaped:
    """Apply the mapping file (rename, derive, drop) and split the entity's columns from the others."""
    frame, origin = _rename(frame, m, ent, path, where)
    problems: list[Check] = []
    derived_from: set[str] = set()  # the file's columns a derived column is computed from: used, not ignored
    for target, spec in m.derive.items():
        if target not in ent.column_names and not ent.keeps_extra_columns:
            raise DataError(
                f"{where}: derive.{target}: {ent.name} has no column {target!r}",
                hint=f"columns of {ent.name}: " + ", ".join(ent.column_names),
            )
        series, derived = derive_column(spec, frame, decimal, Path(where), target)
        used = [column for _m, _r, column, _v, _d in derived if column in frame.columns]
        derived_from.update(used)
        if used:
            origin[target] = origin.get(used[0], used[0])
        for mask, reason, column, values, detail in derived:
            if mask.any():
                problems.append(Check(reason, column, mask.to_numpy().astype(bool), values, detail))
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
            hint=_missing_hint(headers, ent, frame.columns),
            details={"missing": missing, "columns": headers},
        )
    body = frame.select([c for c in frame.columns if c in ent.column_names])
    extras = [c for c in frame.columns if c not in ent.column_names]
    if not (ent.keeps_extra_columns and extras):
        ignored = [origin.get(c, c) for c in extras if c not in derived_from]
        return _Shaped(body, None, problems, [], ignored, origin)
    names = [snake(c) or c for c in extras]
    taken = [k for k, v in Counter(names + ent.column_names).items() if v > 1]
    if taken:
        raise DataError(
            f"{path}: several columns become the same attribute {taken[0]!r} once lower-cased and snake_cased"
            + (f" ({taken[0]!r} is a column of {ent.name})" if taken[0] in ent.column_names else ""),
            hint="rename one of them with a mapping file (rename:) or drop it (drop:)",
        )
    attributes = pl.DataFrame({a: frame[c].cast(pl.String).str.strip_chars().replace("", None) for a, c in zip(names, extras)})
    return _Shaped(body, attributes, problems, names, [], origin, [origin.get(c, c) for c in extras])


def _rename(frame: pl.DataFrame, m: Mapping, ent, path: Path, where: str) -> tuple[pl.DataFrame, dict[str, str]]:
    """The frame with canonical names, and where each renamed column comes from."""
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
    origin = {dst: src for src, dst in renames.items()}
    origin.update({dst: src for src, dst in auto.items()})
    return frame, origin


def _missing_hint(headers: list[str], ent: Entity, columns: list[str]) -> str:
    if len(headers) == 1 and any(d in headers[0] for d in ("|", ":", ",", ";", "\t")):
        return (
            f"the header was read as ONE column {headers[0]!r}: the delimiter is not , ; or tab as expected; "
            "convert the file or set `delimiter:` in a mapping file"
        )
    return (
        f"the file's columns are: {', '.join(headers) or '(none)'}; rename yours with a mapping file "
        f"(rename: {{Your Column: {next(iter(c for c in ent.required if c not in columns))}}}) or derive them; see docs/import-guide.md"
    )


def _references(warehouse: Warehouse, accounts: bool, fx: bool) -> tuple[pl.Series | None, dict[str, Any]]:
    """Known account ids and, per currency, the earliest FX rate date (one read-only connection).

    The ids are one Polars Series, built once for every batch: rebuilding it from a Python
    set per batch cost ~0.5 s a batch with 1 M accounts (a usage import at 245 k rows/s)."""
    if not (accounts or fx):
        return None, {}
    with warehouse.connect(read_only=True) as con:
        ids = (
            pl.Series("account_id", con.sql("SELECT account_id FROM accounts").to_arrow_table().column(0), dtype=pl.String)
            if accounts else None
        )
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


def _bad_rows(raw: RawTable) -> list[Check]:
    """Rows the reader found malformed (wrong number of fields)."""
    if not raw.bad_rows:
        return []
    n = raw.num_rows
    mask = np.zeros(n, dtype=bool)
    mask[list(raw.bad_rows)] = True
    return [Check("bad_row", None, mask, [None] * n, [raw.bad_rows.get(i, "") for i in range(n)])]  # type: ignore[arg-type]


def _slice(c: Check, start: int, stop: int) -> Check:
    """The part of a whole-file check that concerns rows [start, stop)."""
    values = c.values[start:stop] if c.values is not None else None
    detail = c.detail if isinstance(c.detail, str) else c.detail[start:stop]
    return Check(c.reason, c.column, c.mask[start:stop], values, detail)  # type: ignore[arg-type]


def _quarantine_rows(checks: list[Check], n: int, raw: RawTable, file_key: str,
                     origin: dict[str, str] | None = None) -> tuple[list[dict[str, Any]], np.ndarray]:
    """The quarantine rows of the rows with a problem (under their first problem), and the
    mask of those rows.  ``column`` and ``value`` are the user's: the file's header of the
    column the problem is in and its cell as read (``-24000.00``, not ``-24000.0``), when
    the column comes from one column of the file (``origin``: canonical -> file column)."""
    origin = origin or {}
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
        column = c.column
        src = origin.get(column, column) if column is not None else None
        if src is not None and src in raws[k]:
            column = headers.get(src, src)
            if not isinstance(raws[k][src], (float, int)) or value is None:
                value = raws[k][src] if raws[k][src] is not None else value
        extra = int(counts[k]) - 1
        if extra:
            others = [checks[j].reason for j in np.flatnonzero(masks[:, i]) if j != ci]
            detail += f" (this row has {extra} other problem(s): {', '.join(others)})"
        out.append(
            {
                "file": file_key,
                "row_number": raw.row_numbers[i],
                "column": column,
                "value": None if value is None else str(value),
                "reason": c.reason,
                "detail": detail,
                "raw": {headers.get(key, key): v for key, v in raws[k].items()},
            }
        )
    return out, bad


# A value shaped like a date: 2023-07-31, 2023/07/31, 31/07/2023, 31.07.2023 (a time may follow).
_DATE_SHAPE = r"^(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4})([T ].*)?$"


def typed_attributes(attributes: pl.DataFrame, ctx: Context, row_numbers: list[int],
                     headers: dict[str, str]) -> tuple[pl.DataFrame, list[dict[str, Any]]]:
    """Account attributes that hold dates are typed: an attribute column whose values are
    mostly shaped like dates (at least 80 % of its non-empty values in the batch) is read as
    dates with the workspace's ``date_order``: valid ones are stored as ISO ``YYYY-MM-DD``;
    the others (``2023-31-07``, a day/month date under ``date_order = "iso"``, a word) are
    not stored and are reported, with their row, column and value.  Other attributes are
    text, kept as they are."""
    from retentio.ingest.parse import parse_date

    problems: list[dict[str, Any]] = []
    out = []
    for name in attributes.columns:
        col = attributes[name]
        values = col.drop_nulls()
        if values.len() == 0 or values.str.contains(_DATE_SHAPE).mean() < 0.8:  # type: ignore[operator]
            out.append(col)
            continue
        p = parse_date(col, ctx.date_order, ctx.date_formats.get(name))
        amb = p.ambiguous if p.ambiguous is not None else pl.Series([False] * len(col))
        wrong = (p.bad | amb).fill_null(False)
        for i in np.flatnonzero(wrong.to_numpy()).tolist():
            problems.append({
                "row_number": row_numbers[i],
                "column": headers.get(name, name),
                "value": col[i],
                "reason": "ambiguous_date" if amb[i] else "bad_date",
                "detail": f"{headers.get(name, name)} holds dates and this value is not one"
                + (" (a day/month date while date_order is iso)" if amb[i] else "")
                + ": the attribute was not kept for this account; fix the value and import the file again",
            })
        out.append(p.values.dt.strftime("%Y-%m-%d").rename(name))
    return (pl.DataFrame(out) if out else attributes), problems


def _attributes(good: pl.DataFrame, attributes: pl.DataFrame, index: pl.Series) -> pa.Table:
    """Accounts' extra columns as the long table (account_id, attribute, value) and the row's index."""
    wide = pl.concat([good.select("account_id"), attributes, index.to_frame()], how="horizontal")
    long = wide.unpivot(index=["account_id", ROW_INDEX], variable_name="attribute", value_name="value").drop_nulls("value")
    schema = pa.schema([("account_id", pa.string()), ("attribute", pa.string()), ("value", pa.string()), (ROW_INDEX, pa.int64())])
    return long.select("account_id", "attribute", "value", ROW_INDEX).to_arrow().cast(schema)


def _with_attributes(values: pl.DataFrame, attributes: pa.Table, index: pl.Series) -> pl.DataFrame:
    """Staged accounts with their attributes as columns again (an absent attribute is null)."""
    long = pl.from_arrow(attributes)
    assert isinstance(long, pl.DataFrame)
    if long.height == 0:
        return values
    wide = long.pivot(on="attribute", index=ROW_INDEX, values="value")
    joined = values.with_columns(index).join(wide, on=ROW_INDEX, how="left", maintain_order="left")
    return joined.drop(ROW_INDEX)
