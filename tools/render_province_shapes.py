"""Make kuaichu/media/province_shapes.bin: the 31 province characters as the plate reader
compares them with a plate's province cell (kuaichu.media.plate_reader, "the province
character"). A development tool, not part of the installed package; needs Pillow and the font.

    python tools/render_province_shapes.py /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
    python tools/render_province_shapes.py FONT --check   # does the stored file match?
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

# The reader's own geometry, so the shapes fit the cells it cuts.
from kuaichu.media.plate_reader import _CELL_REGION, _CELL_SIZE, _PROVINCE_CHARS

OUT = Path(__file__).resolve().parent.parent / "kuaichu" / "media" / "province_shapes.bin"


def render_province_shapes(font: Path, index: int = 2) -> bytes:
    """Draw the province shapes (how province_shapes.bin was made, from NotoSansCJK-Regular.ttc,
    face 2 = SC): each character's ink condensed into the 45x90 mm cell at x 15.5, y 25 of the
    plate, the region _CELL_REGION resampled to _CELL_SIZE."""

    face = ImageFont.truetype(str(font), 200, index=index)
    scale = 8  # px per mm while composing
    x0, y0, x1, y1 = _CELL_REGION
    out: list[npt.NDArray[Any]] = []
    for ch in _PROVINCE_CHARS:
        image = Image.new("L", (320, 320), 0)
        ImageDraw.Draw(image).text((40, 20), ch, fill=255, font=face)
        ink = np.asarray(image)
        ys, xs = np.nonzero(ink > 32)
        ink = ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        glyph = cv2.resize(ink, (45 * scale, 90 * scale), interpolation=cv2.INTER_AREA)
        region = np.zeros((round((y1 - y0) * scale), round((x1 - x0) * scale)), np.uint8)
        gx, gy = round((15.5 - x0) * scale), round((25 - y0) * scale)
        region[gy : gy + 90 * scale, gx : gx + 45 * scale] = glyph
        out.append(np.asarray(cv2.resize(region, _CELL_SIZE, interpolation=cv2.INTER_AREA)))
    return np.stack(out).astype(np.uint8).tobytes()


def main(argv: list[str] | None = None) -> int:
    """Write the shapes (or with ``--check`` compare them with the stored file)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("font", type=Path, help="NotoSansCJK-Regular.ttc")
    parser.add_argument("--index", type=int, default=2, help="face in the collection (2: SC)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    shapes = render_province_shapes(args.font, args.index)
    if args.check:
        same = args.out.read_bytes() == shapes
        print(f"{args.out}: {'matches' if same else 'differs from'} {args.font}")
        return 0 if same else 1
    args.out.write_bytes(shapes)
    print(f"{args.out}: {len(shapes)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
