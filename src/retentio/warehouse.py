"""The analytics database of a workspace (a DuckDB file) holding the canonical tables.

Writes go through :meth:`Warehouse.import_writer`, which applies one import atomically:
accepted rows are staged batch by batch, then upserted (or replace the entity's rows),
quarantined rows are recorded, and the import is logged, all in one transaction.  If
anything fails the transaction is rolled back and the workspace is exactly as it was.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import duckdb

if TYPE_CHECKING:  # imported where used: a figure read from the warehouse needs no Arrow
    import pyarrow as pa

from retentio.errors import ConfigError, DataError
from retentio.files import ANALYTICS_FILE  # defined there (standard library only)
from retentio.model import ACCOUNT_ATTRIBUTES_TABLE, DUCKDB_TYPES, ENTITIES, Entity


# Columns an import may add to its staged rows: the row's index in the file (0-based) and a
# hash of its key, with which ``ImportWriter.repeated_keys`` finds the candidate duplicates.
ROW_INDEX = "_row"
KEY_HASH = "_key_hash"

# DuckDB's memory while an import runs: staged rows beyond it spill to a temporary folder
# beside the database (analytics.duckdb.tmp).  With the importer's batches, 21 M usage rows
# import within 1.1 GB (CSV) and 1.4 GB (Parquet); 1 GB here was no faster and 0.5 GB larger.
IMPORT_MEMORY_LIMIT = "512MB"

QUARANTINE_COLUMNS = (
    ("import_id", "VARCHAR"),
    ("entity", "VARCHAR"),
    ("file", "VARCHAR"),
    ("row_number", "BIGINT"),  # 1-based data row (header excluded); for CSV, the line is row_number + 1
    ("column", "VARCHAR"),
    ("value", "VARCHAR"),
    ("reason", "VARCHAR"),  # short code: missing_value, bad_date, duplicate_id, unknown_account ...
    ("detail", "VARCHAR"),  # a sentence saying what is wrong and what to do
    ("raw", "VARCHAR"),  # the row as read, JSON
)

IMPORTS_COLUMNS = (
    ("import_id", "VARCHAR"),
    ("entity", "VARCHAR"),
    ("file", "VARCHAR"),
    ("kind", "VARCHAR"),
    ("imported_at", "TIMESTAMP"),
    ("rows_read", "BIGINT"),
    ("rows_accepted", "BIGINT"),
    ("rows_quarantined", "BIGINT"),
    ("replaced", "BOOLEAN"),
)


def _ddl(entity: Entity) -> str:
    cols = ", ".join(f'"{c.name}" {DUCKDB_TYPES[c.dtype]}' for c in entity.columns)
    return f'CREATE TABLE IF NOT EXISTS "{entity.table}" ({cols})'


def _plain_ddl(table: str, columns: Sequence[tuple[str, str]], *, temp: bool = False) -> str:
    kind = "TEMP TABLE" if temp else "TABLE"
    return f'CREATE {kind} IF NOT EXISTS "{table}" (' + ", ".join(f'"{n}" {t}' for n, t in columns) + ")"


# Accounts whose snapshot rows may change, and from which month (Warehouse.diff_stored_copies):
# per changed subscription id (old and new versions, a full outer join of the two set
# differences), a line whose only change is its end date moves the months
# [min(old end, new end), max(...)) - from the earlier end month on; any other change (or an
# added / removed line) from the earlier start month on.  Both the old and the new account of
# a line are touched.
# The changed lines: per subscription id, the current and the stored version when they differ
# in a column of the line columns (a full outer join on the id: rows on one side only are
# added or removed lines), with the day from which its MRR may change.  A line whose only
# change is its end date moves the months [min(old end, new end), max(...)) - from the earlier
# end month on; one whose kind changed only in how it is written (empty = recurring) moves
# none (d is null); any other change (or an added / removed line) from the earlier start
# month on.  Both the old and the new account of a line are touched.  One hash join of the two
# tables on the id (the set differences it replaced, EXCEPT ALL both ways, cost 3-4 times more
# at 100 k accounts).
CHANGED_LINES_SQL = """
WITH cur AS (SELECT {cols} FROM subscriptions),
     old AS (SELECT {cols} FROM "{lines}")
SELECT coalesce(n.subscription_id, o.subscription_id) AS subscription_id, n.account_id AS na, o.account_id AS oa,
       CASE WHEN n.subscription_id IS NOT NULL AND o.subscription_id IS NOT NULL
                 AND n.account_id = o.account_id AND n.plan IS NOT DISTINCT FROM o.plan
                 AND n.start_date = o.start_date AND n.amount = o.amount
                 AND n.billing_period_months = o.billing_period_months AND n.currency = o.currency
                 AND n.is_trial = o.is_trial AND {kind_n} = {kind_o}
            THEN CASE WHEN n.end_date IS NOT DISTINCT FROM o.end_date THEN NULL
                      ELSE least(coalesce(n.end_date, DATE '9999-12-01'), coalesce(o.end_date, DATE '9999-12-01')) END
            ELSE least(coalesce(n.start_date, o.start_date), coalesce(o.start_date, n.start_date)) END AS d
FROM cur n FULL OUTER JOIN old o ON n.subscription_id = o.subscription_id
WHERE n.subscription_id IS NULL OR o.subscription_id IS NULL OR {differs}
"""
# Accounts whose change rows may change, and from which month (over the changed lines).
CHANGED_ACCOUNTS_SQL = """
SELECT account_id, min(year(d) * 12 + month(d) - 1) AS m
FROM (SELECT na AS account_id, d FROM _changed_lines WHERE na IS NOT NULL
      UNION ALL SELECT oa AS account_id, d FROM _changed_lines WHERE oa IS NOT NULL)
WHERE d IS NOT NULL
GROUP BY account_id
"""
# A line's kind as metrics read it (mrr.line_kind): empty or missing = recurring, so a file
# re-imported without the kind column changes no line's kind.
KIND_SQL = ("coalesce(nullif(lower(trim({t}.kind, chr(32) || chr(9) || chr(10) || chr(13) || chr(11) || chr(12))), ''),"
            " 'recurring')")  # the characters of string.whitespace, as narwhals' strip_chars()


def _has_table(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    from retentio.usage_rollups import table_exists  # the one check, kept with the rollups' maintenance

    return table_exists(con, table)


class StoredCopiesDiff(NamedTuple):
    """Warehouse.diff_stored_copies: the changed lines (subscription_id, na / oa = new and old
    account, d = the day from which they may change MRR), the changed accounts (account_id,
    m = the first month index touched), the first month index of a changed FX rate and the
    first period of a changed cost (None: unchanged)."""

    lines: pa.Table
    accounts: pa.Table
    fx_month: int | None
    cost_period: Any


class StoredCopyTables(NamedTuple):
    """The tables of the incremental refresh (retentio.metrics.incremental): the change table
    and its columns, the snapshot view, the stored copies of its inputs and the meta table."""

    changes: str
    change_columns: Sequence[str]
    change_types: Sequence[str]
    snapshot: str
    lines: str
    line_columns: Sequence[str]
    fx: str
    fx_columns: Sequence[str]
    costs: str
    meta: str


class Warehouse:
    def __init__(self, path: Path):
        self.path = Path(path)

    # -- lifecycle ----------------------------------------------------------------------
    def create(self, schema_version: int) -> None:
        with self.connect() as con:
            # the rollups built here (`retentio upgrade` of a workspace made before them) stay
            # within the memory of an import
            con.execute(f"SET memory_limit = '{IMPORT_MEMORY_LIMIT}'")
            self._create_tables(con)
            con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
            con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(schema_version)])

    @staticmethod
    def _create_tables(con: duckdb.DuckDBPyConnection) -> None:
        for e in ENTITIES.values():
            con.execute(_ddl(e))
            # A workspace made before a column was added to the model gets it, empty.
            for c in e.columns:
                con.execute(f'ALTER TABLE "{e.table}" ADD COLUMN IF NOT EXISTS "{c.name}" {DUCKDB_TYPES[c.dtype]}')
        con.execute(
            f'CREATE TABLE IF NOT EXISTS "{ACCOUNT_ATTRIBUTES_TABLE}" (account_id VARCHAR, attribute VARCHAR, value VARCHAR)'
        )
        con.execute(_plain_ddl("quarantine", QUARANTINE_COLUMNS))
        con.execute(_plain_ddl("imports", IMPORTS_COLUMNS))
        # The daily usage rollups: built here when missing (a new workspace, or `retentio
        # upgrade` of one made before them), then kept by every usage import.
        from retentio import usage_rollups as rollups

        if not (_has_table(con, rollups.DAILY) and _has_table(con, rollups.DAILY_ACTIVE)):
            rollups.refresh(con)

    def schema_version(self) -> int:
        with self.connect(read_only=True) as con:
            row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0

    @contextlib.contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        if read_only and not self.path.exists():
            raise ConfigError(f"{self.path}: analytics database missing", hint="run `retentio init` on this folder")
        try:
            con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as exc:
            raise ConfigError(
                f"{self.path}: cannot open the analytics database ({exc})",
                hint="another Retentio process may be writing to it; wait for it to finish",
            ) from None
        try:
            # DuckDB draws a progress bar on stdout for long statements, into `--format json` output.
            con.execute("SET enable_progress_bar = false")
            yield con
        finally:
            con.close()

    # -- reads --------------------------------------------------------------------------
    def arrow(self, table: str) -> pa.Table:
        with self.connect(read_only=True) as con:
            return con.table(table).to_arrow_table()

    def count(self, table: str) -> int:
        with self.connect(read_only=True) as con:
            return int(con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])

    def query(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        with self.connect(read_only=True) as con:
            cur = con.execute(sql, params or [])
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]

    def quarantine(self, entity: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Quarantined rows, by entity, file and row (``entity``: one entity's only)."""
        sql = 'SELECT entity, file, row_number, "column", value, reason, detail, raw FROM quarantine'
        params: list[Any] = []
        if entity:
            sql += " WHERE entity = ?"
            params.append(entity)
        sql += " ORDER BY entity, file, row_number"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        rows = self.query(sql, params)
        for r in rows:  # the row as read, keyed by the file's headers (docs/import-guide.md)
            r["raw"] = json.loads(r["raw"]) if r.get("raw") else None
        return rows

    def imports(self) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM imports ORDER BY imported_at")

    def account_labels(self, ids: list[str] | None = None) -> dict[str, dict[str, Any]]:
        """{account_id: {account_name, csm}}: the name and the CSM owner (attribute ``csm``,
        else ``owner``, else ``csm_owner``) shown beside every account id in lists."""
        with self.connect(read_only=True) as con:
            names = dict(con.execute("SELECT account_id, name FROM accounts").fetchall())
            owners: dict[str, str] = {}
            for attr in ("csm_owner", "owner", "csm"):  # the later wins
                for acc, value in con.execute(
                    "SELECT account_id, min(value) FROM account_attributes WHERE attribute = ? GROUP BY account_id", [attr]
                ).fetchall():
                    owners[acc] = value
        keys = ids if ids is not None else list(names)
        return {a: {"account_name": names.get(a), "csm": owners.get(a)} for a in keys}

    # -- the one write path -------------------------------------------------------------
    @contextlib.contextmanager
    def import_writer(self, entity: Entity, *, file: str, kind: str, replace: bool = False) -> Iterator[ImportWriter]:
        """One import in one transaction: append batches, then ``finish``, which commits.

        Leaving the block without ``finish`` (an exception in any batch) rolls everything
        back: the workspace is exactly as it was.
        """
        with self.connect() as con:
            con.execute(f"SET memory_limit = '{IMPORT_MEMORY_LIMIT}'")
            con.execute("BEGIN TRANSACTION")
            writer = None
            try:
                writer = ImportWriter(con, entity, file=file, kind=kind, replace=replace)
                yield writer
            finally:
                if writer is None or not writer.committed:
                    con.execute("ROLLBACK")

    def write_import(
        self,
        entity: Entity,
        accepted: pa.Table,
        quarantined: list[dict[str, Any]],
        *,
        file: str,
        kind: str,
        rows_read: int,
        replace: bool = False,
        attributes: pa.Table | None = None,
    ) -> str:
        """Apply a whole import at once (one batch); returns its import id.

        ``accepted`` has exactly the entity's columns with canonical types.  For accounts,
        ``attributes`` is the long table (account_id, attribute, value) of extra columns.
        """
        with self.import_writer(entity, file=file, kind=kind, replace=replace) as writer:
            writer.append(accepted, quarantined, attributes)
            return writer.finish(rows_read)

    @staticmethod
    def _apply(con, entity: Entity, replace: bool) -> None:
        """Merge the staged rows into the entity's table (and the staged attributes)."""
        table = f'"{entity.table}"'
        cols = ", ".join(f'"{c}"' for c in entity.column_names)
        if replace:
            con.execute(f"DELETE FROM {table}")
            if entity.name == "accounts":
                con.execute(f'DELETE FROM "{ACCOUNT_ATTRIBUTES_TABLE}"')
        else:
            match = " AND ".join(f't."{k}" IS NOT DISTINCT FROM s."{k}"' for k in entity.key)
            con.execute(f"DELETE FROM {table} t WHERE EXISTS (SELECT 1 FROM _staged s WHERE {match})")
            if entity.name == "accounts":
                con.execute(f'DELETE FROM "{ACCOUNT_ATTRIBUTES_TABLE}" WHERE account_id IN (SELECT account_id FROM _staged)')
        con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _staged")
        if entity.name == "accounts":
            con.execute(f'INSERT INTO "{ACCOUNT_ATTRIBUTES_TABLE}" SELECT account_id, attribute, value FROM _staged_attributes')

    def export_parquet(self, destination: Path) -> dict[str, int]:
        """Every canonical table (and the account attributes) as <destination>/<table>.parquet."""
        destination.mkdir(parents=True, exist_ok=True)
        written: dict[str, int] = {}
        with self.connect(read_only=True) as con:
            for table in [e.table for e in ENTITIES.values()] + [ACCOUNT_ATTRIBUTES_TABLE]:
                target = destination / f"{table}.parquet"
                con.execute(f"COPY (SELECT * FROM \"{table}\") TO '{target}' (FORMAT PARQUET)")
                written[table] = int(con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
        return written

    # -- the stored copies of the incremental refresh (retentio.metrics.incremental) --------
    # They run on the refresh's own connection (``Workspace.writing_engine``: an in-memory
    # database with this file attached as ``ws``), not on one of their own: the refresh reads,
    # computes and writes through one connection.
    @staticmethod
    @contextlib.contextmanager
    def _in_file(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
        """``con`` with the attached file as its default database (plain names are the file's
        tables), given back with its own (``memory``: where the engine keeps intermediates)."""
        con.execute("USE ws")
        try:
            yield con
        finally:
            con.execute("USE memory")

    def diff_stored_copies(self, con: duckdb.DuckDBPyConnection, *, lines: str, fx: str, costs: str,
                           line_columns: Sequence[str], fx_columns: Sequence[str]) -> StoredCopiesDiff:
        """What changed since the incremental refresh copied its inputs (tables ``lines``,
        ``fx``, ``costs``): the lines by one join on their id, rates and costs by two set
        differences (EXCEPT ALL) each."""
        cols = ", ".join(f'"{c}"' for c in line_columns)
        fx_cols = ", ".join(f'"{c}"' for c in fx_columns)
        differs = " OR ".join(f'n."{c}" IS DISTINCT FROM o."{c}"' for c in line_columns if c != "subscription_id")
        with self._in_file(con):
            changed_lines = con.sql(CHANGED_LINES_SQL.format(
                cols=cols, lines=lines, kind_n=KIND_SQL.format(t="n"), kind_o=KIND_SQL.format(t="o"),
                differs=differs)).to_arrow_table()
            con.register("_changed_lines", changed_lines)
            accounts = con.sql(CHANGED_ACCOUNTS_SQL).to_arrow_table()
            con.unregister("_changed_lines")
            fx_month = con.execute(
                f"""WITH cur AS (SELECT {fx_cols} FROM fx_rates), old AS (SELECT {fx_cols} FROM "{fx}"),
                         d AS ((SELECT * FROM cur EXCEPT ALL SELECT * FROM old) UNION ALL (SELECT * FROM old EXCEPT ALL SELECT * FROM cur))
                    SELECT min(year(date) * 12 + month(date) - 1) AS m FROM d""").fetchone()[0]
            cost_period = con.execute(
                f"""WITH cur AS (SELECT period, category, amount, currency FROM costs),
                         old AS (SELECT period, category, amount, currency FROM "{costs}"),
                         d AS ((SELECT * FROM cur EXCEPT ALL SELECT * FROM old) UNION ALL (SELECT * FROM old EXCEPT ALL SELECT * FROM cur))
                    SELECT min(period) AS p FROM d""").fetchone()[0]
        return StoredCopiesDiff(changed_lines, accounts, fx_month, cost_period)

    def write_stored_copies(self, w: duckdb.DuckDBPyConnection, *, tables: StoredCopyTables,
                            parts: Sequence[tuple[pa.Table, pa.Table | None]],
                            first: int, last: int, rebuild: bool, changed_line_ids: pa.Table | None,
                            fx_changed: bool, costs_changed: bool, meta: dict[str, str]) -> int:
        """One transaction of the incremental refresh: replace the change rows of each part
        (rows, their accounts; accounts None = every account), redefine the snapshot view over
        months [first, last], update the stored copies of its inputs (the lines of
        ``changed_line_ids`` only, unless ``rebuild``; the FX rates and costs when changed) and
        the meta table (``meta``).  Returns the change rows written."""
        t = tables
        cols_sql = ", ".join(f'"{c}" {ty}' for c, ty in zip(t.change_columns, t.change_types))
        names = ", ".join(f'"{c}"' for c in t.change_columns)
        subs_cols = ", ".join(f'"{c}"' for c in t.line_columns)
        fx_cols = ", ".join(f'"{c}"' for c in t.fx_columns)
        written = 0
        with self._in_file(w):
            w.execute("BEGIN TRANSACTION")
            try:
                if rebuild:
                    w.execute(f'DROP VIEW IF EXISTS "{t.snapshot}"')
                    w.execute(f'DROP TABLE IF EXISTS "{t.snapshot}"')
                    w.execute(f'DROP TABLE IF EXISTS "{t.changes}"')
                w.execute(f'CREATE TABLE IF NOT EXISTS "{t.changes}" ({cols_sql})')
                w.execute(f'CREATE TABLE IF NOT EXISTS "{t.meta}" (key VARCHAR PRIMARY KEY, value VARCHAR)')
                for rows, accounts in parts:
                    w.register("_rows", rows)
                    if accounts is None:
                        w.execute(f'DELETE FROM "{t.changes}"')
                    else:
                        w.register("_acc", accounts)
                        w.execute(f'DELETE FROM "{t.changes}" WHERE account_id IN (SELECT account_id FROM _acc)')
                        w.unregister("_acc")
                    w.execute(f'INSERT INTO "{t.changes}" SELECT {names} FROM _rows')
                    w.unregister("_rows")
                    written += rows.num_rows
                # the account-month snapshots of [first, last], as a view (as-of lookups in C)
                w.execute(f'''CREATE OR REPLACE VIEW "{t.snapshot}" AS
                    SELECT c.account_id, t.month, c.e AS mrr_cents
                    FROM "{t.changes}" c JOIN (SELECT range AS month FROM range({int(first)}, {int(last) + 1})) t
                      ON c.month <= t.month AND t.month < c.next_month
                    WHERE c.e > 0''')
                # the copies the next refresh compares with: only the changed lines are rewritten
                if rebuild:
                    w.execute(f'CREATE OR REPLACE TABLE "{t.lines}" AS SELECT {subs_cols} FROM subscriptions')
                elif changed_line_ids is not None and changed_line_ids.num_rows:
                    w.register("_ids", changed_line_ids)
                    w.execute(f'DELETE FROM "{t.lines}" WHERE subscription_id IN (SELECT subscription_id FROM _ids)')
                    w.execute(f'INSERT INTO "{t.lines}" SELECT {subs_cols} FROM subscriptions '
                              'WHERE subscription_id IN (SELECT subscription_id FROM _ids)')
                    w.unregister("_ids")
                if rebuild or fx_changed:
                    w.execute(f'CREATE OR REPLACE TABLE "{t.fx}" AS SELECT {fx_cols} FROM fx_rates')
                if rebuild or costs_changed:
                    w.execute(f'CREATE OR REPLACE TABLE "{t.costs}" AS SELECT period, category, amount, currency FROM costs')
                for k, v in meta.items():
                    w.execute(f'INSERT OR REPLACE INTO "{t.meta}" VALUES (?, ?)', [k, v])
                w.execute("COMMIT")
            except BaseException:
                w.execute("ROLLBACK")
                raise
        return written

    def write_derived_tables(self, w: duckdb.DuckDBPyConnection, *, tables: dict[str, pa.Table], meta_table: str,
                             meta: dict[str, str]) -> None:
        """Replace the derived tables ``tables`` (name -> rows) and set ``meta`` entries in
        one transaction (the month rollups of retentio.metrics.rollups)."""
        with self._in_file(w):
            w.execute("BEGIN TRANSACTION")
            try:
                w.execute(f'CREATE TABLE IF NOT EXISTS "{meta_table}" (key VARCHAR PRIMARY KEY, value VARCHAR)')
                for name, rows in tables.items():
                    w.register("_rows", rows)
                    w.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM _rows')
                    w.unregister("_rows")
                for k, v in meta.items():
                    w.execute(f'INSERT OR REPLACE INTO "{meta_table}" VALUES (?, ?)', [k, v])
                w.execute("COMMIT")
            except BaseException:
                w.execute("ROLLBACK")
                raise

    # -- health score history (retentio.health) --------------------------------------------
    HEALTH_SCORES = "health_scores"
    HEALTH_SCORE_COLUMNS = (("account_id", "VARCHAR"), ("day", "DATE"), ("scorecard", "VARCHAR"),
                            ("score", "DOUBLE"), ("band", "VARCHAR"), ("missing", "VARCHAR"))

    def write_health_scores(self, rows: pa.Table, days: Sequence[Any]) -> int:
        """Replace the stored health scores of ``days`` by ``rows`` (columns HEALTH_SCORE_COLUMNS),
        in one transaction; the table is created on first use."""
        with self.connect() as con:
            con.execute(_plain_ddl(self.HEALTH_SCORES, self.HEALTH_SCORE_COLUMNS))
            con.execute("BEGIN TRANSACTION")
            try:
                if days:
                    con.execute(f'DELETE FROM "{self.HEALTH_SCORES}" WHERE day IN (SELECT unnest(?::DATE[]))', [list(days)])
                con.register("_health_rows", rows)
                cols = ", ".join(f'"{n}"' for n, _ in self.HEALTH_SCORE_COLUMNS)
                con.execute(f'INSERT INTO "{self.HEALTH_SCORES}" ({cols}) SELECT {cols} FROM _health_rows')
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise
        return rows.num_rows

    def read_health_scores(self, account_id: str | None = None) -> list[dict[str, Any]]:
        """Stored health scores (all, or one account's), by day; [] before the first refresh."""
        with self.connect(read_only=True) as con:
            if not _has_table(con, self.HEALTH_SCORES):
                return []
            sql = f'SELECT * FROM "{self.HEALTH_SCORES}"'
            params: list[Any] = []
            if account_id is not None:
                sql += " WHERE account_id = ?"
                params.append(account_id)
            cur = con.execute(sql + " ORDER BY day, account_id", params)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r)) for r in cur.fetchall()]

    def content_fingerprint(self) -> dict[str, Any]:
        """A canonical description of every table's content (sorted rows), for tests and audits."""
        out: dict[str, Any] = {}
        with self.connect(read_only=True) as con:
            tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema='main'").fetchall()]
            for t in sorted(tables):
                rows = con.execute(f'SELECT * FROM "{t}"').fetchall()
                out[t] = sorted(repr(r) for r in rows)
        return out


_ATTRIBUTE_COLUMNS = (("account_id", "VARCHAR"), ("attribute", "VARCHAR"), ("value", "VARCHAR"), (ROW_INDEX, "BIGINT"))
_PICKED_COLUMNS = ((ROW_INDEX, "BIGINT"),)


class ImportWriter:
    """One import being written, inside the transaction ``Warehouse.import_writer`` opened.

    Accepted rows go to a staging table batch by batch (quarantined rows straight to the
    quarantine); ``finish`` merges the staged rows into the entity's table once (upsert by
    key, or replace), logs the import and commits.  Arrow batches are handed to DuckDB with
    ``from_arrow``: a view registered inside a transaction keeps its table alive until the
    connection closes, which would hold the whole file in memory.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, entity: Entity, *, file: str, kind: str, replace: bool):
        self.con, self.entity, self.file, self.kind, self.replace = con, entity, file, kind, replace
        self.import_id = uuid.uuid4().hex[:12]
        self.rows_accepted = 0  # known at finish
        self.rows_quarantined = 0
        self.committed = False
        self._staged = [(c.name, DUCKDB_TYPES[c.dtype]) for c in entity.columns] + [(ROW_INDEX, "BIGINT"), (KEY_HASH, "UBIGINT")]
        con.execute(_plain_ddl("_staged", self._staged, temp=True))
        con.execute(_plain_ddl("_staged_attributes", _ATTRIBUTE_COLUMNS, temp=True))
        con.execute(_plain_ddl("_picked", _PICKED_COLUMNS, temp=True))
        # The file's previous quarantine is replaced by this import's.
        con.execute("DELETE FROM quarantine WHERE entity = ? AND file = ?", [entity.name, file])

    def append(self, rows: pa.Table, quarantined: list[dict[str, Any]], attributes: pa.Table | None = None) -> None:
        """Stage accepted ``rows`` (the entity's columns, optionally ROW_INDEX and KEY_HASH),
        the accounts' ``attributes`` (account_id, attribute, value, optionally ROW_INDEX),
        and record ``quarantined`` rows."""
        self._insert("_staged", self._staged, rows)
        if attributes is not None:
            self._insert("_staged_attributes", _ATTRIBUTE_COLUMNS, attributes)
        self._quarantine(quarantined)

    def repeated_keys(self) -> pa.Table:
        """Staged rows (with ROW_INDEX) whose key hash appears more than once, in file order."""
        return self.con.sql(
            f'SELECT * EXCLUDE ("{KEY_HASH}") FROM _staged WHERE "{KEY_HASH}" IN '
            f'(SELECT "{KEY_HASH}" FROM _staged GROUP BY "{KEY_HASH}" HAVING count(*) > 1) ORDER BY "{ROW_INDEX}"'
        ).to_arrow_table()

    def staged_attributes(self, rows: Sequence[int]) -> pa.Table:
        """The staged attributes (with ROW_INDEX) of these rows of the file."""
        self._pick(rows)
        return self.con.sql(
            f'SELECT * FROM _staged_attributes WHERE "{ROW_INDEX}" IN (SELECT "{ROW_INDEX}" FROM _picked)'
        ).to_arrow_table()

    def reject(self, rows: Sequence[int], quarantined: list[dict[str, Any]]) -> None:
        """Unstage these rows of the file (found to be duplicates) and quarantine them."""
        self._pick(rows)
        for table in ("_staged", "_staged_attributes"):
            self.con.execute(f'DELETE FROM {table} WHERE "{ROW_INDEX}" IN (SELECT "{ROW_INDEX}" FROM _picked)')
        self._quarantine(quarantined)

    def finish(self, rows_read: int) -> str:
        """Merge, log and commit; returns the import id."""
        self.rows_accepted = int(self.con.execute("SELECT count(*) FROM _staged").fetchone()[0])
        if rows_read != self.rows_accepted + self.rows_quarantined:
            # The invariant of every import: nothing is lost, nothing is invented.
            raise DataError(
                f"{self.file}: internal accounting error: {rows_read} rows read but "
                f"{self.rows_accepted} accepted + {self.rows_quarantined} quarantined",
                hint="this is a bug in Retentio; please report it with the file",
            )
        Warehouse._apply(self.con, self.entity, self.replace)
        if self.entity.name == "usage":
            self._refresh_rollups()
        self.con.execute(
            "INSERT INTO imports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                self.import_id,
                self.entity.name,
                self.file,
                self.kind,
                datetime.now(timezone.utc).replace(tzinfo=None),
                rows_read,
                self.rows_accepted,
                self.rows_quarantined,
                self.replace,
            ],
        )
        self.con.execute("COMMIT")
        self.committed = True
        return self.import_id

    def _refresh_rollups(self) -> None:
        """The daily usage rollups (retentio.usage_rollups), in the import's transaction:
        only the days of the accepted rows are recomputed (all of them after --replace)."""
        from retentio import usage_rollups as rollups

        if self.replace:
            rollups.refresh(self.con)
            return
        self.con.execute("CREATE OR REPLACE TEMP TABLE _touched_days AS SELECT DISTINCT CAST(timestamp AS DATE) AS day FROM _staged")
        rollups.refresh(self.con, "_touched_days")

    def _insert(self, table: str, columns: Sequence[tuple[str, str]], data: pa.Table) -> None:
        """Insert ``data``'s columns in the table's order; absent ones (ROW_INDEX, KEY_HASH) are NULL."""
        if data.num_rows == 0:
            return
        import pyarrow as pa

        n = data.num_rows
        full = pa.table({name: data.column(name) if name in data.column_names else pa.nulls(n) for name, _ in columns})
        self.con.from_arrow(full).insert_into(table)

    def _pick(self, rows: Sequence[int]) -> None:
        import pyarrow as pa

        self.con.execute("DELETE FROM _picked")
        self._insert("_picked", _PICKED_COLUMNS, pa.table({ROW_INDEX: pa.array(rows, pa.int64())}))

    def _quarantine(self, quarantined: list[dict[str, Any]]) -> None:
        if not quarantined:
            return
        import pyarrow as pa

        # One Arrow table, one INSERT: row-by-row executemany costs ~2 ms a row.
        n = len(quarantined)
        qt = pa.table(
            {
                "import_id": pa.array([self.import_id] * n, pa.string()),
                "entity": pa.array([self.entity.name] * n, pa.string()),
                "file": pa.array([self.file] * n, pa.string()),
                "row_number": pa.array([int(q["row_number"]) for q in quarantined], pa.int64()),
                "column": pa.array([q.get("column") for q in quarantined], pa.string()),
                "value": pa.array([None if q.get("value") is None else str(q.get("value")) for q in quarantined], pa.string()),
                "reason": pa.array([q["reason"] for q in quarantined], pa.string()),
                "detail": pa.array([q.get("detail") for q in quarantined], pa.string()),
                "raw": pa.array([json.dumps(q.get("raw"), default=str, ensure_ascii=False) for q in quarantined], pa.string()),
            }
        )
        self.con.from_arrow(qt).insert_into("quarantine")
        self.rows_quarantined += n


__all__ = ["ANALYTICS_FILE", "IMPORTS_COLUMNS", "IMPORT_MEMORY_LIMIT", "ImportWriter", "KEY_HASH",
    "QUARANTINE_COLUMNS", "ROW_INDEX", "Warehouse"]
