"""Look at a PDF the way a reader would: its first page rendered to pixels by poppler's pdftoppm."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def first_page_ink(pdf: Path, png: Path | None = None) -> float:
    """The share of the first page's pixels that are not near-white (0.0 is a blank page).

    Also writes the page as PNG to `png` when given, for people to look at.
    """
    assert shutil.which("pdftoppm"), "pdftoppm is missing: `make test` installs poppler-utils"
    if png is not None:
        subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", str(pdf),
                        str(png.with_suffix(""))], check=True, timeout=60)
    gray = subprocess.run(["pdftoppm", "-gray", "-r", "30", "-f", "1", "-l", "1", str(pdf)], check=True,
                          capture_output=True, timeout=60).stdout
    # PGM (P5): three header lines (magic, size, max value), then one byte per pixel.
    header_end = 0
    for _ in range(3):
        header_end = gray.index(b"\n", header_end) + 1
    pixels = gray[header_end:]
    return sum(1 for value in pixels if value < 200) / max(1, len(pixels))
