"""Helpers shared by the importer tests."""

from __future__ import annotations

from pathlib import Path

from retentio.service import Workspace

CASES = Path(__file__).resolve().parents[1] / "cases" / "ingest"
DATA_TABLES = ("accounts", "account_attributes", "subscriptions", "usage", "tickets", "surveys", "costs", "fx_rates")


def accounts(ws: Workspace, *ids: str) -> None:
    """Import accounts with these ids (names = ids upper-cased)."""
    path = ws.path / "_accounts.csv"
    path.write_text("account_id,name\n" + "".join(f"{i},{i.upper()}\n" for i in ids), encoding="utf-8")
    report = ws.import_file("accounts", path)
    assert report.rows_accepted == len(ids)


def data_fingerprint(ws: Workspace) -> dict:
    """Content of the data tables and the quarantine (without import ids, which are new each time)."""
    fp = ws.warehouse.content_fingerprint()
    out = {t: fp[t] for t in DATA_TABLES}
    out["quarantine"] = sorted(
        repr(r) for r in ws.warehouse.query(
            'SELECT entity, file, row_number, "column", value, reason, detail, raw FROM quarantine'
        )
    )
    return out


def reasons(ws: Workspace, entity: str | None = None) -> dict[int, tuple[str, str | None]]:
    """row_number -> (reason, column) of the quarantined rows."""
    return {r["row_number"]: (r["reason"], r["column"]) for r in ws.quarantine(entity)}
