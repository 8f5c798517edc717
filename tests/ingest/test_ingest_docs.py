"""The import docs stay in step with the code: every entity, column and reason is documented."""

from __future__ import annotations

import re
from pathlib import Path

from retentio.ingest import REASONS
from retentio.model import ENTITIES

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "retentio" / "ingest"


def test_data_model_doc_names_every_entity_and_column():
    text = (ROOT / "docs" / "data-model.md").read_text(encoding="utf-8")
    for e in ENTITIES.values():
        assert f"## {e.name}" in text, e.name
        for c in e.columns:
            assert f"| `{c.name}` | {c.dtype} |" in text, f"{e.name}.{c.name}"


def test_every_reason_the_code_can_give_is_known_and_documented():
    guide = (ROOT / "docs" / "import-guide.md").read_text(encoding="utf-8")
    used = set()
    for f in SRC.glob("*.py"):
        src = f.read_text(encoding="utf-8")
        used |= set(re.findall(r'(?:Check|add)\(\s*"([a-z_]+)"', src))
        used |= set(re.findall(r'\(\s*"([a-z_]+)",\s*col', src))  # provider and mapping problems
    assert used, "the reason patterns no longer match the code"
    assert used <= set(REASONS), used - set(REASONS)
    for code in REASONS:
        assert f"| `{code}` |" in guide, code
