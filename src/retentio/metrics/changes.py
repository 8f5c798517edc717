"""The change table: every account's MRR as a step function (issue 12).

An account's MRR changes only in a month where one of its lines starts or ends or, for a
foreign-currency line under the snapshot FX rule, where the rate in force at the snapshot
changes.  Each line contributes

- ``+MRR`` (at the rate of its first month) in its first active month ``from_month``,
- ``-MRR`` (at the rate of its last month) in its first inactive month ``to_month``,
- ``MRR(rate m) - MRR(rate m-1)`` in every month ``from_month < m < to_month`` where the
  rate of its currency changed (the line is active at both snapshots: this is its currency
  effect, metrics.md §3).

Summed per account and month and accumulated over the account's months (a window
``cum_sum`` ordered by month), these events give the account's MRR from each change month
on: the **change table** C, one row per account and change month:

  account_id, month, s (MRR at the end of month-1), e (MRR at the end of month),
  ecc (e at constant currency: the lines active at both snapshots at month-1's rates),
  raw (the unclipped sum: discounts can take it below 0), arr, arr_prev,
  last_churn (last month before this one where
  the account stopped being a customer), next_month (the next change month, or OPEN_END),
  kind (new | reactivation | expansion | contraction | churn | flat), fx (e - ecc when the
  account is a customer at both snapshots, else 0), first_paid (the account's first month
  as a customer - its cohort - on this row and every later one; null before).

Everything else is sums over C: monthly totals are running sums of per-month deltas
(computed in Python over at most a few hundred months), endpoint comparisons at any lag
come from C and C shifted by the lag, and an account's MRR at a month is an as-of lookup
(``month <= m < next_month``).  The work is proportional to lines and rate changes, never
to accounts x months.  Integer cents only: DuckDB, Polars and PySpark give equal results.
"""

from __future__ import annotations

import narwhals as nw

from retentio.config import Settings
from retentio.engine import Engine
from retentio.metrics.movements import movement_amount
from retentio.metrics.mrr import OPEN_END, _fx_at_line_start, month_of, paid_lines, to_cents

MOVEMENT_KINDS = ("new", "reactivation", "expansion", "contraction", "churn")


def _i64(v: int) -> nw.Expr:
    return nw.lit(v, nw.Int64)


def month_rates(engine: Engine, settings: Settings, last: int) -> tuple[nw.LazyFrame, nw.LazyFrame]:
    """(dense, changes) for every foreign currency: ``dense`` has one row per currency and
    month from its first rate to ``last`` with the rate in force on the month's snapshot day
    (the latest rate dated on or before it); ``changes`` keeps the months whose rate differs
    from the previous month's, with ``prev_rate``.  Small (currencies x months): built in
    Python from the last rate of each month, so every engine sees the same table."""
    base = settings.workspace.base_currency
    fx = engine.table("fx_rates").filter(nw.col("currency") != base).select(
        "currency", "date", "rate", month_of("date").alias("month")
    )
    latest = fx.group_by("currency", "month").agg(nw.col("date").max().alias("date"))
    per_month = engine.rows(
        latest.join(fx.select("currency", "date", "rate"), on=["currency", "date"], how="inner")
        .group_by("currency", "month")
        .agg(nw.col("rate").max().alias("rate"))
        .sort("currency", "month")
    )
    cur_d, mon_d, rate_d = [], [], []
    cur_c, mon_c, rate_c, prev_c = [], [], [], []
    known: dict[str, dict[int, float]] = {}
    for row in per_month:
        known.setdefault(row["currency"], {})[int(row["month"])] = float(row["rate"])
    for cur, by_month in known.items():
        m0 = min(by_month)
        rate = None
        for m in range(m0, max(last, m0) + 1):
            new = by_month.get(m, rate)
            if rate is not None and new != rate:
                cur_c.append(cur), mon_c.append(m), rate_c.append(new), prev_c.append(rate)
            rate = new
            cur_d.append(cur), mon_d.append(m), rate_d.append(rate)
    dense = engine.from_columns({"currency": cur_d, "month": mon_d, "rate": rate_d},
                                {"currency": "string", "month": "int", "rate": "float"})
    changes = engine.from_columns({"currency": cur_c, "month": mon_c, "rate": rate_c, "prev_rate": prev_c},
                                  {"currency": "string", "month": "int", "rate": "float", "prev_rate": "float"})
    return dense, changes


def _cents(rate: str) -> nw.Expr:
    return nw.col("sign") * to_cents(nw.col("amount") / nw.col("billing_period_months") * nw.col(rate))


def _arr(rate: str) -> nw.Expr:
    return nw.col("sign") * to_cents(nw.col("amount") * 12 / nw.col("billing_period_months") * nw.col(rate))


def line_events(engine: Engine, settings: Settings, last: int, lines: nw.LazyFrame | None = None) -> nw.LazyFrame:
    """account_id, month, d (MRR change, cents), f (of which currency effect), a (ARR change):
    the events of every paid line up to month ``last``."""
    base = settings.workspace.base_currency
    lines = paid_lines(engine) if lines is None else lines
    # a line never active at a snapshot (start and end in the same month) has no event
    lines = lines.filter((nw.col("from_month") <= last) & (nw.col("from_month") < nw.col("to_month"))).select(
        "subscription_id", "account_id", "currency", "amount", "billing_period_months", "sign", "from_month", "to_month",
        "start_date",
    )
    cols = ["account_id", "month", "d", "f", "a"]
    zero = _i64(0)
    domestic = lines.filter(nw.col("currency") == base).with_columns(rate=nw.lit(1.0))
    foreign = lines.filter(nw.col("currency") != base)
    parts = []
    if settings.metrics.fx_rule == "line_start":
        rates = _fx_at_line_start(engine, foreign, base)
        fixed = nw.concat([domestic, foreign.join(rates, on="subscription_id", how="inner")], how="vertical")
        parts.append(fixed.select("account_id", nw.col("from_month").alias("month"), _cents("rate").alias("d"),
                                  zero.alias("f"), _arr("rate").alias("a")))
        parts.append(fixed.filter(nw.col("to_month") <= last).select(
            "account_id", nw.col("to_month").alias("month"), (-_cents("rate")).alias("d"), zero.alias("f"),
            (-_arr("rate")).alias("a")))
    else:
        dense, changes = month_rates(engine, settings, last)
        d_start = dense.select("currency", nw.col("month").alias("from_month"), "rate")
        d_end = dense.select("currency", (nw.col("month") + 1).alias("to_month"), "rate")
        starts = nw.concat([domestic.select(*cols_of(domestic)),
                            foreign.join(d_start, on=["currency", "from_month"], how="inner").select(*cols_of(domestic))],
                           how="vertical")
        parts.append(starts.select("account_id", nw.col("from_month").alias("month"), _cents("rate").alias("d"),
                                   zero.alias("f"), _arr("rate").alias("a")))
        ending = lines.filter(nw.col("to_month") <= last)
        ends = nw.concat([ending.filter(nw.col("currency") == base).with_columns(rate=nw.lit(1.0)).select(*cols_of(domestic)),
                          ending.filter(nw.col("currency") != base).join(d_end, on=["currency", "to_month"], how="inner")
                          .select(*cols_of(domestic))], how="vertical")
        parts.append(ends.select("account_id", nw.col("to_month").alias("month"), (-_cents("rate")).alias("d"),
                                 zero.alias("f"), (-_arr("rate")).alias("a")))
        moves = foreign.join(changes, on="currency", how="inner").filter(
            (nw.col("from_month") < nw.col("month")) & (nw.col("month") < nw.col("to_month")) & (nw.col("month") <= last)
        )
        fxd = (_cents("rate") - _cents("prev_rate"))
        parts.append(moves.select("account_id", "month", fxd.alias("d"), fxd.alias("f"),
                                  (_arr("rate") - _arr("prev_rate")).alias("a")))
    return nw.concat([p.select(*cols) for p in parts], how="vertical")


def cols_of(_lf: nw.LazyFrame) -> list[str]:
    return ["subscription_id", "account_id", "currency", "amount", "billing_period_months", "sign", "from_month",
            "to_month", "rate"]


def change_table(engine: Engine, settings: Settings, last: int, lines: nw.LazyFrame | None = None) -> nw.LazyFrame:
    """The change table C (see the module's docstring) of every account up to month ``last``."""
    ev = line_events(engine, settings, last, lines)
    per = ev.group_by("account_id", "month").agg(
        nw.col("d").sum().cast(nw.Int64).alias("d"),
        nw.col("f").sum().cast(nw.Int64).alias("f"),
        nw.col("a").sum().cast(nw.Int64).alias("a"),
    )
    return change_rows(per, settings)


def change_rows(per: nw.LazyFrame, settings: Settings) -> nw.LazyFrame:
    """C from the per account-month event sums (account_id, month, d, f, a).

    Two window passes, each one sort of the account's months: the running sums (and the next
    change month), then the last churn month.  The value before a row is its running sum
    minus its own change, so no lag is needed."""
    by = {"order_by": "month"}
    c = per.with_columns(
        raw=nw.col("d").cum_sum().over("account_id", **by).cast(nw.Int64),
        raw_arr=nw.col("a").cum_sum().over("account_id", **by).cast(nw.Int64),
        next_month=nw.col("month").shift(-1).over("account_id", **by).fill_null(OPEN_END).cast(nw.Int64),
    )
    zero = _i64(0)
    c = c.with_columns(
        e=nw.max_horizontal(nw.col("raw"), zero),
        s=nw.max_horizontal(nw.col("raw") - nw.col("d"), zero),
        ecc=nw.max_horizontal(nw.col("raw") - nw.col("f"), zero),
        arr=nw.max_horizontal(nw.col("raw_arr"), zero),
        arr_prev=nw.max_horizontal(nw.col("raw_arr") - nw.col("a"), zero),
    )
    s, e = nw.col("s"), nw.col("e")
    # the last month (strictly before a start) where the account stopped being a customer;
    # -1 rather than null: a cumulative max over nulls gives null on some engines
    churn_m = nw.when((s > 0) & (e == 0)).then(nw.col("month")).otherwise(_i64(-1))
    # the first month the account was a customer, from that month on (its cohort): a
    # cumulative min in the same window pass (OPEN_END until then, then null)
    paid_m = nw.when(e > 0).then(nw.col("month")).otherwise(_i64(OPEN_END))
    c = c.with_columns(last_churn=churn_m.cum_max().over("account_id", **by).cast(nw.Int64),
                       first_paid=paid_m.cum_min().over("account_id", **by).cast(nw.Int64))
    c = c.with_columns(last_churn=nw.when(nw.col("last_churn") >= 0).then(nw.col("last_churn"))
                       .otherwise(nw.lit(None, nw.Int64)),
                       first_paid=nw.when(nw.col("first_paid") < OPEN_END).then(nw.col("first_paid"))
                       .otherwise(nw.lit(None, nw.Int64)))
    starting = (s == 0) & (e > 0)
    window = settings.metrics.reactivation_window_months
    # Before a start (s = 0), an account that had been a customer has a churn row: it was a
    # customer before iff it has a last churn month.  With a window, a return counts as a
    # reactivation only if it had MRR within the last `window` months before its gap ended:
    # its last churn month c (MRR > 0 at c - 1) satisfies c - 1 >= m - 1 - window.
    was_customer = ~nw.col("last_churn").is_null()
    if window > 0:
        was_customer = was_customer & (nw.col("last_churn") >= nw.col("month") - window)
    both = (s > 0) & (e > 0)
    kind = (
        nw.when(starting & was_customer).then(nw.lit("reactivation"))
        .when(starting).then(nw.lit("new"))
        .when((s > 0) & (e == 0)).then(nw.lit("churn"))
        .when(both & (nw.col("ecc") > s)).then(nw.lit("expansion"))
        .when(both & (nw.col("ecc") < s)).then(nw.lit("contraction"))
        .otherwise(nw.lit("flat"))
    )
    return c.filter((s > 0) | (e > 0) | (nw.col("arr") != 0) | (nw.col("arr_prev") != 0)).select(
        "account_id", "month", "s", "e",
        nw.when(both).then(nw.col("ecc")).otherwise(e).alias("ecc"),
        "raw", "arr", "arr_prev", "last_churn", "next_month",
        kind.alias("kind"),
        nw.when(both).then(e - nw.col("ecc")).otherwise(_i64(0)).alias("fx"),
        "first_paid",
    )


def in_force(first: int, last: int) -> nw.Expr:
    """The rows of C in force at some month-end of [first, last]: ``month <= t < next_month``
    for some t there (a row holds from its month until the account's next change month)."""
    return (nw.col("month") <= last) & (nw.col("next_month") > first)


def values_at(engine: Engine, C: nw.LazyFrame, months: list[int]) -> nw.LazyFrame:
    """account_id, month, mrr_cents, raw, arr for each of ``months`` where the account is a
    customer: the as-of lookup ``C.month <= m < C.next_month``.  Only the rows in force at
    some month between the first and the last asked take part (a filter, not a sort), so
    the cost is the rows in force over that span x months asked, whatever the history."""
    ts = sorted(set(months))
    if not ts:
        return C.select("account_id", "month", nw.col("e").alias("mrr_cents"), "raw", "arr").filter(nw.lit(False))
    m = engine.from_columns({"t": ts}, {"t": "int"})
    return (
        C.filter(in_force(ts[0], ts[-1]))
        .select("account_id", "month", "next_month", "e", "raw", "arr")
        .join(m, how="cross")
        .filter((nw.col("month") <= nw.col("t")) & (nw.col("t") < nw.col("next_month")) & (nw.col("e") > 0))
        .select("account_id", nw.col("t").alias("month"), nw.col("e").alias("mrr_cents"), "raw", "arr")
    )


def lagged_pairs(C: nw.LazyFrame, lag: int) -> nw.LazyFrame:
    """account_id, month, s, e, s_prev, e_prev with s = MRR at month - lag and e = MRR at
    month, at every month where either changes (the change months of C and those + lag),
    valid until the account's next such row; s_prev, e_prev are the values just before.
    C and C shifted by ``lag`` are stacked and each value carried forward over the account's
    months (one window pass)."""
    null = nw.lit(None, nw.Int64)
    E = C.select("account_id", "month", nw.col("e").alias("ev"), nw.col("s").alias("ev0"), null.alias("sv"),
                 null.alias("sv0"))
    S = C.select("account_id", (nw.col("month") + lag).alias("month"), null.alias("ev"), null.alias("ev0"),
                 nw.col("e").alias("sv"), nw.col("s").alias("sv0"))
    u = nw.concat([E, S], how="vertical").group_by("account_id", "month").agg(
        nw.col("ev").max().alias("ev"), nw.col("ev0").max().alias("ev0"),
        nw.col("sv").max().alias("sv"), nw.col("sv0").max().alias("sv0"),
    )
    by = {"order_by": "month"}
    u = u.with_columns(
        e=nw.col("ev").fill_null(strategy="forward").over("account_id", **by),
        s=nw.col("sv").fill_null(strategy="forward").over("account_id", **by),
    )
    e = nw.col("e").fill_null(0).cast(nw.Int64)
    s = nw.col("s").fill_null(0).cast(nw.Int64)
    return u.select(
        "account_id", "month", s.alias("s"), e.alias("e"),
        nw.when(nw.col("sv").is_null()).then(s).otherwise(nw.col("sv0")).cast(nw.Int64).alias("s_prev"),
        nw.when(nw.col("ev").is_null()).then(e).otherwise(nw.col("ev0")).cast(nw.Int64).alias("e_prev"),
    )


def level_deltas(C: nw.LazyFrame, keys: list[str]) -> nw.LazyFrame:
    """Per change month (and keys): the change of MRR, customers and ARR only (running sums
    over months give the totals at each month-end)."""
    return C.group_by("month", *keys).agg(*_level_sums())


def _level_sums() -> list[nw.Expr]:
    one, zero = _i64(1), _i64(0)
    return [
        (nw.col("e") - nw.col("s")).sum().cast(nw.Int64).alias("d_mrr"),
        (nw.when(nw.col("e") > 0).then(one).otherwise(zero) - nw.when(nw.col("s") > 0).then(one).otherwise(zero))
        .sum().cast(nw.Int64).alias("d_customers"),
        (nw.col("arr") - nw.col("arr_prev")).sum().cast(nw.Int64).alias("d_arr"),
    ]


def level_totals(C: nw.LazyFrame, keys: list[str], month: int) -> nw.LazyFrame:
    """(keys,) d_mrr, d_customers, d_arr: the totals at the end of ``month`` (the rows in force
    then), the base that :func:`level_deltas` of the later months add to: the same sums over
    those rows taken from nothing (s = arr_prev = 0)."""
    base = C.filter(in_force(month, month)).with_columns(s=_i64(0), arr_prev=_i64(0))
    return base.group_by(*keys).agg(*_level_sums()) if keys else base.select(*_level_sums())


def cohort_month_deltas(C: nw.LazyFrame, keys: list[str]) -> nw.LazyFrame:
    """cohort, (keys,) month, d_mrr, d_logos: per cohort (the account's first paid month) and
    change month, the change of MRR and of logos (metrics.md §7).  Running sums over the
    months of a cohort give its cells; the rows before an account's first paid month
    (first_paid null) move nothing (s = e = 0) and are left out."""
    d_mrr, d_customers, _d_arr = _level_sums()  # a cohort's logos are its customers
    return C.filter(~nw.col("first_paid").is_null()).with_columns(cohort=nw.col("first_paid")).group_by(
        "cohort", *keys, "month").agg(d_mrr, d_customers.alias("d_logos"))


OVERLAP_PARTS = ("s_retained", "s_end_mrr", "s_kept_mrr")


def lag_overlaps(C: nw.LazyFrame, lag: int, first: int, last: int, keys: list[str]) -> nw.LazyFrame:
    """lo, hi, (keys,) s_retained, s_end_mrr, s_kept_mrr: over the accounts that are
    customers both at t - lag and at t, their count, their MRR at t and the sum of the lesser
    of their two MRRs, for every month t of [lo, hi) (lo >= first, hi <= last + 1).

    A row of C holds its MRR over the months [month, next_month); the row in force at
    t - lag, shifted by ``lag``, holds over [month + lag, next_month + lag).  Two rows of one
    account (e > 0 on both sides) whose spans overlap make one constant (s, e) pair over the
    overlap, so these sums are constant over [lo, hi): running sums of "+ at lo, - at hi" give
    them at every month.  An equality join on the account of its rows in force over
    [first - lag, last]: no as-of lookup per month, whatever the number of months."""
    x = C.filter((nw.col("e") > 0) & in_force(first - lag, last)).select("account_id", *keys, "month", "next_month", "e")
    a = x.filter(in_force(first, last)).select(
        "account_id", *keys, nw.col("month").alias("a0"), nw.col("next_month").alias("a1"), "e")
    b = x.filter(in_force(first - lag, last - lag)).select(
        "account_id", *keys, (nw.col("month") + lag).alias("b0"), (nw.col("next_month") + lag).alias("b1"),
        nw.col("e").alias("s"))
    # the spans overlap iff each starts before the other ends (every other bound of lo < hi
    # holds by the filters above): a condition on the joined columns themselves, which an
    # engine can check inside the join instead of after it
    pairs = a.join(b, on=["account_id", *keys], how="inner").filter(
        (nw.col("a0") < nw.col("b1")) & (nw.col("b0") < nw.col("a1"))
    ).select(
        *keys, nw.max_horizontal("a0", "b0", _i64(first)).alias("lo"),
        nw.min_horizontal("a1", "b1", _i64(last + 1)).alias("hi"), "s", "e",
    )
    return pairs.group_by("lo", "hi", *keys).agg(
        nw.len().cast(nw.Int64).alias("s_retained"),
        nw.col("e").sum().cast(nw.Int64).alias("s_end_mrr"),
        nw.min_horizontal("s", "e").sum().cast(nw.Int64).alias("s_kept_mrr"),
    )


def overlap_steps(overlaps: nw.LazyFrame, keys: list[str]) -> nw.LazyFrame:
    """The rows of :func:`lag_overlaps` folded into one net step per month (and keys): each
    row adds its sums at lo and takes them back at hi, so the steps of one month add up.
    Written as rows (lo = month, hi = OPEN_END) that the readers of ``lag_overlaps`` sum the
    same way: as many rows as months, where the (lo, hi) pairs grow with the square of the
    history."""
    up = overlaps.select(nw.col("lo").alias("m"), *keys, *OVERLAP_PARTS)
    down = overlaps.select(nw.col("hi").alias("m"), *keys, *[(-nw.col(k)).alias(k) for k in OVERLAP_PARTS])
    return nw.concat([up, down]).group_by("m", *keys).agg(
        *[nw.col(k).sum().cast(nw.Int64) for k in OVERLAP_PARTS]
    ).select(nw.col("m").alias("lo"), _i64(OPEN_END).alias("hi"), *keys, *OVERLAP_PARTS)


ENDPOINT_PARTS = ("s_customers", "s_mrr", "s_end_mrr", "s_kept_mrr", "s_retained", "end_customers", "end_not_in_s")


def _endpoint_parts(s: nw.Expr, e: nw.Expr) -> dict[str, nw.Expr]:
    in_s = s > 0
    one, zero = _i64(1), _i64(0)
    return {
        "s_customers": nw.when(in_s).then(one).otherwise(zero),
        "s_mrr": s,
        "s_end_mrr": nw.when(in_s).then(e).otherwise(zero),
        "s_kept_mrr": nw.when(in_s).then(nw.min_horizontal(s, e)).otherwise(zero),
        "s_retained": nw.when(in_s & (e > 0)).then(one).otherwise(zero),
        "end_customers": nw.when(e > 0).then(one).otherwise(zero),
        "end_not_in_s": nw.when((e > 0) & ~in_s).then(one).otherwise(zero),
    }


def endpoint_deltas(pairs: nw.LazyFrame, keys: list[str]) -> nw.LazyFrame:
    """Per month (and keys): the change of each endpoint sum (metrics.md §4 over S = the
    customers at month - lag) at that month; running sums over months give the sums."""
    now = _endpoint_parts(nw.col("s"), nw.col("e"))
    before = _endpoint_parts(nw.col("s_prev"), nw.col("e_prev"))
    return pairs.group_by("month", *keys).agg(
        *[(now[k] - before[k]).sum().cast(nw.Int64).alias(k) for k in ENDPOINT_PARTS]
    )


KIND_SUMS = ("n", "e", "s", "ecc", "fx", "n_fx", "n_e", "d_arr", "kept", "kept_cc")


def kind_sums(rows: nw.LazyFrame, keys: list[str]) -> nw.LazyFrame:
    """Plain sums of account-month rows (columns kind, s, e, ecc, fx, arr, arr_prev) per
    month, ``keys``, kind and in_s (s > 0): whatever is summed per movement or per start
    customer is then a sum of whole groups (:func:`fold_kind_sums`), so the engine computes
    ten sums per group instead of a conditional sum per figure (a CASE on the kind string
    for each of twenty aggregates)."""
    zero, one = _i64(0), _i64(1)
    return rows.with_columns(in_s=nw.col("s") > 0).group_by("month", *keys, "kind", "in_s").agg(
        nw.len().cast(nw.Int64).alias("n"),
        nw.col("e").sum().cast(nw.Int64).alias("e"),
        nw.col("s").sum().cast(nw.Int64).alias("s"),
        nw.col("ecc").sum().cast(nw.Int64).alias("ecc"),
        nw.col("fx").sum().cast(nw.Int64).alias("fx"),
        nw.when(nw.col("fx") != 0).then(one).otherwise(zero).sum().cast(nw.Int64).alias("n_fx"),
        nw.when(nw.col("e") > 0).then(one).otherwise(zero).sum().cast(nw.Int64).alias("n_e"),
        (nw.col("arr") - nw.col("arr_prev")).sum().cast(nw.Int64).alias("d_arr"),
        nw.min_horizontal("s", "e").sum().cast(nw.Int64).alias("kept"),
        nw.min_horizontal("s", "ecc").sum().cast(nw.Int64).alias("kept_cc"),
    )


MOVEMENT_FIELDS = ("new", "reactivation", "expansion", "contraction", "churn", "fx", "n_new", "n_reactivation",
                   "n_expansion", "n_contraction", "n_churn", "n_fx")


def movement_fields(kind: str, g: dict) -> dict[str, int]:
    """The month's movements (metrics.md §4, at constant currency, §3) and their counts
    carried by one group of :func:`kind_sums` (accounts of one kind), by the one definition
    of a movement's amount (``movements.movement_amount``, linear: it applies to sums), for
    the change-point path and the expansion oracle alike (they differ in how they get the
    account-month rows, not in what a movement is); the currency effect (fx = e - ecc) is
    summed over every kind."""
    out = dict.fromkeys(MOVEMENT_FIELDS, 0)
    if kind in MOVEMENT_KINDS:
        # ecc is e for new, reactivation and churn (an account not a customer at both
        # snapshots has no currency effect): the constant-currency end serves every kind
        out[kind] = movement_amount(kind, g["s"], g["ecc"])
        out["n_" + kind] = g["n"]
    out["fx"], out["n_fx"] = g["fx"], g["n_fx"]
    return out


def fold_kind_sums(rows: list[dict], keys: list[str]) -> dict[tuple, dict[str, int]]:
    """{(g, month): fields} from the rows of :func:`kind_sums` over change rows: the change of
    MRR, customers and ARR, the movements and their counts (:func:`movement_fields`), and
    the change of the month's own endpoint sums over its start customers (x_end: e - s,
    x_kept: min(s, e) - s, and the same at constant currency)."""
    out: dict[tuple, dict[str, int]] = {}
    for r in rows:
        g = {k: int(r[k] or 0) for k in KIND_SUMS}
        acc = out.setdefault((r.get("grp") if keys else None, int(r["month"])),
                             dict.fromkeys(LEVEL_FIELDS + DELTA_FIELDS, 0))
        in_s = bool(r["in_s"])
        for k, v in movement_fields(r["kind"], g).items():
            acc[k] += v
        acc["d_mrr"] += g["e"] - g["s"]
        acc["d_customers"] += g["n_e"] - (g["n"] if in_s else 0)
        acc["d_arr"] += g["d_arr"]
        if in_s:
            acc["x_end"] += g["e"] - g["s"]
            acc["x_kept"] += g["kept"] - g["s"]
            acc["x_end_cc"] += g["ecc"] - g["s"]
            acc["x_kept_cc"] += g["kept_cc"] - g["s"]
    return out


LEVEL_FIELDS = ("d_mrr", "d_customers", "d_arr")
DELTA_FIELDS = (*MOVEMENT_FIELDS, "x_end", "x_kept", "x_end_cc", "x_kept_cc")


def fx_between(engine: Engine, settings: Settings, ends: list[int], lag: int) -> nw.LazyFrame:
    """account_id, month, fxl: per end month m of ``ends``, the currency effect between the
    snapshots m - lag and m of each account's lines active at both (cents at m's rate minus
    cents at (m - lag)'s rate).  Empty under the line_start rule."""
    base = settings.workspace.base_currency
    if settings.metrics.fx_rule == "line_start" or not ends:
        return engine.from_columns({"account_id": [], "month": [], "fxl": []},
                                   {"account_id": "string", "month": "int", "fxl": "int"})
    dense, _ = month_rates(engine, settings, max(ends))
    t = engine.from_columns({"month": list(ends)}, {"month": "int"})
    lines = paid_lines(engine).filter(nw.col("currency") != base).join(t, how="cross").filter(
        (nw.col("from_month") <= nw.col("month") - lag) & (nw.col("month") < nw.col("to_month"))
    )
    r_end = dense.select("currency", "month", nw.col("rate").alias("r1"))
    r_start = dense.select("currency", (nw.col("month") + lag).alias("month"), nw.col("rate").alias("r0"))
    j = lines.join(r_end, on=["currency", "month"], how="inner").join(r_start, on=["currency", "month"], how="inner")
    return j.group_by("account_id", "month").agg((_cents("r1") - _cents("r0")).sum().cast(nw.Int64).alias("fxl"))
