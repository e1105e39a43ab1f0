"""The local registry's reference data: its three tables, the record types that hold their
rows, and the licence classes.

The tables have their own :class:`MetaData` (not :mod:`kuaichu.storage.tables`): they are
reference data an operator imports or replaces (``registry import``), not case data, and
:meth:`~kuaichu.verification.local.LocalRegistry.ensure_schema` creates them on demand
without a schema migration.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date
from typing import Any, ClassVar, Final, Literal, get_args

from sqlalchemy import Column, Date, Float, Index, MetaData, String, Table

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
    """A licence's status in the registry."""

    NORMAL = "normal"
    SUSPENDED = "suspended"  # 暂扣
    REVOKED = "revoked"  # 吊销 / 注销


class VehicleStatus(enum.StrEnum):
    """A vehicle's status in the registry."""

    NORMAL = "normal"
    SCRAPPED = "scrapped"  # 报废
    STOLEN = "stolen"  # 被盗抢
    SEIZED = "seized"  # 查封 / 扣押


class PlateColourCode(enum.StrEnum):
    """The plate's colour as the registry stores it."""

    BLUE = "blue"
    YELLOW = "yellow"
    GREEN = "green"
    YELLOW_GREEN = "yellow_green"  # large new-energy vehicles


class PolicyKind(enum.StrEnum):
    """Compulsory (交强险) or commercial insurance."""

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
    """One driving licence (驾驶证) of the registry."""

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
    """One registered vehicle (行驶证) of the registry."""

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
    """One insurance policy of the registry."""

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
    """A record as the row its table stores (enums as their values)."""
    row: dict[str, Any] = {"updated_at": now}
    for name in COLUMNS[record.KIND]:
        value = getattr(record, name)
        row[name] = value.value if isinstance(value, enum.Enum) else value
    return row


def licence_from_row(row: Mapping[Any, Any]) -> LicenceRecord:
    """A ``registry_licences`` row as a record."""
    return LicenceRecord(
        row["licence_no"],
        row["name"],
        row["licence_class"],
        row["first_issued"],
        row["valid_from"],
        row["valid_until"],
        LicenceStatus(row["status"]),
    )


def vehicle_from_row(row: Mapping[Any, Any]) -> VehicleRecord:
    """A ``registry_vehicles`` row as a record."""
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


def policy_from_row(row: Mapping[Any, Any]) -> PolicyRecord:
    """A ``registry_policies`` row as a record."""
    return PolicyRecord(
        row["policy_no"],
        row["plate"],
        row["insurer"],
        PolicyKind(row["kind"]),
        row["valid_from"],
        row["valid_until"],
    )
