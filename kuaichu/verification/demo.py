"""A synthetic registry that looks like the real thing: for demos, training and load tests.

Every person, plate, VIN and policy number is invented from a seeded generator (the same
``seed`` and ``today`` give the same registry, byte for byte), but each has the shape an
officer knows: an ID number with a valid GB 11643 check character and a real county code,
plates of a dozen cities in the blue, green (new-energy, six characters) and yellow formats,
VINs with a valid check digit (GB 16735), licence periods of six years, ten years and
long-term, inspection cycles, and 交强险 policies of the insurers that write most of the
market, in roughly their market shares.

About one pair in six carries exactly one problem (:data:`PROBLEMS` gives the shares), so a
demo call soon meets an expired licence or a lapsed policy; every problem occurs at least once
when ``count`` allows. :attr:`DemoRegistry.samples` names one party per problem for trying
the console or ``registry check``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Final

from sqlalchemy.ext.asyncio import AsyncEngine

from .local import LocalRegistry
from .model import PartyFacts
from .records import (
    KINDS,
    Kind,
    LicenceRecord,
    LicenceStatus,
    PlateColourCode,
    PolicyKind,
    PolicyRecord,
    Record,
    VehicleRecord,
    VehicleStatus,
)

# Shares of pairs (licence holder + their vehicle) with each problem; the rest are clean.
PROBLEMS: Final[Mapping[str, float]] = {
    "licence_expired": 0.04,
    "licence_suspended": 0.02,
    "licence_revoked": 0.005,
    "class_mismatch": 0.005,
    "inspection_overdue": 0.05,
    "stolen": 0.004,
    "scrapped": 0.004,
    "seized": 0.003,
    "policy_lapsed": 0.04,
    "no_policy": 0.015,
}

# (county code of the ID number, province character, city, plate letters of that city)
_REGIONS: Final = (
    ("110105", "京", "北京", "ABCEFGHJKLMNPQ", 10),
    ("110108", "京", "北京", "ABCEFGHJKLMNPQ", 6),
    ("310115", "沪", "上海", "ABDEFGHJKLMN", 10),
    ("440106", "粤", "广州", "A", 7),
    ("440305", "粤", "深圳", "B", 8),
    ("500103", "渝", "重庆", "ABCDFGH", 8),
    ("500112", "渝", "重庆", "ABCDFGH", 5),
    ("230103", "黑", "哈尔滨", "A", 5),
    ("510104", "川", "成都", "A", 7),
    ("511902", "川", "巴中", "Y", 2),
    ("330106", "浙", "杭州", "A", 6),
    ("320102", "苏", "南京", "A", 4),
    ("320505", "苏", "苏州", "E", 5),
    ("420106", "鄂", "武汉", "A", 5),
    ("610113", "陕", "西安", "A", 4),
    ("370202", "鲁", "青岛", "B", 4),
    ("410105", "豫", "郑州", "A", 4),
)

_SURNAMES: Final = (
    ("王", 71), ("李", 70), ("张", 68), ("刘", 54), ("陈", 46), ("杨", 31), ("黄", 23),
    ("赵", 22), ("吴", 20), ("周", 19), ("徐", 16), ("孙", 15), ("马", 15), ("朱", 13),
    ("胡", 13), ("郭", 12), ("何", 11), ("高", 11), ("林", 11), ("罗", 9), ("郑", 9),
    ("梁", 8), ("谢", 7), ("宋", 7), ("唐", 7), ("许", 6), ("韩", 6), ("冯", 6), ("邓", 6),
    ("曹", 6), ("彭", 5), ("曾", 5), ("肖", 5), ("田", 5), ("董", 5), ("袁", 4), ("潘", 4),
    ("于", 4), ("蒋", 4), ("蔡", 4), ("余", 4), ("杜", 4), ("叶", 4), ("程", 4), ("苏", 3),
    ("魏", 3), ("吕", 3), ("丁", 3), ("任", 3), ("沈", 3), ("姚", 3), ("卢", 3), ("钟", 2),
    ("谭", 2), ("廖", 2), ("欧阳", 1), ("司马", 1), ("诸葛", 1),
)  # fmt: skip
_COMPOUND: Final = frozenset(s for s, _ in _SURNAMES if len(s) == 2)
_MALE: Final = "伟强磊军洋勇杰涛明超斌鹏辉刚浩宇俊凯健峰建国华志文博轩天昊晨阳毅鑫波平"
_FEMALE: Final = "芳娜敏静丽艳娟霞秀婷雪玲丹萍红燕欣怡梓涵诗雨佳琪思颖璐月慧琳悦晶"

_INSURERS: Final = (
    ("中国人保财险", "PDZA", 33),
    ("平安产险", "PA", 21),
    ("太平洋产险", "ASHZ", 11),
    ("国寿财险", "GSC", 6),
    ("中华联合财险", "ZHLH", 4),
    ("大地保险", "DDBX", 4),
    ("阳光财险", "YGCX", 3),
    ("太平财险", "TPCX", 3),
    ("天安财险", "TACX", 2),
    ("华安保险", "HACX", 2),
    ("英大泰和财险", "YDTH", 1),
    ("永安保险", "YACX", 1),
)

# (brand, WMI, model-code prefix)
Makes = tuple[tuple[str, str, str], ...]
_CARS: Final[Makes] = (
    ("大众牌", "LSV", "SVW7"), ("大众牌", "LFV", "FV7"), ("丰田牌", "LVG", "GTM7"),
    ("本田牌", "LHG", "GHA7"), ("日产牌", "LGB", "DFL7"), ("别克牌", "LSG", "SGM7"),
    ("吉利牌", "L6T", "MR7"), ("长安牌", "LS5", "SC7"), ("哈弗牌", "LGW", "CC6"),
)  # fmt: skip
_NEV: Final[Makes] = (
    ("比亚迪牌", "LGX", "BYD7"), ("特斯拉牌", "LRW", "TSL7"), ("蔚来牌", "LJ1", "HFC6"),
    ("理想牌", "LW4", "LXA6"), ("小鹏牌", "L1N", "NHQ7"), ("埃安牌", "LMG", "GAM7"),
)  # fmt: skip
_TRUCKS: Final[Makes] = (
    ("解放牌", "LFW", "CA4"),
    ("东风牌", "LGA", "DFH4"),
    ("重汽牌", "LZZ", "ZZ4"),
)
_BUSES: Final[Makes] = (("宇通牌", "LZY", "ZK6"), ("金龙牌", "LA6", "XMQ6"))
_LIGHT: Final[Makes] = (("福田牌", "LVB", "BJ1"), ("五十铃牌", "LWL", "QL1"))
_BODY: Final = (("白", 30), ("黑", 25), ("灰", 15), ("银", 12), ("蓝", 8), ("红", 5), ("黄", 3))
_FIRMS: Final = ("顺达", "安通", "宏运", "恒通", "远航", "鑫盛", "通力", "捷运")

_LETTERS: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # plate serials: no I, no O
_VIN_CHARS: Final = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"  # no I, O, Q
_VIN_VALUE: Final = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_VIN_WEIGHTS: Final = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
_VIN_YEARS: Final = "ABCDEFGHJKLMNPRSTVWXY123456789"  # 2010 = A, 30-year cycle


def id_check_char(body: str) -> str:
    """GB 11643's check character for 17 digits: ISO 7064 MOD 11-2, position weights
    2^(17-i) mod 11, X for 10."""
    total = sum(int(ch) * pow(2, 17 - i, 11) for i, ch in enumerate(body))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


def vin_check_char(vin: str) -> str:
    """GB 16735's check digit (position 9) for a 17-character VIN (position 9 ignored)."""
    total = sum(_VIN_VALUE[ch] * w for ch, w in zip(vin, _VIN_WEIGHTS, strict=True))
    value = total % 11
    return "X" if value == 10 else str(value)


def add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


@dataclass(frozen=True)
class DemoRegistry:
    licences: tuple[LicenceRecord, ...]
    vehicles: tuple[VehicleRecord, ...]
    policies: tuple[PolicyRecord, ...]
    problems: Mapping[str, str]  # licence_no -> problem, for the pairs that have one
    samples: Mapping[str, PartyFacts]  # "valid", each problem, "green_plate", "yellow_plate"
    today: date

    def records(self) -> dict[Kind, Sequence[Record]]:
        return {"licences": self.licences, "vehicles": self.vehicles, "policies": self.policies}

    def write_csv(self, directory: Path) -> dict[Kind, Path]:
        """The three importable files, ``licences.csv``, ``vehicles.csv``, ``policies.csv``."""
        from .csvimport import write_csv

        out: dict[Kind, Path] = {}
        records = self.records()
        for kind in KINDS:
            path = directory / f"{kind}.csv"
            write_csv(kind, records[kind], path)
            out[kind] = path
        return out

    async def load(
        self,
        engine: AsyncEngine,
        progress: Callable[[Kind, int, int], None] | None = None,
    ) -> None:
        """Upsert everything into the registry tables (created if missing), in batches."""
        registry = LocalRegistry(engine)
        await registry.ensure_schema()
        await registry.load(self.records(), progress)


class _Generator:
    def __init__(self, seed: int, today: date) -> None:
        self.rng = random.Random(seed)
        self.today = today
        self.ids: set[str] = set()
        self.plates: set[str] = set()
        self.policy_nos: set[str] = set()
        self.region_weights = [r[4] for r in _REGIONS]
        self.surnames = [s for s, _ in _SURNAMES]
        self.surname_weights = [w for _, w in _SURNAMES]
        self.insurer_weights = [w for _, _, w in _INSURERS]
        self.body_weights = [w for _, w in _BODY]

    def day_between(self, first: date, last: date) -> date:
        return first + timedelta(days=self.rng.randint(0, max((last - first).days, 0)))

    def region(self) -> tuple[str, str, str, str, int]:
        return self.rng.choices(_REGIONS, self.region_weights)[0]

    def person(self, region: tuple[str, str, str, str, int], min_age: int) -> tuple[str, str, date]:
        rng = self.rng
        while True:
            born = self.day_between(add_years(self.today, -68), add_years(self.today, -min_age))
            seq = rng.randint(0, 999)
            body = f"{region[0]}{born:%Y%m%d}{seq:03d}"
            licence_no = body + id_check_char(body)
            if licence_no not in self.ids:
                self.ids.add(licence_no)
                break
        male = seq % 2 == 1  # the 17th digit: odd for men
        return self.name(male), licence_no, born

    def name(self, male: bool, surname: str | None = None) -> str:
        rng = self.rng
        surname = surname or rng.choices(self.surnames, self.surname_weights)[0]
        pool = _MALE if male else _FEMALE
        given = "".join(rng.choice(pool) for _ in range(1 if rng.random() < 0.3 else 2))
        return surname + given

    def plate(self, province: str, letters: str, colour: PlateColourCode) -> str:
        rng = self.rng
        while True:
            if colour is PlateColourCode.GREEN:
                serial = (
                    rng.choice("DDDF")
                    + rng.choice(_LETTERS + "0123456789")
                    + f"{rng.randint(0, 9999):04d}"
                )
            elif colour is PlateColourCode.YELLOW_GREEN:
                serial = f"{rng.randint(0, 99999):05d}" + rng.choice("DF")
            else:
                pattern = rng.choice(("LDDDD", "LDDDD", "DDDDD", "LLDDD", "DLDDD", "DDDDL"))
                serial = "".join(
                    rng.choice(_LETTERS) if p == "L" else rng.choice("0123456789") for p in pattern
                )
            plate = f"{province}{rng.choice(letters)}·{serial}"
            if plate not in self.plates:
                self.plates.add(plate)
                return plate

    def vin(self, wmi: str, year: int) -> str:
        rng = self.rng
        vds = "".join(rng.choice(_VIN_CHARS) for _ in range(5))
        rest = _VIN_YEARS[(year - 2010) % 30] + rng.choice(_VIN_CHARS[:23])
        rest += f"{rng.randint(0, 999999):06d}"
        draft = wmi + vds + "0" + rest
        return wmi + vds + vin_check_char(draft) + rest

    def policy_no(self, prefix: str, year: int) -> str:
        while True:
            no = f"{prefix}{year}{self.rng.randint(0, 10**12 - 1):012d}"
            if no not in self.policy_nos:
                self.policy_nos.add(no)
                return no


def _assign_problems(rng: random.Random, count: int) -> list[str | None]:
    names = list(PROBLEMS)
    weights = [*PROBLEMS.values(), 1 - sum(PROBLEMS.values())]
    out: list[str | None] = [
        (None if p == "" else p) for p in rng.choices([*names, ""], weights, k=count)
    ]
    # Every problem at least once when there is room for it and for clean pairs.
    if count > len(names):
        for problem in names:
            if problem not in out:
                free = [i for i, p in enumerate(out) if p is None]
                out[rng.choice(free)] = problem
    return out


def generate_demo(count: int, seed: int, today: date) -> DemoRegistry:
    """``count`` licence holders, each with one vehicle and its policies."""
    if count < 1:
        raise ValueError("count must be at least 1")
    g = _Generator(seed, today)
    rng = g.rng
    problems = _assign_problems(rng, count)
    licences: list[LicenceRecord] = []
    vehicles: list[VehicleRecord] = []
    policies: list[PolicyRecord] = []
    problem_of: dict[str, str] = {}
    samples: dict[str, PartyFacts] = {}
    for problem in problems:
        region = g.region()
        _, province, city, letters, _ = region

        # The vehicle first: it decides which licence class the driver holds, and a heavy
        # vehicle's driver is older (B2/A2/A1 are issued from 20-something on).
        roll = rng.random()
        heavy = problem == "class_mismatch" or roll < 0.06
        makes: Makes
        min_age = 35 if heavy or problem == "licence_expired" else 19
        name, licence_no, born = g.person(region, min_age)
        if heavy:
            vtype = rng.choice(("重型货车", "重型货车", "重型半挂牵引车", "大型客车", "中型客车"))
            colour = PlateColourCode.YELLOW
            if vtype in ("大型客车", "中型客车") and rng.random() < 0.2:
                colour = PlateColourCode.YELLOW_GREEN  # electric buses
            makes = _BUSES if "客车" in vtype else _TRUCKS
            needs = {"重型货车": "B2", "重型半挂牵引车": "A2", "大型客车": "A1", "中型客车": "B1"}
            licence_class = needs[vtype]
            owner = f"{city}{rng.choice(_FIRMS)}{'客运' if '客车' in vtype else '物流'}有限公司"
        else:
            if roll < 0.08:
                vtype, makes, colour = "轻型货车", _LIGHT, PlateColourCode.BLUE
            elif roll < 0.27:
                vtype, makes, colour = "小型轿车", _NEV, PlateColourCode.GREEN
            else:
                vtype = rng.choices(("小型轿车", "小型普通客车", "小型面包车"), (70, 25, 5))[0]
                makes, colour = _CARS, PlateColourCode.BLUE
            licence_class = "C2" if rng.random() < 0.15 and vtype != "轻型货车" else "C1"
            if rng.random() < 0.85:
                owner = name
            else:  # a family member's car
                surname = name[:2] if name[:2] in _COMPOUND else name[0]
                owner = g.name(rng.random() < 0.5, surname=surname)
        if problem == "class_mismatch":
            licence_class = "C1"

        licences.append(_licence(g, name, licence_no, born, licence_class, problem))
        vehicle = _vehicle(g, province, letters, colour, vtype, makes, owner, problem)
        vehicles.append(vehicle)
        policies.extend(_policies(g, vehicle, problem))

        facts = PartyFacts(name, licence_no, vehicle.plate, today)
        if problem is not None:
            problem_of[licence_no] = problem
            samples.setdefault(problem, facts)
        elif vehicle.owner_name == name:
            samples.setdefault("valid", facts)
            if colour is PlateColourCode.GREEN:
                samples.setdefault("green_plate", facts)
        if problem is None and colour is PlateColourCode.YELLOW:
            samples.setdefault("yellow_plate", facts)
    return DemoRegistry(
        tuple(licences), tuple(vehicles), tuple(policies), problem_of, samples, today
    )


def _licence(
    g: _Generator, name: str, licence_no: str, born: date, licence_class: str, problem: str | None
) -> LicenceRecord:
    rng, today = g.rng, g.today
    earliest = add_years(born, 18 if licence_class in ("C1", "C2") else 24)
    first_issued = g.day_between(earliest, today - timedelta(days=30))
    # Periods: six years, then ten, then long-term (长期).
    if problem == "licence_expired":
        # The renewal was missed: the current period ended up to a year ago.
        valid_until: date | None = today - timedelta(days=rng.randint(1, 365))
        assert valid_until is not None
        years = 6 if rng.random() < 0.6 else 10
        valid_from = add_years(valid_until + timedelta(days=1), -years)
        first_issued = min(first_issued, valid_from)
    else:
        valid_from = first_issued
        valid_until = add_years(first_issued, 6) - timedelta(days=1)
        if valid_until < today:
            valid_from = add_years(first_issued, 6)
            valid_until = add_years(first_issued, 16) - timedelta(days=1)
            if valid_until < today:
                valid_from, valid_until = add_years(first_issued, 16), None
    status = LicenceStatus.NORMAL
    if problem == "licence_suspended":
        status = LicenceStatus.SUSPENDED
    elif problem == "licence_revoked":
        status = LicenceStatus.REVOKED
    return LicenceRecord(
        licence_no, name, licence_class, first_issued, valid_from, valid_until, status
    )


def _vehicle(
    g: _Generator,
    province: str,
    letters: str,
    colour: PlateColourCode,
    vtype: str,
    makes: Makes,
    owner: str,
    problem: str | None,
) -> VehicleRecord:
    rng, today = g.rng, g.today
    oldest = date(2018, 1, 1) if colour is PlateColourCode.GREEN else add_years(today, -14)
    registered = g.day_between(oldest, today - timedelta(days=20))
    if problem == "policy_lapsed":
        # Old enough for a whole policy year to have ended before today.
        registered = min(registered, today - timedelta(days=500))
    brand, wmi, code = rng.choice(makes)
    model = f"{brand}{code}{rng.randint(100, 999)}{rng.choice(_LETTERS)}{rng.choice(_LETTERS)}"
    commercial = colour in (PlateColourCode.YELLOW, PlateColourCode.YELLOW_GREEN)
    # Private small cars: inspection every two years for the first six, then yearly;
    # trucks and buses: yearly from the start.
    step, due = (1 if commercial else 2), registered
    while due <= today:
        age = (due - registered).days // 365
        due = add_years(due, 1 if commercial or age >= 6 else step)
    inspection = due - timedelta(days=1)
    if problem == "inspection_overdue":
        inspection = today - timedelta(days=rng.randint(1, 400))
        registered = min(registered, add_years(inspection, -1))
    status = {
        "stolen": VehicleStatus.STOLEN,
        "scrapped": VehicleStatus.SCRAPPED,
        "seized": VehicleStatus.SEIZED,
    }.get(problem or "", VehicleStatus.NORMAL)
    body = rng.choices([c for c, _ in _BODY], g.body_weights)[0]
    return VehicleRecord(
        plate=g.plate(province, letters, colour),
        plate_colour=colour,
        vehicle_type=vtype,
        brand_model=model,
        body_colour=body,
        owner_name=owner,
        vin=g.vin(wmi, registered.year),
        registered_on=registered,
        inspection_valid_until=inspection,
        status=status,
    )


def _policies(g: _Generator, vehicle: VehicleRecord, problem: str | None) -> list[PolicyRecord]:
    rng, today = g.rng, g.today
    if problem == "no_policy":
        return []
    # Policies run from the registration anniversary for one year (both days inclusive).
    years = today.year - vehicle.registered_on.year
    start = add_years(vehicle.registered_on, years)
    if start > today:
        start = add_years(vehicle.registered_on, years - 1)
    if problem == "policy_lapsed":
        # Not renewed: the last policy ended 1 to 120 days ago.
        end = today - timedelta(days=rng.randint(1, 120))
        start = add_years(end + timedelta(days=1), -1)
    out: list[PolicyRecord] = []
    insurer, prefix, _ = rng.choices(_INSURERS, g.insurer_weights)[0]
    periods = [start]
    if add_years(start, -1) >= vehicle.registered_on and rng.random() < 0.7:
        periods.append(add_years(start, -1))  # last year's policy, maybe with another insurer
    for n, begin in enumerate(periods):
        if n and rng.random() < 0.2:
            insurer, prefix, _ = rng.choices(_INSURERS, g.insurer_weights)[0]
        until = add_years(begin, 1) - timedelta(days=1)
        out.append(
            PolicyRecord(
                g.policy_no(prefix, begin.year),
                vehicle.plate,
                insurer,
                PolicyKind.COMPULSORY,
                begin,
                until,
            )
        )
        if rng.random() < 0.6:  # 商业险 with the same insurer: present, but not what counts
            out.append(
                PolicyRecord(
                    g.policy_no(prefix, begin.year),
                    vehicle.plate,
                    insurer,
                    PolicyKind.COMMERCIAL,
                    begin,
                    until,
                )
            )
    return out
