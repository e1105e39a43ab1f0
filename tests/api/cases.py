"""Cases for the open API's and the fraud signals' tests, made through the real services of a
running server: the trail up to "scene cleared" is seeded (tests/casework/seed.py's way, every
entry checked by the state machine), the form is written as the officer's save writes it, and
the determination is issued by the real CaseWork (real PDF, real manifest, the real
"case ready" hook), as the supervisor."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import update

from kuaichu.accounts.model import Officer
from kuaichu.appkeys import accounts_key, casework_key, open_api_key
from kuaichu.cases.form import CaseForm
from kuaichu.cases.states import AuditEntry, CaseEvent, apply
from kuaichu.storage.casefiles import CaseStore
from kuaichu.storage.tables import cases
from tests.casework.seed import CST, insert_cases

STEPS = (
    (CaseEvent.REPORT, "driver", {}),
    (CaseEvent.QUEUE, "system", {}),
    (CaseEvent.ANSWER, "officer:1", {}),
    (CaseEvent.COLLECT_EVIDENCE, "officer:1", {}),
    (CaseEvent.CLEAR_SCENE, "officer:1", {}),
)


def cleared_trail(at: datetime) -> list[AuditEntry]:
    trail: list[AuditEntry] = []
    for i, (event, who, detail) in enumerate(STEPS):
        trail.append(apply(trail, event, who, at + timedelta(seconds=i), detail, zone=CST))
    return trail


def id_number(body17: str) -> str:
    """An 18-character ID number with its check character (GB 11643) for 17 digits."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(body17, weights, strict=True))
    return body17 + "10X98765432"[total % 11]


def party(
    key: str,
    name: str,
    plate: str,
    insurer: str,
    *,
    licence: str,
    phone: str,
    liability: str,
) -> dict[str, Any]:
    return {
        "key": key,
        "reporter": key == "A",
        "name": name,
        "phone": phone,
        "licence_no": licence,
        "plate": plate,
        "vehicle_type": "small_car",
        "insurer": insurer,
        "policy_no": f"P{key}{licence[-6:]}",
        "fault": "未保持安全车距" if liability != "none" else "",
        "liability": liability,
    }


def form_of(parties: Sequence[Mapping[str, Any]], at: datetime, lat: float, lng: float) -> CaseForm:
    return CaseForm.parse(
        {
            "cause": "rear_end",
            "occurred_at": at.isoformat(),
            "address": "哈尔滨市南岗区红军街15号附近",
            "lat": lat,
            "lng": lng,
            "description": "A车追尾B车，两车轻微受损。",
            "parties": list(parties),
        }
    )


async def supervisor(app: web.Application) -> Officer:
    return next(o for o in await app[accounts_key].list_officers() if o.is_supervisor)


async def cleared_case(
    app: web.Application,
    case_id: str,
    parties: Sequence[Mapping[str, Any]],
    *,
    at: datetime,
    report: tuple[float, float] = (45.75, 126.65),
    declared: tuple[float, float] | None = None,
) -> None:
    """A case at "scene cleared" with its complete form: the determination is next."""
    engine = app[open_api_key].engine
    await insert_cases(engine, {case_id: cleared_trail(at)})
    lat, lng = declared or report
    async with engine.begin() as conn:
        await conn.execute(
            update(cases).where(cases.c.id == case_id).values(lat=report[0], lng=report[1])
        )
        await CaseStore(engine).write_form(
            conn, case_id, 0, form_of(parties, at, lat, lng), "officer:1"
        )


async def determined_case(
    app: web.Application,
    case_id: str,
    parties: Sequence[Mapping[str, Any]],
    *,
    at: datetime | None = None,
    evidence: bytes | None = b"\xff\xd8 a still of the damage \xff\xd9",
    **where: Any,
) -> str:
    """A case with its determination issued (through CaseWork.issue) and, unless
    ``evidence`` is None, one evidence file in its signed manifest. Returns the evidence
    file's SHA-256 (or "")."""
    at = at or datetime.now(CST) - timedelta(minutes=30)
    await cleared_case(app, case_id, parties, at=at, **where)
    sha = ""
    if evidence is not None:
        ledger = app[open_api_key].ledger
        folder = ledger.folder(case_id)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "still-1.jpg"
        path.write_bytes(evidence)
        sha = hashlib.sha256(evidence).hexdigest()
        await ledger.record(case_id, path, "damage", sha)
    await app[casework_key].issue(await supervisor(app), case_id)
    return sha
