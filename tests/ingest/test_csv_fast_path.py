"""The plain-CSV path (read from disk in batches, by Polars) must read a plain file exactly
as the careful line-by-line reader does, in any batch size, and must step aside for files
that are not plain."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from retentio.ingest.readers import _plain_csv, read_csv

CASES = Path(__file__).resolve().parents[1] / "cases" / "ingest"

PLAIN = (
    "subscription_id,account_id,plan,start_date,end_date,amount,billing_period_months,currency,is_trial\n"
    "s1,a1,pro annual,2024-01-15,,1200,12,EUR,false\n"
    "s2,a2,basic,2024-02-01,2024-05-01,29.9,1,USD,true\n"
    "s3,a3,basic,2024-02-01,,29.9,1,USD,true\n"
)


def same(a, b):
    assert a.headers == b.headers
    assert a.frame.equals(b.frame)
    assert list(a.row_numbers) == list(b.row_numbers)
    assert a.bad_rows == b.bad_rows
    assert a.decimal == b.decimal


def plain(f: Path, batch_rows: int = sys.maxsize):
    return _plain_csv(f, batch_rows=batch_rows, delimiter=None, encoding=None, decimal=None)


@pytest.mark.parametrize("content,encoding", [
    (PLAIN, "utf-8"),
    ("\ufeff" + PLAIN, "utf-8"),                                    # BOM
    (PLAIN.replace(",", ";").replace("29.9", "29,9"), "utf-8"),    # French export: ; and decimal comma
    (PLAIN.replace("\n", "\r\n"), "utf-8"),                         # Windows line ends
    (PLAIN.rstrip("\n"), "utf-8"),                                  # no final newline
    (PLAIN.replace("a1", "café"), "utf-8"),                         # UTF-8 beyond ASCII
    (PLAIN + ",a4,basic,2024-01-01,,1,1,EUR,false\n", "utf-8"),    # an empty first field (a row all the same)
])
def test_fast_path_reads_plain_files_like_the_careful_reader(tmp_path, content, encoding):
    f = tmp_path / "plain.csv"
    f.write_bytes(content.encode(encoding))
    assert plain(f) is not None
    same(read_csv(f), read_csv(f, careful=True))


@pytest.mark.parametrize("batch_rows", [1, 2, 3])
def test_batches_hold_the_files_rows_in_order(tmp_path, batch_rows):
    f = tmp_path / "plain.csv"
    f.write_bytes(PLAIN.replace("\n", "\r\n").rstrip("\r\n").encode())
    source = plain(f, batch_rows)
    batches = list(source.batches())
    # 3 data rows: batches of 1 -> 3 batches, of 2 -> 2 (2 + 1), of 3 -> 1
    assert [b.num_rows for b in batches] == {1: [1, 1, 1], 2: [2, 1], 3: [3]}[batch_rows]
    assert source.total == 3
    assert [n for b in batches for n in b.row_numbers] == [1, 2, 3]
    assert [s for b in batches for s in b.frame["subscription_id"]] == ["s1", "s2", "s3"]
    assert batches[-1].frame["is_trial"].to_list()[-1] == "true"  # the last field without its line end
    same(source.read_all(), read_csv(f, careful=True))


def test_a_file_of_headers_only_has_no_batch(tmp_path):
    f = tmp_path / "empty.csv"
    f.write_bytes(PLAIN.splitlines()[0].encode())
    source = plain(f)
    assert source.total == 0 and list(source.batches()) == []
    same(source.read_all(), read_csv(f, careful=True))


@pytest.mark.parametrize("content,why", [
    (PLAIN + "\n\n", "blank lines"),
    (PLAIN + ",,,,,,,,\n", "a line of empty fields (the careful reader skips it)"),
    (PLAIN + " ,,, ,,,,,\n", "a line of blank fields"),
    (PLAIN + 's5,a5,"pro, annual",2024-01-01,,1,1,EUR,false\n', "quotes (a quoted delimiter)"),
    (PLAIN + 's3,a3,"multi\nline",2024-01-01,,1,1,EUR,false\n', "a field spanning two lines"),
    (PLAIN + "s4,a4,basic\n", "a short line"),
    (PLAIN.replace("a2,basic", "a2\rbasic"), "a bare carriage return"),
    (PLAIN.replace("a1", "caf\xe9"), "Latin-1 bytes"),
])
def test_fast_path_steps_aside_when_the_file_is_not_plain(tmp_path, content, why):
    f = tmp_path / "odd.csv"
    f.write_bytes(content.encode("latin-1" if why == "Latin-1 bytes" else "utf-8"))
    assert plain(f) is None, why


def test_a_line_of_empty_fields_is_no_row(tmp_path):
    f = tmp_path / "gap.csv"
    f.write_bytes((PLAIN + ",,,,,,,,\n" + "s9,a9,pro,2024-01-01,,1,1,EUR,false\n").encode())
    raw = read_csv(f)
    # by hand: rows s1 s2 s3 on lines 2-4, the empty line 5 is skipped, s9 on line 6 = row 5
    assert raw.frame["subscription_id"].to_list() == ["s1", "s2", "s3", "s9"]
    assert list(raw.row_numbers) == [1, 2, 3, 5]


def test_sample_exports_read_the_same_either_way():
    for f in sorted(CASES.glob("*.csv")):
        same(read_csv(f), read_csv(f, careful=True))
