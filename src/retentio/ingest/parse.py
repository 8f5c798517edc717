"""Vectorised parsers: text columns -> canonical types, with a mask of the values that failed.

Every parser takes a polars Series (text as read, or already typed when the source was a
Parquet/derived column) and returns ``Parsed(values, bad, ambiguous)``:

- ``values``: the canonical-typed Series, null where the input was empty or could not be read;
- ``bad``: True where a non-empty value could not be read (the row goes to quarantine);
- ``ambiguous``: dates only, True where a day/month date was met while ``date_order = "iso"``.

No per-row Python: 50 000 rows parse in milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

TRUE_WORDS = ("true", "t", "yes", "y", "1", "oui", "vrai", "o")
FALSE_WORDS = ("false", "f", "no", "n", "0", "non", "faux")

_NUM_RE = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
# 1.234.567,89 (dots grouping thousands, comma decimal) and 1,234,567.89 (the other way round)
_DOT_THOUSANDS = r"^[+-]?\d{1,3}(\.\d{3})+,\d*$"
_COMMA_THOUSANDS = r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$"

# A date, optionally followed by a time (kept only by datetime columns).
_TIME = r"(?:[T ](?P<time>\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?)\s*(?P<tz>Z|UTC|[+-]\d{2}:?\d{2})?)?"
_ISO = r"^(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})" + _TIME + r"$"
_DAY_MONTH = r"^(?P<a>\d{1,2})[-/.](?P<b>\d{1,2})[-/.](?P<y>\d{4})" + _TIME + r"$"


@dataclass
class Parsed:
    values: pl.Series
    bad: pl.Series
    ambiguous: pl.Series | None = None


def _frame(s: pl.Series) -> pl.DataFrame:
    return s.rename("s").to_frame()


def clean_text(s: pl.Series) -> pl.Series:
    """Strip blanks; empty text becomes null (an empty cell is a missing value)."""
    if s.dtype != pl.String:
        s = s.cast(pl.String)
    t = s.str.strip_chars()
    return t.set(t == "", None) if len(t) else t  # type: ignore[arg-type]


def _false(n: int) -> pl.Series:
    return pl.Series("bad", [False] * n, dtype=pl.Boolean)


def parse_string(s: pl.Series) -> Parsed:
    if s.dtype == pl.Boolean:
        s = s.cast(pl.String).str.to_lowercase()
    v = clean_text(s)
    return Parsed(v, _false(len(s)))


def parse_float(s: pl.Series, decimal: str = "dot") -> Parsed:
    """Numbers: ``1234.56``, ``-12``, ``1e3``; spaces (also non-breaking) group thousands.

    ``decimal="comma"`` (semicolon/tab CSV files, French exports): ``1 234,56`` and
    ``1.234,56`` read 1234.56, ``1234.56`` still reads 1234.56.  ``decimal="dot"``:
    ``1,234.56`` reads 1234.56 but ``12,5`` is refused (set ``decimal: comma`` in a mapping file).
    """
    if s.dtype.is_numeric():
        v = s.cast(pl.Float64)
        bad = v.is_not_null() & ~v.is_finite()
        return Parsed(v.set(bad, None) if len(v) else v, bad.fill_null(False))  # type: ignore[arg-type]
    if s.dtype == pl.Boolean:
        s = s.cast(pl.String)
    t = clean_text(s)
    e = pl.col("s").str.replace_all(r"\s", "")
    if decimal == "comma":
        e = pl.when(e.str.contains(_DOT_THOUSANDS)).then(e.str.replace_all(".", "", literal=True)).otherwise(e)
        e = e.str.replace(",", ".", literal=True)
    else:
        e = pl.when(e.str.contains(_COMMA_THOUSANDS)).then(e.str.replace_all(",", "", literal=True)).otherwise(e)
    out = _frame(t).select(
        pl.when(e.str.contains(_NUM_RE)).then(e.cast(pl.Float64, strict=False)).alias("v")
    ).to_series()
    out = pl.Series("v", out).set(out.is_not_null() & ~out.is_finite(), None) if len(out) else out  # type: ignore[arg-type]
    bad = (t.is_not_null() & out.is_null()).fill_null(False)
    return Parsed(out, bad)


def parse_int(s: pl.Series, decimal: str = "dot") -> Parsed:
    """Whole numbers; ``12`` and ``12.0`` read 12, ``1.5`` is refused."""
    f = parse_float(s, decimal)
    v = f.values
    integral = (v.floor() == v) & (v.abs() < 2**53)
    bad = f.bad | (v.is_not_null() & ~integral.fill_null(False))
    ints = v.set(bad, None).cast(pl.Int64) if len(v) else v.cast(pl.Int64)  # type: ignore[arg-type]
    return Parsed(ints, bad.fill_null(False))


def parse_bool(s: pl.Series) -> Parsed:
    """true/false, yes/no, 1/0, t/f, y/n and French oui/non, vrai/faux (any case)."""
    if s.dtype == pl.Boolean:
        return Parsed(s, _false(len(s)))
    if s.dtype.is_numeric():
        s = s.cast(pl.Int64, strict=False).cast(pl.String)
    t = clean_text(s).str.to_lowercase()
    out = _frame(t).select(
        pl.when(pl.col("s").is_in(TRUE_WORDS)).then(True).when(pl.col("s").is_in(FALSE_WORDS)).then(False)
        .otherwise(None).cast(pl.Boolean).alias("v")
    ).to_series()
    return Parsed(out, (t.is_not_null() & out.is_null()).fill_null(False))


def _date_parts(t: pl.Series, order: str) -> pl.DataFrame:
    """Split text dates into y/m/d/time/tz strings plus a flag for day-month dates."""
    iso = t.str.extract_groups(_ISO).struct.unnest()
    dm = t.str.extract_groups(_DAY_MONTH).struct.unnest()
    is_dm = dm["y"].is_not_null()
    if order == "mdy":
        month, day = dm["a"], dm["b"]
    else:  # dmy (and iso, where these rows are refused as ambiguous anyway)
        month, day = dm["b"], dm["a"]
    return pl.DataFrame(
        {
            "y": iso["y"].fill_null(dm["y"]),
            "m": iso["m"].fill_null(month),
            "d": iso["d"].fill_null(day),
            "time": iso["time"].fill_null(dm["time"]),
            "tz": iso["tz"].fill_null(dm["tz"]),
            "is_dm": is_dm,
        }
    )


def _to_date(parts: pl.DataFrame) -> pl.Series:
    return parts.select(
        pl.concat_str([pl.col("y"), pl.col("m").str.zfill(2), pl.col("d").str.zfill(2)], separator="-")
        .str.strptime(pl.Date, "%Y-%m-%d", strict=False)
        .alias("v")
    ).to_series()


def parse_date(s: pl.Series, order: str = "iso", fmt: str | None = None) -> Parsed:
    """Dates: ISO ``2024-01-15`` (``2024/01/15``; a time after it is ignored), and day-month
    dates ``15/01/2024`` ``01/15/2024`` ``15.01.2024`` read with ``order`` (dmy or mdy).

    With ``order="iso"`` every day-month date is *ambiguous* (refused, never guessed), even
    when only one reading is valid: a file holding 25/12/2024 also holds 03/04/2024.
    ``fmt`` (a strptime format from a mapping file) replaces the automatic reading.
    """
    if s.dtype == pl.Date:
        return Parsed(s, _false(len(s)), _false(len(s)))
    if isinstance(s.dtype, pl.Datetime):
        return Parsed(s.dt.date(), _false(len(s)), _false(len(s)))
    t = clean_text(s)
    if fmt:
        v = t.str.strptime(pl.Date, fmt, strict=False) if len(t) else t.cast(pl.Date)
        return Parsed(v, (t.is_not_null() & v.is_null()).fill_null(False), _false(len(s)))
    parts = _date_parts(t, order)
    v = _to_date(parts)
    ambiguous = parts["is_dm"].fill_null(False) if order == "iso" else _false(len(s))
    if order == "iso" and len(v):
        v = v.set(ambiguous, None)  # type: ignore[arg-type]
    bad = (t.is_not_null() & v.is_null() & ~ambiguous).fill_null(False)
    return Parsed(v, bad, ambiguous)


def parse_datetime(s: pl.Series, order: str = "iso", fmt: str | None = None) -> Parsed:
    """Timestamps, stored in UTC without zone: ``2024-03-05T09:12:00``, ``2024-03-05 09:12``,
    ``...Z``, ``...+01:00`` (converted to UTC), fractions of seconds; a bare date is midnight.
    Day-month forms follow the date rules."""
    if isinstance(s.dtype, pl.Datetime):
        v = s.dt.convert_time_zone("UTC").dt.replace_time_zone(None) if s.dtype.time_zone else s  # type: ignore[union-attr]
        return Parsed(v.cast(pl.Datetime("us")), _false(len(s)), _false(len(s)))
    if s.dtype == pl.Date:
        return Parsed(s.cast(pl.Datetime("us")), _false(len(s)), _false(len(s)))
    t = clean_text(s)
    if fmt:
        v = t.str.strptime(pl.Datetime("us"), fmt, strict=False) if len(t) else t.cast(pl.Datetime("us"))
        return Parsed(v, (t.is_not_null() & v.is_null()).fill_null(False), _false(len(s)))
    parts = _date_parts(t, order)
    day = _to_date(parts)
    tm = parts["time"].str.extract_groups(
        r"^(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<se>\d{2})(?:[.,](?P<fr>\d{1,9}))?)?$"
    ).struct.unnest()
    tz = parts["tz"].str.extract_groups(r"^(?P<sign>[+-])(?P<th>\d{2}):?(?P<tm>\d{2})$").struct.unnest()
    frame = pl.DataFrame(
        {
            "day": day,
            "has_time": parts["time"].is_not_null(),
            "h": tm["h"].cast(pl.Int64, strict=False),
            "mi": tm["mi"].cast(pl.Int64, strict=False),
            "se": tm["se"].cast(pl.Int64, strict=False).fill_null(0),
            "us": tm["fr"].str.slice(0, 6).str.pad_end(6, "0").cast(pl.Int64, strict=False).fill_null(0),
            "off": (
                pl.Series(tz["th"]).cast(pl.Int64, strict=False) * 60 + pl.Series(tz["tm"]).cast(pl.Int64, strict=False)
            )
            * pl.Series(tz["sign"]).replace_strict({"+": 1, "-": -1}, default=None, return_dtype=pl.Int64),
        }
    )
    v = frame.select(
        pl.when(pl.col("day").is_null())
        .then(None)
        .when(~pl.col("has_time"))
        .then(pl.col("day").cast(pl.Datetime("us")))
        .when((pl.col("h") < 24) & (pl.col("mi") < 60) & (pl.col("se") < 60))
        .then(
            pl.col("day").cast(pl.Datetime("us"))
            + pl.duration(
                hours=pl.col("h"),
                minutes=pl.col("mi") - pl.col("off").fill_null(0),
                seconds=pl.col("se"),
                microseconds=pl.col("us"),
            )
        )
        .otherwise(None)
        .cast(pl.Datetime("us"))
        .alias("v")
    ).to_series()
    ambiguous = parts["is_dm"].fill_null(False) if order == "iso" else _false(len(s))
    if order == "iso" and len(v):
        v = v.set(ambiguous, None)  # type: ignore[arg-type]
    bad = (t.is_not_null() & v.is_null() & ~ambiguous).fill_null(False)
    return Parsed(v, bad, ambiguous)
