"""docs/cli.md is generated from the commands: it must be current."""

from pathlib import Path

from retentio.cli.reference import render


def test_cli_reference_is_current():
    doc = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
    assert doc.read_text(encoding="utf-8") == render(), (
        "docs/cli.md is stale: run `python -m retentio.cli.reference > docs/cli.md`"
    )


def test_every_command_has_help_with_an_example():
    text = render()
    for cmd in ("demo", "import", "quarantine", "init", "metrics", "movements", "explain", "cohorts"):
        section = text.split(f"## `{cmd}`", 1)[1].split("\n## ", 1)[0]
        assert "retentio " in section, f"{cmd}: no example in --help"


def test_help_paragraphs_are_not_broken_by_hand():
    """Typer keeps the line breaks of a help's later paragraphs, so a paragraph broken across
    source lines prints broken mid-sentence in an 80-column terminal: each paragraph of prose
    is one line in the source (examples, indented under a "...:" line, keep theirs)."""
    import inspect

    import typer

    from retentio.cli.main import _load_commands, app

    _load_commands()
    broken = []

    def walk(cmd, path):
        sub = getattr(cmd, "commands", None)
        if sub:
            for name in sub:
                walk(sub[name], path + [name])
            return
        for para in inspect.cleandoc(cmd.help or "").split("\n\n"):
            lines = para.splitlines()
            if len(lines) > 1 and not lines[0].rstrip().endswith(":") and not all(x.startswith("  ") for x in lines[1:]):
                broken.append(" ".join(path) + ": " + lines[0])

    walk(typer.main.get_command(app), [])
    assert broken == []
