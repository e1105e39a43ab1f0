"""The document renderers' errors, leaves of the one tree in :mod:`kuaichu.errors`."""

from __future__ import annotations

from kuaichu.errors import KuaichuError


class DocumentError(KuaichuError):
    """A determination document could not be rendered."""

    code = "document_error"


class CjkFontNotFound(DocumentError):
    """No usable CJK font for the PDF. ``detail``: ``searched`` (the paths tried) and
    ``package`` (the Debian package that provides the default font), so an operator reading
    the log knows the one command that fixes it."""

    code = "cjk_font_not_found"
