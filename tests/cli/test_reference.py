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
