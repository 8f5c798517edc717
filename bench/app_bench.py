"""Benchmark of the web application and REST API (loopback only).

    python -m bench.app_bench --workspace WS            # an existing workspace
    python -m bench.app_bench --accounts 20000          # a demo book made for the run

Starts ``retentio serve`` on a free 127.0.0.1 port in a child process, logs in (a bench user
created for the run, disabled at the end), warms up, then measures:

- p50 / p95 / max over 200 sequential requests of: the overview page, ``GET
  /api/v1/metrics?period=last``, the portfolio's first page, an account 360 page;
- 20 concurrent clients for 30 s cycling over the same four requests: requests, errors
  (anything but 200), throughput, p95.

Every request goes to 127.0.0.1 only; the loops are bounded in count and time.  Results
are printed and written as JSON (``--out``, default bench/results-app.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pct(values: list[float], q: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, max(0, int(round(q * (len(v) - 1)))))]


def _cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (Linux /proc); None elsewhere.  On a
    shared machine the server's CPU time per request is the figure the load does not inflate."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def _summary(times: list[float]) -> dict:
    return {"n": len(times), "p50_ms": round(_pct(times, 0.50) * 1000, 2), "p95_ms": round(_pct(times, 0.95) * 1000, 2),
            "max_ms": round(max(times) * 1000, 2), "mean_ms": round(statistics.fmean(times) * 1000, 2)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", help="an existing workspace (else a demo book is made)")
    ap.add_argument("--accounts", type=int, default=2000, help="accounts of the demo book made when no --workspace")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--out", default="bench/results-app.json")
    ap.add_argument("--events-per-user-month", type=float, default=None,
                    help="usage events of the demo book made (default: the generator's 8 up to 20 000 accounts, none above)")
    ap.add_argument("--timeout", type=float, default=600.0,
                    help="seconds a request may take (the first ones compute the cache: minutes on a big book on a loaded machine)")
    ap.add_argument("--key", help="the key of this run in --out (default: the number of accounts)")
    a = ap.parse_args(argv)

    import httpx

    from retentio.service import Workspace

    tmp = None
    t0 = time.perf_counter()
    if a.workspace:
        path = Path(a.workspace)
    else:
        tmp = tempfile.mkdtemp(prefix="retentio-app-bench-")
        path = Path(tmp) / "ws"
        print(f"making a demo book of {a.accounts} accounts in {path} ...", flush=True)
        epum = a.events_per_user_month
        Workspace.demo(path, accounts=a.accounts, months=36, seed=42, force=True,
                       usage=a.accounts <= 20000 if epum is None else epum > 0,
                       **({} if epum is None else {"events_per_user_month": epum}))
    build_s = time.perf_counter() - t0
    ws = Workspace(path)
    email, password = f"bench-{secrets.token_hex(4)}@example.com", secrets.token_urlsafe(18)
    ws.users_create(email=email, role="admin", password=password, name="Bench", actor="bench")
    counts = ws.counts()
    accounts = counts["accounts"]
    ws.close()
    del ws

    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1] / "src"),
                                                        os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-c", "from retentio.cli.main import run; run()", "serve", "--workspace", str(path),
           "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    result: dict = {"workspace": str(path), "accounts": accounts, "counts": counts, "machine": {"cpus": os.cpu_count(),
                    "python": platform.python_version(), "platform": platform.platform()},
                    "load_avg_start": [round(x, 2) for x in os.getloadavg()]}
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if httpx.get(base + "/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise RuntimeError("the server did not start: " + (server.stderr.read(2000).decode() if server.stderr else ""))
        token = httpx.post(base + "/api/v1/auth/token", data={"username": email, "password": password},
                           timeout=a.timeout).json()["access_token"]
        api_h = {"Authorization": f"Bearer {token}"}

        def login() -> httpx.Client:
            c = httpx.Client(base_url=base, timeout=a.timeout)
            c.get("/login")
            r = c.post("/login", data={"email": email, "password": password, "csrf_token": c.cookies.get("retentio_csrf"),
                                       "next": "/"})
            assert r.status_code == 303 and "retentio_session" in c.cookies, r.status_code
            return c

        web = login()  # one login (the login is rate-limited per address); the clients share its session

        def browser() -> httpx.Client:
            return httpx.Client(base_url=base, timeout=a.timeout, cookies=dict(web.cookies))

        page = httpx.get(base + "/api/v1/accounts?limit=1", headers=api_h, timeout=a.timeout).json()
        if not page["items"]:  # a book ending before the last complete month: no customer today
            page = httpx.get(base + "/api/v1/accounts?limit=1&all_accounts=true", headers=api_h, timeout=a.timeout).json()
        top = page["items"][0]["account_id"]
        targets = {
            "overview": (web, "/", {}),
            "api_metrics_last": (web, "/api/v1/metrics?period=last", api_h),
            "portfolio_page_1": (web, "/portfolio", {}),
            "account_360": (web, f"/accounts/{top}", {}),
        }
        cold = {}
        for name, (c, url, h) in targets.items():
            t = time.perf_counter()
            r = c.get(url, headers=h)
            cold[name] = round((time.perf_counter() - t) * 1000, 1)
            assert r.status_code == 200, (name, r.status_code, r.text[:300])
        result["first_request_ms"] = cold
        for name, (c, url, h) in targets.items():
            for _ in range(a.warmup):
                c.get(url, headers=h)
        seq = {}
        for name, (c, url, h) in targets.items():
            times = []
            cpu0 = _cpu_s(server.pid)
            for _ in range(a.requests):
                t = time.perf_counter()
                r = c.get(url, headers=h)
                times.append(time.perf_counter() - t)
                assert r.status_code == 200, (name, r.status_code)
            cpu1 = _cpu_s(server.pid)
            seq[name] = _summary(times)
            if cpu0 is not None and cpu1 is not None:
                seq[name]["server_cpu_ms_per_request"] = round((cpu1 - cpu0) * 1000 / a.requests, 2)
            seq[name]["load_avg_1m"] = round(os.getloadavg()[0], 2)
        result["sequential"] = seq

        stop = time.time() + a.seconds
        lock = threading.Lock()
        lat: list[float] = []
        errors: list[str] = []
        count = [0]

        def client(i: int) -> None:
            c = browser()
            order = list(targets.values())
            k = i
            while time.time() < stop:
                _, url, h = order[k % len(order)]
                k += 1
                t = time.perf_counter()
                try:
                    r = c.get(url, headers=h)
                    ok = r.status_code == 200
                    err = None if ok else f"{url}: {r.status_code}"
                except httpx.HTTPError as exc:
                    err = f"{url}: {type(exc).__name__}"
                dt = time.perf_counter() - t
                with lock:
                    count[0] += 1
                    lat.append(dt)
                    if err:
                        errors.append(err)
            c.close()

        threads = [threading.Thread(target=client, args=(i,)) for i in range(a.clients)]
        t = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        wall = time.perf_counter() - t
        result["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
        result["concurrent"] = {"clients": a.clients, "seconds": round(wall, 1), "requests": count[0], "errors": len(errors),
                                "error_samples": errors[:5], "throughput_rps": round(count[0] / wall, 1), **_summary(lat)}
        result["build_s"] = round(build_s, 1)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        ws = Workspace(path)
        ws.users_disable(email, actor="bench")
        ws.close()

    print(f"\nRetentio app bench: {accounts} accounts ({path})")
    print(f"{'request':<20}{'first ms':>10}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}")
    for name, s in result["sequential"].items():
        print(f"{name:<20}{result['first_request_ms'][name]:>10}{s['p50_ms']:>9}{s['p95_ms']:>9}{s['max_ms']:>9}")
    c = result["concurrent"]
    print(f"{c['clients']} clients x {c['seconds']} s: {c['requests']} requests, {c['errors']} errors, "
          f"{c['throughput_rps']} req/s, p95 {c['p95_ms']} ms")
    out = Path(a.out)
    existing = json.loads(out.read_text()) if out.exists() else {}
    existing[a.key or str(accounts)] = result
    out.write_text(json.dumps(existing, indent=2, default=str) + "\n")
    return 0 if c["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
