"""retentio playbooks list|validate|run|runs|retry|init, and retentio worker."""

from __future__ import annotations

import signal
from typing import Annotated, Any

import typer

from retentio.cli.common import (
    FormatOpt, OutputFormat, WorkspaceOpt, console, err_console, open_workspace, print_csv, print_json, print_table,
)
from retentio.cli.main import app

playbooks_app = typer.Typer(help="Playbooks: triggers evaluated as of a day, actions delivered exactly once.",
                            no_args_is_help=True)
app.add_typer(playbooks_app, name="playbooks")

AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="Evaluate as of this day (YYYY-MM-DD; default today).")]


def _out(rows: list[dict[str, Any]], format: OutputFormat, title: str, columns: list[str], data: Any = None) -> None:
    if format == OutputFormat.json:
        print_json(rows if data is None else data)
    elif format == OutputFormat.csv:
        print_csv(rows, columns)
    else:
        print_table(rows, columns, title=title)


@playbooks_app.command("list")
def list_(workspace: WorkspaceOpt = None, format: FormatOpt = OutputFormat.table) -> None:
    """The workspace's playbooks (the shipped defaults when it has no playbooks/ folder).

    Example: retentio playbooks list -w acme
    """
    rows = open_workspace(workspace).playbooks_list()
    flat = [{**r, "actions": ", ".join(r["actions"])} for r in rows]
    _out(flat, format, "Playbooks", ["name", "enabled", "trigger", "actions"], rows)


@playbooks_app.command("validate")
def validate(workspace: WorkspaceOpt = None, format: FormatOpt = OutputFormat.table) -> None:
    """Check every playbooks/*.yaml file; an error names the file, the key and the allowed values.

    Example: retentio playbooks validate -w acme
    """
    res = open_workspace(workspace).playbooks_validate()
    if format == OutputFormat.json:
        print_json(res)
    elif format == OutputFormat.csv:
        print_csv([{"file": f} for f in res["files"]], ["file"])
    else:
        console.print(f"{res['playbooks']} playbooks valid ({res['enabled']} enabled, {res['source']}: {res['folder']})")


@playbooks_app.command("run")
def run(workspace: WorkspaceOpt = None, as_of: AsOfOpt = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would happen and why; write nothing.")] = False,
        playbook: Annotated[str | None, typer.Option("--playbook", help="Only this playbook.")] = None,
        summary: Annotated[bool, typer.Option("--summary", help="Table format: only the counts, per playbook.")] = False,
        format: FormatOpt = OutputFormat.table) -> None:
    """Evaluate the triggers as of a day, start runs (exactly once) and enqueue their actions.

    Example: retentio playbooks run -w acme --as-of 2024-06-30 --dry-run
    """
    res = open_workspace(workspace).playbooks_run(as_of=as_of, dry_run=dry_run, playbook=playbook)
    if summary and format == OutputFormat.table:
        counts: dict[str, list[int]] = {}
        for r in res["runs"]:
            c = counts.setdefault(r["playbook"], [0, 0])
            c[0] += 1
            c[1] += len(r["actions"])
        res = {**res, "runs": []}
        print_table([{"playbook": k, "runs": v[0], "actions": v[1]} for k, v in sorted(counts.items())],
                    ["playbook", "runs", "actions"], title=f"Playbooks as of {res['as_of']}")
    rows = [{"playbook": r["playbook"], "account": r["account_id"], "trigger": r["trigger"],
             "actions": ", ".join(a["type"] + ("" if a.get("status") is None else f" ({a['status']})") for a in r["actions"])}
            for r in res["runs"]]
    if format == OutputFormat.json:
        print_json(res)
        return
    if format == OutputFormat.csv:
        print_csv(rows, ["playbook", "account", "trigger", "actions"])
        return
    verb = "would start" if dry_run else "started"
    if not summary:
        print_table(rows, ["playbook", "account", "trigger", "actions"],
                    title=f"Playbook runs {verb} as of {res['as_of']}")
    sk = res["skipped"]
    console.print(f"{res['runs_started']} runs {verb}, {res['actions_enqueued']} actions "
                  f"{'would be ' if dry_run else ''}enqueued; skipped: {sk['dedupe']} dedupe, "
                  f"{sk['open_run']} open run, {sk['cap']} cap; {len(res['cleared'])} runs cleared")
    for u in res["unavailable"]:
        err_console.print(f"note: {u['playbook']} not evaluated: {u['reason']}")


@playbooks_app.command("runs")
def runs(workspace: WorkspaceOpt = None,
         account: Annotated[str | None, typer.Option("--account", help="Only this account.")] = None,
         playbook: Annotated[str | None, typer.Option("--playbook", help="Only this playbook.")] = None,
         status: Annotated[str | None, typer.Option("--status", help="open or closed.")] = None,
         limit: Annotated[int | None, typer.Option("--limit", help="At most this many runs (newest first).")] = None,
         format: FormatOpt = OutputFormat.table) -> None:
    """Runs, their actions and every delivery attempt (the audit trail), newest first.

    Example: retentio playbooks runs -w acme --account acc_0042 --format json
    """
    res = open_workspace(workspace).playbooks_runs(account=account, playbook=playbook, status=status, limit=limit)
    rows = [{"run": r["id"], "playbook": r["playbook"], "account": r["account_id"], "as_of": r["as_of"],
             "status": r["status"],
             "actions": ", ".join(f"{a['type']}:{a['status']}" for a in r["actions"])} for r in res]
    _out(rows, format, "Playbook runs", ["run", "playbook", "account", "as_of", "status", "actions"], res)


@playbooks_app.command("retry")
def retry(workspace: WorkspaceOpt = None,
          action: Annotated[int | None, typer.Option("--action", help="The dead-letter action to retry.")] = None,
          all_dead: Annotated[bool, typer.Option("--all-dead", help="Retry every dead-letter action.")] = False,
          format: FormatOpt = OutputFormat.table) -> None:
    """Put dead-letter actions back in the outbox (the worker delivers them on its next pass).

    Example: retentio playbooks retry -w acme --all-dead
    """
    res = open_workspace(workspace).playbooks_retry(action_id=action, all_dead=all_dead)
    _out([res], format, "Retried", ["retried"], res)


@playbooks_app.command("init")
def init(workspace: WorkspaceOpt = None,
         force: Annotated[bool, typer.Option("--force", help="Overwrite existing playbook files.")] = False,
         format: FormatOpt = OutputFormat.table) -> None:
    """Copy the shipped playbooks and e-mail templates into the workspace's playbooks/ to edit them.

    Example: retentio playbooks init -w acme
    """
    res = open_workspace(workspace).playbooks_init(force=force)
    _out([{"file": f} for f in res["playbooks"]], format, f"Copied to {res['folder']}", ["file"], res)


@app.command("worker")
def worker(workspace: WorkspaceOpt = None,
           once: Annotated[bool, typer.Option("--once", help="Deliver what is due now, then exit.")] = False,
           format: FormatOpt = OutputFormat.table) -> None:
    """Deliver the playbooks' outbox: retries with backoff, attempts recorded, dead letters.

    Runs until interrupted (SIGINT / SIGTERM finish the current delivery first), polling every playbooks.poll_interval_seconds; --once delivers what is due and prints the counts.

    Example: retentio worker -w acme --once --format json
    """
    ws = open_workspace(workspace)
    cols = ["delivered", "failed", "retrying", "dead", "skipped"]
    if once:
        res = ws.worker_once()
        _out([res], format, "Worker pass", cols, res)
        return
    if format == OutputFormat.csv:
        from retentio.errors import UsageError

        raise UsageError("the long-running worker cannot write CSV", hint="use --format table or json, or --once")
    stop = {"now": False}

    def _stop(*_):
        stop["now"] = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)

    def _report(counts: dict) -> None:
        if any(counts.values()):
            if format == OutputFormat.json:
                print_json(counts)
            else:
                console.print(", ".join(f"{k} {v}" for k, v in counts.items()))

    ws.worker_loop(should_stop=lambda: stop["now"], on_pass=_report)
