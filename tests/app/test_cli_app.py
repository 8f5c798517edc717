"""retentio users create|list|disable|token, db upgrade, serve (the pinned interface)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from retentio.cli import main as cli_main

cli_main._load_commands()
runner = CliRunner()


@pytest.fixture
def ws_copy(app_demo_template, tmp_path) -> Path:
    dest = tmp_path / "ws"
    shutil.copytree(app_demo_template, dest)
    return dest


class Out:
    """exit_code as the console script gives it (RetentioError -> its exit code), and the text."""

    def __init__(self, r):
        from retentio.errors import RetentioError

        exc = r.exception
        self.exit_code = exc.exit_code if isinstance(exc, RetentioError) else r.exit_code
        self.output = r.output + (f"{exc.message} {exc.hint or ''}" if isinstance(exc, RetentioError) else "")


def invoke(*args: str, input: str | None = None) -> Out:
    import gc

    r = runner.invoke(cli_main.app, list(args), input=input)
    gc.collect()
    return Out(r)


def test_users_create_reads_the_password_from_stdin_and_can_log_in(ws_copy):
    r = invoke("users", "create", "--workspace", str(ws_copy), "--email", "Zoe@Example.com", "--role", "manager",
               "--password-stdin", "--format", "json", input="zoe-password-123\n")
    assert r.exit_code == 0, r.output
    (u,) = json.loads(r.output)
    assert (u["email"], u["role"], u["disabled"]) == ("zoe@example.com", "manager", False)
    assert "password" not in r.output and "zoe-password-123" not in r.output
    from retentio.service import Workspace

    ws = Workspace(ws_copy)
    assert ws.authenticate("zoe@example.com", "zoe-password-123")["role"] == "manager"
    assert ws.authenticate("zoe@example.com", "wrong") is None
    ws.close()


def test_users_create_refusals(ws_copy):
    w = ["--workspace", str(ws_copy)]
    r = invoke("users", "create", *w, "--email", "a@example.com", "--role", "root", "--password-stdin", input="long-enough\n")
    assert r.exit_code == 2 and "role" in r.output
    r = invoke("users", "create", *w, "--email", "b@example.com", "--role", "viewer", "--password-stdin", input="short\n")
    assert r.exit_code == 2 and "8 characters" in r.output
    r = invoke("users", "create", *w, "--email", "admin@example.com", "--role", "viewer")
    assert r.exit_code == 2 and "already exists" in r.output


def test_users_list_disable_and_tokens(ws_copy):
    w = ["--workspace", str(ws_copy)]
    listed = json.loads(invoke("users", "list", *w, "--format", "json").output)
    assert {u["email"] for u in listed} >= {"admin@example.com", "viewer@example.com"}
    r = invoke("users", "token", *w, "--email", "viewer@example.com", "--name", "cron", "--format", "json")
    assert r.exit_code == 0, r.output
    tok = json.loads(r.output)[0]
    assert tok["token"].startswith("rt_")
    from retentio.service import Workspace

    ws = Workspace(ws_copy)
    assert ws.authenticate_token(tok["token"])["email"] == "viewer@example.com"
    ws.close()
    assert invoke("users", "disable", *w, "--email", "viewer@example.com").exit_code == 0
    ws = Workspace(ws_copy)
    assert ws.authenticate_token(tok["token"]) is None  # disabling revokes the user's tokens
    from apphelpers import PASSWORD

    assert ws.authenticate("viewer@example.com", PASSWORD) is None
    ws.close()
    r = invoke("users", "token", *w, "--email", "viewer@example.com")
    assert r.exit_code == 2 and "disabled" in r.output


def test_db_upgrade_is_idempotent(ws_copy):
    r = invoke("db", "upgrade", "--workspace", str(ws_copy), "--format", "json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)[0]
    from retentio import store

    assert out["from"] == out["to"] == store.HEAD_REVISION


def test_serve_refuses_json(ws_copy):
    r = invoke("serve", "--workspace", str(ws_copy), "--format", "json")
    assert r.exit_code == 2


@pytest.mark.slow
def test_serve_starts_and_answers(ws_copy):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(cli_main.__file__).resolve().parents[2]),
                                                        os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", "from retentio.cli.main import run; run()", "serve", "--workspace",
                             str(ws_copy), "--host", "127.0.0.1", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        import httpx

        for _ in range(300):
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert r.status_code == 200 and r.json() == {"status": "ok"}
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/accounts").status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=20)
