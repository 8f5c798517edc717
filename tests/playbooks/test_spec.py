"""Playbook files: clear errors naming the file, the key and the allowed values; the shipped
defaults are valid; docs/playbooks.md documents every trigger and action."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from retentio.errors import ConfigError
from retentio.playbooks.spec import ACTIONS, DEFAULTS_DIR, TRIGGERS, load_playbooks, parse_duration, parse_pct

DOCS = Path(__file__).resolve().parents[2] / "docs" / "playbooks.md"


def _err(tmp_path, text: str) -> ConfigError:
    (tmp_path / "bad.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_playbooks(tmp_path)
    return exc.value


@pytest.mark.parametrize("text, where, words", [
    ("name: x\ntrigger: {survey: {answer: angry}}\nactions: [{type: add_tag, tag: t}]\n",
     "trigger.survey.answer", "choose one of: detractor, passive, promoter, low_csat"),
    ("name: x\ntrigger: {sruvey: {}}\nactions: [{type: add_tag, tag: t}]\n", "trigger.sruvey", "unknown trigger"),
    ("name: x\ntrigger: {survey: {answer: detractor, within: 3}}\nactions: [{type: add_tag, tag: t}]\n",
     "trigger.survey.within", "unknown key"),
    ("name: x\ntrigger: {survey: {answer: detractor}}\nactions: [{type: sms}]\n", "actions[0].type", "unknown action type"),
    ("name: x\ntrigger: {survey: {answer: detractor}}\nactions: [{type: task}]\n", "actions[0].title", "needs `title`"),
    ("name: x\ntrigger: {survey: {answer: detractor}}\nactions: [{type: task, title: t, due: soon}]\n",
     "actions[0].due", "not a duration"),
    ("name: x\ntrigger: {survey: {answer: detractor}}\nactions: [{type: task, title: '{{ x'}]\n",
     "actions[0].title", "Jinja2 template error"),
    ("name: x\ntrigger: {figure: {name: mrr}}\nactions: [{type: add_tag, tag: t}]\n", "trigger.figure",
     "needs one of below, above"),
    ("name: x\nenabled: yes please\ntrigger: {survey: {answer: detractor}}\nactions: [{type: add_tag, tag: t}]\n",
     "enabled", "true or false"),
    ("name: Bad Name\ntrigger: {survey: {answer: detractor}}\nactions: [{type: add_tag, tag: t}]\n", "name", "not a playbook name"),
    ("name: x\ntrigger: {survey: {answer: detractor}}\nactions: [{type: email, template: nope}]\n",
     "actions[0].template", "no template nope.en.txt"),
    ("name: x\ntrigger: {survey: {answer: detractor}}\nactions: [{type: start_playbook, playbook: y}]\n",
     "actions[0].playbook", "no playbook named 'y'"),
    ("name: x\ntrigger: {all: [{portfolio: {figure: nrr, above: 1}}, {survey: {answer: detractor}}]}\n"
     "actions: [{type: add_tag, tag: t}]\n", "trigger", "cannot be combined"),
    ("name: x\ntrigger: {survey: {answer: detractor}}\ncaps: {per_week: 1}\nactions: [{type: add_tag, tag: t}]\n",
     "caps.per_week", "unknown cap"),
    ("name: x\n  trigger: [\n", "line", "not valid YAML"),
])
def test_errors_name_the_file_the_key_and_the_allowed_values(tmp_path, text, where, words):
    e = _err(tmp_path, text)
    assert str(tmp_path / "bad.yaml") in e.message and where in e.message
    assert words in e.message or words in (e.hint or "")


def test_duplicate_names_are_refused(tmp_path):
    body = "trigger: {survey: {answer: detractor}}\nactions: [{type: add_tag, tag: t}]\n"
    (tmp_path / "a.yaml").write_text("name: x\n" + body)
    (tmp_path / "b.yaml").write_text("name: x\n" + body)
    with pytest.raises(ConfigError, match="also defined in"):
        load_playbooks(tmp_path)


def test_durations_and_percentages():
    assert parse_duration("24h") == timedelta(hours=24) and parse_duration("2w") == timedelta(days=14)
    assert parse_duration("30m") == timedelta(minutes=30) and parse_duration(None) == timedelta(0)
    assert parse_pct("-10%") == pytest.approx(-0.1) and parse_pct(0.5) == 0.5


def test_the_shipped_defaults_are_valid_and_cover_the_seed_playbooks():
    books = {b.name: b for b in load_playbooks(None)}
    assert {b.source for b in books.values()} == {"default"}
    assert len(list(DEFAULTS_DIR.glob("*.yaml"))) == len(books) == 11
    kinds = {b.name: [t.kind for t in b.trigger.triggers()] for b in books.values()}
    assert kinds["new-customer"] == ["new_customer"] and kinds["churn-spike"] == ["portfolio"]
    assert kinds["contraction"] == ["figure", "line_canceled"] and kinds["csm-intervention"] == ["health_band"]
    assert [a.type for a in books["new-customer"].actions] == ["set_touch_tier", "assign_csm", "email", "email", "email"]
    det = books["nps-detractor"].actions[0]
    assert det.type == "task" and det.params["due"] == "24h" and det.params["priority"] == "urgent"


def test_the_docs_describe_every_trigger_action_and_key():
    text = DOCS.read_text(encoding="utf-8")
    for name, kind in {**TRIGGERS, **ACTIONS}.items():
        assert f"`{name}`" in text, name
        for key in kind.keys:
            assert f"`{key}`" in text, f"{name}.{key}"


def test_every_shipped_template_renders_in_french_and_english():
    from retentio.playbooks.render import render_email
    from retentio.playbooks.spec import TEMPLATES_DIR

    ctx = {"account": {"account_id": "A1", "name": "Alpha", "attributes": {}}, "figures": {"mrr": 1000.0},
           "trigger": {"reason": "r", "occurrence": "o", "days_inactive": 31, "score": 8}, "playbook": "p",
           "as_of": "2024-06-30", "currency": "EUR", "csm": None, "lead": "", "sender": "cs@x.test"}
    names = sorted({p.name.split(".")[0] for p in TEMPLATES_DIR.glob("*.txt")})
    assert len(names) == 7
    for name in names:
        subjects = {}
        for lang in ("fr", "en"):
            subject, body = render_email(name, lang, [TEMPLATES_DIR], {**ctx, "language": lang})
            assert subject and body.strip() and "{{" not in body
            subjects[lang] = subject
        assert subjects["fr"] != subjects["en"], name  # really translated
