"""Capabilities plug into the CLI and the service facade through one declaration."""

import importlib

import pytest

from retentio import capabilities
from retentio.capabilities import Capability


def test_every_cli_module_imports():
    for name in capabilities.cli_modules():
        assert importlib.import_module(name) is not None


def test_service_method_is_found_and_bound(monkeypatch, tmp_path):
    from retentio.service import Workspace

    fake = Capability("probe", "test capability", service={"probe_answer": "tests.test_capabilities:_probe"})
    monkeypatch.setattr(capabilities, "BUILTIN", capabilities.BUILTIN + (fake,))
    capabilities.all_capabilities.cache_clear()
    capabilities._service_index.cache_clear()
    try:
        ws = Workspace.init(tmp_path / "ws")
        assert ws.probe_answer(2, plus=3) == (ws.path, 5)
        assert "probe_answer" in dir(ws)
        with pytest.raises(AttributeError):
            ws.no_such_method
    finally:
        capabilities.all_capabilities.cache_clear()
        capabilities._service_index.cache_clear()


def test_a_method_declared_twice_is_refused(monkeypatch):
    a = Capability("a", "", service={"same": "x:y"})
    b = Capability("b", "", service={"same": "x:z"})
    monkeypatch.setattr(capabilities, "BUILTIN", (a, b))
    capabilities.all_capabilities.cache_clear()
    capabilities._service_index.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="declared by two capabilities"):
            capabilities.service_method("same")
    finally:
        capabilities.all_capabilities.cache_clear()
        capabilities._service_index.cache_clear()


def _probe(ws, a, *, plus):
    return ws.path, a + plus


def test_declared_commands_are_the_commands_of_the_cli_modules():
    """`retentio --help` lists the commands from the declarations without importing the CLI
    modules: the declarations must name each module's top-level commands and their help."""
    import inspect

    import typer

    from retentio.cli import main as cli_main

    cli_main._load_commands()
    built = typer.main.get_group(cli_main.app).commands
    declared = capabilities.cli_commands()
    assert set(declared) == set(built)
    modules = {c.name or c.callback.__name__: c.callback.__module__ for c in cli_main.app.registered_commands}
    modules.update({g.name: (g.typer_instance.registered_commands[0].callback.__module__)
                    for g in cli_main.app.registered_groups})
    for name, (module, help) in declared.items():
        assert modules[name] == module, name
        cmd = built[name]
        assert inspect.cleandoc(cmd.short_help or cmd.help or "").split("\n\n")[0].replace("\n", " ") == help, name


def test_help_imports_no_command_module():
    """The root help is rendered from the declarations: no capability CLI module, no data
    library, no Markdown renderer is imported (what keeps `retentio --help` fast)."""
    import subprocess
    import sys

    code = ("import sys, io, contextlib\n"
            "sys.argv = ['retentio', '--help']\n"
            "from retentio.cli.main import run\n"
            "out = io.StringIO()\n"
            "with contextlib.redirect_stdout(out):\n"
            "    try: run()\n"
            "    except SystemExit: pass\n"
            "assert 'metrics' in out.getvalue() and 'playbooks' in out.getvalue(), out.getvalue()\n"
            "print(' '.join(sorted(sys.modules)))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(r.stdout.split())
    heavy = {"retentio.cli.metrics_cmd", "retentio.cli.health_cmd", "retentio.service", "duckdb", "narwhals",
             "pydantic", "rich.markdown", "markdown_it", "rich.traceback", "importlib.metadata"}
    assert not heavy & loaded


def test_rich_help_renderer_still_renders_markdown_and_tracebacks_later():
    """typer.rich_utils imported with stand-ins for rich.markdown / rich.traceback: the real
    modules are what a later import gets, and the stand-ins build real objects."""
    import subprocess
    import sys

    code = ("import sys\n"
            "from retentio.cli import main\n"
            "main._import_rich_utils_lightly()\n"
            "assert 'rich.markdown' not in sys.modules and 'rich.traceback' not in sys.modules\n"
            "import typer.rich_utils as ru\n"
            "md = ru._make_rich_text(text='**x**', markup_mode='markdown')\n"
            "import rich.markdown, rich.traceback\n"
            "assert isinstance(md, rich.markdown.Markdown) and hasattr(rich.markdown, 'Heading')\n"
            "try:\n"
            "    1 / 0\n"
            "except ZeroDivisionError as e:\n"
            "    tb = ru.Traceback.from_exception(type(e), e, e.__traceback__)\n"
            "assert isinstance(tb, rich.traceback.Traceback)\n"
            "print('ok')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
