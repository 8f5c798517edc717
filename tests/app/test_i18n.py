"""French and English: the catalog covers every message, numbers and dates follow the locale."""

from __future__ import annotations

from datetime import date

from retentio.app.i18n import Formatter, pick_language, translations


def test_every_message_of_the_templates_and_code_has_a_french_translation():
    from pathlib import Path

    from babel.messages.extract import extract_from_dir

    import retentio.app as pkg

    root = Path(pkg.__file__).parent
    method_map = [("templates/**.html", "jinja2"), ("**.py", "python")]
    ids = {msg for _, _, msg, _, _ in (x[:5] for x in extract_from_dir(str(root), method_map, keywords={"_": None}))
           if isinstance(msg, str) and msg}
    fr = translations("fr")
    missing = sorted(m for m in ids if fr.gettext(m) == m and m not in {"MRR", "CSM", "NPS", "Code", "Segments", "Import",
                                                                        "Page", "Type", "Score", "Segment", "Tickets", "Usage", "Notes",
                                                                        "Route", "Backtest", "E-mail", "Playbook", "playbook", "horizon", "Total"})
    assert not missing, missing


def test_french_and_english_formats():
    fr, en = Formatter("fr"), Formatter("en")
    # Babel's French: narrow no-break space (U+202F) between thousands, no-break space (U+00A0) before the symbol
    assert fr.money(1234.56) == "1\u202f234,56\u00a0€"
    assert en.money(1234.56) == "€1,234.56"
    assert fr.money(99.5, currency="USD") == "99,50\u00a0$US"
    assert fr.pct(0.1234) == "12,3\u202f%" and en.pct(0.1234) == "12.3%"
    assert fr.num(1234567) == "1\u202f234\u202f567" and en.num(1234567) == "1,234,567"
    assert fr.date(date(2026, 10, 31)) == "31 oct. 2026" and en.date("2026-10-31") == "31 Oct 2026"
    assert fr.money(None) == "—"


def test_language_choice():
    assert pick_language("fr", "en-GB,en;q=0.9") == "fr"  # the user's setting wins
    assert pick_language(None, "de-DE,fr;q=0.8,en;q=0.5") == "fr"  # the best language we have
    assert pick_language(None, "de-DE") == "en"
    assert pick_language(None, None, cookie="fr") == "fr"
    assert pick_language(None, "fr;q=0.2,en;q=0.9") == "en"
