"""Entry point of the ``retentio`` command.

Exit codes: 0 ok, 1 data or workspace error, 2 usage error.  A user error prints one line
and a hint, never a traceback (``--debug`` shows it).
"""

from __future__ import annotations

import importlib
import sys
from typing import Annotated

import typer

from retentio.cli.common import err_console

app = typer.Typer(
    name="retentio",
    help=(
        "Customer Success analytics you can check by hand: MRR, churn, NRR, GRR, LTV, cohorts, "
        "engagement and satisfaction, explained down to the account.\n\n"
        "Start with:  retentio demo --workspace demo-workspace  then  retentio metrics --workspace demo-workspace --period last"
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)

_state = {"debug": False}


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
) -> None:
    _state["debug"] = debug


def _load_commands() -> None:
    # Each capability's CLI module registers its commands on ``app`` when imported
    # (retentio.capabilities lists them; add a capability there, not here).
    from retentio.capabilities import cli_modules

    for name in cli_modules():
        importlib.import_module(name)


def run() -> None:
    """Console-script entry: run the app, turning RetentioError into one line + exit code."""
    from retentio.errors import RetentioError

    _load_commands()
    debug = "--debug" in sys.argv
    try:
        app(standalone_mode=False)
    except RetentioError as exc:
        if debug:
            raise
        err_console.print(f"[bold red]error:[/] {exc.message}", highlight=False, soft_wrap=True)
        if exc.hint:
            err_console.print(f"[yellow]hint:[/] {exc.hint}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(1)
    except Exception as exc:  # usage errors of the command line, and the unexpected
        # Typer 0.29 bundles its own click; its usage errors are TyperException with show().
        show = getattr(exc, "show", None)
        if isinstance(exc, typer.TyperException) and callable(show):
            show()
            sys.exit(getattr(exc, "exit_code", 2))
        if debug:
            raise
        err_console.print(f"[bold red]internal error:[/] {type(exc).__name__}: {exc}", highlight=False)
        err_console.print("[yellow]hint:[/] re-run with --debug for the traceback and report it", highlight=False)
        sys.exit(1)
