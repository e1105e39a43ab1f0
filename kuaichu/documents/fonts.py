"""Finding a CJK font for the PDF.

The PDF embeds a subset of a TrueType/OpenType CJK font (with a ToUnicode map, so the Chinese
text can be searched, copied and extracted). Nothing is downloaded at run time: the font comes
from the system (Debian packages) or from an explicit path the operator configures.

Collections (``.ttc``) hold several faces; the face is chosen by name so that Noto's collection
gives the Simplified Chinese face rather than the Japanese one that comes first in the file.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from fontTools.ttLib import TTCollection  # type: ignore[import-untyped]

from .errors import CjkFontNotFound

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FontCandidate:
    path: Path
    package: str  # the Debian package that installs it, for the error message


_NOTO: Final = "/usr/share/fonts/opentype/noto"

# In order of preference. WenQuanYi Micro Hei first: small, TrueType outlines, Latin and CJK
# glyphs in one face, and the package the test script installs.
DEFAULT_CJK_FONTS: Final[tuple[FontCandidate, ...]] = (
    FontCandidate(Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"), "fonts-wqy-microhei"),
    FontCandidate(Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"), "fonts-wqy-zenhei"),
    FontCandidate(Path(f"{_NOTO}/NotoSansCJK-Regular.ttc"), "fonts-noto-cjk"),
    FontCandidate(Path(f"{_NOTO}/NotoSansCJKsc-Regular.otf"), "fonts-noto-cjk"),
    FontCandidate(
        Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"), "fonts-droid-fallback"
    ),
)

# Droid Sans Fallback has no Latin letters or digits; with it the PDF borrows those glyphs from
# one of these (fpdf2's fallback fonts), so plates and numbers still print.
LATIN_FALLBACK_FONTS: Final[tuple[Path, ...]] = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"),
)

INSTALL_HINT: Final = "fonts-wqy-microhei"


@dataclass(frozen=True, slots=True)
class CjkFont:
    path: Path
    face_index: int  # which face of a collection; 0 for a plain .ttf/.otf


def find_cjk_font(
    explicit: str | Path | None = None,
    *,
    candidates: Sequence[FontCandidate | Path] = DEFAULT_CJK_FONTS,
) -> Path:
    """The CJK font file the PDF will embed.

    ``explicit`` (the operator's setting) wins and is never silently replaced: a configured
    path that does not exist is an error, not a reason to pick another font. Otherwise the
    first existing file among ``candidates``.
    """
    if explicit is not None and str(explicit) != "":
        path = Path(explicit).expanduser()
        if path.is_file():
            return path
        raise CjkFontNotFound(
            f"the configured PDF font {path} does not exist; point the setting at a CJK "
            f"TrueType/OpenType font or install one (apt-get install {INSTALL_HINT})",
            searched=[str(path)],
            package=INSTALL_HINT,
        )
    searched: list[str] = []
    for cand in candidates:
        path = cand.path if isinstance(cand, FontCandidate) else Path(cand)
        searched.append(str(path))
        if path.is_file():
            return path
    raise CjkFontNotFound(
        "no CJK font found for the PDF determination; install one with "
        f"`apt-get install {INSTALL_HINT}` (or fonts-noto-cjk), or set the PDF font path. "
        f"Searched: {', '.join(searched)}",
        searched=searched,
        package=INSTALL_HINT,
    )


def choose_face(path: Path) -> int:
    """The face of a collection to use: Simplified Chinese and proportional if named so,
    else the first proportional face, else the first."""
    if path.suffix.lower() not in {".ttc", ".otc"}:
        return 0
    try:
        collection = TTCollection(str(path), lazy=True)
        try:
            names = [str(font["name"].getBestFamilyName() or "") for font in collection.fonts]
        finally:
            collection.close()
    except Exception as exc:  # a broken file still gets a chance with face 0
        log.warning("cannot read the faces of %s (%s); using face 0", path, exc)
        return 0

    def proportional(name: str) -> bool:
        return "mono" not in name.lower()

    for i, name in enumerate(names):
        if proportional(name) and (" SC" in name or "GB" in name):
            return i
    for i, name in enumerate(names):
        if proportional(name):
            return i
    return 0


def resolve_cjk_font(
    explicit: str | Path | None = None,
    *,
    candidates: Sequence[FontCandidate | Path] = DEFAULT_CJK_FONTS,
) -> CjkFont:
    path = find_cjk_font(explicit, candidates=candidates)
    return CjkFont(path=path, face_index=choose_face(path))


def latin_fallbacks() -> list[Path]:
    return [p for p in LATIN_FALLBACK_FONTS if p.is_file()]
