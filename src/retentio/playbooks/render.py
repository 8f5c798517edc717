"""Jinja2 rendering of task titles, notifications, webhook fields and e-mail templates.

A sandboxed environment with strict undefined names: a typo in a template is an error
naming the variable, never an empty string sent to a customer.  E-mail templates are
``<name>.<lang>.txt`` files whose first line is ``Subject: ...``; the workspace's
``playbooks/templates/`` is searched before the shipped ones.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from retentio.errors import ConfigError


@cache
def environment():
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    from jinja2 import pass_context

    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    env.filters["money"] = pass_context(lambda ctx, v: _number(v, ctx.get("language"), "#,##0.00"))
    env.filters["pct"] = pass_context(lambda ctx, v: "—" if v is None else _number(float(v) * 100, ctx.get("language"), "#,##0.0") + " %")
    return env


def _number(v, language: str | None, pattern: str) -> str:
    """A number written the way the reader's language writes it (1,000.00 in English,
    1 000,00 in French); ``language`` is set when an e-mail is rendered."""
    if v is None:
        return "—"
    from babel.numbers import format_decimal

    return format_decimal(float(v), format=pattern, locale="fr_FR" if language == "fr" else "en_US")


def render(text: str, context: dict[str, Any], where: str = "template") -> str:
    from jinja2 import TemplateError

    try:
        return environment().from_string(text).render(**context)
    except TemplateError as exc:
        raise ConfigError(f"{where}: cannot render ({exc})",
                          hint="the variables available are listed in docs/playbooks.md (account, figures, trigger, ...)") from None


def render_deep(value: Any, context: dict[str, Any], where: str) -> Any:
    if isinstance(value, str):
        return render(value, context, where)
    if isinstance(value, dict):
        return {k: render_deep(v, context, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [render_deep(v, context, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def email_template(name: str, lang: str, dirs: list[Path]) -> tuple[Path, str]:
    for d in dirs:
        p = d / f"{name}.{lang}.txt"
        if p.is_file():
            return p, p.read_text(encoding="utf-8")
    raise ConfigError(f"e-mail template {name}.{lang}.txt not found in {', '.join(map(str, dirs))}",
                      hint="add it to the workspace's playbooks/templates/")


def render_email(name: str, lang: str, dirs: list[Path], context: dict[str, Any]) -> tuple[str, str]:
    """(subject, body) of template ``name`` in ``lang``."""
    path, text = email_template(name, lang, dirs)
    first, _, rest = text.partition("\n")
    if not first.lower().startswith("subject:"):
        raise ConfigError(f"{path}: line 1: an e-mail template starts with `Subject: ...`",
                          hint="put the subject on the first line, then a blank line, then the body")
    subject = render(first[len("subject:"):].strip(), context, f"{path}: subject")
    body = render(rest.lstrip("\n"), context, str(path))
    return subject, body
