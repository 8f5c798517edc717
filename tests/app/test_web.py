"""The web pages: login, sessions, CSRF, rate limit, roles, French formats, no inline script."""

from __future__ import annotations

import re

import pytest
from apphelpers import PASSWORD
from fastapi.testclient import TestClient

PAGES = ["/", "/portfolio", "/worklist", "/cohorts", "/segments", "/health", "/import", "/explain/nrr", "/movements",
         "/api/docs", "/portfolio.csv"]


def csrf_of(client: TestClient) -> str:
    client.get("/login")
    return client.cookies.get("retentio_csrf")


def login(client: TestClient, email: str, password: str = PASSWORD, **extra):
    token = csrf_of(client)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token, "next": "/", **extra},
                       follow_redirects=False)


@pytest.fixture
def browser(app):
    with TestClient(app, base_url="http://testserver") as c:
        yield c


@pytest.mark.parametrize("page", PAGES + ["/accounts/acc_00001", "/admin/users"])
def test_pages_need_login(browser, page):
    r = browser.get(page, headers={"accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_login_page_and_static_are_public(browser):
    assert browser.get("/login").status_code == 200
    assert browser.get("/static/app.js").status_code == 200
    r = browser.get("/static/plotly.min.js")
    assert r.status_code == 200 and "plotly" in r.text[:2000].lower()
    assert browser.get("/static/../server.py").status_code == 404


def test_login_sets_a_safe_session_cookie_and_logout_ends_it(browser):
    r = login(browser, "viewer@example.com")
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert "retentio_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert "Secure" not in cookie  # plain http here; secure_cookies=True adds it (test below)
    for page in PAGES:
        r = browser.get(page)
        assert r.status_code == 200, (page, r.text[:500])
    token = browser.cookies.get("retentio_csrf")
    assert browser.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    assert browser.get("/", headers={"accept": "text/html"}, follow_redirects=False).status_code == 303


def test_secure_cookies_behind_https(app_workspace):
    from retentio.app.server import create_app

    with TestClient(create_app(app_workspace, secure_cookies=True), base_url="https://testserver") as c:
        r = login(c, "viewer@example.com")
        assert r.status_code == 303 and "Secure" in r.headers["set-cookie"]


def test_wrong_password_is_refused(browser):
    r = login(browser, "viewer@example.com", "wrong-password")
    assert r.status_code == 401 and "Wrong e-mail or password" in r.text
    assert "retentio_session" not in r.headers.get("set-cookie", "")


def test_every_form_needs_the_csrf_token(browser):
    assert login(browser, "admin@example.com").status_code == 303
    acc = "acc_00001"
    for url, data in (("/accounts/acc_00001/tasks", {"title": "x"}), ("/accounts/acc_00001/notes", {"body": "x"}),
                      ("/accounts/acc_00001/pulse", {"score": "3"}), ("/language", {"language": "fr"}),
                      ("/admin/users", {"action": "create"}), ("/logout", {}), ("/tasks/1/status", {"status": "done"}),
                      ("/accounts/acc_00001/csm", {"csm": "x"}), ("/health/refresh", {}), ("/views", {"name": "x"}),
                      ("/views/1/delete", {})):
        for token in (None, "forged"):
            body = dict(data) if token is None else {**data, "csrf_token": token}
            r = browser.post(url, data=body, follow_redirects=False)
            assert r.status_code == 403, (url, r.status_code)
            assert "CSRF" in r.text
    r = browser.post("/import", data={"entity": "accounts"}, files={"file": ("a.csv", b"account_id,name\n")},
                     follow_redirects=False)
    assert r.status_code == 403
    # the login form too (login CSRF)
    browser.cookies.clear()
    browser.get("/login")
    assert browser.post("/login", data={"email": "admin@example.com", "password": PASSWORD}).status_code == 403
    # with the token, the same request works
    assert login(browser, "admin@example.com").status_code == 303
    token = browser.cookies.get("retentio_csrf")
    r = browser.post(f"/accounts/{acc}/notes", data={"body": "with token", "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303


def test_api_write_with_a_session_cookie_needs_the_csrf_header(browser):
    login(browser, "admin@example.com")
    body = {"account_id": "acc_00001", "title": "from the browser"}
    assert browser.post("/api/v1/tasks", json=body).status_code == 403
    token = browser.cookies.get("retentio_csrf")
    assert browser.post("/api/v1/tasks", json=body, headers={"x-csrf-token": token}).status_code == 201


def test_login_is_rate_limited(app_workspace):
    from retentio.app.server import create_app

    app = create_app(app_workspace, login_limit=(3, 300.0))
    with TestClient(app) as c:
        codes = [login(c, "viewer@example.com", "wrong").status_code for _ in range(4)]
        assert codes == [401, 401, 401, 429]
        r = c.post("/api/v1/auth/token", data={"username": "viewer@example.com", "password": PASSWORD})
        assert r.status_code == 200  # the token endpoint counts separately
        for _ in range(3):
            c.post("/api/v1/auth/token", data={"username": "viewer@example.com", "password": "wrong"})
        r = c.post("/api/v1/auth/token", data={"username": "viewer@example.com", "password": PASSWORD})
        assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited" and r.headers["retry-after"]


def test_viewer_sees_no_write_forms_and_cannot_post(browser):
    login(browser, "viewer@example.com")
    page = browser.get("/accounts/acc_00001").text
    assert 'action="/accounts/acc_00001/tasks"' not in page
    token = browser.cookies.get("retentio_csrf")
    r = browser.post("/accounts/acc_00001/tasks", data={"title": "x", "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 403
    assert browser.get("/admin/users").status_code == 403


def test_french_numbers_and_words(browser, app):
    login(browser, "manager@example.com")
    token = browser.cookies.get("retentio_csrf")
    assert browser.post("/language", data={"language": "fr", "csrf_token": token, "next": "/"}, follow_redirects=False).status_code == 303
    page = browser.get("/").text
    assert "Vue d'ensemble" in page or "Vue d&#39;ensemble" in page
    mrr = float(re.search(r'data-metric="mrr" data-value="([0-9.]+)"', page).group(1))
    from babel.numbers import format_currency

    expected = format_currency(mrr, "EUR", locale="fr_FR")  # e.g. "103 379,97 €" with narrow no-break spaces
    assert "\u202f" in expected and expected.endswith("\u00a0€")
    assert expected in page
    browser.post("/language", data={"language": "en", "csrf_token": token, "next": "/"})
    page = browser.get("/").text
    assert format_currency(mrr, "EUR", locale="en_GB") in page  # "€103,379.97"


def test_language_from_the_browser_when_the_user_has_none(browser):
    login(browser, "viewer@example.com")  # the viewer never chose a language
    assert "Portefeuille" in browser.get("/portfolio", headers={"accept-language": "fr-FR,fr;q=0.9,en;q=0.5"}).text
    assert "Portfolio" in browser.get("/portfolio", headers={"accept-language": "en-GB,en;q=0.9"}).text


def test_pages_have_no_inline_script(browser):
    login(browser, "admin@example.com")
    for page in PAGES[:-1] + ["/accounts/acc_00001", "/admin/users"]:
        html = browser.get(page).text
        for tag in re.findall(r"<script[^>]*>", html):
            assert 'src="/static/' in tag or 'type="application/json"' in tag, (page, tag)
        assert not re.search(r"\son[a-z]+=\"", html), page  # no inline event handlers


def test_portfolio_csv_export(browser):
    login(browser, "viewer@example.com")
    r = browser.get("/portfolio.csv?sort=name&order=asc")
    assert r.headers["content-type"].startswith("text/csv")
    lines = r.text.strip().splitlines()
    assert lines[0].startswith("account_id,name,mrr,currency,health_score,band")
    total = browser.get("/api/v1/accounts?limit=1").json()["total"]  # the session cookie reads the API too
    assert len(lines) - 1 == total > 0


def test_web_task_creation_by_the_owner(browser, app):
    ws = app.state.ws
    login(browser, "csm@example.com")
    me = ws.users_list()
    name = next(u["name"] for u in me if u["email"] == "csm@example.com")
    own = ws.portfolio(csm=name, limit=1)["items"][0]["account_id"]
    token = browser.cookies.get("retentio_csrf")
    r = browser.post(f"/accounts/{own}/tasks", data={"title": "QBR prep", "due": "2030-02-01", "priority": "high",
                                                     "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    page = browser.get(f"/accounts/{own}").text
    assert "QBR prep" in page
    assert "QBR prep" in browser.get("/worklist").text


def test_save_a_portfolio_view(browser):
    login(browser, "viewer@example.com")
    token = browser.cookies.get("retentio_csrf")
    r = browser.post("/views", data={"name": "By name", "sort": "name", "order": "asc", "csrf_token": token},
                     follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/portfolio?sort=name&order=asc"
    page = browser.get("/portfolio").text
    assert "By name" in page and 'href="/portfolio?sort=name&amp;order=asc"' in page
