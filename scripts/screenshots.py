"""Take screenshots of the main pages of the web app into docs/screenshots/ (make screenshots).

    python scripts/screenshots.py --workspace demo-workspace [--out docs/screenshots]

Serves the workspace on a free loopback port, logs in as a throw-away admin user created
for the run (removed afterwards is not needed: it is disabled at the end), and drives
Debian's Chromium (/usr/bin/chromium) with Playwright.
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import socket
import sys
import threading
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@contextlib.contextmanager
def serve(app):
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        t.join(timeout=10)


def _account_to_show(ws) -> str:
    """The account of the 360 screenshot: the largest customer that playbooks have worked on
    (so the timeline shows runs and actions; `retentio playbooks run` + `retentio worker`),
    else the largest customer."""
    from sqlalchemy import select

    from retentio.store import PlaybookRun

    with ws.app_session() as s:
        worked = set(s.scalars(select(PlaybookRun.account_id).distinct()))
    items = ws.portfolio(limit=1000, sort="mrr")["items"]
    return next((i["account_id"] for i in items if i["account_id"] in worked), items[0]["account_id"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", required=True)
    ap.add_argument("--out", default="docs/screenshots")
    a = ap.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing: apt-get install -y chromium", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    from retentio.app.server import create_app

    app = create_app(a.workspace)
    ws = app.state.ws
    email, password = f"screenshots-{secrets.token_hex(4)}@example.com", secrets.token_urlsafe(16)
    ws.users_create(email=email, role="admin", password=password, name="Camille Durand", actor="screenshots")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    top = _account_to_show(ws)
    pages = [("overview", "/"), ("portfolio", "/portfolio"), ("account-360", f"/accounts/{top}"), ("worklist", "/worklist"),
             ("cohorts", "/cohorts"), ("segments", "/segments?by=industry"), ("explain-nrr", "/explain/nrr"),
             ("import", "/import"), ("health", "/health"), ("api-docs", "/api/docs")]
    try:
        with serve(app) as base, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            ctx = browser.new_context(base_url=base, viewport={"width": 1440, "height": 900}, locale="en-GB")
            # the first visit of a page computes its figures (cache): allow minutes on a busy machine
            ctx.set_default_timeout(600_000)
            ctx.set_default_navigation_timeout(600_000)
            page = ctx.new_page()
            page.goto("/login")
            page.screenshot(path=str(out / "login.png"))
            page.fill("input[name=email]", email)
            page.fill("input[name=password]", password)
            page.click("button[type=submit]")
            page.wait_for_selector(".kpis")
            for name, url in pages:
                page.goto(url)
                page.wait_for_load_state("networkidle")
                page.wait_for_timeout(300)
                page.screenshot(path=str(out / f"{name}.png"), full_page=name not in ("api-docs",))
                print(out / f"{name}.png")
            page.click("#switch-language")
            page.wait_for_load_state("networkidle")
            page.goto("/")
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(out / "overview-fr.png"), full_page=True)
            print(out / "overview-fr.png")
            browser.close()
    finally:
        ws.users_disable(email, actor="screenshots")
    return 0


if __name__ == "__main__":
    sys.exit(main())
