"""The analytics database of a workspace (a DuckDB file) holding the canonical tables.

Writes go through :meth:`Warehouse.write_import`, which applies one import atomically:
accepted rows are upserted (or replace the entity's rows), quarantined rows are recorded,
and the import is logged, all in one transaction.  If anything fails the transaction is
rolled back and the workspace is exactly as it was.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from retentio.errors import ConfigError, DataError
from retentio.model import ACCOUNT_ATTRIBUTES_TABLE, DUCKDB_TYPES, ENTITIES, Entity

ANALYTICS_FILE = "analytics.duckdb"

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


def _plain_ddl(table: str, columns: tuple[tuple[str, str], ...]) -> str:
    return f'CREATE TABLE IF NOT EXISTS "{table}" (' + ", ".join(f'"{n}" {t}' for n, t in columns) + ")"


class Warehouse:
    def __init__(self, path: Path):
        self.path = Path(path)

    # -- lifecycle ----------------------------------------------------------------------
    def create(self, schema_version: int) -> None:
        with self.connect() as con:
            self._create_tables(con)
            con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
            con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(schema_version)])

    @staticmethod
    def _create_tables(con: duckdb.DuckDBPyConnection) -> None:
        for e in ENTITIES.values():
            con.execute(_ddl(e))
        con.execute(
            f'CREATE TABLE IF NOT EXISTS "{ACCOUNT_ATTRIBUTES_TABLE}" (account_id VARCHAR, attribute VARCHAR, value VARCHAR)'
        )
        con.execute(_plain_ddl("quarantine", QUARANTINE_COLUMNS))
        con.execute(_plain_ddl("imports", IMPORTS_COLUMNS))

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

    def account_ids(self) -> set[str]:
        with self.connect(read_only=True) as con:
            return {r[0] for r in con.execute("SELECT account_id FROM accounts").fetchall()}

    # -- the one write path -------------------------------------------------------------
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
        """Apply one import atomically; returns its import id.

        ``accepted`` has exactly the entity's columns with canonical types.  For accounts,
        ``attributes`` is the long table (account_id, attribute, value) of extra columns.
        """
        if rows_read != accepted.num_rows + len(quarantined):
            # The invariant of every import: nothing is lost, nothing is invented.
            raise DataError(
                f"{file}: internal accounting error: {rows_read} rows read but "
                f"{accepted.num_rows} accepted + {len(quarantined)} quarantined",
                hint="this is a bug in Retentio; please report it with the file",
            )
        import_id = uuid.uuid4().hex[:12]
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                self._apply(con, entity, accepted, attributes, replace)
                con.execute("DELETE FROM quarantine WHERE entity = ? AND file = ?", [entity.name, file])
                if quarantined:
                    # One Arrow table, one INSERT: row-by-row executemany costs ~2 ms a row.
                    n = len(quarantined)
                    qt = pa.table(
                        {
                            "import_id": pa.array([import_id] * n, pa.string()),
                            "entity": pa.array([entity.name] * n, pa.string()),
                            "file": pa.array([file] * n, pa.string()),
                            "row_number": pa.array([int(q["row_number"]) for q in quarantined], pa.int64()),
                            "column": pa.array([q.get("column") for q in quarantined], pa.string()),
                            "value": pa.array(
                                [None if q.get("value") is None else str(q.get("value")) for q in quarantined], pa.string()
                            ),
                            "reason": pa.array([q["reason"] for q in quarantined], pa.string()),
                            "detail": pa.array([q.get("detail") for q in quarantined], pa.string()),
                            "raw": pa.array(
                                [json.dumps(q.get("raw"), default=str, ensure_ascii=False) for q in quarantined], pa.string()
                            ),
                        }
                    )
                    con.register("_quarantined", qt)
                    try:
                        con.execute("INSERT INTO quarantine SELECT * FROM _quarantined")
                    finally:
                        con.unregister("_quarantined")
                con.execute(
                    "INSERT INTO imports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        import_id,
                        entity.name,
                        file,
                        kind,
                        datetime.now(timezone.utc).replace(tzinfo=None),
                        rows_read,
                        accepted.num_rows,
                        len(quarantined),
                        replace,
                    ],
                )
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return import_id

    @staticmethod
    def _apply(con, entity: Entity, accepted: pa.Table, attributes: pa.Table | None, replace: bool) -> None:
        table = f'"{entity.table}"'
        cols = ", ".join(f'"{c}"' for c in entity.column_names)
        con.register("_staged", accepted)
        try:
            if replace:
                con.execute(f"DELETE FROM {table}")
                if entity.name == "accounts":
                    con.execute(f'DELETE FROM "{ACCOUNT_ATTRIBUTES_TABLE}"')
            elif accepted.num_rows:
                match = " AND ".join(f't."{k}" IS NOT DISTINCT FROM s."{k}"' for k in entity.key)
                con.execute(f"DELETE FROM {table} t WHERE EXISTS (SELECT 1 FROM _staged s WHERE {match})")
                if entity.name == "accounts":
                    con.execute(
                        f'DELETE FROM "{ACCOUNT_ATTRIBUTES_TABLE}" WHERE account_id IN (SELECT account_id FROM _staged)'
                    )
            if accepted.num_rows:
                con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _staged")
            if attributes is not None and attributes.num_rows:
                con.register("_attrs", attributes)
                try:
                    con.execute(
                        f'INSERT INTO "{ACCOUNT_ATTRIBUTES_TABLE}" SELECT account_id, attribute, value FROM _attrs'
                    )
                finally:
                    con.unregister("_attrs")
        finally:
            con.unregister("_staged")

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

    def content_fingerprint(self) -> dict[str, Any]:
        """A canonical description of every table's content (sorted rows), for tests and audits."""
        out: dict[str, Any] = {}
        with self.connect(read_only=True) as con:
            tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema='main'").fetchall()]
            for t in sorted(tables):
                rows = con.execute(f'SELECT * FROM "{t}"').fetchall()
                out[t] = sorted(repr(r) for r in rows)
        return out
