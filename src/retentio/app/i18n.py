"""French and English: gettext catalogs (Babel) and locale-aware numbers, money and dates.

Catalogs live in ``retentio/app/locale/<lang>/LC_MESSAGES/messages.po``; the ``.mo`` files
are compiled from them (``pybabel compile -d src/retentio/app/locale``) and shipped; when a
``.mo`` is missing or older than its ``.po`` it is compiled in memory at start-up.
"""

from __future__ import annotations

import gettext
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal, format_percent

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("en", "fr")
BABEL_LOCALES = {"en": "en_GB", "fr": "fr_FR"}


@cache
def translations(lang: str) -> gettext.NullTranslations:
    if lang == "en":
        return gettext.NullTranslations()
    po = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    mo = po.with_suffix(".mo")
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        with open(mo, "rb") as f:
            return gettext.GNUTranslations(f)
    if po.exists():  # compile in memory
        import io

        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        with open(po, "rb") as f:
            catalog = read_po(f, locale=lang)
        buf = io.BytesIO()
        write_mo(buf, catalog)
        buf.seek(0)
        return gettext.GNUTranslations(buf)
    return gettext.NullTranslations()


def pick_language(user_language: str | None, accept_language: str | None, cookie: str | None = None) -> str:
    """The user's setting, else a language cookie, else the browser's Accept-Language, else English."""
    for lang in (user_language, cookie):
        if lang in LANGUAGES:
            return lang
    best, best_q = "en", -1.0
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        base = tag.strip().lower().split("-")[0]
        if base in LANGUAGES and q > best_q:
            best, best_q = base, q
    return best


class Formatter:
    """Numbers, money, percentages and dates in one locale (``1 234,56 €`` in French)."""

    def __init__(self, lang: str, currency: str = "EUR"):
        self.lang = lang
        self.locale = Locale.parse(BABEL_LOCALES[lang])
        self.currency = currency
        self.gettext = translations(lang).gettext

    def money(self, v: Any, digits: int = 2, currency: str | None = None) -> str:
        if v is None:
            return "—"
        fmt = None if digits == 2 else "¤#,##0" if self.lang == "en" else "#,##0\u00a0¤"
        return format_currency(v, currency or self.currency, locale=self.locale, format=fmt, currency_digits=digits == 2)

    def num(self, v: Any, digits: int = 0) -> str:
        if v is None:
            return "—"
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(v, format=pattern, locale=self.locale)

    def pct(self, v: Any, digits: int = 1) -> str:
        if v is None:
            return "—"
        suffix = "\u202f%" if self.lang == "fr" else "%"  # French: a narrow no-break space before %
        return format_percent(v, format="#,##0." + "0" * digits + suffix, locale=self.locale)

    def date(self, v: Any) -> str:
        if v is None or v == "":
            return "—"
        if isinstance(v, str):
            try:
                v = date.fromisoformat(v[:10])
            except ValueError:
                return v
        if isinstance(v, datetime):
            v = v.date()
        return format_date(v, format="medium", locale=self.locale)
