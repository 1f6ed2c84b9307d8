"""Placeholder product images drawn with Pillow (no download): a tile in the category's colour
with the product's initials and name."""

from __future__ import annotations

import io
import textwrap
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

SIZE = 480


@lru_cache(maxsize=16)
def _font(size: int, bold: bool = True) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    names = ("DejaVuSans-Bold.ttf", "LiberationSans-Bold.ttf") if bold else ("DejaVuSans.ttf", "LiberationSans-Regular.ttf")
    for name in names:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)  # Pillow's bundled font: always available


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    value = hex_colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b))  # type: ignore[return-value]


STOP_WORDS = {"the", "a", "an", "of", "in", "at", "and", "&", "on", "from", "to"}


def initials(text: str) -> str:
    """Up to two initials, skipping little words and model numbers ("The Quiet Harbour" -> "QH")."""
    words = [w for w in text.split() if w.lower() not in STOP_WORDS and w[:1].isalpha()]
    return "".join(w[0] for w in words[:2]).upper() or text[:2].upper() or "?"


def product_tile(title: str, brand: str, colour: str, *, mark: str = "", variant: int = 0) -> bytes:
    """A PNG: soft background, a disc in the category colour with initials, name and brand."""
    base = _rgb(colour)
    white = (255, 255, 255)
    top, bottom = _mix(base, white, 0.86), _mix(base, white, 0.72)
    image = Image.new("RGB", (SIZE, SIZE), top)
    draw = ImageDraw.Draw(image)
    for y in range(SIZE):  # vertical gradient, cheap enough at this size
        draw.line([(0, y), (SIZE, y)], fill=_mix(top, bottom, y / SIZE))
    # A few soft circles, placed by the variant, so tiles in one category do not look identical.
    for i in range(3):
        r = 60 + ((variant * 37 + i * 53) % 90)
        cx = (variant * 97 + i * 151) % SIZE
        cy = (variant * 61 + i * 89) % (SIZE // 2)
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=_mix(base, white, 0.62 + 0.08 * i))
    disc = 190
    x0, y0 = (SIZE - disc) // 2, 70
    draw.ellipse([x0, y0, x0 + disc, y0 + disc], fill=base)
    draw.text((SIZE // 2, y0 + disc // 2), (mark or initials(title))[:3], font=_font(78), fill=white, anchor="mm")
    dark = _mix(base, (0, 0, 0), 0.55)
    lines = textwrap.wrap(title, width=24)[:2]
    y = 300
    for line in lines:
        draw.text((SIZE // 2, y), line, font=_font(28), fill=dark, anchor="ma")
        y += 36
    if brand:
        draw.text((SIZE // 2, y + 10), brand.upper(), font=_font(18, bold=False), fill=_mix(base, (0, 0, 0), 0.25), anchor="ma")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()
