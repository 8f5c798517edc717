"""The canonical data model: the seven entities a workspace holds.

This module is the single source of truth for entity names, columns, types, which columns
are required, which form the identity used for upserts, and which reference accounts.
The importer validates against it, the warehouse creates its tables from it, and
``docs/data-model.md`` describes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import pyarrow as pa

DType = Literal["string", "date", "datetime", "float", "int", "bool"]

# DuckDB column type of each logical type.
DUCKDB_TYPES: dict[str, str] = {
    "string": "VARCHAR",
    "date": "DATE",
    "datetime": "TIMESTAMP",
    "float": "DOUBLE",
    "int": "BIGINT",
    "bool": "BOOLEAN",
}


@cache
def arrow_types() -> dict[str, pa.DataType]:
    """The Arrow type of each logical type, as the importer, the demo generator, the engines
    and the tests build the canonical tables.  A function, so that a command that only reads
    figures does not import pyarrow (and numpy with it: ~0.1 s of its start-up)."""
    import pyarrow as pa

    return {"string": pa.string(), "date": pa.date32(), "datetime": pa.timestamp("us"), "float": pa.float64(),
            "int": pa.int64(), "bool": pa.bool_()}

COST_CATEGORIES = ("cs_team", "support_team", "sales_marketing", "cost_of_revenue", "other")
SURVEY_KINDS = ("nps", "csat")


@dataclass(frozen=True)
class Column:
    name: str
    dtype: DType
    required: bool = True
    description: str = ""
    example: str = ""


@dataclass(frozen=True)
class Entity:
    name: str  # as typed on the command line: accounts, subscriptions, usage, ..., fx-rates
    table: str  # table in the analytics database
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # identity for upserts; a re-import replaces rows with the same key
    references_accounts: bool = False
    keeps_extra_columns: bool = False  # accounts: any other column becomes an attribute
    description: str = ""
    aliases: tuple[str, ...] = field(default=())

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    @property
    def arrow_schema(self) -> pa.Schema:
        import pyarrow as pa

        types = arrow_types()
        return pa.schema([(c.name, types[c.dtype]) for c in self.columns])

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


ACCOUNTS = Entity(
    name="accounts",
    table="accounts",
    description="One row per customer account (a company). Other columns are kept as attributes for segmentation.",
    columns=(
        Column("account_id", "string", True, "Unique identifier of the account", "acc_0042"),
        Column("name", "string", True, "Display name", "Boulangerie Martin SAS"),
    ),
    key=("account_id",),
    keeps_extra_columns=True,
)

SUBSCRIPTIONS = Entity(
    name="subscriptions",
    table="subscriptions",
    description="Subscription lines: what an account pays, for how long. Several lines may be active at once.",
    columns=(
        Column("subscription_id", "string", True, "Unique identifier of the line", "sub_0042_1"),
        Column("account_id", "string", True, "The account paying", "acc_0042"),
        Column("plan", "string", True, "Plan or product name", "pro-annual"),
        Column("start_date", "date", True, "First day of service", "2024-01-15"),
        Column("end_date", "date", False, "First day WITHOUT service (exclusive); empty = ongoing", "2025-01-15"),
        Column("amount", "float", True, "Price per billing period, before tax, after discounts", "1200.00"),
        Column("billing_period_months", "int", True, "Months covered by one billing period (>= 1)", "12"),
        Column("currency", "string", True, "ISO 4217 code", "EUR"),
        Column("is_trial", "bool", True, "Trial lines carry no MRR", "false"),
        Column("quantity", "float", False, "Seats or units, when priced per seat", "25"),
        Column("kind", "string", False, "recurring, usage, one_off or discount; empty = recurring", "recurring"),
        Column("canceled_at", "date", False, "Day the cancellation was recorded (may precede end_date); empty = unknown", "2024-11-02"),
    ),
    key=("subscription_id",),
    references_accounts=True,
)

USAGE = Entity(
    name="usage",
    table="usage",
    description="Product usage events of named users.",
    columns=(
        Column("account_id", "string", True, "The account the user belongs to", "acc_0042"),
        Column("user_id", "string", True, "The user", "u_0042_3"),
        Column("timestamp", "datetime", True, "When the event happened (UTC)", "2024-03-05T09:12:00"),
        Column("event", "string", True, "Event name", "login"),
        Column("feature", "string", False, "Feature used, if any", "reports"),
        Column("duration_seconds", "float", False, "Time spent, if measured", "340"),
    ),
    # Usage events have no natural id: the whole event is its identity (re-import = no-op).
    key=("account_id", "user_id", "timestamp", "event", "feature"),
    references_accounts=True,
)

TICKETS = Entity(
    name="tickets",
    table="tickets",
    description="Support tickets.",
    columns=(
        Column("ticket_id", "string", True, "Unique identifier", "T-1001"),
        Column("account_id", "string", True, "The account", "acc_0042"),
        Column("created_at", "datetime", True, "When it was opened", "2024-03-05T09:12:00"),
        Column("resolved_at", "datetime", False, "When it was resolved; empty while open", "2024-03-06T15:00:00"),
        Column("status", "string", False, "open, pending, resolved, closed ...", "resolved"),
        Column("priority", "string", False, "low, normal, high, urgent", "high"),
        Column("topic", "string", False, "billing, integration, bug, how-to ...", "integration"),
        Column("subject", "string", False, "Subject line", "API returns 500"),
        Column("body", "string", False, "Text of the ticket", "Since this morning the export fails."),
    ),
    key=("ticket_id",),
    references_accounts=True,
)

SURVEYS = Entity(
    name="surveys",
    table="surveys",
    description="NPS and CSAT answers.",
    columns=(
        Column("response_id", "string", True, "Unique identifier", "r_9001"),
        Column("account_id", "string", True, "The account", "acc_0042"),
        Column("user_id", "string", False, "The user who answered", "u_0042_3"),
        Column("answered_at", "datetime", True, "When", "2024-03-05T09:12:00"),
        Column("kind", "string", True, "nps or csat", "nps"),
        Column("score", "int", True, "NPS 0-10; CSAT 1-5 (or 0-10 with scale = 10)", "9"),
        Column("scale", "int", False, "CSAT scale: 5 (1-5) or 10 (0-10); NPS is always 10", "5"),
        Column("comment", "string", False, "Free-text comment", "Très bon support, merci !"),
    ),
    key=("response_id",),
    references_accounts=True,
)

COSTS = Entity(
    name="costs",
    table="costs",
    description="Monthly costs by category, for CAC, CRC, CS Magic Number and CS ROI.",
    columns=(
        Column("period", "string", True, "Month, YYYY-MM", "2024-03"),
        Column("category", "string", True, "cs_team | support_team | sales_marketing | cost_of_revenue | other", "cs_team"),
        Column("amount", "float", True, "Cost of the month", "42000"),
        Column("currency", "string", True, "ISO 4217 code", "EUR"),
    ),
    key=("period", "category", "currency"),
)

FX_RATES = Entity(
    name="fx-rates",
    table="fx_rates",
    description="Exchange rates: units of base currency per 1 unit of `currency`, from `date` on.",
    columns=(
        Column("date", "date", True, "Day the rate takes effect", "2024-03-01"),
        Column("currency", "string", True, "ISO 4217 code", "USD"),
        Column("rate", "float", True, "Base currency units per 1 unit of currency (> 0)", "0.92"),
    ),
    key=("date", "currency"),
    aliases=("fx_rates", "fx"),
)

ENTITIES: dict[str, Entity] = {e.name: e for e in (ACCOUNTS, SUBSCRIPTIONS, USAGE, TICKETS, SURVEYS, COSTS, FX_RATES)}

# Account attributes live in a long table so that any column can be used for segmentation
# without changing the schema: (account_id, attribute, value).
ACCOUNT_ATTRIBUTES_TABLE = "account_attributes"


def entity(name: str) -> Entity:
    """Look an entity up by its name or alias; raises UsageError naming the valid ones."""
    from retentio.errors import UsageError

    key = name.strip().lower()
    for e in ENTITIES.values():
        if key == e.name or key in e.aliases:
            return e
    raise UsageError(
        f"unknown entity {name!r}",
        hint="choose one of: " + ", ".join(ENTITIES),
    )


# ISO 4217 active codes (list current as of 2024); used to validate currencies on import.
ISO_4217 = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP
    BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP
    GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR
    KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK
    MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR
    SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS
    UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL""".split()
)
