"""The determination as the renderers show it: one normalisation of the stored content dict,
shared by the HTML page and the PDF so both say exactly the same thing.

The content is what the lead stored (JSON); any optional key may be missing or null, so every
field here has a printable default and nothing raises on an incomplete (older) document.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from kuaichu.cases.liability import Liability
from kuaichu.errors import InvalidMessage
from kuaichu.evidence.kinds import ledger_text

TITLE: Final = "道路交通事故认定书（简易程序）"
SUBTITLE: Final = "电子版"


@dataclass(frozen=True, slots=True)
class DocumentKind:
    """The words that differ between the determination and the parties' approved
    self-negotiated agreement (自行协商协议书, issue 13): the content's ``kind`` picks one."""

    title: str
    heading: str
    heading_note: str
    noun: str
    liability_heading: str
    officer_label: str
    notice_heading: str


DETERMINATION: Final = DocumentKind(
    TITLE, "道路交通事故认定书", "（简易程序）", "认定书", "责任认定", "办案民警", "复核告知"
)
AGREEMENT: Final = DocumentKind(
    "道路交通事故自行协商协议书",
    "道路交通事故自行协商协议书",
    "",
    "协议书",
    "协商结果",
    "审核民警",
    "协议告知",
)
KINDS: Final[Mapping[str, DocumentKind]] = {"determination": DETERMINATION, "agreement": AGREEMENT}
DASH: Final = "—"


def _text(value: Any) -> str:
    if value is None:
        return ""
    return str(value).strip()


def _or_dash(value: str) -> str:
    return value if value else DASH


def _parse_dt(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def format_datetime_zh(value: Any) -> str:
    """``2026年11月22日 10时31分`` in the offset the timestamp carries (the service's own
    time zone, as the lead stores it); unparseable text is shown as stored."""
    dt = _parse_dt(value)
    if dt is None:
        return _text(value)
    return f"{dt.year}年{dt.month}月{dt.day}日 {dt.hour:02d}时{dt.minute:02d}分"


def format_date_zh(value: Any) -> str:
    dt = _parse_dt(value)
    if dt is None:
        return _text(value)
    return f"{dt.year}年{dt.month}月{dt.day}日"


def format_datetime_short(value: Any) -> str:
    dt = _parse_dt(value)
    if dt is None:
        return _text(value)
    return dt.strftime("%Y-%m-%d %H:%M:%S")


def short_hash(value: str, head: int = 12, tail: int = 6) -> str:
    if len(value) <= head + tail + 1:
        return value
    return f"{value[:head]}…{value[-tail:]}"


def liability_zh(code: Any, text: Any) -> str:
    given = _text(text)
    if given:
        return given
    try:
        return f"{Liability.parse(code).zh}"
    except (InvalidMessage, ValueError, TypeError):
        return _text(code)


def _is_none_liability(code: Any, text: str) -> bool:
    try:
        return Liability.parse(code) is Liability.NONE
    except (InvalidMessage, ValueError, TypeError):
        return text.startswith("无责")


@dataclass(frozen=True, slots=True)
class PartyView:
    key: str
    label: str
    name: str
    phone: str
    licence_no: str
    plate: str
    vehicle_type: str
    insurer: str
    policy_no: str
    liability_text: str
    fault: str
    determination: str  # "张伟 承担全部责任" / "王芳 无责任"


@dataclass(frozen=True, slots=True)
class EvidenceView:
    index: int
    kind_text: str
    name: str
    sha256: str
    sha256_short: str
    taken_at: str


@dataclass(frozen=True, slots=True)
class DeterminationView:
    kind: DocumentKind
    title: str
    subtitle: str
    number: str
    version: int | None
    version_line: str
    banner: str  # empty unless superseded
    issued_at: str
    issued_date: str
    verification_code: str
    verify_url: str
    verify_href: str  # verify_url when it is an http(s) URL, else empty: never a javascript: link
    authority: str
    case_id: str
    occurred_at: str
    address: str
    coordinates: str
    cause_text: str
    description: str
    parties: tuple[PartyView, ...]
    legal_basis: tuple[str, ...]
    evidence: tuple[EvidenceView, ...]
    officer_name: str
    officer_badge: str
    review_notice: str

    @classmethod
    def from_content(
        cls, content: Mapping[str, Any], *, superseded_by: int | None = None
    ) -> DeterminationView:
        accident = _mapping(content.get("accident"))
        officer = _mapping(content.get("officer"))
        version = _int_or_none(content.get("version"))
        verify_url = _text(content.get("verify_url"))
        kind = KINDS.get(_text(content.get("kind")), DETERMINATION)
        return cls(
            kind=kind,
            title=kind.title,
            subtitle=SUBTITLE,
            number=_text(content.get("number")),
            version=version,
            version_line=_version_line(version, content.get("supersedes"), content),
            banner=_banner(superseded_by, bool(content.get("superseded"))),
            issued_at=format_datetime_zh(content.get("issued_at")),
            issued_date=format_date_zh(content.get("issued_at")),
            verification_code=_text(content.get("verification_code")),
            verify_url=verify_url,
            verify_href=verify_url if _is_web_url(verify_url) else "",
            authority=_text(content.get("authority")),
            case_id=_text(content.get("case_id")),
            occurred_at=format_datetime_zh(accident.get("occurred_at")),
            address=_text(accident.get("address")),
            coordinates=_coordinates(accident.get("lat"), accident.get("lng")),
            cause_text=_text(accident.get("cause_text")) or _text(accident.get("cause")),
            description=_text(accident.get("description")),
            parties=tuple(_party(p, i) for i, p in enumerate(_seq(content.get("parties")))),
            legal_basis=tuple(
                line.strip()
                for line in _text(content.get("legal_basis")).splitlines()
                if line.strip()
            ),
            evidence=tuple(_evidence(e, i) for i, e in enumerate(_seq(content.get("evidence")))),
            officer_name=_text(officer.get("name")),
            officer_badge=_text(officer.get("badge")),
            review_notice=_text(content.get("review_notice")),
        )


def _is_web_url(url: str) -> bool:
    return url.lower().startswith(("https://", "http://"))


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _seq(value: Any) -> Sequence[Mapping[str, Any]]:
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        return ()
    return [v for v in value if isinstance(v, Mapping)]


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _version_line(version: int | None, supersedes: Any, content: Mapping[str, Any]) -> str:
    if version is None:
        return ""
    line = f"第{version}版"
    old = _mapping(supersedes)
    if old:
        old_version = _int_or_none(old.get("version"))
        old_number = _text(old.get("number"))
        line += f"，取代第{old_version}版" if old_version is not None else "，取代前一版"
        if old_number and old_number != _text(content.get("number")):
            line += f"（{old_number}）"
    return line


def _banner(superseded_by: int | None, superseded: bool) -> str:
    if superseded_by is not None:
        return f"本认定书已被第{superseded_by}版取代，请以第{superseded_by}版为准"
    if superseded:
        return "本认定书已被新版本取代，请以最新版本为准"
    return ""


def _coordinates(lat: Any, lng: Any) -> str:
    if isinstance(lat, int | float) and isinstance(lng, int | float):
        if not isinstance(lat, bool) and not isinstance(lng, bool):
            return f"{lat:.5f}, {lng:.5f}"
    return ""


def _party(p: Mapping[str, Any], i: int) -> PartyView:
    key = _text(p.get("key")) or (chr(ord("A") + i) if i < 26 else str(i + 1))
    name = _text(p.get("name"))
    liability = liability_zh(p.get("liability"), p.get("liability_text"))
    who = name or f"当事人{key}"
    if not liability:
        determination = f"{who} 责任未载明"
    elif _is_none_liability(p.get("liability"), liability):
        determination = f"{who} {liability}"
    else:
        determination = f"{who} 承担{liability}"
    return PartyView(
        key=key,
        label=f"当事人{key}",
        name=name,
        phone=_text(p.get("phone")),
        licence_no=_text(p.get("licence_no")),
        plate=_text(p.get("plate")),
        vehicle_type=_text(p.get("vehicle_type")),
        insurer=_text(p.get("insurer")),
        policy_no=_text(p.get("policy_no")),
        liability_text=liability,
        fault=_text(p.get("fault")),
        determination=determination,
    )


def _evidence(e: Mapping[str, Any], i: int) -> EvidenceView:
    kind = _text(e.get("kind"))
    sha = _text(e.get("sha256")).lower()
    return EvidenceView(
        index=i + 1,
        # The stored text, else the kind's own label (kuaichu.evidence.kinds).
        kind_text=_text(e.get("kind_text")) or ledger_text(kind),
        name=_text(e.get("name")),
        sha256=sha,
        sha256_short=short_hash(sha),
        taken_at=format_datetime_short(e.get("taken_at")),
    )


# The rows of the parties table, in order: (label, attribute of PartyView).
PARTY_ROWS: Final[tuple[tuple[str, str], ...]] = (
    ("姓名", "name"),
    ("驾驶证号", "licence_no"),
    ("联系电话", "phone"),
    ("号牌号码", "plate"),
    ("车辆类型", "vehicle_type"),
    ("保险公司", "insurer"),
    ("保险单号", "policy_no"),
    ("责任", "liability_text"),
    ("过错行为", "fault"),
)


def party_cell(party: PartyView, attr: str) -> str:
    return _or_dash(str(getattr(party, attr)))
