"""Deterministic demo data: a realistic B2B SaaS customer book (see docs/demo-data.md)."""

from retentio.demo.generator import (
    COMPLEX_FEATURES,
    KEY_FEATURES,
    MILESTONES,
    VALUE_EVENT,
    DemoSummary,
    build_tables,
    check_arguments,
    default_end_month,
    generate,
)

__all__ = [
    "COMPLEX_FEATURES",
    "KEY_FEATURES",
    "MILESTONES",
    "VALUE_EVENT",
    "DemoSummary",
    "apply_demo_settings",
    "build_tables",
    "check_arguments",
    "default_end_month",
    "generate",
]


def apply_demo_settings(settings):
    """Point the engagement settings at the demo book's features and events (in place)."""
    settings.engagement.complex_features = list(COMPLEX_FEATURES)
    settings.engagement.key_features = list(KEY_FEATURES)
    settings.engagement.value_event = VALUE_EVENT
    settings.engagement.onboarding_milestones = list(MILESTONES)
    return settings
