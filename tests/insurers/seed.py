"""Cases for the insurer tests, made through the real case work where it matters: a
determination issued by a supervisor (real PDF), an agreement proposed, confirmed by both
parties and approved (real agreement document), evidence listed in the signed manifest.
Only the steps before the officer's decision are seeded straight into the tables."""

from __future__ import annotations

import hashlib
import io
import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from PIL import Image
from sqlalchemy import insert

from kuaichu.accounts.model import Officer, Role
from kuaichu.appkeys import accounts_key, casework_key, db_key, server_key_key, settings_key
from kuaichu.cases.form import CaseForm
from kuaichu.cases.states import AuditEntry, CaseEvent, apply
from kuaichu.casework import PartyLink
from kuaichu.evidence.ledger import Ledger
from kuaichu.storage.casefiles import CaseStore
from kuaichu.storage.caseindex import backfill
from kuaichu.storage.tables import case_files
from tests.casework.seed import CST, case_id, insert_cases
from tests.support.servers import InProcessServer

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def licence(first17: str) -> str:
    """An ID number with its right check character."""
    total = sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return first17 + "10X98765432"[total % 11]


PHONES = {"A": "13800000001", "B": "13900000002"}


def form(insurer_a: str, insurer_b: str, liabilities: tuple[str, str] = ("full", "none")) -> str:
    raw = {
        "cause": "rear_end",
        "occurred_at": (datetime.now(CST) - timedelta(hours=2)).isoformat(timespec="minutes"),
        "address": "测试市测试路1号",
        "parties": [
            {
                "key": "A",
                "reporter": True,
                "name": "张伟",
                "phone": PHONES["A"],
                "licence_no": licence("11010119900307123"),
                "plate": "京A·12345",
                "vehicle_type": "small_car",
                "insurer": insurer_a,
                "policy_no": "PDZA2026000001",
                "liability": liabilities[0],
                "fault": "未保持安全车距追尾" if liabilities[0] != "none" else "",
            },
            {
                "key": "B",
                "name": "王芳",
                "phone": PHONES["B"],
                "licence_no": licence("11010119920815234"),
                "plate": "京B·67890",
                "vehicle_type": "small_car",
                "insurer": insurer_b,
                "policy_no": "PA2026000002",
                "liability": liabilities[1],
                "fault": "",
            },
        ],
    }
    CaseForm.parse(raw)  # a form the officer's console could have saved
    return json.dumps(raw, ensure_ascii=False)


def trail_to(last: CaseEvent, at: datetime) -> list[AuditEntry]:
    steps = [
        (CaseEvent.REPORT, "driver"),
        (CaseEvent.QUEUE, "system"),
        (CaseEvent.ANSWER, "officer:1"),
        (CaseEvent.COLLECT_EVIDENCE, "officer:1"),
        (CaseEvent.CLEAR_SCENE, "officer:1"),
    ]
    trail: list[AuditEntry] = []
    for i, (event, who) in enumerate(steps):
        trail.append(apply(trail, event, who, at + timedelta(minutes=i), {}, zone=CST))
        if event is last:
            break
    return trail


@dataclass
class World:
    server: InProcessServer
    determined: str  # picc (A, at fault) and pingan (B): a determination issued
    agreed: str  # picc (A) and cpic (B): an approved agreement
    early: str  # picc (A): still in the call, no liability
    others: str  # cpic and chinalife only: a determination issued
    tokens: dict[str, dict[str, str]]  # case -> party -> progress-link token
    evidence_seq: int  # the determined case's evidence file in the manifest
    supervisor: Officer


async def seed(server: InProcessServer) -> World:
    app = server.app
    assert app is not None
    engine = app[db_key].engine
    now = datetime.now(CST) - timedelta(hours=1)
    ids = {name: case_id(700 + n) for n, name in enumerate(("det", "agr", "early", "oth"))}
    await insert_cases(
        engine,
        {
            ids["det"]: trail_to(CaseEvent.CLEAR_SCENE, now),
            ids["agr"]: trail_to(CaseEvent.CLEAR_SCENE, now),
            ids["early"]: trail_to(CaseEvent.ANSWER, now),
            ids["oth"]: trail_to(CaseEvent.CLEAR_SCENE, now),
        },
    )
    forms = {
        ids["det"]: form("中国人保财险", "平安产险"),
        ids["agr"]: form("中国人民财产保险股份有限公司", "太平洋产险", ("equal", "equal")),
        ids["early"]: form("中国人保财险", "平安产险"),
        ids["oth"]: form("太平洋产险", "国寿财险"),
    }
    store = CaseStore(engine)
    tokens: dict[str, dict[str, str]] = {}
    async with engine.begin() as conn:
        for cid, data in forms.items():
            await conn.execute(
                insert(case_files).values(
                    case_id=cid, revision=1, data=data, updated_at=time.time(), updated_by="t"
                )
            )
            tokens[cid] = {
                key: await store.new_link(conn, cid, key, phone) for key, phone in PHONES.items()
            }
        # Forms written straight into the table: index them as CaseStore.write_form would.
        await conn.run_sync(backfill, list(forms))
    # Evidence of the determined case: a file in its folder, listed in the signed manifest.
    settings = app[settings_key]
    folder = settings.recordings_path / ids["det"]
    folder.mkdir(parents=True, exist_ok=True)
    still = folder / "still-damage-1.jpg"
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 40)).save(buffer, "JPEG")
    jpeg = buffer.getvalue()
    still.write_bytes(jpeg)
    entry = Ledger(settings.recordings_path, app[server_key_key]).append(
        ids["det"],
        still,
        "damage",
        hashlib.sha256(jpeg).hexdigest(),
        {"taken_at": now.isoformat()},
    )
    accounts = app[accounts_key]
    supervisor = next(
        o for o in await accounts.list_officers() if o.username == server.supervisor_username
    )
    assert supervisor.role is Role.SUPERVISOR
    work = app[casework_key]
    await work.issue(supervisor, ids["det"])
    await work.issue(supervisor, ids["oth"])
    await work.propose_agreement(supervisor, ids["agr"])
    for key in ("A", "B"):
        await work.confirm_agreement(PartyLink(ids["agr"], key))
    await work.approve_agreement(supervisor, ids["agr"], True)
    return World(
        server,
        ids["det"],
        ids["agr"],
        ids["early"],
        ids["oth"],
        tokens,
        entry.seq,
        supervisor,
    )


async def insurer_account(
    server: InProcessServer, code: str, username: str, password: str = "insurer-pass-1"
) -> tuple[Officer, str]:
    """An insurer's staff account (as ``officer add --role insurer`` makes it) and a session."""
    assert server.app is not None
    accounts = server.app[accounts_key]
    account = await accounts.add_officer(username, password, f"{code}理赔员", Role.INSURER, code)
    return account, await accounts.open_session(account)
