"""The REST API: authentication, roles, the one error shape, pinned shapes, CLI parity."""

from __future__ import annotations

import json
from datetime import date

import pytest
from apphelpers import PASSWORD, assert_error_shape
from typer.testing import CliRunner

from retentio.cli import main as cli_main

cli_main._load_commands()

# Every API route but the two public ones, with a request that would succeed when authorised.
PROTECTED = [
    ("GET", "/api/v1/me"), ("GET", "/api/v1/metrics?period=last"), ("GET", "/api/v1/movements?period=last"),
    ("GET", "/api/v1/explain/nrr?period=last"), ("GET", "/api/v1/cohorts"), ("GET", "/api/v1/engagement/usage"),
    ("GET", "/api/v1/satisfaction/nps"), ("GET", "/api/v1/analyze/nps-vs-churn"), ("GET", "/api/v1/accounts"), ("GET", "/api/v1/accounts/X"),
    ("GET", "/api/v1/health-scores"), ("GET", "/api/v1/health-scores/history?account_id=X"), ("GET", "/api/v1/health-scores/backtest"),
    ("GET", "/api/v1/health-scores/X/explain"),
    ("GET", "/api/v1/tasks"), ("POST", "/api/v1/tasks"), ("PATCH", "/api/v1/tasks/1"), ("GET", "/api/v1/accounts/X/notes"),
    ("POST", "/api/v1/notes"), ("GET", "/api/v1/accounts/X/pulse"), ("POST", "/api/v1/pulse"), ("POST", "/api/v1/imports"),
    ("GET", "/api/v1/quarantine"), ("GET", "/api/v1/worklist"), ("GET", "/api/v1/users"), ("POST", "/api/v1/users"),
    ("PUT", "/api/v1/accounts/X/csm"), ("GET", "/api/v1/views"), ("POST", "/api/v1/views"), ("DELETE", "/api/v1/views/1"),
    ("GET", "/api/openapi.json"),
]


def test_every_api_route_is_listed_here(app):
    """A new route must be added to PROTECTED (and so get its 401 test)."""
    listed = {(m, p.split("?")[0].replace("/X", "/{account_id}").replace("/tasks/1", "/tasks/{task_id}")
                                     .replace("/views/1", "/views/{view_id}")) for m, p in PROTECTED}
    listed |= {("GET", "/api/v1/health"), ("POST", "/api/v1/auth/token")}
    routes = {(m, r.path) for r in app.routes if getattr(r, "path", "").startswith("/api/v1") for m in r.methods}
    assert routes <= listed | {("GET", "/api/v1/explain/{metric}"), ("GET", "/api/v1/engagement/{metric}"),
                                ("GET", "/api/v1/satisfaction/{metric}")}


def test_health_needs_no_auth(client):
    r = client.get("/api/v1/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


@pytest.mark.parametrize("method,path", PROTECTED)
def test_401_without_auth_in_the_error_shape(client, method, path):
    r = client.request(method, path)
    err = assert_error_shape(r, 401, "unauthenticated")
    assert err["hint"]
    assert r.headers.get("www-authenticate") == "Bearer"


def test_401_with_a_wrong_token(client):
    assert_error_shape(client.get("/api/v1/me", headers={"Authorization": "Bearer rt_nope"}), 401)


def test_token_flow_and_wrong_password(client):
    r = client.post("/api/v1/auth/token", data={"username": "admin@example.com", "password": PASSWORD})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"access_token", "token_type"} and body["token_type"] == "bearer"
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"}).json()
    assert me["email"] == "admin@example.com" and me["role"] == "admin"
    assert_error_shape(client.post("/api/v1/auth/token", data={"username": "admin@example.com", "password": "wrong"}),
                       401, "invalid_credentials")
    assert_error_shape(client.post("/api/v1/auth/token", data={"username": "admin@example.com"}), 422, "validation_error")


def test_tokens_are_hashed_at_rest_and_revocable(client, app):
    from sqlalchemy import select

    from retentio.store import ApiToken

    ws = app.state.ws
    t = ws.users_token("viewer@example.com", name="script")
    h = {"Authorization": f"Bearer {t['token']}"}
    assert client.get("/api/v1/me", headers=h).status_code == 200
    with ws.app_session() as s:
        stored = s.scalars(select(ApiToken).where(ApiToken.id == t["id"])).one()
    assert stored.token_hash != t["token"] and t["token"] not in stored.token_hash and len(stored.token_hash) == 64
    ws.tokens_revoke(t["id"])
    assert_error_shape(client.get("/api/v1/me", headers=h), 401)


def _cli_json(*args: str):
    import gc

    r = CliRunner().invoke(cli_main.app, list(args))
    gc.collect()  # the command's Workspace holds the DuckDB file open until collected (imports need it free)
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


@pytest.mark.parametrize("query,cli", [
    ("period=last", ["--period", "last"]),
    ("period=last-3&by=industry", ["--period", "last-3", "--by", "industry"]),
    ("period=last-3&series=true", ["--period", "last-3", "--series"]),
])
def test_metrics_equal_the_cli_json(client, tokens, app_workspace, query, cli):
    r = client.get(f"/api/v1/metrics?{query}", headers=tokens["viewer"])
    assert r.status_code == 200, r.text
    assert r.json() == _cli_json("metrics", "--workspace", str(app_workspace), *cli, "--format", "json")


def test_other_figures_equal_the_cli_json(client, tokens, app_workspace):
    w = ["--workspace", str(app_workspace), "--format", "json"]
    h = tokens["viewer"]
    assert client.get("/api/v1/movements?period=last&type=churn", headers=h).json() == \
        _cli_json("movements", "--period", "last", "--type", "churn", *w)
    assert client.get("/api/v1/explain/nrr?period=last", headers=h).json() == _cli_json("explain", "nrr", "--period", "last", *w)
    assert client.get("/api/v1/cohorts?measure=logos", headers=h).json() == _cli_json("cohorts", "--measure", "logos", *w)
    assert client.get("/api/v1/satisfaction/nps?period=all", headers=h).json() == \
        _cli_json("satisfaction", "nps", "--period", "all", *w)
    assert client.get("/api/v1/engagement/lifecycle?period=last", headers=h).json() == \
        _cli_json("engagement", "lifecycle", "--period", "last", *w)
    # the same limit, sort and as_of give the same lists (shown / count)
    assert client.get("/api/v1/movements?period=last&limit=3&sort=account_name", headers=h).json() == \
        _cli_json("movements", "--period", "last", "--limit", "3", "--sort", "account_name", *w)
    assert client.get("/api/v1/engagement/ces?period=last&limit=5&sort=-ces", headers=h).json() == \
        _cli_json("engagement", "ces", "--period", "last", "--limit", "5", "--sort=-ces", *w)
    assert client.get("/api/v1/satisfaction/sentiment?period=last-3&limit=0", headers=h).json() == \
        _cli_json("satisfaction", "sentiment", "--period", "last-3", "--limit", "0", *w)
    assert client.get("/api/v1/satisfaction/csat?period=all&by=month", headers=h).json() == \
        _cli_json("satisfaction", "csat", "--period", "all", "--by", "month", *w)
    assert client.get("/api/v1/engagement/onboarding?period=last-12&by=industry", headers=h).json() == \
        _cli_json("engagement", "onboarding", "--period", "last-12", "--by", "industry", *w)
    assert client.get("/api/v1/analyze/nps-vs-churn?months=3", headers=h).json() == \
        _cli_json("analyze", "nps-vs-churn", "--months", "3", *w)
    assert client.get("/api/v1/metrics?period=2024-01&as_of=2024-03-15", headers=h).json() == \
        _cli_json("metrics", "--period", "2024-01", "--as-of", "2024-03-15", *w)


def test_figure_errors_in_the_error_shape(client, tokens):
    h = tokens["viewer"]
    err = assert_error_shape(client.get("/api/v1/metrics?period=2024-13", headers=h), 422, "usage_error")
    assert "2024-13" in err["message"]
    assert_error_shape(client.get("/api/v1/metrics", headers=h), 422, "validation_error")
    assert_error_shape(client.get("/api/v1/explain/nosuch?period=last", headers=h), 422)
    assert_error_shape(client.get("/api/v1/metrics?period=last&filter=industry", headers=h), 422, "usage_error")
    assert_error_shape(client.get("/api/v1/nope", headers=h), 404, "not_found")


def test_accounts_page_shape_filters_and_paging(client, tokens):
    h = tokens["viewer"]
    r = client.get("/api/v1/accounts?limit=5&offset=0", headers=h)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"items", "total"}
    assert len(body["items"]) == 5 and body["total"] > 5
    assert set(body["items"][0]) == {"account_id", "name", "mrr", "currency", "health_score", "band", "trend_1m", "nps",
                                     "last_activity", "csm", "renewal_date"}
    mrrs = [i["mrr"] for i in body["items"]]
    assert mrrs == sorted(mrrs, reverse=True)  # default sort: MRR, largest first
    page2 = client.get("/api/v1/accounts?limit=5&offset=5", headers=h).json()
    assert page2["total"] == body["total"]
    assert not {i["account_id"] for i in page2["items"]} & {i["account_id"] for i in body["items"]}
    by_name = client.get("/api/v1/accounts?limit=1000&sort=name&order=asc", headers=h).json()
    names = [i["name"] for i in by_name["items"]]
    assert names == sorted(names) and len(names) == body["total"]
    csm = body["items"][0]["csm"]
    mine = client.get("/api/v1/accounts", params={"csm": csm, "limit": 1000}, headers=h).json()
    assert mine["total"] >= 1 and all(i["csm"] == csm for i in mine["items"])
    one = body["items"][0]
    found = client.get("/api/v1/accounts", params={"q": one["name"][:8].lower()}, headers=h).json()
    assert one["account_id"] in {i["account_id"] for i in found["items"]}
    red = client.get("/api/v1/accounts?band=red", headers=h).json()
    assert set(red) == {"items", "total"} and all(i["band"] == "red" for i in red["items"])
    assert_error_shape(client.get("/api/v1/accounts?band=purple", headers=h), 422, "validation_error")
    assert_error_shape(client.get("/api/v1/accounts?limit=0", headers=h), 422, "validation_error")
    assert_error_shape(client.get("/api/v1/accounts?segment=industry", headers=h), 422, "usage_error")


def test_portfolio_mrr_is_the_metrics_mrr(client, tokens):
    """The portfolio's MRR column sums to the overview's MRR of the last complete month."""
    h = tokens["viewer"]
    total = client.get("/api/v1/metrics?period=last", headers=h).json()
    page = client.get("/api/v1/accounts?limit=1000", headers=h).json()
    assert page["total"] == total["customers"]
    assert sum(i["mrr"] for i in page["items"]) == pytest.approx(total["mrr"], abs=0.01)


def test_account_360(client, tokens):
    h = tokens["viewer"]
    acc = client.get("/api/v1/accounts?limit=1", headers=h).json()["items"][0]
    r = client.get(f"/api/v1/accounts/{acc['account_id']}", headers=h)
    assert r.status_code == 200
    a = r.json()
    for key in ("account_id", "name", "attributes", "csm", "mrr", "revenue_history", "movements", "subscriptions", "health",
                "health_available", "usage", "tickets", "surveys", "pulse", "tasks", "notes", "timeline"):
        assert key in a, key
    assert a["account_id"] == acc["account_id"] and a["mrr"] == pytest.approx(acc["mrr"])
    assert a["revenue_history"][-1]["mrr"] == pytest.approx(acc["mrr"])
    assert_error_shape(client.get("/api/v1/accounts/nosuch", headers=h), 404, "not_found")


def _owned_and_other(client, h, csm_name):
    items = client.get("/api/v1/accounts?limit=1000", headers=h).json()["items"]
    own = next(i["account_id"] for i in items if i["csm"] == csm_name)
    other = next(i["account_id"] for i in items if i["csm"] != csm_name)
    return own, other


def test_tasks_roles_and_shapes(client, tokens):
    me = client.get("/api/v1/me", headers=tokens["csm"]).json()
    own, other = _owned_and_other(client, tokens["viewer"], me["name"])
    body = {"account_id": own, "title": "Call about the renewal", "due": "2030-01-15"}
    # viewer: 403; no token: 401 (both in the error shape)
    assert_error_shape(client.post("/api/v1/tasks", json=body, headers=tokens["viewer"]), 403, "forbidden")
    assert_error_shape(client.post("/api/v1/tasks", json=body), 401, "unauthenticated")
    # csm: own account yes, another's no; manager and admin: any account
    r = client.post("/api/v1/tasks", json=body, headers=tokens["csm"])
    assert r.status_code == 201, r.text
    task = r.json()
    assert task["account_id"] == own and task["title"] == body["title"] and task["status"] == "open"
    assert task["due_at"].startswith("2030-01-15") and task["owner"] == "csm@example.com"
    assert_error_shape(client.post("/api/v1/tasks", json={**body, "account_id": other}, headers=tokens["csm"]), 403)
    assert client.post("/api/v1/tasks", json={**body, "account_id": other}, headers=tokens["manager"]).status_code == 201
    assert client.post("/api/v1/tasks", json={**body, "account_id": other}, headers=tokens["admin"]).status_code == 201
    # validation and unknown account
    assert_error_shape(client.post("/api/v1/tasks", json={"account_id": own}, headers=tokens["csm"]), 422, "validation_error")
    assert_error_shape(client.post("/api/v1/tasks", json={**body, "due": "soon"}, headers=tokens["csm"]), 422)
    assert_error_shape(client.post("/api/v1/tasks", json={**body, "account_id": "nosuch"}, headers=tokens["admin"]), 404)
    # listing and closing
    listed = client.get(f"/api/v1/tasks?account_id={own}", headers=tokens["viewer"]).json()
    assert task["id"] in [t["id"] for t in listed]
    assert_error_shape(client.patch(f"/api/v1/tasks/{task['id']}", json={"status": "done"}, headers=tokens["viewer"]), 403)
    done = client.patch(f"/api/v1/tasks/{task['id']}", json={"status": "done"}, headers=tokens["csm"]).json()
    assert done["status"] == "done" and done["closed_at"]
    assert_error_shape(client.patch("/api/v1/tasks/999999", json={"status": "done"}, headers=tokens["admin"]), 404)
    assert_error_shape(client.patch(f"/api/v1/tasks/{task['id']}", json={"status": "maybe"}, headers=tokens["admin"]), 422)


def test_notes_and_pulse(client, tokens):
    me = client.get("/api/v1/me", headers=tokens["csm"]).json()
    own, other = _owned_and_other(client, tokens["viewer"], me["name"])
    r = client.post("/api/v1/notes", json={"account_id": own, "body": "Kick-off done"}, headers=tokens["csm"])
    assert r.status_code == 201 and r.json()["author"] == "csm@example.com"
    assert_error_shape(client.post("/api/v1/notes", json={"account_id": own, "body": "x"}, headers=tokens["viewer"]), 403)
    assert_error_shape(client.post("/api/v1/notes", json={"account_id": other, "body": "x"}, headers=tokens["csm"]), 403)
    assert [n["body"] for n in client.get(f"/api/v1/accounts/{own}/notes", headers=tokens["viewer"]).json()] == ["Kick-off done"]
    r = client.post("/api/v1/pulse", json={"account_id": own, "colour": "red", "comment": "champion left"}, headers=tokens["csm"])
    assert r.status_code == 201 and r.json()["score"] == 1  # red is stored as 1 (store.PULSE_COLOURS)
    assert_error_shape(client.post("/api/v1/pulse", json={"account_id": own, "score": 9}, headers=tokens["csm"]), 422)
    assert_error_shape(client.post("/api/v1/pulse", json={"account_id": own}, headers=tokens["csm"]), 422)
    assert client.get(f"/api/v1/accounts/{own}/pulse", headers=tokens["viewer"]).json()[0]["comment"] == "champion left"


def test_every_write_is_audited(client, tokens, app):
    from sqlalchemy import select

    from retentio.store import AuditEntry

    acc = client.get("/api/v1/accounts?limit=1", headers=tokens["admin"]).json()["items"][0]["account_id"]
    client.post("/api/v1/notes", json={"account_id": acc, "body": "audited"}, headers=tokens["admin"])
    with app.state.ws.app_session() as s:
        last = s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert (last.actor, last.action, last.target) == ("admin@example.com", "note.create", f"account:{acc}")


def test_users_admin_only(client, tokens):
    for role in ("viewer", "csm", "manager"):
        assert_error_shape(client.get("/api/v1/users", headers=tokens[role]), 403, "forbidden")
    assert "admin@example.com" in [u["email"] for u in client.get("/api/v1/users", headers=tokens["admin"]).json()]
    body = {"email": "new@example.com", "role": "viewer", "password": "long-enough-pw"}
    assert_error_shape(client.post("/api/v1/users", json=body, headers=tokens["manager"]), 403)
    r = client.post("/api/v1/users", json=body, headers=tokens["admin"])
    assert r.status_code == 201 and "password_hash" not in r.json()
    r = client.post("/api/v1/auth/token", data={"username": "new@example.com", "password": "long-enough-pw"})
    assert r.status_code == 200 and r.json()["token_type"] == "bearer"
    assert_error_shape(client.post("/api/v1/users", json={**body, "role": "root"}, headers=tokens["admin"]), 422)


def test_import_upload_reports_quarantined_rows_and_refreshes_figures(client, tokens, app):
    csv_text = "account_id,name,industry\nacc_new_1,Nouvelle Boulangerie,retail\n,No Id Ltd,retail\n"
    files = {"file": ("new-accounts.csv", csv_text.encode(), "text/csv")}
    assert_error_shape(client.post("/api/v1/imports", data={"entity": "accounts"}, files=files, headers=tokens["viewer"]), 403)
    assert_error_shape(client.post("/api/v1/imports", data={"entity": "nope"}, files=files, headers=tokens["admin"]), 422)
    r = client.post("/api/v1/imports", data={"entity": "accounts"}, files=files, headers=tokens["manager"])
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["report"]["rows_read"] == 2 and out["report"]["rows_accepted"] == 1 and out["report"]["rows_quarantined"] == 1
    assert len(out["quarantined"]) == 1 and out["quarantined"][0]["row_number"] == 2
    assert out["quarantined"][0]["column"] == "account_id"
    # the new account is there at once: the cache was dropped
    found = client.get("/api/v1/accounts?q=nouvelle&all_accounts=true", headers=tokens["viewer"]).json()
    assert [i["account_id"] for i in found["items"]] == ["acc_new_1"]
    q = client.get("/api/v1/quarantine?entity=accounts", headers=tokens["viewer"]).json()
    assert any(row["file"].endswith("new-accounts.csv") for row in q)


def test_worklist(client, tokens):
    w = client.get("/api/v1/worklist", headers=tokens["csm"]).json()
    assert set(w) >= {"tasks", "accounts", "total_accounts", "health_available"}
    me = client.get("/api/v1/me", headers=tokens["csm"]).json()
    assert all(a["csm"] == me["name"] for a in w["accounts"])
    assert all(t["owner"] == "csm@example.com" and t["status"] == "open" for t in w["tasks"])


def test_health_endpoints_without_the_capability_say_so(client, tokens, app):
    try:
        app.state.ws.health_scores
    except AttributeError:
        assert_error_shape(client.get("/api/v1/health-scores", headers=tokens["viewer"]), 404, "not_available")
    else:
        assert client.get("/api/v1/health-scores", headers=tokens["viewer"]).status_code == 200


def test_security_headers(client, tokens):
    for r in (client.get("/api/v1/health"), client.get("/login"), client.get("/api/v1/me", headers=tokens["viewer"])):
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert "unsafe-inline" not in r.headers["content-security-policy"].split("script-src")[1].split(";")[0]
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"


def test_cache_is_keyed_and_bounded(app):
    from retentio.app.cache import FigureCache

    ws = app.state.ws
    c = FigureCache(max_entries=2)
    calls = []
    for args in ({"p": 1}, {"p": 1}, {"p": 2}, {"p": 3}, {"p": 1}):
        c.get_or_compute(ws, "m", args, lambda a=args: calls.append(a) or a["p"])
    # {"p": 1} computed, then hit, {"p": 2}, {"p": 3} computed; the bound of 2 evicted {"p": 1}: computed again
    assert [a["p"] for a in calls] == [1, 2, 3, 1] and len(c) == 2
    c.invalidate(ws)
    assert len(c) == 0


def test_health_shows_in_the_portfolio_and_the_360_when_available(client, tokens, app):
    try:
        app.state.ws.health_scores
    except AttributeError:
        pytest.skip("the health capability is not installed on this branch")
    h = tokens["viewer"]
    items = client.get("/api/v1/accounts?limit=1000", headers=h).json()["items"]
    scored = [i for i in items if i["band"] is not None]
    assert scored and all(i["band"] in ("red", "yellow", "green", "thriving") for i in scored)
    assert all(i["health_score"] is not None for i in scored)
    band = scored[0]["band"]
    page = client.get(f"/api/v1/accounts?band={band}&limit=1000", headers=h).json()
    assert page["total"] == sum(1 for i in items if i["band"] == band)
    from retentio.app.service import health_day

    day = health_day(date.today())  # the pages score health at the end of the month they show
    scores = {r["account_id"]: r for r in client.get(f"/api/v1/health-scores?as_of={day}", headers=h).json()}
    assert scores[scored[0]["account_id"]]["score"] == pytest.approx(scored[0]["health_score"])
    a = client.get(f"/api/v1/accounts/{scored[0]['account_id']}", headers=h).json()
    assert a["health_available"] and a["health"]["band"] == band
    e = client.get(f"/api/v1/health-scores/{scored[0]['account_id']}/explain?as_of={day}", headers=h)
    assert e.status_code == 200 and e.json()["band"] == band


def test_assigning_the_csm_moves_ownership(client, tokens):
    me = client.get("/api/v1/me", headers=tokens["csm"]).json()
    _, other = _owned_and_other(client, tokens["viewer"], me["name"])
    body = {"account_id": other, "title": "after the hand-over"}
    assert_error_shape(client.post("/api/v1/tasks", json=body, headers=tokens["csm"]), 403)
    assert_error_shape(client.put(f"/api/v1/accounts/{other}/csm", json={"csm": me["email"]}, headers=tokens["csm"]), 403)
    r = client.put(f"/api/v1/accounts/{other}/csm", json={"csm": me["email"]}, headers=tokens["manager"])
    assert r.status_code == 200 and r.json() == {"account_id": other, "csm": me["email"]}
    assert client.post("/api/v1/tasks", json=body, headers=tokens["csm"]).status_code == 201
    mine = client.get("/api/v1/accounts", params={"csm": me["email"], "limit": 1000}, headers=tokens["viewer"]).json()
    assert other in [i["account_id"] for i in mine["items"]]
    # back to the account's csm attribute
    assert client.put(f"/api/v1/accounts/{other}/csm", json={"csm": None}, headers=tokens["admin"]).json()["csm"] != me["email"]
    assert_error_shape(client.put("/api/v1/accounts/nosuch/csm", json={"csm": "x"}, headers=tokens["admin"]), 404)


def test_saved_views_are_per_user(client, tokens):
    body = {"name": "Red, Camille", "page": "portfolio", "params": {"band": "red", "sort": "mrr"}}
    r = client.post("/api/v1/views", json=body, headers=tokens["viewer"])
    assert r.status_code == 201
    v = r.json()
    assert (v["name"], v["page"], v["params"], v["owner"]) == ("Red, Camille", "portfolio", {"band": "red", "sort": "mrr"},
                                                               "viewer@example.com")
    assert [x["id"] for x in client.get("/api/v1/views?page=portfolio", headers=tokens["viewer"]).json()] == [v["id"]]
    assert client.get("/api/v1/views", headers=tokens["csm"]).json() == []  # someone else's views are not listed
    assert_error_shape(client.delete(f"/api/v1/views/{v['id']}", headers=tokens["csm"]), 404)
    assert_error_shape(client.post("/api/v1/views", json={**body, "page": "admin"}, headers=tokens["viewer"]), 422)
    assert client.delete(f"/api/v1/views/{v['id']}", headers=tokens["viewer"]).status_code == 204
    assert client.get("/api/v1/views", headers=tokens["viewer"]).json() == []
