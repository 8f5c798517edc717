"""Generate docs/cli.md from the commands themselves, so the reference never drifts.

    python -m retentio.cli.reference > docs/cli.md
"""

from __future__ import annotations

import inspect

import typer


def _walk(cmd, path: list[str], out: list[str]) -> None:
    sub = getattr(cmd, "commands", None)
    if sub and path:
        out.append(f"## `{' '.join(path)}`\n")
        out.append(inspect.cleandoc(cmd.help or "") + "\n")
    if sub:
        # the group's own order (the root: the capabilities' declared order), not the order
        # in which modules happened to register their commands in this process
        for name in cmd.list_commands(None):
            _walk(sub[name], path + [name], out)
        return
    out.append(f"{'###' if len(path) > 1 else '##'} `{' '.join(path)}`\n")
    out.append(inspect.cleandoc(cmd.help or "").replace("\n  ", "\n    ") + "\n")
    rows = []
    for p in cmd.params:
        if p.param_type_name == "argument":
            rows.append((f"`{(p.name or '').upper()}`", (getattr(p, "help", None) or "argument").replace("|", "\\|"), ""))
            continue
        opts = ", ".join(f"`{o}`" for o in p.opts)
        default = "" if p.default in (None, False) or p.required else f"`{getattr(p.default, 'value', p.default)}`"
        rows.append((opts, (p.help or "").replace("|", "\\|"), default))
    if rows:
        out.append("| option | meaning | default |\n| --- | --- | --- |")
        out.extend(f"| {a} | {b} | {c} |" for a, b, c in rows)
        out.append("")


def render() -> str:
    from retentio.cli.main import _load_commands, app

    _load_commands()
    root = typer.main.get_command(app)
    out = [
        "# CLI reference",
        "",
        "Generated from the commands by `python -m retentio.cli.reference > docs/cli.md` (a test checks it is current).",
        "Exit codes: 0 ok, 1 data or workspace error, 2 usage error. Errors print one line and a hint;",
        "`retentio --debug COMMAND ...` shows the traceback. Every command takes `--help`.",
        "",
    ]
    _walk(root, [], out)
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    print(render(), end="")


__all__ = ["render"]
