"""Draw the default design's logo (erechnung/config/templates/default/logo.png): a town hall in a shield.

Our own drawing, made with Pillow so that anyone can redo or change it; a municipality replaces the file (or
points ``letterhead.logo`` in its design.toml at its own coat of arms).

    .venv/bin/python tools/make_default_logo.py
"""
from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parents[1] / "erechnung/config/templates/default/logo.png"
BLUE, GOLD = (31, 78, 121), (201, 162, 39)


def main() -> None:
    s, size = 4, 256  # drawn 4x larger, then scaled down: smooth edges without an alpha channel
    im = Image.new("RGB", (size * s, size * s), "white")
    d = ImageDraw.Draw(im)

    def rect(x0: int, y0: int, x1: int, y1: int, fill) -> None:
        d.rectangle([x0 * s, y0 * s, x1 * s, y1 * s], fill=fill)

    d.polygon([(x * s, y * s) for x, y in [(20, 12), (236, 12), (236, 130), (128, 246), (20, 130)]], fill=BLUE)
    rect(60, 150, 196, 168, "white")                       # steps
    for x in (70, 98, 126, 154, 178):
        rect(x, 100, x + 10, 150, "white")                 # columns
    rect(60, 88, 196, 100, "white")                        # architrave
    d.polygon([(52 * s, 88 * s), (128 * s, 52 * s), (204 * s, 88 * s)], fill="white")  # roof
    rect(116, 26, 140, 56, "white")                        # tower
    d.polygon([(112 * s, 28 * s), (128 * s, 14 * s), (144 * s, 28 * s)], fill=GOLD)
    d.ellipse([122 * s, 34 * s, 134 * s, 46 * s], fill=BLUE)  # clock
    rect(92, 190, 164, 198, GOLD)
    im.resize((size, size), Image.LANCZOS).save(OUT, optimize=True)
    print(OUT)


if __name__ == "__main__":
    main()
