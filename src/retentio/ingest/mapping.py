"""Mapping files: a small, safe YAML language to adapt any export to the canonical columns.

.. code-block:: yaml

    rename:                       # column in the file -> canonical column
      Client: account_id
      "Date de début": start_date
    derive:                       # canonical column -> how to compute it
      amount: "monthly_price * 12"          # arithmetic: + - * / ( ) numbers and column names
      is_trial: {from: status, true_values: [trialing, essai]}
      billing_period_months: {from: frequency, map: {monthly: 1, yearly: 12}}
      currency: {value: EUR}                # a constant (bare numbers and booleans are constants too)
    dates: {start_date: "%d/%m/%Y"}         # explicit strptime formats per column
    drop: [Internal notes]                  # columns to ignore (not kept as attributes)
    date_order: dmy                         # overrides the workspace setting for this file
    decimal: comma                          # dot | comma: overrides the reader's choice
    delimiter: ";"                          # , ; tab: overrides sniffing (CSV)
    encoding: latin-1                       # overrides detection (CSV)
    sheet: Abonnements                      # Excel sheet (default: the first)
    coupons:                                # billing exports: terms of the coupons they name
      SPRING20: {percent_off: 20, duration: repeating, duration_in_months: 3}

Expressions are parsed with :mod:`ast` and only numbers, column names, ``+ - * /`` and
parentheses are allowed: nothing in a mapping file can run code.  Columns are named in
expressions by their snake_case form (``Monthly Price`` -> ``monthly_price``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any, Literal

import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from retentio.errors import DataError
from retentio.ingest.parse import parse_float


def snake(name: str) -> str:
    """``Monthly Price (EUR)`` -> ``monthly_price_eur``; accents kept as letters."""
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name.strip())
    s = re.sub(r"[^\w]+", "_", s.lower(), flags=re.UNICODE)
    return s.strip("_")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


Scalar = str | int | float | bool


class Constant(_Strict):
    value: Scalar


class Flag(_Strict):
    source: str = Field(alias="from")
    true_values: list[Scalar]
    false_values: list[Scalar] | None = None  # None: every other value (and empty) is false


class ValueMap(_Strict):
    source: str = Field(alias="from")
    map: dict[str, Scalar]
    default: Scalar | None = None  # None: a value not in the map is quarantined (unmapped_value)


class Coupon(_Strict):
    """A billing coupon's terms, for exports that name the coupon without its terms (Stripe's
    subscriptions export gives only its id): ``percent_off`` or ``amount_off`` (per billing
    period, in the line's currency), and how long it lasts."""

    percent_off: float | None = Field(None, gt=0, le=100)
    amount_off: float | None = Field(None, gt=0)
    duration: Literal["forever", "once", "repeating"] = "forever"
    duration_in_months: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _one(self) -> "Coupon":
        if (self.percent_off is None) == (self.amount_off is None):
            raise ValueError("a coupon has either percent_off or amount_off")
        if self.duration == "repeating" and self.duration_in_months is None:
            raise ValueError("a repeating coupon needs duration_in_months")
        return self


class Mapping(_Strict):
    rename: dict[str, str] = {}
    derive: dict[str, int | float | bool | str | Constant | Flag | ValueMap] = {}
    dates: dict[str, str] = {}
    drop: list[str] = []
    date_order: Literal["iso", "dmy", "mdy"] | None = None
    decimal: Literal["dot", "comma"] | None = None
    delimiter: str | None = None
    encoding: str | None = None
    sheet: str | None = None
    coupons: dict[str, Coupon] = {}  # billing exports (--as stripe / chargebee): coupon id -> terms

    @field_validator("delimiter")
    @classmethod
    def _delim(cls, v: str | None) -> str | None:
        if v is None:
            return v
        v = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";"}.get(v, v)
        if len(v) != 1:
            raise ValueError("delimiter must be one character: ',' ';' or 'tab'")
        return v

    @field_validator("derive")
    @classmethod
    def _exprs(cls, v: dict[str, Any]) -> dict[str, Any]:
        for target, spec in v.items():
            if isinstance(spec, str) and not isinstance(spec, bool):
                Expression(spec)  # raises ValueError naming the problem
        return v


_ALLOWED_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


class Expression:
    """Arithmetic over columns, checked once at load time."""

    def __init__(self, text: str):
        self.text = text
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError:
            raise ValueError(f"expression {text!r} is not valid arithmetic") from None
        self.names: list[str] = []
        self._check(tree.body)
        self.tree = tree.body

    def _check(self, node: ast.AST) -> None:
        if isinstance(node, ast.BinOp) and type(node.op) in _ALLOWED_OPS:
            self._check(node.left)
            self._check(node.right)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            self._check(node.operand)
        elif isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            pass
        elif isinstance(node, ast.Name):
            if node.id not in self.names:
                self.names.append(node.id)
        else:
            what = type(node).__name__
            if isinstance(node, ast.BinOp):
                what = f"operator {type(node.op).__name__}"
            raise ValueError(
                f"expression {self.text!r} uses {what}: only numbers, column names, + - * / and parentheses are allowed"
            )

    def to_polars(self, columns: dict[str, pl.Expr]) -> pl.Expr:
        def build(node: ast.AST) -> pl.Expr:
            if isinstance(node, ast.BinOp):
                a, b = build(node.left), build(node.right)
                op = type(node.op)
                return a + b if op is ast.Add else a - b if op is ast.Sub else a * b if op is ast.Mult else a / b
            if isinstance(node, ast.UnaryOp):
                return -build(node.operand) if isinstance(node.op, ast.USub) else build(node.operand)
            if isinstance(node, ast.Constant):
                return pl.lit(float(node.value))
            assert isinstance(node, ast.Name)
            return columns[node.id]

        return build(self.tree)


def load_mapping(path: Path) -> Mapping:
    if not path.exists():
        raise DataError(f"{path}: mapping file not found", hint="check the mapping file's path")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise DataError(f"{path}:{where}: not valid YAML ({getattr(exc, 'problem', exc)})", hint="fix the mapping file; see docs/import-guide.md") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: a mapping file must be UTF-8 text", hint="save it as UTF-8") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise DataError(f"{path}: a mapping file is a YAML mapping (rename:, derive: ...)", hint="see docs/import-guide.md")
    try:
        return Mapping.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"] if not str(p).startswith(("function-", "union[")))
        msg = first["msg"].removeprefix("Value error, ")
        raise DataError(
            f"{path}: {where}: {msg}",
            hint="fix the mapping file; allowed keys: rename, derive, dates, drop, date_order, decimal, delimiter, encoding, sheet, coupons (see docs/import-guide.md)",
            details={"errors": [{"where": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors()]},
        ) from None


def resolve_column(name: str, columns: list[str]) -> str | None:
    """A column of the frame by exact name, else by snake_case name."""
    if name in columns:
        return name
    want = snake(name)
    for c in columns:
        if snake(c) == want:
            return c
    return None


def derive_column(spec: Any, frame: pl.DataFrame, decimal: str, mapping_file: Path, target: str):
    """Compute one derived column; returns (Series, problems) where problems is a list of
    ``(mask, reason, column, values, detail)`` for rows that could not be computed."""
    n = frame.height
    where = f"{mapping_file}: derive.{target}"

    def need(col: str) -> str:
        found = resolve_column(col, frame.columns)
        if found is None:
            raise DataError(
                f"{where} uses column {col!r}, which is not in the file",
                hint="columns of the file: " + ", ".join(frame.columns),
            )
        return found

    if isinstance(spec, Constant):
        spec = spec.value
        if isinstance(spec, str):
            return pl.Series(target, [spec] * n, dtype=pl.String), []
    if isinstance(spec, bool):
        return pl.Series(target, [spec] * n, dtype=pl.Boolean), []
    if isinstance(spec, float):
        return pl.Series(target, [spec] * n, dtype=pl.Float64), []
    if isinstance(spec, int):
        return pl.Series(target, [spec] * n, dtype=pl.Int64), []
    if isinstance(spec, Flag):
        col = need(spec.source)
        txt = frame[col].cast(pl.String).str.strip_chars().str.to_lowercase()
        trues = [str(v).lower() for v in spec.true_values]
        if spec.false_values is None:
            return txt.is_in(trues).fill_null(False).rename(target), []
        falses = [str(v).lower() for v in spec.false_values]
        out = txt.to_frame("s").select(
            pl.when(pl.col("s").is_in(trues)).then(True).when(pl.col("s").is_in(falses)).then(False).otherwise(None).cast(pl.Boolean)
        ).to_series().rename(target)
        bad = (out.is_null() & txt.is_not_null()).fill_null(False)
        detail = f"value not in true_values {trues} nor false_values {falses} of {where}: add it to one of them"
        return out, [(bad, "unmapped_value", col, frame[col], detail)]
    if isinstance(spec, ValueMap):
        col = need(spec.source)
        txt = frame[col].cast(pl.String).str.strip_chars()
        table = {str(k).strip(): str(v) for k, v in spec.map.items()}
        lowered = {k.lower(): v for k, v in table.items()}
        out = txt.str.to_lowercase().replace_strict(
            lowered, default=None if spec.default is None else str(spec.default), return_dtype=pl.String
        ).rename(target)
        bad = (out.is_null() & txt.is_not_null()).fill_null(False)
        detail = f"value not listed in the map of {where}: add it to the map (or give a default)"
        return out, [(bad, "unmapped_value", col, frame[col], detail)]
    if isinstance(spec, str):
        expr = Expression(spec)
        cols: dict[str, pl.Expr] = {}
        problems = []
        parsed = {}
        for name in expr.names:
            col = need(name)
            p = parse_float(frame[col], decimal)
            parsed[name] = p.values.rename(name)
            cols[name] = pl.col(name)
            problems.append(
                (p.bad, "bad_number", col, frame[col], f"not a number, needed by derive.{target} = {spec!r} in {mapping_file}: fix the value")
            )
        data = pl.DataFrame(list(parsed.values())) if parsed else pl.DataFrame({"_": [0] * n})
        out = data.select(expr.to_polars(cols).alias(target)).to_series()
        if out.dtype != pl.Float64:
            out = out.cast(pl.Float64)
        if len(out) != n:  # an expression without any column is a constant
            out = pl.Series(target, [out[0]] * n, dtype=pl.Float64)
        nonfinite = (out.is_not_null() & ~out.is_finite()).fill_null(False)
        if len(out):
            out = out.set(nonfinite, None)  # type: ignore[arg-type]
        first = need(expr.names[0]) if expr.names else target
        problems.append(
            (nonfinite, "bad_derived", first, frame[first] if first in frame.columns else out,
             f"derive.{target} = {spec!r} of {mapping_file} cannot be computed for this row (division by zero?): fix the values")
        )
        return out, problems
    raise DataError(f"{where}: cannot be understood", hint="see docs/import-guide.md for the forms of derive")
