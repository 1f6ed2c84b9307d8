"""Write Serbian Latin catalogues (sr_Latn) from the Cyrillic ones (sr), mechanically.

Serbian Cyrillic and Gaj's Latin alphabet map one to one (three letters become digraphs), so the
Latin catalogue is derived rather than translated twice. Only ``msgstr`` text is transliterated;
msgids, comments, placeholders (``%(name)s``, ``{name}``) and markup are ASCII and pass unchanged.

    python tools/sr_latn.py            # every LOCALE dir under personalize/ and demo_shop/
    python tools/sr_latn.py --check    # exit 1 when an sr_Latn catalogue is out of date

Compile afterwards with ``django-admin compilemessages`` (or ``msgfmt``), as for any catalogue.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCALE_DIRS = [ROOT / "personalize" / "locale", ROOT / "demo_shop" / "locale"]

_LOWER = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "ђ": "đ", "е": "e", "ж": "ž", "з": "z",
    "и": "i", "ј": "j", "к": "k", "л": "l", "љ": "lj", "м": "m", "н": "n", "њ": "nj", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "ћ": "ć", "у": "u", "ф": "f", "х": "h", "ц": "c",
    "ч": "č", "џ": "dž", "ш": "š",
}
_DIGRAPHS = {"Љ": ("Lj", "LJ"), "Њ": ("Nj", "NJ"), "Џ": ("Dž", "DŽ")}


def transliterate(text: str) -> str:
    """Serbian Cyrillic -> Latin; Љ/Њ/Џ become LJ/NJ/DŽ inside an all-capitals word, else Lj/Nj/Dž."""
    out = []
    for i, char in enumerate(text):
        if char in _DIGRAPHS:
            title, upper = _DIGRAPHS[char]
            neighbour = text[i + 1] if i + 1 < len(text) else (text[i - 1] if i else "")
            out.append(upper if neighbour.isupper() else title)
        elif char in _LOWER:
            out.append(_LOWER[char])
        elif char.lower() in _LOWER:
            out.append(_LOWER[char.lower()].upper())
        else:
            out.append(char)
    return "".join(out)


def convert(po_text: str) -> str:
    """Transliterate the msgstr parts of a .po file; set the header's Language to sr_Latn."""
    lines, in_msgstr = [], False
    for line in po_text.splitlines(keepends=True):
        if line.startswith("msgstr"):
            in_msgstr = True
        elif not line.startswith('"'):
            in_msgstr = False
        if line.startswith('"Language: sr\\n"'):
            line = line.replace("Language: sr\\n", "Language: sr_Latn\\n")
        elif in_msgstr:
            line = transliterate(line)
        lines.append(line)
    return "".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale catalogues")
    args = parser.parse_args(argv)
    stale = []
    for locale_dir in LOCALE_DIRS:
        for source in sorted((locale_dir / "sr" / "LC_MESSAGES").glob("*.po")):
            target = locale_dir / "sr_Latn" / "LC_MESSAGES" / source.name
            wanted = convert(source.read_text(encoding="utf-8"))
            if target.exists() and target.read_text(encoding="utf-8") == wanted:
                continue
            stale.append(target)
            if not args.check:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(wanted, encoding="utf-8")
                print(f"wrote {target.relative_to(ROOT)}")
    if args.check and stale:
        print("stale (run python tools/sr_latn.py):", *[str(p.relative_to(ROOT)) for p in stale])
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
