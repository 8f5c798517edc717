"""Benchmark status of a figure (metrics.md §13): good / watch / alarm, with the reference."""

from __future__ import annotations

from retentio.metrics.flatten import lookup

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Benchmark:
    metric: str
    reference: str
    source: str
    status: Callable[[float], str]
    # Which figure of the result is judged (an annualised one for monthly churn figures).
    uses: str


def _bands(alarm_if: Callable[[float], bool], good_if: Callable[[float], bool]) -> Callable[[float], str]:
    return lambda v: "alarm" if alarm_if(v) else "good" if good_if(v) else "watch"


BENCHMARKS: tuple[Benchmark, ...] = (
    Benchmark(
        "customer_churn_rate",
        "annual customer churn: enterprise < 5 %, SMB 10-20 %, consumer 30-50 %; judged on the SMB band: "
        "good < 10 %, watch 10-20 %, alarm > 20 % a year",
        "seed 004",
        _bands(lambda v: v > 0.20, lambda v: v < 0.10),
        "annualised.customer_churn_rate",
    ),
    Benchmark(
        "nrr",
        "NRR > 100 % good, > 110 % best: alarm < 100 %, watch 100-110 %, good >= 110 %",
        "seed 001",
        _bands(lambda v: v < 1.0, lambda v: v >= 1.10),
        "nrr",
    ),
    Benchmark(
        "ltv_cac",
        "LTV:CAC < 1 unviable, 3 ideal, >= 5 under-investing: alarm < 1, good 3-5, watch otherwise",
        "seed 004",
        _bands(lambda v: v < 1.0, lambda v: 3.0 <= v < 5.0),
        "ltv_cac",
    ),
    Benchmark(
        "ltv_crc",
        "LTV:CRC of 2:1 or below: too much spent on retention (alarm <= 2, good above)",
        "seed 002",
        lambda v: "alarm" if v <= 2.0 else "good",
        "ltv_crc",
    ),
    Benchmark(
        "cs_magic_number",
        "CS Magic Number > 5.0: strong ROI (good > 5, watch 1-5, alarm < 1)",
        "seed 000",
        _bands(lambda v: v < 1.0, lambda v: v > 5.0),
        "cs_magic_number",
    ),
    Benchmark(
        "cs_headwind",
        "CS Headwind above 20-30 % a year is a priority (annualised: alarm > 30 %, watch 20-30 %, good < 20 %)",
        "seed 000",
        _bands(lambda v: v > 0.30, lambda v: v < 0.20),
        "annualised.cs_headwind",
    ),
    Benchmark(
        "cs_tailwind",
        "CS Tailwind: leaders aim above 10 % a year (annualised: good > 10 %, watch otherwise)",
        "seed 000",
        lambda v: "good" if v > 0.10 else "watch",
        "annualised.cs_tailwind",
    ),
)




def assess(result: dict) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for b in BENCHMARKS:
        v = lookup(result, b.uses)
        if v is None:
            continue
        out[b.metric] = {"status": b.status(float(v)), "reference": b.reference, "source": b.source, "judged": b.uses}
    return out
