"""The insurers the centre works with: configured companies, and how a case names one.

An insurer is a company in the configuration (``--insurers``), not something a form creates:
a stable ``code`` (``picc``) that accounts, API keys and webhooks are scoped to, a display
``name`` and the other spellings (``aliases``) under which registries and officers write it.
The case form records a party's insurer as free text (``Party.insurer``, usually what the
verification registry said, e.g. ``中国人保财险``); :meth:`InsurerDirectory.match` turns that
text into the configured insurer, or None when no configured company goes by that name.

The setting is JSON or TOML, inline or in a file, in either of two shapes per company::

    {"picc": "中国人民财产保险", "pingan": {"name": "中国平安财产保险", "aliases": ["平安产险"]}}

Empty: :data:`DEFAULT_INSURERS`, the companies of the demo registry
(``kuaichu/verification/demo.py``), so a demo centre's cases match out of the box.

Pure: no I/O except :func:`load_insurers` reading the file the setting names.
"""

from __future__ import annotations

import json
import re
import tomllib
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from ..errors import InvalidMessage

# Stored in officers.insurer and in the API's keys: lower-case ASCII, short.
CODE_PATTERN: Final = re.compile(r"^[a-z][a-z0-9_-]{1,31}$")
MAX_NAME: Final = 64  # the case form's Party.insurer limit
MAX_ALIASES: Final = 16
MAX_INSURERS: Final = 200

# Company-form suffixes a form may or may not carry: "中国人民财产保险股份有限公司" is the
# configured "中国人民财产保险".
_SUFFIXES: Final = ("股份有限公司", "有限责任公司", "有限公司", "公司")
_SPACE: Final = re.compile(r"[\s\u3000·・.,，()（）]+")

# A policy usually names the branch that sold it: the company, then a place, then one of these
# ("…股份有限公司哈尔滨市分公司", "平安财险深圳分公司", "…南岗支公司", "…福田区营业部").
# Longest first: "中心支公司" before "支公司".
_BRANCHES: Final = ("中心支公司", "营销服务部", "营业服务部", "分公司", "支公司", "营业部")
# Where a Chinese company name ends: the place is what lies between the last of these and the
# branch word. The last one, not the first, so that an insurance word after the company
# ("…公司人寿保险分公司") stays in the name and matches no property insurer.
_NAME_ENDS: Final = re.compile(r"股份有限公司|有限责任公司|有限公司|公司|保险|财险|产险|寿险")
_PLACE: Final = re.compile(r"^[\u4e00-\u9fff]{0,20}$")
_CJK: Final = re.compile(r"[\u3400-\u9fff]")
# The same in English, by words: "PICC P&C Co., Ltd. Harbin Branch".
_LATIN_WORD: Final = re.compile(r"[\s,.()（）·・]+")
_LATIN_BRANCHES: Final = frozenset({"branch", "sub-branch", "subbranch"})
_LATIN_FORMS: Final = frozenset(
    {"co", "ltd", "limited", "company", "inc", "corp", "corporation", "plc", "llc", "p&c"}
)


def _fold(text: str) -> str:
    return _SPACE.sub("", unicodedata.normalize("NFKC", text)).casefold()


def _company_of_branch_cjk(folded: str) -> str:
    """The company part of a Chinese branch name, or ``folded`` unchanged when it is not one
    (no branch word, no company-name end before it, or more than a place in between)."""
    out = folded
    while True:
        branch = next((b for b in _BRANCHES if out.endswith(b) and len(out) > len(b)), None)
        if branch is None:
            return out
        head = out[: -len(branch)]
        ends = [m.end() for m in _NAME_ENDS.finditer(head)]
        if not ends or not _PLACE.match(head[ends[-1] :]):
            return folded
        out = head[: ends[-1]]


def _company_of_branch_latin(text: str) -> str:
    """The same for a name in Latin letters, by words: the branch word, then the place (the
    words after the last company form, or the one word before the branch word), then the
    company forms and "property and casualty" go."""
    words = [w.casefold() for w in _LATIN_WORD.split(text) if w]
    if len(words) >= 2 and words[-1] in _LATIN_BRANCHES:
        words.pop()
        forms = [i for i, w in enumerate(words) if w in _LATIN_FORMS]
        words = words[: forms[-1] + 1] if forms else words[:-1]
    while len(words) > 1 and words[-1] in _LATIN_FORMS:
        words.pop()
    if len(words) > 3 and words[-3] == "property" and words[-2] in ("and", "&"):
        words = words[:-3] if words[-1] == "casualty" else words
    return "".join(words)


def normalise_name(text: str) -> str:
    """The comparable form of an insurer's name: NFKC (full-width letters), no spaces,
    dots or brackets, case-folded, without a branch (分公司, 支公司, 营业部, "Branch": the
    company's name is what a branch's policy is compared by) and without a company-form suffix.

    Pure text, no configuration: the identity index stores it for every party, and
    :meth:`Insurer.matches` compares it with the configured names normalised the same way, so
    a branch matches only its exact company ("中国人寿财产保险…分公司" is not "中国人民财产保险";
    "太平…" is not "太平洋…")."""
    nfkc = unicodedata.normalize("NFKC", text)
    if _CJK.search(nfkc):
        out = _company_of_branch_cjk(_fold(nfkc))
    else:
        out = _company_of_branch_latin(nfkc) or _fold(nfkc)
    for suffix in _SUFFIXES:
        if out.endswith(suffix) and len(out) > len(suffix):
            return out[: -len(suffix)]
    return out


@dataclass(frozen=True)
class Insurer:
    """A configured insurance company."""

    code: str
    name: str
    aliases: tuple[str, ...] = ()
    _keys: frozenset[str] = field(default=frozenset(), repr=False, compare=False)

    def __post_init__(self) -> None:
        if not CODE_PATTERN.match(self.code):
            raise InvalidMessage(
                f"insurer code {self.code[:40]!r} must be 2-32 lower-case letters, digits, "
                "'_' or '-', starting with a letter",
                field="insurers",
            )
        for text in (self.name, *self.aliases):
            if not text.strip() or len(text) > MAX_NAME:
                raise InvalidMessage(
                    f"insurer {self.code}: a name must be 1-{MAX_NAME} characters",
                    field="insurers",
                )
        keys = {normalise_name(t) for t in (self.code, self.name, *self.aliases)}
        object.__setattr__(self, "_keys", frozenset(keys))

    def matches(self, text: str) -> bool:
        """Whether ``text`` (a form's insurer field) names this company."""
        return bool(text.strip()) and normalise_name(text) in self._keys

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "aliases": list(self.aliases)}


class InsurerDirectory:
    """The configured insurers, by code, and the matching of a form's text to one."""

    def __init__(self, insurers: tuple[Insurer, ...]) -> None:
        by_code: dict[str, Insurer] = {}
        by_key: dict[str, Insurer] = {}
        for insurer in insurers:
            if insurer.code in by_code:
                raise InvalidMessage(f"insurer {insurer.code} is configured twice")
            by_code[insurer.code] = insurer
            for key in insurer._keys:
                other = by_key.setdefault(key, insurer)
                if other is not insurer:
                    raise InvalidMessage(
                        f"insurers {other.code} and {insurer.code} share the name {key!r}",
                        field="insurers",
                    )
        self._by_code = by_code
        self._by_key = by_key

    def __iter__(self) -> Iterator[Insurer]:
        return iter(self._by_code.values())

    def __len__(self) -> int:
        return len(self._by_code)

    def get(self, code: str) -> Insurer | None:
        """The insurer with this code, or None."""
        return self._by_code.get(code)

    def require(self, code: str) -> Insurer:
        """The insurer with this code; InvalidMessage naming the known codes otherwise."""
        found = self._by_code.get(code)
        if found is None:
            known = ", ".join(sorted(self._by_code)) or "none"
            raise InvalidMessage(
                f"unknown insurer {code[:40]!r} (configured: {known})", field="insurer"
            )
        return found

    def match(self, text: str) -> Insurer | None:
        """The configured insurer a form's insurer field names, or None."""
        if not text or not text.strip():
            return None
        return self._by_key.get(normalise_name(text))


# The demo registry's companies (kuaichu/verification/demo.py writes the alias spellings).
DEFAULT_INSURERS: Final[tuple[Insurer, ...]] = (
    Insurer("picc", "中国人民财产保险", ("中国人保财险", "人保财险", "PICC")),
    Insurer("pingan", "中国平安财产保险", ("平安产险", "平安财险")),
    Insurer("cpic", "中国太平洋财产保险", ("太平洋产险", "太保财险")),
    Insurer("chinalife", "中国人寿财产保险", ("国寿财险",)),
    Insurer("cic", "中华联合财产保险", ("中华联合财险",)),
    Insurer("ccic", "中国大地财产保险", ("大地保险", "大地财险")),
    Insurer("sunshine", "阳光财产保险", ("阳光财险",)),
    Insurer("taiping", "太平财产保险", ("太平财险",)),
    Insurer("tianan", "天安财产保险", ("天安财险",)),
    Insurer("huaan", "华安财产保险", ("华安保险",)),
    Insurer("yingda", "英大泰和财产保险", ("英大泰和财险",)),
    Insurer("yongan", "永安财产保险", ("永安保险",)),
)


def parse_insurers(raw: object) -> InsurerDirectory:
    """The directory of a parsed setting: ``{code: name}`` or ``{code: {"name": ..,
    "aliases": [..]}}``. Raises InvalidMessage saying what is wrong."""
    if not isinstance(raw, Mapping) or not raw:
        raise InvalidMessage("insurers must be a non-empty object {code: name}", field="insurers")
    if len(raw) > MAX_INSURERS:
        raise InvalidMessage(f"at most {MAX_INSURERS} insurers", field="insurers")
    out: list[Insurer] = []
    for code, spec in raw.items():
        if not isinstance(code, str):
            raise InvalidMessage("an insurer code must be text", field="insurers")
        if isinstance(spec, str):
            out.append(Insurer(code, spec.strip()))
            continue
        if not isinstance(spec, Mapping) or set(spec) - {"name", "aliases"}:
            raise InvalidMessage(
                f"insurer {code[:40]}: a name, or an object with name and aliases",
                field="insurers",
            )
        name, aliases = spec.get("name"), spec.get("aliases", [])
        if not isinstance(name, str):
            raise InvalidMessage(f"insurer {code[:40]}: name must be text", field="insurers")
        if (
            not isinstance(aliases, list)
            or len(aliases) > MAX_ALIASES
            or not all(isinstance(a, str) for a in aliases)
        ):
            raise InvalidMessage(
                f"insurer {code[:40]}: aliases must be a list of at most {MAX_ALIASES} texts",
                field="insurers",
            )
        out.append(Insurer(code, name.strip(), tuple(a.strip() for a in aliases)))
    return InsurerDirectory(tuple(out))


def load_insurers(setting: str) -> InsurerDirectory:
    """The directory the ``--insurers`` setting describes: empty for the defaults, inline
    JSON (``{...}``), or the path of a ``.json`` or ``.toml`` file."""
    text = setting.strip()
    if not text:
        return InsurerDirectory(DEFAULT_INSURERS)
    try:
        if text.startswith("{"):
            return parse_insurers(json.loads(text))
        path = Path(text)
        body = path.read_text(encoding="utf-8")
        if path.suffix.lower() == ".toml":
            return parse_insurers(tomllib.loads(body))
        return parse_insurers(json.loads(body))
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise InvalidMessage(f"insurers: not valid JSON/TOML ({exc})", field="insurers") from None
    except OSError as exc:
        raise InvalidMessage(
            f"insurers: cannot read {text[:200]} ({exc.strerror})", field="insurers"
        ) from None
