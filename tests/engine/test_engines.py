"""The engine layer: the same narwhals expression gives the same result on every engine."""

from datetime import date

import narwhals as nw


def test_same_expression_same_result_on_every_engine(make_engine):
    eng = make_engine(
        {
            "subscriptions": [
                {"subscription_id": "s1", "account_id": "a", "plan": "p", "start_date": date(2024, 1, 15),
                 "end_date": None, "amount": 90.0, "billing_period_months": 3, "currency": "EUR", "is_trial": False},
                {"subscription_id": "s2", "account_id": "a", "plan": "p", "start_date": date(2024, 3, 1),
                 "end_date": date(2024, 6, 1), "amount": 600.0, "billing_period_months": 12, "currency": "EUR",
                 "is_trial": False},
                {"subscription_id": "s3", "account_id": "b", "plan": "p", "start_date": date(2023, 12, 31),
                 "end_date": None, "amount": 10.0, "billing_period_months": 1, "currency": "EUR", "is_trial": True},
            ]
        }
    )
    subs = eng.table("subscriptions")
    out = eng.collect(
        subs.filter(~nw.col("is_trial"))
        .with_columns(mrr=nw.col("amount") / nw.col("billing_period_months"),
                      month=(nw.col("start_date").dt.year().cast(nw.Int64) * 12 + nw.col("start_date").dt.month().cast(nw.Int64) - 1))
        .group_by("account_id")
        .agg(nw.col("mrr").sum(), nw.col("month").min(), nw.len().cast(nw.Int64).alias("lines"))
        .sort("account_id")
    )
    # By hand: 90 EUR a quarter = 30 MRR; 600 EUR a year = 50 MRR; account a: 80 MRR, 2 lines,
    # first month January 2024 = 2024 * 12 + 0.
    assert out.to_dicts() == [{"account_id": "a", "mrr": 80.0, "month": 2024 * 12, "lines": 2}]


def test_materialize_reuses_a_result(make_engine):
    eng = make_engine({"fx_rates": [{"date": date(2024, 1, 1), "currency": "USD", "rate": 0.9}]})
    m = eng.materialize(eng.table("fx_rates").with_columns(double=nw.col("rate") * 2))
    assert eng.collect(m.select("double")).to_dicts() == [{"double": 1.8}]
    assert eng.collect(m.select("currency")).to_dicts() == [{"currency": "USD"}]


def test_empty_tables_keep_their_schema(make_engine):
    eng = make_engine({})
    out = eng.collect(eng.table("subscriptions").select("account_id", "amount"))
    assert out.shape == (0, 2)
    assert out.columns == ["account_id", "amount"]


def test_duckdb_works_within_its_memory_limit_and_prints_nothing(capfd):
    """A group-by larger than the memory limit spills to the engine's temporary folder (and
    gives the exact answer); no progress bar reaches stdout (it would corrupt JSON output);
    the folder is gone when the engine closes."""
    import os

    import narwhals as nw

    from retentio.engine.duckdb_engine import DuckDBEngine

    eng = DuckDBEngine(lambda name: None, memory_limit="64MB")
    assert eng.con.sql("SELECT current_setting('memory_limit')").fetchall()[0][0] in ("61.0 MiB", "64.0 MiB", "61.0 MB")
    folder = eng.con.sql("SELECT current_setting('temp_directory')").fetchall()[0][0]
    lf = nw.from_native(eng.con.sql("SELECT range % 4000000 AS k FROM range(12000000)"))
    out = eng.collect(lf.group_by("k").agg(nw.len().alias("n")).select(nw.len().alias("groups"), nw.col("n").sum().alias("rows")))
    # 4 M groups of 3 rows: a hash table of at least 4 M x 16 bytes of payload, more than the
    # limit with its overhead; DuckDB fails with an out-of-memory error when it cannot spill
    assert out.row(0) == (4_000_000, 12_000_000)
    eng.close()
    assert not os.path.exists(folder)
    assert capfd.readouterr().out == ""


def test_rows_are_the_collected_frame_as_python_values(make_engine):
    """``rows`` (figures' small results, no frame) gives what ``collect`` gives: the same
    names, order and Python values, including 128-bit sums, dates and nulls."""
    eng = make_engine({"fx_rates": [{"date": date(2024, 1, 31), "currency": "USD", "rate": 0.9},
                                    {"date": date(2024, 2, 29), "currency": "USD", "rate": 0.8},
                                    {"date": date(2024, 2, 29), "currency": "GBP", "rate": 1.2}]})
    lf = (eng.table("fx_rates")
          .with_columns(cents=(nw.col("rate") * 100).round(0).cast(nw.Int64))
          .group_by("currency")
          .agg(nw.col("cents").sum().alias("cents"), nw.col("date").max().alias("last"),
               nw.col("rate").max().alias("top"),
               nw.when(nw.col("rate") > 1).then(nw.col("currency")).otherwise(nw.lit(None, nw.String)).max()
               .alias("above_par"))
          .sort("currency"))
    rows = eng.rows(lf)
    # By hand: GBP one rate 1.2 (120 cents), USD 90 + 80 cents; only GBP is above par.
    assert rows == [
        {"currency": "GBP", "cents": 120, "last": date(2024, 2, 29), "top": 1.2, "above_par": "GBP"},
        {"currency": "USD", "cents": 170, "last": date(2024, 2, 29), "top": 0.9, "above_par": None},
    ]
    assert rows == eng.collect(lf).to_dicts()
    assert eng.rows(lf.filter(nw.col("currency") == "EUR")) == []


def test_small_tables_from_python_lists_keep_every_value(make_engine):
    """``from_columns`` (calendars, rates, buckets: DuckDB builds them as SQL text) gives back
    exactly the values given: doubles to the last bit, quotes, dates, booleans and nulls."""
    eng = make_engine({})
    data = {
        "name": ["O'Brien", None, "x"],
        "n": [2**53 + 1, None, -7],
        "day": [date(2024, 2, 29), None, date(1999, 12, 31)],
        "rate": [0.1 + 0.2, None, 1.0833333333333333e-05],
        "flag": [True, None, False],
    }
    lf = eng.from_columns(data, {"name": "string", "n": "int", "day": "date", "rate": "float", "flag": "bool"})
    rows = eng.rows(lf)
    assert [r["name"] for r in rows] == data["name"]
    assert [r["n"] for r in rows] == data["n"]
    assert [r["day"] for r in rows] == data["day"]
    assert [r["rate"] for r in rows] == data["rate"]  # 0.30000000000000004, not 0.3
    assert [r["flag"] for r in rows] == data["flag"]
    empty = eng.from_columns({"name": [], "n": []}, {"name": "string", "n": "int"})
    assert eng.rows(empty) == [] and eng.collect(empty).columns == ["name", "n"]


def test_a_transient_cache_drops_what_was_cached_inside_it(make_engine):
    eng = make_engine({"fx_rates": [{"date": date(2024, 1, 1), "currency": "USD", "rate": 0.9}]})
    released: list = []
    real_release = eng.release
    eng.release = lambda handles: (released.extend(handles), real_release(handles))
    eng.cached("kept", lambda: "before", lambda v: ["t_before"])
    with eng.transient_cache():
        assert eng.cached("pass", lambda: "inside", lambda v: ["t_inside"]) == "inside"
        assert eng.cached("kept", lambda: "rebuilt", lambda v: []) == "before"  # read, not rebuilt
        assert eng.cache_size() == 2
    assert eng.cache_size() == 1 and released == ["t_inside"]
    assert eng.cached("kept", lambda: "rebuilt", lambda v: []) == "before"
    assert eng.cached("pass", lambda: "again", lambda v: []) == "again"  # gone: built anew


def test_columns_are_the_rows_as_one_list_per_column(make_engine):
    """``columns`` (thousands of rows read in a loop: the cohort deltas) gives the rows'
    values column by column, in the rows' order, nulls included; no rows: empty lists."""
    eng = make_engine({"fx_rates": [{"date": date(2024, 1, 31), "currency": "USD", "rate": 0.9},
                                    {"date": date(2024, 2, 29), "currency": "USD", "rate": None},
                                    {"date": date(2024, 2, 29), "currency": "GBP", "rate": 1.2}]})
    lf = eng.table("fx_rates").select("currency", "date", "rate").sort("date", "currency", descending=True)
    # By hand: the three rows, the latest date first and USD before GBP on it.
    assert eng.columns(lf) == {"currency": ["USD", "GBP", "USD"],
                               "date": [date(2024, 2, 29), date(2024, 2, 29), date(2024, 1, 31)],
                               "rate": [None, 1.2, 0.9]}
    assert eng.columns(lf.filter(nw.col("currency") == "EUR")) == {"currency": [], "date": [], "rate": []}


def test_columns_keep_the_order_of_many_rows():
    """Beyond one vector of rows (2,048) and across threads, every column is in the order of
    the rows: the i-th values of the lists are one row."""
    from retentio.engine.duckdb_engine import DuckDBEngine

    eng = DuckDBEngine(lambda name: None)
    try:
        lf = nw.from_native(eng.con.sql(
            "SELECT (range * 7919) % 100003 AS k, -((range * 7919) % 100003) AS neg, range AS i FROM range(100003)"
        )).sort("k", descending=True)
        cols = eng.columns(lf)
        assert cols["k"] == list(range(100002, -1, -1))  # 7919 is prime to 100003: every k once
        assert cols["neg"] == [-k for k in cols["k"]]
        assert [r["i"] for r in eng.rows(lf)] == cols["i"]
    finally:
        eng.close()
