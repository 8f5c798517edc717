"""Readers: a file on disk -> a ``RawTable`` of text columns, exactly as the file holds them.

Readers never drop a data row: a CSV record with the wrong number of fields is kept (padded
or cut) and flagged so that validation quarantines it with reason ``bad_row``.  Blank lines
(and fully empty spreadsheet rows) are not rows.

``row_number`` of a row is where a person finds it: for CSV the line of the file where the
record starts minus one (the header is line 1, so row_number 1 is line 2); for Excel the
sheet row minus the header row; for Parquet the 1-based position.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

import polars as pl

from retentio.errors import DataError

DELIMITERS = (",", ";", "\t")
_DELIM_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
_CHUNK = 10_000


@dataclass
class RawTable:
    headers: list[str]
    frame: pl.DataFrame  # one String column per header (names made unique), null = empty
    row_numbers: list[int]
    bad_rows: dict[int, str] = field(default_factory=dict)  # row index -> what is wrong with its shape
    decimal: str = "dot"  # how text numbers of this file are read: "dot" or "comma"
    notes: list[str] = field(default_factory=list)  # what the reader decided (encoding, delimiter ...)

    @property
    def num_rows(self) -> int:
        return self.frame.height


def check_file(path: Path) -> None:
    if not path.exists():
        raise DataError(f"{path}: no such file", hint="check the path (relative paths start from the current folder)")
    if path.is_dir():
        raise DataError(f"{path}: is a folder, not a file", hint="give the path of one file to import")
    try:
        size = path.stat().st_size
        with path.open("rb"):
            pass
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror})", hint="check the file's permissions") from None
    if size == 0:
        raise DataError(
            f"{path}: the file is empty (0 bytes, not even a header line)",
            hint="export the file again; a file with only a header line imports 0 rows",
        )


def _unique(headers: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for h in headers:
        n = seen.get(h, 0)
        seen[h] = n + 1
        out.append(h if n == 0 else f"{h}__{n + 1}")
    return out


def _frame(headers: list[str], columns: list[list[str | None]]) -> pl.DataFrame:
    headers[:] = [h if h else f"column_{j + 1}" for j, h in enumerate(headers)]  # unnamed columns
    names = _unique(headers)
    return pl.DataFrame({n: pl.Series(n, c, dtype=pl.String) for n, c in zip(names, columns)})


# -- CSV ---------------------------------------------------------------------------------


def decode(data: bytes, path: Path, encoding: str | None = None) -> tuple[str, str]:
    """Bytes -> text and the name of the encoding used.

    UTF-8 with or without BOM first, UTF-16 when it has a BOM; if the bytes are not valid
    UTF-8 the file is read as Windows-1252 (Latin-1 plus the euro sign and curly quotes),
    falling back to strict ISO-8859-1 for the few bytes Windows-1252 leaves undefined.
    """
    if encoding:
        try:
            return data.decode(encoding), encoding
        except (UnicodeDecodeError, LookupError) as exc:
            raise DataError(f"{path}: cannot be read as {encoding} ({exc})", hint="fix `encoding:` in the mapping file") from None
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict"), "utf-8 (with BOM)"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "latin-1 (windows-1252)"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def sniff_delimiter(text: str) -> str:
    """The candidate (, ; tab) giving the header most fields while data lines agree with it."""
    sample_lines = [ln for ln in text[:200_000].splitlines()[:50] if ln.strip()]
    if not sample_lines:
        return ","
    sample = "\n".join(sample_lines)
    scored = []
    for d in DELIMITERS:
        rows = list(csv.reader(io.StringIO(sample), delimiter=d))
        width = len(rows[0])
        data = rows[1:]
        agree = sum(1 for r in data if len(r) == width) / len(data) if data else 1.0
        if width > 1:
            scored.append((agree >= 0.9, width, agree, d))
    if not scored:
        return ","  # one column: whatever the delimiter, the header check will say what is missing
    return max(scored)[3]


def read_csv(
    path: Path,
    *,
    delimiter: str | None = None,
    encoding: str | None = None,
    decimal: str | None = None,
    progress: Callable[[int, int | None], None] | None = None,
    careful: bool = False,
) -> RawTable:
    data = path.read_bytes()
    fast = None if careful else _read_plain_csv(data, delimiter=delimiter, encoding=encoding, decimal=decimal)
    if fast is not None:
        if progress:
            progress(fast.num_rows, fast.num_rows)
        return fast
    text, used = decode(data, path, encoding)
    if not text.strip():
        raise DataError(f"{path}: the file has no header line (only blank space)", hint="export the file again with its header")
    delim = delimiter or sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    header: list[str] | None = None
    rows: list[list[str]] = []
    starts: list[int] = []
    prev_line = 0
    try:
        for rec in reader:
            start = prev_line + 1
            prev_line = reader.line_num
            if not rec or all(not c.strip() for c in rec):
                continue  # blank line: not a row
            if header is None:
                header = rec
                header_line = start
                continue
            rows.append(rec)
            starts.append(start)
            if progress and len(rows) % _CHUNK == 0:
                progress(len(rows), None)
    except csv.Error as exc:
        raise DataError(
            f"{path}: line {reader.line_num}: the CSV cannot be parsed ({exc})",
            hint="check the quotes on that line, or export the file again",
        ) from None
    if header is None:
        raise DataError(f"{path}: the file has no header line", hint="the first line must name the columns")
    headers = [h.strip().lstrip("\ufeff").strip() for h in header]
    width = len(headers)
    bad: dict[int, str] = {}
    columns: list[list[str | None]] = [[] for _ in range(width)]
    for i, rec in enumerate(rows):
        if len(rec) != width:
            bad[i] = (
                f"found {len(rec)} fields where the header has {width}: check the delimiter "
                f"({_DELIM_NAMES[delim]}) and the quotes on line {starts[i]}"
            )
            rec = (rec + [""] * width)[:width]
        for j in range(width):
            columns[j].append(rec[j])
    frame = _frame(headers, columns)
    # Decimal comma: semicolon and tab files come from locales writing 1 234,56.
    dec = decimal or ("comma" if delim in (";", "\t") else "dot")
    notes = [f"encoding {used}", f"delimiter {_DELIM_NAMES.get(delim, repr(delim))}", f"decimal {dec}"]
    return RawTable(headers, frame, [s - header_line for s in starts], bad, dec, notes)


def _read_plain_csv(data: bytes, *, delimiter: str | None, encoding: str | None, decimal: str | None) -> RawTable | None:
    """The fast path for the common file: UTF-8, one record per line, no blank line, every
    line as wide as the header.  Polars' CSV reader then gives the same table as the
    line-by-line reader below, at a fraction of its time and memory (the line-by-line reader
    holds every field as a Python string).  Returns None whenever the file is not plain, and
    the careful reader takes over (exact line numbers of multi-line records, ragged lines,
    other encodings)."""
    if encoding not in (None, "utf-8", "utf8") or data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None
    bom = data.startswith(b"\xef\xbb\xbf")
    body = data[3:] if bom else data
    head = body[:200_000]
    cut = head.rfind(b"\n")
    try:
        sample = (head[: cut + 1] if cut > 0 else head).decode("utf-8")
    except UnicodeDecodeError:
        return None
    delim = delimiter or sniff_delimiter(sample)
    try:
        frame = pl.read_csv(
            body,
            separator=delim,
            has_header=True,
            infer_schema=False,
            quote_char='"',
            encoding="utf8",
            empty_string_is_null=False,
            raise_if_empty=True,
        )
    except Exception:  # noqa: BLE001 - any doubt: the careful reader decides and explains
        return None
    lines = body.count(b"\n") + (0 if body.endswith(b"\n") else 1)
    if (
        lines != frame.height + 1
        or b"\r" in body.replace(b"\r\n", b"")
        or b"\n\n" in body
        or b"\n\r\n" in body
        or body.startswith((b"\n", b"\r\n"))
    ):
        return None  # blank lines, multi-line fields or bare CR line ends: row numbers would drift
    # Polars pads a short line with empty fields, which the careful reader reports as a bad
    # row: count the delimiters of every line (exact when the file has no quotes at all).
    if b'"' in body or b"\x1f" in body:
        return None
    raw_lines = pl.read_csv(
        body, has_header=False, separator="\x1f", quote_char=None, infer_schema=False, new_columns=["line"]
    )["line"]
    if not (raw_lines.str.count_matches(delim, literal=True) == len(frame.columns) - 1).all():
        return None
    headers = [h.strip().lstrip("\ufeff").strip() for h in frame.columns]
    if len(set(headers)) != len(headers) or not all(headers):
        return None
    frame.columns = headers
    dec = decimal or ("comma" if delim in (";", "\t") else "dot")
    used = "utf-8 (with BOM)" if bom else "utf-8"
    notes = [f"encoding {used}", f"delimiter {_DELIM_NAMES.get(delim, repr(delim))}", f"decimal {dec}"]
    return RawTable(headers, frame, list(range(1, frame.height + 1)), {}, dec, notes)


# -- Parquet -----------------------------------------------------------------------------


def read_parquet(path: Path, **_: object) -> RawTable:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise DataError(f"{path}: not a readable Parquet file ({exc})", hint="check the file, or import it with --as csv") from None
    df = pl.from_arrow(table)
    assert isinstance(df, pl.DataFrame)
    headers = [h.strip() for h in df.columns]
    cols = []
    for name in df.columns:
        s = df[name]
        if isinstance(s.dtype, (pl.List, pl.Struct, pl.Array)):
            s = s.map_elements(repr, return_dtype=pl.String)
        cols.append(s)
    # Typed Parquet columns keep their type; validation reads them without re-parsing text.
    frame = pl.DataFrame({n: s.rename(n) for n, s in zip(_unique(headers), cols)})
    return RawTable(headers, frame, list(range(1, df.height + 1)), {}, "dot", ["parquet"])


# -- Excel -------------------------------------------------------------------------------


def _cell(v: object) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, datetime):
        return v.date().isoformat() if v.time() == time(0) else v.isoformat()
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 2**53 else repr(v)
    return str(v)


def read_xlsx(path: Path, *, sheet: str | None = None, decimal: str | None = None, **_: object) -> RawTable:
    import zipfile

    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
        raise DataError(
            f"{path}: not a readable .xlsx workbook ({exc})",
            hint="save it as .xlsx from Excel (older .xls files are not supported), or export a CSV",
        ) from None
    try:
        if sheet:
            if sheet not in wb.sheetnames:
                raise DataError(f"{path}: no sheet named {sheet!r}", hint="sheets: " + ", ".join(wb.sheetnames))
            ws = wb[sheet]
        else:
            ws = wb.worksheets[0]
        header: list[str] | None = None
        header_row = 0
        rows: list[list[str | None]] = []
        numbers: list[int] = []
        for r, values in enumerate(ws.iter_rows(values_only=True), start=1):
            cells = [_cell(v) for v in values]
            if all(c is None or not c.strip() for c in cells):
                continue
            if header is None:
                header = [(c or "").strip() for c in cells]
                while header and not header[-1]:
                    header.pop()
                header_row = r
                continue
            rows.append(cells)
            numbers.append(r - header_row)
    finally:
        wb.close()
    if not header:
        raise DataError(f"{path}: the sheet has no header row", hint="the first non-empty row must name the columns")
    width = len(header)
    bad: dict[int, str] = {}
    columns: list[list[str | None]] = [[] for _ in range(width)]
    for i, rec in enumerate(rows):
        extra = [c for c in rec[width:] if c is not None and c.strip()]
        if extra:
            bad[i] = f"has values beyond the last named column ({len(header)} columns): name that column or delete the values"
        rec = (rec + [None] * width)[:width]
        for j in range(width):
            columns[j].append(rec[j])
    return RawTable(header, _frame(header, columns), numbers, bad, decimal or "dot", [f"sheet {ws.title}"])
