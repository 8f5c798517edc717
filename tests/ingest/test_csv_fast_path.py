"""The fast CSV path (Polars) must read a plain file exactly as the careful line-by-line
reader does, and must step aside for files that are not plain."""

from __future__ import annotations

from pathlib import Path

import pytest

from retentio.ingest.readers import _read_plain_csv, read_csv

CASES = Path(__file__).resolve().parents[1] / "cases" / "ingest"

PLAIN = (
    "subscription_id,account_id,plan,start_date,end_date,amount,billing_period_months,currency,is_trial\n"
    "s1,a1,pro annual,2024-01-15,,1200,12,EUR,false\n"
    "s2,a2,basic,2024-02-01,2024-05-01,29.9,1,USD,true\n"
)


def same(a, b):
    assert a.headers == b.headers
    assert a.frame.equals(b.frame)
    assert a.row_numbers == b.row_numbers
    assert a.bad_rows == b.bad_rows
    assert a.decimal == b.decimal


@pytest.mark.parametrize("content,encoding", [
    (PLAIN, "utf-8"),
    ("\ufeff" + PLAIN, "utf-8"),                                    # BOM
    (PLAIN.replace(",", ";").replace("29.9", "29,9"), "utf-8"),    # French export: ; and decimal comma
    (PLAIN.replace("\n", "\r\n"), "utf-8"),                         # Windows line ends
    (PLAIN.rstrip("\n"), "utf-8"),                                  # no final newline
])
def test_fast_path_reads_plain_files_like_the_careful_reader(tmp_path, content, encoding):
    f = tmp_path / "plain.csv"
    f.write_bytes(content.encode(encoding))
    assert _read_plain_csv(f.read_bytes(), delimiter=None, encoding=None, decimal=None) is not None
    same(read_csv(f), read_csv(f, careful=True))


@pytest.mark.parametrize("content,why", [
    (PLAIN + "\n\n", "blank lines"),
    (PLAIN + 's5,a5,"pro, annual",2024-01-01,,1,1,EUR,false\n', "quotes (a quoted delimiter)"),
    (PLAIN + 's3,a3,"multi\nline",2024-01-01,,1,1,EUR,false\n', "a field spanning two lines"),
    (PLAIN + "s4,a4,basic\n", "a short line"),
    (PLAIN.replace("a1", "caf\xe9"), "Latin-1 bytes"),
])
def test_fast_path_steps_aside_when_the_file_is_not_plain(tmp_path, content, why):
    f = tmp_path / "odd.csv"
    f.write_bytes(content.encode("latin-1" if why == "Latin-1 bytes" else "utf-8"))
    assert _read_plain_csv(f.read_bytes(), delimiter=None, encoding=None, decimal=None) is None, why


def test_sample_exports_read_the_same_either_way():
    for f in sorted(CASES.glob("*.csv")):
        same(read_csv(f), read_csv(f, careful=True))
