"""Where prediction results live in a workspace.

- ``<workspace>/models/churn-<month end>[-h<horizon>]/``: ``model.txt`` (the LightGBM
  booster) and ``metadata.json`` (training window, features and their encoding,
  calibration, evaluation metrics, class balance, library versions).  Both files are
  byte-identical when the same data is trained twice with the same seed.
- ``predict_churn_risk`` in the workspace's DuckDB file: one row per account and month end
  scored (account_id, month_end, horizon_months, risk, model_id), so that the risk can be a
  health measure and a playbook trigger (``Workspace.churn_risk``).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from retentio.errors import NotFound

RISK_TABLE = "predict_churn_risk"
RISK_COLUMNS = (("account_id", "VARCHAR"), ("month_end", "DATE"), ("horizon_months", "INTEGER"),
                ("risk", "DOUBLE"), ("model_id", "VARCHAR"))


def model_id(month_end: date, horizon: int, default_horizon: int = 3) -> str:
    return f"churn-{month_end.isoformat()}" + ("" if horizon == default_horizon else f"-h{horizon}")


def models_dir(root: Path) -> Path:
    return Path(root) / "models"


def save_model(root: Path, mid: str, booster, metadata: dict[str, Any]) -> Path:
    d = models_dir(root) / mid
    d.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(d / "model.txt"))
    (d / "metadata.json").write_text(json.dumps(metadata, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    return d


def load_model(root: Path, mid: str):
    import lightgbm as lgb

    d = models_dir(root) / mid
    if not (d / "model.txt").exists():
        raise NotFound(f"no churn model {mid} in {models_dir(root)}",
                       hint="train one first: Workspace.predict_train(as_of=...) (retentio predict train)")
    meta = json.loads((d / "metadata.json").read_text(encoding="utf-8"))
    return lgb.Booster(model_file=str(d / "model.txt")), meta


def has_model(root: Path, mid: str) -> bool:
    return (models_dir(root) / mid / "model.txt").exists()


def write_risk(ws, rows: list[dict[str, Any]], month_end: date, horizon: int) -> None:
    """Replace the stored risks of one month end and horizon by ``rows``."""
    import pyarrow as pa

    import gc

    ws.close()  # release the engine's read-only attachment before writing
    # Workspaces dropped earlier in this process may still hold the file attached until
    # their reference cycles (engine <-> cached books) are collected; DuckDB refuses a write
    # connection while they do.
    gc.collect()
    cols = ", ".join(f'"{n}" {t}' for n, t in RISK_COLUMNS)
    table = pa.table({
        "account_id": [r["account_id"] for r in rows],
        "month_end": pa.array([month_end] * len(rows), pa.date32()),
        "horizon_months": pa.array([horizon] * len(rows), pa.int32()),
        "risk": pa.array([float(r["risk"]) for r in rows], pa.float64()),
        "model_id": [r["model_id"] for r in rows],
    })
    with ws.warehouse.connect() as con:
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(f'CREATE TABLE IF NOT EXISTS "{RISK_TABLE}" ({cols})')
            con.execute(f'DELETE FROM "{RISK_TABLE}" WHERE month_end = ? AND horizon_months = ?', [month_end, horizon])
            con.register("_risk", table)
            con.execute(f'INSERT INTO "{RISK_TABLE}" SELECT account_id, month_end, horizon_months, risk, model_id FROM _risk')
            con.unregister("_risk")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise


def read_risk(ws, month_end: date | None, horizon: int) -> list[dict[str, Any]]:
    with ws.warehouse.connect(read_only=True) as con:
        exists = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [RISK_TABLE]).fetchone()[0]
        if not exists:
            return []
        if month_end is None:
            row = con.execute(f'SELECT max(month_end) FROM "{RISK_TABLE}" WHERE horizon_months = ?', [horizon]).fetchone()
            month_end = row[0]
            if month_end is None:
                return []
        cur = con.execute(
            f'SELECT account_id, month_end, horizon_months, risk, model_id FROM "{RISK_TABLE}" '
            "WHERE month_end = ? AND horizon_months = ? ORDER BY risk DESC, account_id", [month_end, horizon])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]
