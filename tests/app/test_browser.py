"""The web app in a real browser: Playwright driving Debian's Chromium (/usr/bin/chromium).

Skipped, with the reason, when /usr/bin/chromium or Playwright is missing (`make browser-deps`
installs chromium with apt-get)."""

from __future__ import annotations

import json
import os

import pytest
from apphelpers import CHROMIUM, CHROMIUM_ARGS, PASSWORD, live_server

# Under pytest-xdist (make test) the browser tests share one worker; other modules' tests may
# run between them, which gives a new page (module fixture): each test logs in if it must.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]


def _open(page, path: str) -> None:
    """Go to ``path``, logging in as the manager first when the session is new."""
    page.goto(path)
    if "/login" in page.url:
        page.fill("input[name=email]", "manager@example.com")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        if path not in page.url:
            page.goto(path)


@pytest.fixture(scope="module")
def page(app):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"browser tests skipped: {CHROMIUM} is missing (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests skipped: playwright is not installed")
    with live_server(app) as base, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=base, locale="en-GB", viewport={"width": 1400, "height": 1000})
        pg = context.new_page()
        # The server computes a page's figures on first request, on the same two cores as the
        # rest of the suite (make test runs two workers): wait for it rather than flake.
        pg.set_default_timeout(120_000)
        errors: list[str] = []
        pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.errors = errors
        yield pg
        browser.close()


def _cli_metrics(workspace) -> dict:
    import gc

    from typer.testing import CliRunner

    from retentio.cli import main as cli_main

    cli_main._load_commands()
    r = CliRunner().invoke(cli_main.app, ["metrics", "--workspace", str(workspace), "--period", "last", "--format", "json"])
    gc.collect()
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def test_login_overview_equals_cli(page, app_workspace):
    page.goto("/")
    assert "/login" in page.url
    page.fill("input[name=email]", "manager@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector(".kpis")
    cli = _cli_metrics(app_workspace)
    for key in ("mrr", "arr", "customers", "nrr", "grr", "customer_churn_rate", "quick_ratio", "ltv"):
        shown = page.get_attribute(f'.kpi[data-metric="{key}"]', "data-value")
        assert cli[key] is not None and float(shown) == pytest.approx(cli[key], rel=1e-12), key
    # the MRR tile shows the CLI's MRR, formatted in English
    from babel.numbers import format_currency

    assert page.inner_text('.kpi[data-metric="mrr"] .value') == format_currency(cli["mrr"], "EUR", locale="en_GB")
    page.wait_for_selector("#waterfall .main-svg")  # Plotly drew the bridge (served by the app, no CDN)
    assert not [e for e in page.errors if "Content Security Policy" in e or "Refused" in e], page.errors


def test_open_an_account_360_and_create_a_task(page):
    _open(page, "/portfolio")
    first = page.locator("#portfolio tbody tr a").first
    name = first.inner_text()
    first.click()
    page.wait_for_selector("h1")
    assert name in page.inner_text("h1")
    page.wait_for_selector("#revenue .main-svg")
    page.fill("#task-form input[name=title]", "Prepare the QBR deck")
    page.click("#task-form button")
    page.wait_for_selector("text=Prepare the QBR deck")
    assert "Prepare the QBR deck" in page.inner_text("#tasks")


def test_switch_to_french_and_see_french_numbers(page, app_workspace):
    _open(page, "/")
    page.click("#switch-language")
    page.wait_for_selector("text=Vue d'ensemble")
    cli = _cli_metrics(app_workspace)
    from babel.numbers import format_currency

    shown = page.inner_text('.kpi[data-metric="mrr"] .value')
    expected = format_currency(cli["mrr"], "EUR", locale="fr_FR")  # "1 234,56 €", narrow no-break spaces
    assert shown == expected and "," in shown and shown.endswith("€")
    page.click("#switch-language")  # back to English for the other tests
    page.wait_for_selector("text=Overview")


def test_upload_a_file_with_a_bad_row_and_see_it_quarantined(page, tmp_path):
    f = tmp_path / "accounts-fix.csv"
    f.write_text("account_id,name,industry\nacc_new_9,Maison Dupont,retail\n,Sans Identifiant,retail\n", encoding="utf-8")
    _open(page, "/import")
    page.select_option("select[name=entity]", "accounts")
    page.set_input_files("input[name=file]", str(f))
    page.click("#import-form button")
    page.wait_for_selector("#import-report")
    assert page.inner_text("#quarantined-count") == "1"
    rows = page.locator("#quarantine tbody tr")
    assert rows.count() == 1
    assert "account_id" in rows.first.inner_text()
