"""Readers: a file on disk -> a ``RawTable`` of text columns, exactly as the file holds them.

Readers never drop a data row: a CSV record with the wrong number of fields is kept (padded
or cut) and flagged so that validation quarantines it with reason ``bad_row``.  Blank lines
(and fully empty spreadsheet rows) are not rows.

``row_number`` of a row is where a person finds it: for CSV the line of the file where the
record starts minus one (the header is line 1, so row_number 1 is line 2); for Excel the
sheet row minus the header row; for Parquet the 1-based position.

A file is opened as a ``Source``: what the reader learnt once (headers, delimiter, decimal
separator, the number of rows when known) and its rows as ``RawTable`` batches of at most
``batch_rows`` rows.  Plain UTF-8 CSV and Parquet files are read batch by batch from disk,
so memory does not grow with the file; other files (the careful CSV reader, Excel) are read
whole and handed out in slices of that table.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

import numpy as np
import polars as pl

from retentio.errors import DataError

DELIMITERS = (",", ";", "\t")
_DELIM_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
_CHUNK = 10_000
_SCAN_BLOCK = 16 << 20  # bytes of a plain CSV file checked at once (16 MB: the fastest on a 2-core machine)


@dataclass
class RawTable:
    headers: list[str]
    frame: pl.DataFrame  # one String column per header (names made unique), null = empty
    row_numbers: Sequence[int]
    bad_rows: dict[int, str] = field(default_factory=dict)  # row index -> what is wrong with its shape
    decimal: str = "dot"  # how text numbers of this file are read: "dot" or "comma"
    notes: list[str] = field(default_factory=list)  # what the reader decided (encoding, delimiter ...)

    @property
    def num_rows(self) -> int:
        return self.frame.height

    def slice(self, start: int, length: int) -> RawTable:
        stop = min(start + length, self.num_rows)
        bad = {i - start: why for i, why in self.bad_rows.items() if start <= i < stop}
        return RawTable(self.headers, self.frame.slice(start, stop - start), self.row_numbers[start:stop], bad, self.decimal, self.notes)

    def take(self, indexes: np.ndarray) -> RawTable:
        """The rows at these indexes."""
        bad = {j: self.bad_rows[i] for j, i in enumerate(indexes.tolist()) if i in self.bad_rows}
        numbers = [self.row_numbers[i] for i in indexes.tolist()]
        return RawTable(self.headers, self.frame[indexes], numbers, bad, self.decimal, self.notes)


@dataclass
class Source:
    """An opened file: what its reader decided once, and its rows batch by batch."""

    headers: list[str]
    columns: pl.DataFrame  # no rows: the frame's column names and types
    decimal: str
    notes: list[str]
    total: int | None  # rows of the file, when known before reading them
    batches: Callable[[], Iterator[RawTable]]  # each call reads the rows again, in file order
    rows: Callable[[np.ndarray], RawTable]  # the rows at these (sorted) indexes, reading only what holds them

    def read_all(self) -> RawTable:
        """Every row in one table."""
        return self.concat(list(self.batches()))

    def concat(self, parts: list[RawTable]) -> RawTable:
        if len(parts) == 1:
            return parts[0]
        numbers: list[int] = []
        bad: dict[int, str] = {}
        for part in parts:
            bad.update({len(numbers) + i: why for i, why in part.bad_rows.items()})
            numbers += part.row_numbers
        frame = pl.concat([part.frame for part in parts]) if parts else self.columns
        return RawTable(self.headers, frame, numbers, bad, self.decimal, self.notes)


def whole(raw: RawTable, batch_rows: int) -> Source:
    """A file read whole (careful CSV reader, Excel), handed out in slices."""

    def batches() -> Iterator[RawTable]:
        for start in range(0, raw.num_rows, batch_rows):
            yield raw.slice(start, batch_rows)

    return Source(raw.headers, raw.frame.clear(), raw.decimal, raw.notes, raw.num_rows, batches, raw.take)


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


def open_csv(
    path: Path,
    *,
    batch_rows: int,
    delimiter: str | None = None,
    encoding: str | None = None,
    decimal: str | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> Source:
    """A plain file streams from disk (``_plain_csv``); any other goes through the careful reader."""
    plain = _plain_csv(path, batch_rows=batch_rows, delimiter=delimiter, encoding=encoding, decimal=decimal)
    if plain is not None:
        return plain
    return whole(_read_careful(path, delimiter=delimiter, encoding=encoding, decimal=decimal, progress=progress), batch_rows)


def read_csv(
    path: Path,
    *,
    delimiter: str | None = None,
    encoding: str | None = None,
    decimal: str | None = None,
    progress: Callable[[int, int | None], None] | None = None,
    careful: bool = False,
) -> RawTable:
    """The whole file as one table (billing-system exports are translated whole)."""
    if careful:
        return _read_careful(path, delimiter=delimiter, encoding=encoding, decimal=decimal, progress=progress)
    return open_csv(
        path, batch_rows=sys.maxsize, delimiter=delimiter, encoding=encoding, decimal=decimal, progress=progress
    ).read_all()


def _read_careful(
    path: Path,
    *,
    delimiter: str | None,
    encoding: str | None,
    decimal: str | None,
    progress: Callable[[int, int | None], None] | None,
) -> RawTable:
    data = path.read_bytes()
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


def _plain_csv(
    path: Path, *, batch_rows: int, delimiter: str | None, encoding: str | None, decimal: str | None
) -> Source | None:
    """The common file, read in batches straight from disk: UTF-8, no quotes, one record per
    line, no blank line, every line as wide as the header.  Each line is then one row and
    Polars' CSV reader gives the same table as the careful line-by-line reader below, at a
    fraction of its time and memory (that reader holds every field as a Python string).  A
    first pass over the bytes checks all this, counts the rows and notes where each batch
    starts; None whenever the file is not plain, and the careful reader takes over (exact
    line numbers of multi-line records, ragged lines, other encodings)."""
    if encoding not in (None, "utf-8", "utf8"):
        return None
    with path.open("rb") as f:
        head = f.read(200_000)
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):
            return None
        bom = 3 if head.startswith(b"\xef\xbb\xbf") else 0
        cut = head.rfind(b"\n")
        try:
            sample = head[bom : cut + 1 if cut > bom else len(head)].decode("utf-8")
        except UnicodeDecodeError:
            return None
        delim = delimiter or sniff_delimiter(sample)
        header_end = head.find(b"\n", bom)
        if len(delim.encode()) != 1 or (header_end < 0 and len(head) == 200_000):
            return None  # a delimiter of several bytes, or a header line longer than the sample
        header_end = len(head) if header_end < 0 else header_end
        header = head[bom:header_end].decode("utf-8").removesuffix("\r")
        if "\r" in header or '"' in header or not header.strip():
            return None
        headers = [h.strip().lstrip("\ufeff").strip() for h in header.split(delim)]
        if len(set(headers)) != len(headers) or not all(headers):
            return None
        bounds = _plain_lines(f, header_end + 1, ord(delim), len(headers), batch_rows)
    if bounds is None:
        return None
    starts, total, end = bounds
    dec = decimal or ("comma" if delim in (";", "\t") else "dot")
    used = "utf-8 (with BOM)" if bom else "utf-8"
    notes = [f"encoding {used}", f"delimiter {_DELIM_NAMES.get(delim, repr(delim))}", f"decimal {dec}"]

    def batch(f, k: int) -> RawTable:
        f.seek(starts[k])
        data = f.read((starts[k + 1] if k + 1 < len(starts) else end) - starts[k])
        frame = pl.read_csv(
            data, has_header=False, new_columns=headers, separator=delim, infer_schema=False,
            quote_char=None, encoding="utf8", empty_string_is_null=False,
        )
        first = k * batch_rows
        if frame.height != min(batch_rows, total - first):
            raise DataError(
                f"{path}: internal error: {frame.height} rows read at row {first + 1}",
                hint="this is a bug in Retentio; please report it with the file",
            )
        return RawTable(headers, frame, range(first + 1, first + frame.height + 1), {}, dec, notes)

    def batches() -> Iterator[RawTable]:
        with path.open("rb") as f:
            for k in range(len(starts)):
                yield batch(f, k)

    def rows(indexes: np.ndarray) -> RawTable:
        with path.open("rb") as f:
            held = indexes // batch_rows
            return source.concat([batch(f, k).take(indexes[held == k] - k * batch_rows) for k in np.unique(held).tolist()])

    columns = pl.DataFrame({h: pl.Series(h, [], dtype=pl.String) for h in headers})
    source = Source(headers, columns, dec, notes, total, batches, rows)
    return source


def _plain_lines(f, offset: int, delim: int, width: int, batch_rows: int) -> tuple[list[int], int, int] | None:
    """Check the data lines from byte ``offset`` on, block by block.  Returns the byte offset
    where each batch starts, the number of rows and the end of the data; None when a line is
    not plain."""
    f.seek(offset)
    starts: list[int] = []
    rows = 0
    tail = b""
    while True:
        chunk = f.read(_SCAN_BLOCK)
        block = tail + chunk
        if chunk:
            cut = block.rfind(b"\n") + 1
            block, tail = block[:cut], block[cut:]
        elif block:
            block, tail = block + b"\n", b""  # the last line has no line end
        if block:
            line_starts = _plain_block(block, delim, width)
            if line_starts is None:
                return None
            first = -rows % batch_rows  # the block's first line that starts a batch
            starts += (offset + line_starts[first::batch_rows]).tolist()
            rows += len(line_starts)
            offset += len(block)
        if not chunk:
            return starts, rows, offset


def _plain_block(block: bytes, delim: int, width: int) -> np.ndarray | None:
    """Where each line of ``block`` (whole lines) starts, or None when one is not plain."""
    if b'"' in block or (b"\r" in block and block.count(b"\r") != block.count(b"\r\n")):
        return None  # quotes, or a carriage return that does not end a line
    if not block.isascii():
        try:
            block.decode("utf-8")
        except UnicodeDecodeError:
            return None
    a = np.frombuffer(block, np.uint8)
    ends = np.flatnonzero(a == 10)
    starts = np.concatenate(([0], ends[:-1] + 1))
    length = ends - starts - (a[np.maximum(ends - 1, 0)] == 13)
    if (length <= 0).any():
        return None  # a blank line
    fields = np.diff(np.searchsorted(np.flatnonzero(a == delim), ends), prepend=0) + 1
    if (fields != width).any():
        return None  # a line with more or fewer fields than the header (a bad row)
    # A line of empty fields (",,,") is no row to the careful reader: leave such files to it.
    # Only a line whose first field starts empty or blank can be one (rare: checked then).
    first = a[starts]
    if ((first <= 32) | (first == delim)).any():
        content = (a > 32) & (a < 127) & (a != delim)
        if not np.logical_or.reduceat(content, starts).all():
            return None
    return starts


# -- Parquet -----------------------------------------------------------------------------


def open_parquet(path: Path, *, batch_rows: int) -> Source:
    """Row batches straight from the file (pyarrow reads one row group's columns at a time)."""
    import pyarrow.parquet as pq

    def damaged(exc: Exception) -> DataError:
        return DataError(f"{path}: not a readable Parquet file ({exc})", hint="check the file, or import it with kind=csv")

    try:
        with pq.ParquetFile(path) as pf:
            schema, total = pf.schema_arrow, pf.metadata.num_rows
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise damaged(exc) from None
    headers = [h.strip() for h in schema.names]

    def batches() -> Iterator[RawTable]:
        with pq.ParquetFile(path) as pf:
            reader = pf.iter_batches(batch_size=batch_rows)
            first = 0
            while True:
                try:
                    batch = next(reader, None)
                except Exception as exc:
                    raise damaged(exc) from None
                if batch is None:
                    return
                frame = _parquet_frame(batch, headers)
                yield RawTable(headers, frame, range(first + 1, first + frame.height + 1), {}, "dot", ["parquet"])
                first += frame.height

    def rows(indexes: np.ndarray) -> RawTable:
        parts = []
        first = 0
        for batch in batches():  # read in turn, up to the batch holding the last row wanted
            held = indexes[(indexes >= first) & (indexes < first + batch.num_rows)]
            if held.size:
                parts.append(batch.take(held - first))
            first += batch.num_rows
            if first > indexes[-1]:
                break
        return source.concat(parts)

    source = Source(headers, _parquet_frame(schema.empty_table(), headers), "dot", ["parquet"], total, batches, rows)
    return source


def _parquet_frame(data, headers: list[str]) -> pl.DataFrame:
    df = pl.from_arrow(data)
    assert isinstance(df, pl.DataFrame)
    cols = []
    for name in df.columns:
        s = df[name]
        if isinstance(s.dtype, (pl.List, pl.Struct, pl.Array)):
            s = s.map_elements(repr, return_dtype=pl.String)
        cols.append(s)
    # Typed Parquet columns keep their type; validation reads them without re-parsing text.
    return pl.DataFrame({n: s.rename(n) for n, s in zip(_unique(headers), cols)})


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
