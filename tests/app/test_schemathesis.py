"""Property-based run against the OpenAPI spec (schemathesis): no request makes a 5xx, and
every error comes in the one error shape.  Bounded: a few examples per operation."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_no_server_error_on_any_operation(app, tokens):
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings

    auth = tokens["admin"]
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app, headers=auth)
    seen = []
    for result in schema.get_all_operations():
        op = result.ok()
        seen.append(f"{op.method.upper()} {op.path}")

        @settings(max_examples=6, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=op.as_strategy())
        def check(case):
            r = case.call(headers=auth)
            assert r.status_code < 500, f"{case.method} {case.formatted_path} {case.query} -> {r.status_code} {r.text[:300]}"
            if r.status_code >= 400:
                body = r.json()
                assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "hint", "details"}, body

        check()
    assert "GET /api/v1/accounts" in seen and "POST /api/v1/tasks" in seen
