"""retentio serve / users create|list|disable|token|revoke / db upgrade (the application)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from retentio.cli.common import FormatOpt, OutputFormat, WorkspaceOpt, console, open_workspace, print_csv, print_json, print_table
from retentio.cli.main import app
from retentio.errors import UsageError

users_app = typer.Typer(help="Users of the web application and the REST API: create, list, disable, API tokens.",
                        no_args_is_help=True)
db_app = typer.Typer(help="The application-state database (users, tasks, notes ...).", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(db_app, name="db")

USER_COLUMNS = ["id", "email", "name", "role", "disabled", "language", "team", "created_at"]


def _out(rows: list[dict], fmt: OutputFormat, columns: list[str], title: str) -> None:
    if fmt == OutputFormat.json:
        print_json(rows)
    elif fmt == OutputFormat.csv:
        print_csv(rows, columns)
    else:
        print_table(rows, columns=columns, title=title)


@app.command("serve")
def serve(
    workspace: WorkspaceOpt = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on (127.0.0.1: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option("--workers", help="Worker processes (uvicorn).")] = 1,
    secure_cookies: Annotated[bool, typer.Option("--secure-cookies", help="Mark cookies Secure (set when served over HTTPS, e.g. behind a reverse proxy).")] = False,
    format: FormatOpt = OutputFormat.table,
) -> None:
    """Run the web application and the REST API (FastAPI under uvicorn).

    Open http://HOST:PORT/ in a browser; the API is under /api/v1, its reference at /api/docs.

    Examples:
      retentio serve --workspace demo-workspace
      retentio serve --workspace acme --host 127.0.0.1 --port 8080 --secure-cookies
    """
    if format != OutputFormat.table:
        raise UsageError("serve runs a server: it has no json or csv output", hint="drop --format")
    import os

    import uvicorn

    ws = open_workspace(workspace)
    os.environ["RETENTIO_WORKSPACE"] = str(ws.path)
    if secure_cookies:
        os.environ["RETENTIO_SECURE_COOKIES"] = "1"
    ws.close()
    console.print(f"Retentio on http://{host}:{port}/  (workspace {ws.path}; API reference http://{host}:{port}/api/docs)")
    uvicorn.run("retentio.app.server:app_from_env", factory=True, host=host, port=port, workers=workers,
                proxy_headers=True, log_level="warning")


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option("--email", help="The user's e-mail (the login).")],
    role: Annotated[str, typer.Option("--role", help="admin | manager | csm | viewer")],
    workspace: WorkspaceOpt = None,
    name: Annotated[str | None, typer.Option("--name", help="Display name; a CSM's name as in the accounts' csm attribute.")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from standard input (first line).")] = False,
    language: Annotated[str | None, typer.Option("--language", help="fr | en (default: the browser's).")] = None,
    team: Annotated[str | None, typer.Option("--team", help="Team name.")] = None,
    format: FormatOpt = OutputFormat.table,
) -> None:
    """Create a user; with --password-stdin the user can log in.

    Examples:
      echo 'a-long-password' | retentio users create --workspace acme --email ana@acme.fr --role admin --password-stdin
    """
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise UsageError("no password on standard input", hint="e.g. echo 'a-long-password' | retentio users create ... --password-stdin")
    ws = open_workspace(workspace)
    u = ws.users_create(email=email, role=role, password=password, name=name, language=language, team=team, actor="cli")
    _out([u], format, USER_COLUMNS, "user created")


@users_app.command("list")
def users_list(workspace: WorkspaceOpt = None, format: FormatOpt = OutputFormat.table) -> None:
    """List users with their role and whether they are disabled."""
    ws = open_workspace(workspace)
    _out(ws.users_list(), format, USER_COLUMNS, "users")


@users_app.command("disable")
def users_disable(
    email: Annotated[str, typer.Option("--email", help="The user to disable.")],
    workspace: WorkspaceOpt = None,
    format: FormatOpt = OutputFormat.table,
) -> None:
    """Disable a user: no more login; the user's sessions end and API tokens are revoked."""
    ws = open_workspace(workspace)
    _out([ws.users_disable(email, actor="cli")], format, USER_COLUMNS, "user disabled")


@users_app.command("token")
def users_token(
    email: Annotated[str, typer.Option("--email", help="The user the token acts as.")],
    workspace: WorkspaceOpt = None,
    name: Annotated[str, typer.Option("--name", help="What the token is for.")] = "api",
    days: Annotated[int | None, typer.Option("--days", help="Expires after N days (default: never).")] = None,
    revoke: Annotated[int | None, typer.Option("--revoke", help="Revoke the token with this id instead.")] = None,
    format: FormatOpt = OutputFormat.table,
) -> None:
    """Create an API token (printed once; only its digest is kept), or revoke one with --revoke ID.

    Examples:
      retentio users token --workspace acme --email ana@acme.fr --name nightly-export
      curl -H "Authorization: Bearer rt_..." http://127.0.0.1:8000/api/v1/metrics?period=last
    """
    ws = open_workspace(workspace)
    if revoke is not None:
        ws.tokens_revoke(revoke, actor="cli")
        console.print(f"token {revoke} revoked")
        return
    t = ws.users_token(email, name=name, days=days, actor="cli")
    if format == OutputFormat.table:
        console.print(f"token {t['id']} for {t['email']} ({name}); shown once, keep it secret:")
        sys.stdout.write(t["token"] + "\n")
    else:
        _out([t], format, ["id", "email", "name", "token", "created_at", "expires_at"], "token")


@db_app.command("upgrade")
def db_upgrade(workspace: WorkspaceOpt = None, format: FormatOpt = OutputFormat.table) -> None:
    """Migrate the application-state database (app.sqlite or workspace.app_database_url) to the latest revision."""
    from retentio import store
    from retentio import workspace as layout
    from retentio.config import Settings

    files = layout.WorkspaceFiles(layout.resolve_path(workspace))
    settings = Settings.load(files.config)
    url = files.app_database_url(settings)
    before = store.current_revision(url)
    store.migrate(url)
    out = {"database": store.safe_url(url), "from": before, "to": store.current_revision(url)}
    if format == OutputFormat.table:
        console.print(f"{out['database']}: revision {out['from']} -> {out['to']}", highlight=False)
    else:
        _out([out], format, ["database", "from", "to"], "db upgrade")
