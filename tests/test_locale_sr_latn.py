"""Serbian in Latin script (sr-latn) besides Cyrillic (sr): catalogues shipped, up to date, used."""

from __future__ import annotations

import gettext as gettext_module
import re
from pathlib import Path

from django.template import engines
from django.test import override_settings
from django.utils import translation

from tools import sr_latn

ROOT = Path(__file__).resolve().parent.parent
CYRILLIC = re.compile("[\u0400-\u04ff]")


def test_latin_catalogues_are_up_to_date_with_the_cyrillic_ones():
    assert sr_latn.main(["--check"]) == 0, "run python tools/sr_latn.py"


def test_transliteration_keeps_placeholders_and_writes_digraphs():
    assert sr_latn.transliterate("Љубав, ЊЕГОШ, Џеп %(name)s {code}") == "Ljubav, NJEGOŠ, Džep %(name)s {code}"


def test_a_sr_latn_store_gets_latin_personalize_strings_and_sr_stays_cyrillic():
    with translation.override("sr-latn"):
        latin = translation.gettext("Recently viewed")
    with translation.override("sr"):
        cyrillic = translation.gettext("Recently viewed")
    assert latin == "Nedavno pregledano"
    assert CYRILLIC.search(cyrillic) and not CYRILLIC.search(latin)


@override_settings(LANGUAGES=[("en", "English"), ("sr", "Serbian"), ("sr-latn", "Serbian (Latin)")])
def test_a_rendered_widget_title_is_latin_for_sr_latn():
    template = engines["django"].from_string('{% load i18n %}{% translate "Recently viewed" %}')
    with translation.override("sr-latn"):
        html = template.render({})
    assert html == "Nedavno pregledano"


def test_demo_shop_ships_a_latin_catalogue_too():
    for domain_dir in (ROOT / "demo_shop" / "locale", ROOT / "personalize" / "locale"):
        catalogue = gettext_module.translation("django", localedir=str(domain_dir), languages=["sr_Latn"])
        translated = [v for k, v in catalogue._catalog.items() if k and isinstance(v, str) and v]  # noqa: SLF001
        assert len(translated) > 100
        assert not any(CYRILLIC.search(v) for v in translated)
    demo = gettext_module.translation("django", localedir=str(ROOT / "demo_shop" / "locale"), languages=["sr_Latn"])
    assert demo.gettext("Cart") == "Korpa"
