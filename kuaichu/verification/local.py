"""The local registry: three tables in the server's own database, and the rules that turn
their rows into verdicts.

The tables have their own :class:`MetaData` (not :mod:`kuaichu.storage.tables`): they are
reference data an operator imports or replaces (``registry import``), not case data, and
:meth:`LocalRegistry.ensure_schema` creates them on demand without a schema migration.

The verdict rules are pure functions of the records and the accident date
(:func:`judge_licence`, :func:`judge_vehicle`, :func:`judge_insurance`), so the HTTP stand-in
upstream (:func:`~kuaichu.verification.remote.make_registry_app` over this registry) answers
exactly as the local registry does.

What the registry holds is the *current* state: a licence suspended today reads as suspended
for an accident last week. The officer's decision covers that case like any other.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from typing import Any, ClassVar, Final, Literal, get_args

from sqlalchemy import (
    Column,
    Date,
    Float,
    Index,
    MetaData,
    String,
    Table,
    func,
    select,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kuaichu.cases.errors import InvalidPlate
from kuaichu.cases.form import VEHICLE_TYPES, id_number_valid
from kuaichu.cases.plates import normalise_plate

from .model import (
    Item,
    ItemResult,
    ItemStatus,
    PartyFacts,
    Reason,
    VerificationResult,
    unavailable,
)

logger = logging.getLogger(__name__)

SOURCE: Final = "local"

registry_metadata = MetaData()

# The licence number is the holder's resident ID number (GB 11643).
registry_licences = Table(
    "registry_licences",
    registry_metadata,
    Column("licence_no", String(18), primary_key=True),
    Column("name", String(32), nullable=False),
    Column("licence_class", String(16), nullable=False),  # 准驾车型, e.g. C1 or A2D
    Column("first_issued", Date, nullable=False),  # 初次领证日期
    Column("valid_from", Date, nullable=False),
    Column("valid_until", Date),  # NULL: long-term (长期), after two renewals
    Column("status", String(12), nullable=False),
    Column("updated_at", Float, nullable=False),
)

registry_vehicles = Table(
    "registry_vehicles",
    registry_metadata,
    Column("plate", String(16), primary_key=True),  # canonical, 京A·12345
    Column("plate_colour", String(12), nullable=False),
    Column("vehicle_type", String(20), nullable=False),  # as on the 行驶证: 小型轿车
    Column("brand_model", String(40), nullable=False),  # 品牌型号
    Column("body_colour", String(8), nullable=False),
    Column("owner_name", String(64), nullable=False),  # a person or a company
    Column("vin", String(17), nullable=False),
    Column("registered_on", Date, nullable=False),
    Column("inspection_valid_until", Date, nullable=False),  # 检验有效期至
    Column("status", String(12), nullable=False),
    Column("updated_at", Float, nullable=False),
)

registry_policies = Table(
    "registry_policies",
    registry_metadata,
    Column("policy_no", String(40), primary_key=True),
    Column("plate", String(16), nullable=False),
    Column("insurer", String(64), nullable=False),
    Column("kind", String(12), nullable=False),
    # Inclusive: a 交强险 period reads "from 0:00 on valid_from to 24:00 on valid_until".
    Column("valid_from", Date, nullable=False),
    Column("valid_until", Date, nullable=False),
    Column("updated_at", Float, nullable=False),
)
Index("ix_registry_policies_plate", registry_policies.c.plate, registry_policies.c.kind)

Kind = Literal["licences", "vehicles", "policies"]
KINDS: Final[tuple[Kind, ...]] = get_args(Kind)


class LicenceStatus(enum.StrEnum):
    NORMAL = "normal"
    SUSPENDED = "suspended"  # 暂扣
    REVOKED = "revoked"  # 吊销 / 注销


class VehicleStatus(enum.StrEnum):
    NORMAL = "normal"
    SCRAPPED = "scrapped"  # 报废
    STOLEN = "stolen"  # 被盗抢
    SEIZED = "seized"  # 查封 / 扣押


class PlateColourCode(enum.StrEnum):
    BLUE = "blue"
    YELLOW = "yellow"
    GREEN = "green"
    YELLOW_GREEN = "yellow_green"  # large new-energy vehicles


class PolicyKind(enum.StrEnum):
    COMPULSORY = "compulsory"  # 交强险: the only kind that counts
    COMMERCIAL = "commercial"  # 商业险


# 准驾车型: which classes each class also allows (GA/T, 机动车驾驶证申领和使用规定, 附件).
LICENCE_CLASSES: Final[Mapping[str, frozenset[str]]] = {
    "A1": frozenset({"A1", "A3", "B1", "B2", "C1", "C2", "C3", "C4", "M"}),
    "A2": frozenset({"A2", "B1", "B2", "C1", "C2", "C3", "C4", "M"}),
    "A3": frozenset({"A3", "C1", "C2", "C3", "C4"}),
    "B1": frozenset({"B1", "C1", "C2", "C3", "C4", "M"}),
    "B2": frozenset({"B2", "C1", "C2", "C3", "C4", "M"}),
    "C1": frozenset({"C1", "C2", "C3", "C4"}),
    "C2": frozenset({"C2"}),
    "C3": frozenset({"C3", "C4"}),
    "C4": frozenset({"C4"}),
    "C5": frozenset({"C5"}),
    "C6": frozenset({"C6"}),
    "D": frozenset({"D", "E", "F"}),
    "E": frozenset({"E", "F"}),
    "F": frozenset({"F"}),
    "M": frozenset({"M"}),
    "N": frozenset({"N"}),
    "P": frozenset({"P"}),
}

# The class a vehicle type needs (any one of them). C2 is accepted for small vehicles because
# the registry does not say whether the car is automatic; types not listed are not checked.
REQUIRED_CLASS: Final[Mapping[str, frozenset[str]]] = {
    "小型轿车": frozenset({"C1", "C2"}),
    "小型普通客车": frozenset({"C1", "C2"}),
    "小型越野客车": frozenset({"C1", "C2"}),
    "小型面包车": frozenset({"C1", "C2"}),
    "轻型货车": frozenset({"C1", "C2"}),
    "中型客车": frozenset({"B1"}),
    "大型客车": frozenset({"A1"}),
    "中型货车": frozenset({"B2"}),
    "重型货车": frozenset({"B2"}),
    "重型半挂牵引车": frozenset({"A2"}),
}

_TYPE_KEYS: Final = {label: key for key, label in VEHICLE_TYPES.items()}


def split_classes(text: str) -> list[str] | None:
    """``"A2D"`` -> ``["A2", "D"]``; None if the text is not a run of known classes."""
    out: list[str] = []
    i = 0
    while i < len(text):
        two, one = text[i : i + 2], text[i]
        if two in LICENCE_CLASSES:
            out.append(two)
            i += 2
        elif one in LICENCE_CLASSES:
            out.append(one)
            i += 1
        else:
            return None
    return out or None


@dataclass(frozen=True, slots=True)
class LicenceRecord:
    KIND: ClassVar[Kind] = "licences"
    KEY: ClassVar[str] = "licence_no"

    licence_no: str
    name: str
    licence_class: str
    first_issued: date
    valid_from: date
    valid_until: date | None
    status: LicenceStatus


@dataclass(frozen=True, slots=True)
class VehicleRecord:
    KIND: ClassVar[Kind] = "vehicles"
    KEY: ClassVar[str] = "plate"

    plate: str
    plate_colour: PlateColourCode
    vehicle_type: str
    brand_model: str
    body_colour: str
    owner_name: str
    vin: str
    registered_on: date
    inspection_valid_until: date
    status: VehicleStatus


@dataclass(frozen=True, slots=True)
class PolicyRecord:
    KIND: ClassVar[Kind] = "policies"
    KEY: ClassVar[str] = "policy_no"

    policy_no: str
    plate: str
    insurer: str
    kind: PolicyKind
    valid_from: date
    valid_until: date


Record = LicenceRecord | VehicleRecord | PolicyRecord
RecordType = type[LicenceRecord] | type[VehicleRecord] | type[PolicyRecord]
RECORD_TYPES: Final[Mapping[Kind, RecordType]] = {
    "licences": LicenceRecord,
    "vehicles": VehicleRecord,
    "policies": PolicyRecord,
}
TABLES: Final[Mapping[Kind, Table]] = {
    "licences": registry_licences,
    "vehicles": registry_vehicles,
    "policies": registry_policies,
}
# The CSV columns of each kind: the record's fields, in order.
COLUMNS: Final[Mapping[Kind, tuple[str, ...]]] = {
    kind: tuple(f.name for f in fields(cls)) for kind, cls in RECORD_TYPES.items()
}


def record_row(record: Record, now: float) -> dict[str, Any]:
    row: dict[str, Any] = {"updated_at": now}
    for name in COLUMNS[record.KIND]:
        value = getattr(record, name)
        row[name] = value.value if isinstance(value, enum.Enum) else value
    return row


def _licence(row: Mapping[Any, Any]) -> LicenceRecord:
    return LicenceRecord(
        row["licence_no"],
        row["name"],
        row["licence_class"],
        row["first_issued"],
        row["valid_from"],
        row["valid_until"],
        LicenceStatus(row["status"]),
    )


def _vehicle(row: Mapping[Any, Any]) -> VehicleRecord:
    return VehicleRecord(
        row["plate"],
        PlateColourCode(row["plate_colour"]),
        row["vehicle_type"],
        row["brand_model"],
        row["body_colour"],
        row["owner_name"],
        row["vin"],
        row["registered_on"],
        row["inspection_valid_until"],
        VehicleStatus(row["status"]),
    )


def _policy(row: Mapping[Any, Any]) -> PolicyRecord:
    return PolicyRecord(
        row["policy_no"],
        row["plate"],
        row["insurer"],
        PolicyKind(row["kind"]),
        row["valid_from"],
        row["valid_until"],
    )


def same_name(a: str, b: str) -> bool:
    """Names compare after removing all whitespace (an ASCII or ideographic space typed
    between surname and given name is not a different person)."""
    return "".join(a.split()) == "".join(b.split())


def _iso(d: date | None) -> str | None:
    return None if d is None else d.isoformat()


def _result(
    item: Item, status: ItemStatus, reason: Reason | None, detail: Mapping[str, Any] | None = None
) -> ItemResult:
    return ItemResult(item, status, None if reason is None else reason.value, detail or {}, SOURCE)


def judge_licence(
    record: LicenceRecord | None,
    name: str | None,
    on: date,
    vehicle_type: str | None = None,
) -> ItemResult:
    """The licence verdict. Order of reasons: the name first (a record that is not this
    person's says nothing about them), then the status, then the dates, then whether the
    class allows the party's vehicle."""
    if record is None:
        return _result(Item.LICENCE, ItemStatus.NOT_FOUND, Reason.NOT_REGISTERED)
    classes = split_classes(record.licence_class) or []
    allowed = frozenset().union(*(LICENCE_CLASSES[c] for c in classes))
    needed = REQUIRED_CLASS.get(vehicle_type or "")
    detail: dict[str, Any] = {
        "licence_class": record.licence_class,
        "first_issued": _iso(record.first_issued),
        "valid_from": _iso(record.valid_from),
        "valid_until": _iso(record.valid_until),  # None: long-term
        "status": record.status.value,
        "name_checked": name is not None,
    }
    if needed is not None:
        detail["vehicle_needs"] = sorted(needed)
    reason: Reason | None = None
    if name is not None and not same_name(name, record.name):
        reason = Reason.NAME_MISMATCH
    elif record.status is LicenceStatus.REVOKED:
        reason = Reason.REVOKED
    elif record.status is LicenceStatus.SUSPENDED:
        reason = Reason.SUSPENDED
    elif record.valid_until is not None and on > record.valid_until:
        reason = Reason.EXPIRED
    elif on < record.valid_from:
        reason = Reason.NOT_YET_VALID
    elif needed is not None and not (needed & allowed):
        reason = Reason.CLASS_MISMATCH
    status = ItemStatus.VALID if reason is None else ItemStatus.INVALID
    return _result(Item.LICENCE, status, reason, detail)


def judge_vehicle(record: VehicleRecord | None, name: str | None, on: date) -> ItemResult:
    if record is None:
        return _result(Item.VEHICLE, ItemStatus.NOT_FOUND, Reason.NOT_REGISTERED)
    detail: dict[str, Any] = {
        "plate": record.plate,
        "plate_colour": record.plate_colour.value,
        "vehicle_type": record.vehicle_type,
        # The case form's key for the type ("small_car"), so it can be filled in directly.
        "vehicle_type_key": _TYPE_KEYS.get(record.vehicle_type, "other"),
        "brand_model": record.brand_model,
        "body_colour": record.body_colour,
        "vin": record.vin,
        "registered_on": _iso(record.registered_on),
        "inspection_valid_until": _iso(record.inspection_valid_until),
        "status": record.status.value,
        # Driving someone else's car is lawful; the officer may still want to know.
        "owner_is_party": None if name is None else same_name(name, record.owner_name),
    }
    reason: Reason | None = {
        VehicleStatus.STOLEN: Reason.STOLEN,
        VehicleStatus.SCRAPPED: Reason.SCRAPPED,
        VehicleStatus.SEIZED: Reason.SEIZED,
        VehicleStatus.NORMAL: None,
    }[record.status]
    if reason is None and on > record.inspection_valid_until:
        reason = Reason.INSPECTION_OVERDUE
    status = ItemStatus.VALID if reason is None else ItemStatus.INVALID
    return _result(Item.VEHICLE, status, reason, detail)


def _policy_detail(p: PolicyRecord) -> dict[str, Any]:
    return {
        "insurer": p.insurer,
        "policy_no": p.policy_no,
        "kind": p.kind.value,
        "valid_from": _iso(p.valid_from),
        "valid_until": _iso(p.valid_until),
    }


def judge_insurance(policies: Iterable[PolicyRecord], vehicle_known: bool, on: date) -> ItemResult:
    """Valid when a compulsory policy for the plate covers the accident date (both ends
    inclusive). Without any compulsory policy the verdict depends on whether the vehicle is
    known: a registered car without 交强险 is a finding (INVALID no_policy); an unknown plate
    is more likely mistyped (NOT_FOUND not_registered)."""
    compulsory = [p for p in policies if p.kind is PolicyKind.COMPULSORY]
    if not compulsory:
        if vehicle_known:
            return _result(Item.INSURANCE, ItemStatus.INVALID, Reason.NO_POLICY)
        return _result(Item.INSURANCE, ItemStatus.NOT_FOUND, Reason.NOT_REGISTERED)
    covering = [p for p in compulsory if p.valid_from <= on <= p.valid_until]
    if covering:
        best = max(covering, key=lambda p: (p.valid_until, p.policy_no))
        return _result(Item.INSURANCE, ItemStatus.VALID, None, _policy_detail(best))
    ended = [p for p in compulsory if p.valid_until < on]
    if ended:
        last = max(ended, key=lambda p: (p.valid_until, p.policy_no))
        return _result(
            Item.INSURANCE,
            ItemStatus.INVALID,
            Reason.POLICY_LAPSED,
            {**_policy_detail(last), "days_lapsed": (on - last.valid_until).days},
        )
    first = min(compulsory, key=lambda p: (p.valid_from, p.policy_no))
    return _result(
        Item.INSURANCE, ItemStatus.INVALID, Reason.POLICY_NOT_YET_VALID, _policy_detail(first)
    )


def clean_licence_no(raw: str | None) -> str | None:
    if raw is None:
        return None
    text = "".join(raw.split()).upper()
    return text or None


def clean_name(raw: str | None) -> str | None:
    if raw is None:
        return None
    return raw.strip() or None


def judge(
    facts: PartyFacts,
    licence: LicenceRecord | None,
    vehicle: VehicleRecord | None,
    policies: Sequence[PolicyRecord],
    checked_at: datetime,
) -> VerificationResult:
    """All three verdicts from the records found for ``facts`` (looked up by the cleaned
    licence number and the canonical plate). Missing or malformed inputs are NOT_FOUND with
    ``missing_input``/``invalid_input``: nothing was looked up, so nothing is INVALID."""
    on = facts.accident_date
    name = clean_name(facts.name)
    licence_no = clean_licence_no(facts.licence_no)
    plate, plate_reason = _plate(facts.plate)

    if licence_no is None:
        lic = _result(Item.LICENCE, ItemStatus.NOT_FOUND, Reason.MISSING_INPUT)
    elif not id_number_valid(licence_no):
        lic = _result(Item.LICENCE, ItemStatus.NOT_FOUND, Reason.INVALID_INPUT)
    else:
        lic = judge_licence(licence, name, on, vehicle.vehicle_type if vehicle else None)

    if plate is None:
        assert plate_reason is not None
        veh = _result(Item.VEHICLE, ItemStatus.NOT_FOUND, plate_reason)
        ins = _result(Item.INSURANCE, ItemStatus.NOT_FOUND, plate_reason)
    else:
        veh = judge_vehicle(vehicle, name, on)
        ins = judge_insurance(policies, vehicle is not None, on)
    return VerificationResult((lic, veh, ins), checked_at)


def _plate(raw: str | None) -> tuple[str | None, Reason | None]:
    if raw is None or not raw.strip():
        return None, Reason.MISSING_INPUT
    try:
        return normalise_plate(raw), None
    except InvalidPlate:
        return None, Reason.INVALID_INPUT


def _upsert_statement(conn: AsyncConnection, kind: Kind) -> Any:
    table = TABLES[kind]
    key = RECORD_TYPES[kind].KEY
    dialect = conn.dialect.name
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert  # type: ignore[assignment]
    else:
        raise NotImplementedError(f"registry upsert is not written for {dialect}")
    stmt = insert(table)
    return stmt.on_conflict_do_update(
        index_elements=[key],
        set_={c.name: stmt.excluded[c.name] for c in table.c if c.name != key},
    )


async def upsert_rows(
    engine: AsyncEngine,
    kind: Kind,
    rows: Sequence[Mapping[str, Any]],
    progress: Callable[[int], None] | None = None,
    batch: int = 5000,
) -> None:
    """Insert or replace ``rows`` (:func:`record_row` dicts) in batches of ``batch``: one
    executemany and one short transaction each, ``progress(rows_done)`` after each.

    Short transactions because the server shares the database: SQLite has one writer at a
    time, and a 250k-row import in one transaction would hold the lock for seconds, longer
    than the server's busy timeout, failing its case writes. Callers validate everything
    before the first batch, so a bad file still changes nothing; an import interrupted
    half-way is completed by running it again (upsert)."""
    for start in range(0, len(rows), batch):
        chunk = list(rows[start : start + batch])
        async with engine.begin() as conn:
            await conn.execute(_upsert_statement(conn, kind), chunk)
        if progress is not None:
            progress(start + len(chunk))


class LocalRegistry:
    """Verdicts from the registry tables in the server's database. The engine belongs to
    the caller (the server disposes it); :meth:`close` does nothing."""

    name = "local"

    def __init__(self, engine: AsyncEngine, *, clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self._clock = clock or (lambda: datetime.now(UTC))

    async def ensure_schema(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(registry_metadata.create_all)

    async def close(self) -> None:
        return None

    async def counts(self) -> dict[Kind, int]:
        async with self.engine.connect() as conn:
            return {
                kind: int((await conn.execute(select(func.count()).select_from(t))).scalar_one())
                for kind, t in TABLES.items()
            }

    async def load(
        self,
        records: Mapping[Kind, Sequence[Record]],
        progress: Callable[[Kind, int, int], None] | None = None,
    ) -> None:
        """Upsert whole record lists, kind by kind (see :func:`upsert_rows`)."""
        now = time.time()
        for kind in KINDS:
            rows = [record_row(r, now) for r in records.get(kind, ())]

            def step(done: int, kind: Kind = kind, total: int = len(rows)) -> None:
                if progress is not None:
                    progress(kind, done, total)

            step(0)
            await upsert_rows(self.engine, kind, rows, step)

    async def verify(self, facts: PartyFacts) -> VerificationResult:
        licence_no = clean_licence_no(facts.licence_no)
        plate, _ = _plate(facts.plate)
        try:
            async with self.engine.connect() as conn:
                licence = vehicle = None
                policies: list[PolicyRecord] = []
                if licence_no is not None:
                    row = (
                        (
                            await conn.execute(
                                select(registry_licences).where(
                                    registry_licences.c.licence_no == licence_no
                                )
                            )
                        )
                        .mappings()
                        .first()
                    )
                    licence = None if row is None else _licence(row)
                if plate is not None:
                    row = (
                        (
                            await conn.execute(
                                select(registry_vehicles).where(registry_vehicles.c.plate == plate)
                            )
                        )
                        .mappings()
                        .first()
                    )
                    vehicle = None if row is None else _vehicle(row)
                    rows = (
                        (
                            await conn.execute(
                                select(registry_policies).where(
                                    registry_policies.c.plate == plate,
                                    registry_policies.c.kind == PolicyKind.COMPULSORY.value,
                                )
                            )
                        )
                        .mappings()
                        .all()
                    )
                    policies = [_policy(r) for r in rows]
        except (SQLAlchemyError, ValueError) as exc:
            # A missing table or a corrupt row must not end the officer's call: every item
            # becomes UNAVAILABLE and the officer decides. No facts in the log line.
            # SQLAlchemy's own message carries the bound parameters (ID numbers): log the
            # driver's message only.
            cause = getattr(exc, "orig", None) or type(exc).__name__
            logger.error("local registry lookup failed: %s", cause)
            return unavailable(Reason.UPSTREAM_ERROR, SOURCE, self._clock(), error="registry")
        return judge(facts, licence, vehicle, policies, self._clock())
