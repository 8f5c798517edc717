"""The demo book: determinism, canonical schema, integrity, plausibility and real signal.

Books here are small (a few hundred accounts) so the module runs in a few seconds; every
test passes ``end_month`` explicitly, because the default depends on today's date.
"""

from __future__ import annotations

import math
from datetime import date

import duckdb
import pyarrow as pa
import pytest

from retentio.demo import build_tables, default_end_month, generate, texts
from retentio.demo.generator import CHURN_REASONS, CHANNELS, FEATURES, SIZES, VERTICALS
from retentio.errors import UsageError
from retentio.model import ENTITIES
from retentio.warehouse import Warehouse

ARROW = {"string": pa.string(), "date": pa.date32(), "datetime": pa.timestamp("us"), "float": pa.float64(),
         "int": pa.int64(), "bool": pa.bool_()}
SMALL = dict(accounts=300, months=24, seed=11, end_month="2024-12")


@pytest.fixture(scope="module")
def book():
    tables, attributes, summary = build_tables(**SMALL)
    con = duckdb.connect()
    for name, tbl in tables.items():
        con.register(ENTITIES[name].table, tbl)
    con.register("attrs", attributes)
    yield tables, attributes, summary, con
    con.close()


def q(con, sql):
    return con.execute(sql).fetchall()


# -- determinism -------------------------------------------------------------------------
def test_same_arguments_give_identical_tables(book):
    tables, attributes, _, _ = book
    again, attrs_again, _ = build_tables(**SMALL)
    for name in ENTITIES:
        assert tables[name].equals(again[name]), name
    assert attributes.equals(attrs_again)


def test_another_seed_gives_other_data(book):
    tables, _, _, _ = book
    other, _, _ = build_tables(**{**SMALL, "seed": 12})
    for name in ("accounts", "subscriptions", "usage", "tickets", "surveys", "fx-rates"):
        assert not tables[name].equals(other[name]), name


def test_default_end_month_is_last_complete_month():
    # 15 Jan 2025 -> the last complete month is December 2024; 1 Mar 2025 -> February 2025.
    assert default_end_month(date(2025, 1, 15)) == "2024-12"
    assert default_end_month(date(2025, 3, 1)) == "2025-02"
    # on a month's last day the clock counts that month complete (clock.last_complete_month)
    assert default_end_month(date(2025, 1, 31)) == "2025-01"
    assert default_end_month(date(2024, 2, 29)) == "2024-02"


def test_bad_arguments_are_usage_errors():
    with pytest.raises(UsageError, match="not a month"):
        build_tables(accounts=10, months=3, end_month="2024-13")
    with pytest.raises(UsageError, match="^accounts 0"):
        build_tables(accounts=0, months=3, end_month="2024-12")


# -- shape -------------------------------------------------------------------------------
def test_every_entity_is_non_empty_and_canonical(book):
    tables, attributes, summary, _ = book
    for name, ent in ENTITIES.items():
        tbl = tables[name]
        assert tbl.num_rows > 0, name
        expected = pa.schema([(c.name, ARROW[c.dtype]) for c in ent.columns])
        assert tbl.schema.equals(expected), f"{name}: {tbl.schema} != {expected}"
        for c in ent.columns:
            if c.required:
                assert tbl.column(c.name).null_count == 0, f"{name}.{c.name} has nulls"
        assert summary.rows[name] == tbl.num_rows
    assert attributes.column_names == ["account_id", "attribute", "value"]
    assert all(t == pa.string() for t in attributes.schema.types)


def test_ids_are_unique(book):
    _, _, _, con = book
    for table, key in (("accounts", "account_id"), ("subscriptions", "subscription_id"), ("tickets", "ticket_id"),
                       ("surveys", "response_id")):
        assert q(con, f"select count(*) - count(distinct {key}) from {table}") == [(0,)], table
    assert q(con, "select count(*) from (select date, currency from fx_rates group by all having count(*) > 1)") == [(0,)]
    assert q(con, "select count(*) from (select period, category from costs group by all having count(*) > 1)") == [(0,)]


def test_referential_integrity(book):
    _, _, _, con = book
    for table in ("subscriptions", "usage", "tickets", "surveys", "attrs"):
        orphans = q(con, f"select count(*) from {table} t where t.account_id not in (select account_id from accounts)")
        assert orphans == [(0,)], table


def test_subscription_lines_are_valid(book):
    _, _, _, con = book
    assert q(con, "select count(*) from subscriptions where end_date is not null and end_date <= start_date") == [(0,)]
    assert q(con, "select min(billing_period_months) >= 1, min(amount) >= 0 from subscriptions") == [(True, True)]
    # Trials carry no amount; every paid line has one.
    assert q(con, "select count(*) from subscriptions where is_trial and amount <> 0") == [(0,)]
    assert q(con, "select count(*) from subscriptions where not is_trial and amount <= 0") == [(0,)]
    assert q(con, "select count(distinct billing_period_months) from subscriptions where not is_trial")[0][0] >= 3
    assert {r[0] for r in q(con, "select distinct currency from subscriptions")} == {"EUR", "USD", "GBP", "CHF"}
    # The base lines of one account never overlap (an upgrade ends one line the day the next starts).
    overlaps = q(con, """
        select count(*) from subscriptions a join subscriptions b
          on a.account_id = b.account_id and a.subscription_id < b.subscription_id
         and a.plan not like 'addon-%' and b.plan not like 'addon-%' and not a.is_trial and not b.is_trial
         and a.start_date < coalesce(b.end_date, date '9999-12-31') and b.start_date < coalesce(a.end_date, date '9999-12-31')""")
    assert overlaps == [(0,)]


def test_every_foreign_currency_line_has_a_rate_by_the_end_of_its_start_month(book):
    _, _, _, con = book
    missing = q(con, """
        select count(*) from subscriptions s where s.currency <> 'EUR' and not exists (
          select 1 from fx_rates r where r.currency = s.currency
             and r.date <= last_day(s.start_date))""")
    assert missing == [(0,)]
    # Rates are plausible (EUR per unit) and start before the first line.
    lo_hi = dict((c, (lo, hi)) for c, lo, hi in q(con, "select currency, min(rate), max(rate) from fx_rates group by 1"))
    assert 0.75 < lo_hi["USD"][0] and lo_hi["USD"][1] < 1.1
    assert 1.0 < lo_hi["GBP"][0] and lo_hi["GBP"][1] < 1.35
    assert q(con, "select (select min(date) from fx_rates) < (select min(start_date) from subscriptions)") == [(True,)]


def test_scores_in_range_and_comments_match_the_score(book):
    _, _, _, con = book
    assert q(con, "select count(*) from surveys where kind = 'nps' and (score not between 0 and 10 or scale <> 10)") == [(0,)]
    assert q(con, "select count(*) from surveys where kind = 'csat' and (score not between 1 and 5 or scale <> 5)") == [(0,)]
    assert {r[0] for r in q(con, "select distinct kind from surveys")} == {"nps", "csat"}
    positive = {c for lg in texts.LANGUAGES for c in texts.COMMENTS[lg]["positive"]}
    negative = {c for lg in texts.LANGUAGES for c in texts.COMMENTS[lg]["negative"]}
    promoters = {r[0] for r in q(con, "select comment from surveys where kind='nps' and score >= 9 and comment is not null")}
    detractors = {r[0] for r in q(con, "select comment from surveys where kind='nps' and score <= 6 and comment is not null")}
    assert promoters and promoters <= positive
    assert detractors and detractors <= negative
    # Comments in both languages.
    fr = {c for cl in texts.COMMENTS["fr"].values() for c in cl}
    comments = {r[0] for r in q(con, "select distinct comment from surveys where comment is not null")}
    assert comments & fr and comments - fr


def test_account_attributes(book):
    _, _, _, con = book
    n = q(con, "select count(*) from accounts")[0][0]
    for attr in ("industry", "vertical", "size", "channel", "country", "csm", "signup_date", "plan", "language",
                 "contact_email"):
        assert q(con, f"select count(distinct account_id) from attrs where attribute = '{attr}'") == [(n,)], attr
    # one attribute row per account and attribute; churn_reason only for churned accounts
    churn_rows = q(con, "select count(*) from attrs where attribute = 'churn_reason'")[0][0]
    assert q(con, "select count(*) from attrs")[0][0] == 11 * n + churn_rows
    # the playbooks' contact (``to: contact``): one address per account, all at the reserved
    # domain example.com, made from the account number (acc_00042 -> contact-00042@example.com)
    emails = dict(q(con, "select account_id, value from attrs where attribute = 'contact_email'"))
    assert len(set(emails.values())) == n
    assert all(v == "contact-" + a.removeprefix("acc_") + "@example.com" for a, v in emails.items())
    for attr, allowed in (("vertical", VERTICALS), ("size", SIZES), ("channel", CHANNELS),
                          ("churn_reason", CHURN_REASONS)):
        values = {r[0] for r in q(con, f"select distinct value from attrs where attribute = '{attr}'")}
        assert values and values <= set(allowed), attr
    # churn_reason is set exactly for the accounts that lost service after paying at least once.
    churned = {r[0] for r in q(con, "select account_id from attrs where attribute = 'churn_reason'")}
    ended = {r[0] for r in q(con, """
        select account_id from subscriptions where not is_trial group by 1
        having min(start_date) is not null and count(*) filter (where end_date is null) = 0
           and max(end_date) <= date '2024-12-31'""")}
    assert ended <= churned


def test_usage_events_and_tickets(book):
    _, _, _, con = book
    events = {r[0] for r in q(con, "select distinct event from usage")}
    assert {"login", "feature_used", "report_shared", "create_project", "invite_user", "connect_integration"} <= events
    assert {r[0] for r in q(con, "select distinct feature from usage where feature is not null")} == set(FEATURES)
    assert q(con, "select count(*) from usage where event = 'feature_used' and not duration_seconds > 0") == [(0,)]
    # Nothing happens after the end of the book or before the account signed up.
    assert q(con, "select max(timestamp) < timestamp '2025-01-01' from usage") == [(True,)]
    early = q(con, """select count(*) from usage u join attrs a on a.account_id = u.account_id
                      and a.attribute = 'signup_date' where u.timestamp::date < a.value::date""")
    assert early == [(0,)]
    assert q(con, "select count(*) from tickets where resolved_at is not null and resolved_at <= created_at") == [(0,)]
    assert q(con, "select avg((resolved_at is not null)::int) from tickets")[0][0] > 0.8
    assert {r[0] for r in q(con, "select distinct topic from tickets")} == set(texts.TOPICS)
    # French-speaking accounts write in French.
    fr_subjects = {s for ss in texts.SUBJECTS["fr"].values() for s in ss}
    rows = q(con, """select t.subject, a.value from tickets t join attrs a on a.account_id = t.account_id
                     and a.attribute = 'language'""")
    assert rows and all((subject in fr_subjects) == (lang == "fr") for subject, lang in rows)


def test_costs_cover_every_month_and_category(book):
    _, _, _, con = book
    # 24 months x 5 categories = 120 rows, all EUR and positive.
    assert q(con, "select count(*), count(distinct period), count(distinct category), min(amount) > 0 from costs") == [
        (120, 24, 5, True)]
    assert q(con, "select distinct currency from costs") == [("EUR",)]


def test_usage_can_be_skipped_or_thinned_without_changing_the_rest():
    small = {**SMALL, "accounts": 50}
    full, attrs_full, _ = build_tables(**small)
    none, attrs_none, _ = build_tables(**small, usage=False)
    thin, _, _ = build_tables(**small, events_per_user_month=2.0)
    assert none["usage"].num_rows == 0
    assert 0 < thin["usage"].num_rows < full["usage"].num_rows
    # Usage draws from its own random stream: the other tables are identical.
    for name in ENTITIES:
        if name != "usage":
            assert full[name].equals(none[name]) and full[name].equals(thin[name]), name
    assert attrs_full.equals(attrs_none)


# -- plausibility and signal ---------------------------------------------------------------
@pytest.fixture(scope="module")
def medium():
    tables, attributes, _ = build_tables(accounts=600, months=24, seed=5, end_month="2024-12")
    con = duckdb.connect()
    for name, tbl in tables.items():
        con.register(ENTITIES[name].table, tbl)
    con.register("attrs", attributes)
    # Paying customers at the end of each book month t (0 = 2023-01).
    con.execute("""
        create table cust as
        with m as (select range::int t, date '2023-01-01' + to_months(range::int) ms from range(0, 24))
        select m.t, s.account_id from m join subscriptions s
          on not s.is_trial and s.start_date < m.ms + interval 1 month
         and (s.end_date is null or s.end_date >= m.ms + interval 1 month)
        group by all""")
    yield con
    con.close()


def test_rates_are_plausible_for_b2b_saas(medium):
    con = medium
    # Monthly logo churn over the second year, overall: the brief targets ~1-3 %.
    churn = q(con, """select avg((c2.account_id is null)::int) from cust c1
                      left join cust c2 on c2.account_id = c1.account_id and c2.t = c1.t + 1
                      where c1.t between 11 and 22""")[0][0]
    assert 0.005 < churn < 0.04, churn
    conv = q(con, """select avg(exists(select 1 from subscriptions p where p.account_id = t.account_id
                     and not p.is_trial)::int) from subscriptions t where t.is_trial""")[0][0]
    assert 0.12 < conv < 0.40, conv
    nps = q(con, "select 100 * (avg((score >= 9)::int) - avg((score <= 6)::int)) from surveys where kind = 'nps'")[0][0]
    assert 5 < nps < 60, nps


def test_low_usage_accounts_churn_more(medium):
    """The signal health scores must find: usage in the 3 months before a month predicts churn.

    Observations are account-months (t) of accounts paying at the end of t-3, t-2 and t-1;
    usage intensity = events in those 3 months per named user of the account; churned = not
    paying at the end of t.  Accounts are split at the median intensity *within their size*
    (size drives both usage volume and churn, so it must not create the effect).

    Bound: with ~1 700 observations per group and churn rates around 1-3 %, a true
    difference of 1.5 points has a z statistic near 3; with no signal z > 2 happens by
    chance with probability 2.3 %.  We require z > 2 and the low-usage rate to be at least
    twice the high-usage rate (the generator's hazard roughly triples between health -1 and
    +1; measured over seeds 1-5 at 400 accounts: ratios 1.9 to 5.4).
    """
    con = medium
    rows = q(con, """
        with ev as (select account_id, (year(timestamp) - 2023) * 12 + month(timestamp) - 1 t, count(*) n
                    from usage group by all),
        users as (select account_id, count(distinct user_id) u from usage group by 1),
        obs as (
          select c1.account_id,
                 coalesce((select sum(n) from ev where ev.account_id = c1.account_id and ev.t between c1.t - 2 and c1.t), 0)
                   / coalesce((select u from users where users.account_id = c1.account_id), 1) intensity,
                 not exists (select 1 from cust c where c.account_id = c1.account_id and c.t = c1.t + 1) churned,
                 (select value from attrs a where a.attribute = 'size' and a.account_id = c1.account_id) size
          from cust c1
          where c1.t between 2 and 22
            and exists (select 1 from cust c where c.account_id = c1.account_id and c.t = c1.t - 2)
            and exists (select 1 from cust c where c.account_id = c1.account_id and c.t = c1.t - 1)),
        ranked as (select *, intensity < median(intensity) over (partition by size) low from obs)
        select low, count(*), sum(churned::int) from ranked group by 1 order by 1""")
    (hi_flag, n_hi, k_hi), (lo_flag, n_lo, k_lo) = rows
    assert (hi_flag, lo_flag) == (False, True)
    p_hi, p_lo = k_hi / n_hi, k_lo / n_lo
    pooled = (k_hi + k_lo) / (n_hi + n_lo)
    z = (p_lo - p_hi) / math.sqrt(pooled * (1 - pooled) * (1 / n_hi + 1 / n_lo))
    assert n_hi > 1000 and n_lo > 1000
    assert p_lo >= 2 * p_hi, (p_lo, p_hi)
    assert z > 2, z


def test_nps_goes_with_usage(medium):
    """Surveys carry the same latent health: NPS scores correlate with usage intensity
    (log of 1 + events per named user in the answer's month and the two before).

    Bound: ~250 answers; under no relation the correlation's standard error is about
    1/sqrt(250) = 0.063, so r > 0.25 is 4 standard errors.  Measured over seeds 1-7 at
    600 accounts: 0.43 to 0.59.  (NPS -> churn itself is left to the nps-vs-churn
    analysis: at this book size only ~25 detractors answer, too few for a stable test.)
    """
    con = medium
    n, r = q(con, """
        with ev as (select account_id, (year(timestamp) - 2023) * 12 + month(timestamp) - 1 t, count(*) n
                    from usage group by all),
        users as (select account_id, count(distinct user_id) u from usage group by 1),
        a as (select s.account_id, s.score, (year(answered_at) - 2023) * 12 + month(answered_at) - 1 t
              from surveys s where kind = 'nps')
        select count(*), corr(a.score, ln(1 + coalesce((select sum(n) from ev where ev.account_id = a.account_id
                                                         and ev.t between a.t - 2 and a.t), 0)
                                               / (select u from users where users.account_id = a.account_id)))
        from a""")[0]
    assert n > 150
    assert r > 0.25, r


# -- writing into a workspace ------------------------------------------------------------
def test_generate_writes_and_replaces(tmp_path):
    wh = Warehouse(tmp_path / "analytics.duckdb")
    wh.create(1)
    s1 = generate(wh, None, accounts=40, months=6, seed=3, end_month="2024-06")
    counts = {name: wh.count(e.table) for name, e in ENTITIES.items()}
    assert counts == {k: v for k, v in s1.rows.items() if k in ENTITIES}
    assert wh.count("account_attributes") == s1.rows["account_attributes"]
    # A second run replaces (never appends): same counts, same content.
    before = wh.content_fingerprint()
    generate(wh, None, accounts=40, months=6, seed=3, end_month="2024-06")
    after = wh.content_fingerprint()
    for t in list(ENTITIES.values()):
        assert after[t.table] == before[t.table]
    assert after["account_attributes"] == before["account_attributes"]


def test_usage_written_in_batches_is_the_one_table_build_tables_gives(tmp_path, monkeypatch):
    """A large book's events are written in batches (generator.USAGE_BATCH_ROWS): the same
    rows, in the same order, as the one usage table of build_tables; counts add up."""
    from retentio.demo import generator

    args = dict(accounts=60, months=6, seed=4, end_month="2024-06")
    whole = build_tables(**args)[0]["usage"]
    monkeypatch.setattr(generator, "USAGE_BATCH_ROWS", 997)  # several batches, the last one short
    assert whole.num_rows > 3 * 997
    wh = Warehouse(tmp_path / "analytics.duckdb")
    wh.create(1)
    summary = generate(wh, None, **args)
    assert summary.rows["usage"] == whole.num_rows == wh.count("usage")
    with wh.connect(read_only=True) as con:
        stored = con.sql("SELECT * FROM usage ORDER BY rowid").to_arrow_table()
    assert stored.select(whole.column_names).to_pylist() == whole.to_pylist()
