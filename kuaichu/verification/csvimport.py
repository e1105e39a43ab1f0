"""CSV files of the local registry: strict import (all or nothing, upsert), export, and a
progress bar for the terminal.

One file per kind (``licences``, ``vehicles``, ``policies``); the header must name exactly the
kind's columns (:data:`~kuaichu.verification.records.COLUMNS`), in any order. Every row is
validated before anything is written, so a file with one bad row reports every bad row (with
its line number) and changes nothing; a good file is written in batches of one executemany
and one short transaction each (so a running server's writes never wait long for SQLite's
lock), replacing rows with the same key: re-importing a corrected file is how a registry is
updated, and re-running an interrupted import completes it.

Files are UTF-8, with or without the byte-order mark Excel writes ("CSV UTF-8"); a GBK file
(Excel's plain "CSV" on a Chinese Windows) is refused with advice rather than read as garbage.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final, TextIO

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from kuaichu.cases.errors import InvalidPlate
from kuaichu.cases.form import id_number_valid
from kuaichu.cases.plates import PlateKind, parse_plate
from kuaichu.errors import InvalidMessage

from .local import LocalRegistry, upsert_rows
from .records import (
    COLUMNS,
    KINDS,
    RECORD_TYPES,
    TABLES,
    Kind,
    LicenceRecord,
    LicenceStatus,
    PlateColourCode,
    PolicyKind,
    PolicyRecord,
    Record,
    VehicleRecord,
    VehicleStatus,
    record_row,
    split_classes,
)

# (stage, rows done, rows in total); stage is "reading" or "writing". During "reading" it is
# called from the worker thread that parses the file.
Progress = Callable[[str, int, int], None]

MAX_REPORTED: Final = 20
BATCH: Final = 5000
_VIN: Final = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")
_POLICY_NO: Final = re.compile(r"^[A-Z0-9-]{4,40}$")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
# Which plate colours each plate format may have.
_COLOURS: Final[Mapping[PlateKind, frozenset[PlateColourCode]]] = {
    PlateKind.ORDINARY: frozenset({PlateColourCode.BLUE, PlateColourCode.YELLOW}),
    PlateKind.COACH: frozenset({PlateColourCode.YELLOW}),
    PlateKind.TRAILER: frozenset({PlateColourCode.YELLOW}),
    PlateKind.NEW_ENERGY_SMALL: frozenset({PlateColourCode.GREEN}),
    PlateKind.NEW_ENERGY_LARGE: frozenset({PlateColourCode.YELLOW_GREEN}),
}
_LONG_TERM: Final = frozenset({"", "长期"})


@dataclass(frozen=True)
class RowProblem:
    line: int
    column: str | None
    message: str

    def __str__(self) -> str:
        if self.line <= 0:  # the file as a whole (cannot be read)
            return self.message
        where = f"line {self.line}" + (f", {self.column}" if self.column else "")
        return f"{where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "message": self.message}


class RegistryImportError(InvalidMessage):
    """A registry CSV that cannot be imported; nothing was written. ``detail``: ``file``,
    ``error_count`` and ``errors`` (the first :data:`MAX_REPORTED`, each with ``line``,
    ``column`` and ``message``)."""

    code = "registry_import_invalid"

    def __init__(self, path: Path | str, problems: Sequence[RowProblem]) -> None:
        name = Path(path).name
        first = problems[0] if problems else RowProblem(0, None, "unknown problem")
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(
            f"{name}{' ' if first.line > 0 else ': '}{first}{more}; nothing was imported",
            file=name,
            error_count=len(problems),
            errors=[p.to_dict() for p in problems[:MAX_REPORTED]],
        )
        self.problems = tuple(problems)


@dataclass(frozen=True)
class ImportReport:
    kind: Kind
    rows: int
    added: int
    updated: int
    seconds: float


class ProgressBar:
    """``rows done / total, rows/s`` on stderr. A terminal gets one line rewritten in place
    (at most ten times a second); a log file or pipe gets a line at every tenth of the way,
    so a 100k-row import writes about ten lines per stage, not a hundred thousand."""

    def __init__(
        self,
        label: str,
        stream: TextIO | None = None,
        *,
        tty: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self._clock = clock
        self._stage = ""
        self._started = 0.0
        self._last_draw = 0.0
        self._last_decile = -1
        self._open_line = False

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = self._clock()
        if stage != self._stage:
            self._end_line()
            # The first call of a stage is its start (done == 0 by convention); a pipe gets
            # no 0% line.
            self._stage, self._started, self._last_decile = stage, now, 0 if done == 0 else -1
            self._last_draw = float("-inf")
        finished = done >= total
        if self.tty:
            if finished or now - self._last_draw >= 0.1:
                self.stream.write("\r" + self._text(done, total, now) + "\x1b[K")
                self._open_line = True
                self._last_draw = now
                if finished:
                    self._end_line()
        else:
            decile = 10 if finished else (done * 10 // total if total else 10)
            if decile > self._last_decile:
                self._last_decile = decile
                self.stream.write(self._text(done, total, now) + "\n")
        self.stream.flush()

    def close(self) -> None:
        self._end_line()

    def _end_line(self) -> None:
        if self._open_line:
            self.stream.write("\n")
            self.stream.flush()
            self._open_line = False

    def _text(self, done: int, total: int, now: float) -> str:
        elapsed = now - self._started
        rate = done / elapsed if elapsed > 0 else 0.0
        pct = 100 * done // total if total else 100
        return f"{self.label}: {self._stage} {done:,}/{total:,} rows ({pct}%) {rate:,.0f} rows/s"


# -- reading -------------------------------------------------------------------------------


class _Bad(Exception):
    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column
        self.message = message


def _text(row: Mapping[str, str], name: str, limit: int) -> str:
    value = row[name].strip()
    if not value:
        raise _Bad(name, "is empty")
    if len(value) > limit:
        raise _Bad(name, f"is longer than {limit} characters")
    if _CONTROL.search(value):
        raise _Bad(name, "contains control characters")
    return value


def _date(row: Mapping[str, str], name: str) -> date:
    value = row[name].strip()
    if len(value) == 10 and value[4] == value[7] == "-":
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise _Bad(name, f"{value[:20]!r} is not a date in the form YYYY-MM-DD")


def _enum(row: Mapping[str, str], name: str, cls: Any) -> Any:
    value = row[name].strip().lower()
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(m.value for m in cls)
        raise _Bad(name, f"{value[:20]!r} is not one of {allowed}") from None


def _order(first: str, a: date, second: str, b: date | None) -> None:
    if b is not None and b < a:
        raise _Bad(second, f"is before {first}")


def _licence(row: Mapping[str, str]) -> LicenceRecord:
    licence_no = "".join(row["licence_no"].split()).upper()
    if not id_number_valid(licence_no):
        raise _Bad("licence_no", "is not an 18-character ID number with a valid check character")
    licence_class = "".join(row["licence_class"].split()).upper()
    if split_classes(licence_class) is None:
        raise _Bad("licence_class", f"{licence_class[:16]!r} is not a licence class such as C1")
    until_raw = row["valid_until"].strip()
    valid_until = None if until_raw in _LONG_TERM else _date(row, "valid_until")
    record = LicenceRecord(
        licence_no=licence_no,
        name=_text(row, "name", 32),
        licence_class=licence_class,
        first_issued=_date(row, "first_issued"),
        valid_from=_date(row, "valid_from"),
        valid_until=valid_until,
        status=_enum(row, "status", LicenceStatus),
    )
    _order("first_issued", record.first_issued, "valid_from", record.valid_from)
    _order("valid_from", record.valid_from, "valid_until", record.valid_until)
    return record


def _plate(row: Mapping[str, str]) -> tuple[str, PlateKind]:
    try:
        plate = parse_plate(row["plate"])
    except InvalidPlate as exc:
        raise _Bad("plate", exc.message) from None
    return plate.canonical, plate.kind


def _vehicle(row: Mapping[str, str]) -> VehicleRecord:
    plate, plate_kind = _plate(row)
    colour = _enum(row, "plate_colour", PlateColourCode)
    if colour not in _COLOURS[plate_kind]:
        raise _Bad("plate_colour", f"a {plate_kind.value} plate cannot be {colour.value}")
    vin = "".join(row["vin"].split()).upper()
    if not _VIN.match(vin):
        raise _Bad("vin", "must be 17 letters and digits (no I, O or Q)")
    record = VehicleRecord(
        plate=plate,
        plate_colour=colour,
        vehicle_type=_text(row, "vehicle_type", 20),
        brand_model=_text(row, "brand_model", 40),
        body_colour=_text(row, "body_colour", 8),
        owner_name=_text(row, "owner_name", 64),
        vin=vin,
        registered_on=_date(row, "registered_on"),
        inspection_valid_until=_date(row, "inspection_valid_until"),
        status=_enum(row, "status", VehicleStatus),
    )
    _order(
        "registered_on",
        record.registered_on,
        "inspection_valid_until",
        record.inspection_valid_until,
    )
    return record


def _policy(row: Mapping[str, str]) -> PolicyRecord:
    policy_no = row["policy_no"].strip().upper()
    if not _POLICY_NO.match(policy_no):
        raise _Bad("policy_no", "must be 4 to 40 letters, digits or '-'")
    record = PolicyRecord(
        policy_no=policy_no,
        plate=_plate(row)[0],
        insurer=_text(row, "insurer", 64),
        kind=_enum(row, "kind", PolicyKind),
        valid_from=_date(row, "valid_from"),
        valid_until=_date(row, "valid_until"),
    )
    _order("valid_from", record.valid_from, "valid_until", record.valid_until)
    return record


_PARSERS: Final[Mapping[Kind, Callable[[Mapping[str, str]], Record]]] = {
    "licences": _licence,
    "vehicles": _vehicle,
    "policies": _policy,
}


def _decode(data: bytes, path: Path) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        try:
            data.decode("gb18030")
            advice = "it looks like GBK; save it as 'CSV UTF-8'"
        except UnicodeDecodeError:
            advice = "save it as 'CSV UTF-8'"
        raise RegistryImportError(
            path, [RowProblem(line, None, f"the file is not UTF-8 ({advice})")]
        ) from None


def check_kind(kind: str) -> Kind:
    for k in KINDS:
        if k == kind:
            return k
    raise InvalidMessage(f"unknown registry kind {kind!r}: use one of {', '.join(KINDS)}")


def read_csv(kind: Kind, path: Path, progress: Progress | None = None) -> list[Record]:
    """Parse and validate the whole file; raise :class:`RegistryImportError` listing every
    bad row. Blocking: call it in a thread from async code."""
    text = _decode(path.read_bytes(), path)
    # Count records for the progress total without a second parse: physical lines minus
    # the header is exact unless a quoted field spans lines, and only the bar uses it.
    total = max(text.count("\n") + (0 if text.endswith("\n") else 1) - 1, 0)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    expected = COLUMNS[kind]
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise RegistryImportError(path, [RowProblem(1, None, "the file is empty")]) from None
    except csv.Error as exc:
        raise RegistryImportError(path, [RowProblem(1, None, f"unreadable CSV: {exc}")]) from None
    _check_header(path, kind, header, expected)
    if progress is not None:
        progress("reading", 0, total)
    parse = _PARSERS[kind]
    key = RECORD_TYPES[kind].KEY
    width = len(header)
    records: list[Record] = []
    problems: list[RowProblem] = []
    first_seen: dict[str, int] = {}
    line = reader.line_num
    done = 0
    while True:
        start = line + 1
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(RowProblem(reader.line_num, None, f"unreadable CSV: {exc}"))
            break
        line = reader.line_num
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue  # blank line
        done += 1
        if progress is not None and done % BATCH == 0:
            progress("reading", done, max(total, done))
        if len(fields) != width:
            problems.append(RowProblem(start, None, f"{len(fields)} fields, expected {width}"))
            continue
        try:
            record = parse(dict(zip(header, fields, strict=True)))
        except _Bad as bad:
            problems.append(RowProblem(start, bad.column, bad.message))
            continue
        value = getattr(record, key)
        if value in first_seen:
            problems.append(RowProblem(start, key, f"{key} repeats line {first_seen[value]}"))
            continue
        first_seen[value] = start
        records.append(record)
    if progress is not None:
        progress("reading", done, done)
    if problems:
        raise RegistryImportError(path, problems)
    return records


def _check_header(path: Path, kind: Kind, header: list[str], expected: tuple[str, ...]) -> None:
    problems: list[str] = []
    dupes = sorted({h for h in header if header.count(h) > 1})
    missing = [c for c in expected if c not in header]
    unknown = [h for h in header if h not in expected]
    if dupes:
        problems.append("repeated column(s) " + ", ".join(dupes))
    if missing:
        problems.append("missing column(s) " + ", ".join(missing))
    if unknown:
        problems.append("unknown column(s) " + ", ".join(repr(u[:20]) for u in unknown))
    if problems:
        message = "; ".join(problems) + f" (a {kind} file has: {', '.join(expected)})"
        raise RegistryImportError(path, [RowProblem(1, None, message)])


# -- writing -------------------------------------------------------------------------------


async def import_csv(
    engine: AsyncEngine,
    kind: str,
    path: Path | str,
    progress: Progress | None = None,
) -> ImportReport:
    """Validate the whole file, then upsert it in batches (:func:`~.local.upsert_rows`).
    Raises :class:`RegistryImportError` (nothing written) for a bad file or one that cannot
    be read."""
    started = time.monotonic()
    k = check_kind(kind)
    file = Path(path)
    try:
        records = await asyncio.to_thread(read_csv, k, file, progress)
    except OSError as exc:
        raise RegistryImportError(
            file, [RowProblem(0, None, f"cannot read the file: {exc.strerror or exc}")]
        ) from None
    registry = LocalRegistry(engine)
    await registry.ensure_schema()
    table = TABLES[k]
    now = time.time()
    rows = [record_row(r, now) for r in records]
    total = len(rows)
    if progress is not None:
        progress("writing", 0, total)
    before = await _count(engine, table)
    await upsert_rows(
        engine,
        k,
        rows,
        None if progress is None else (lambda done: progress("writing", done, total)),
        BATCH,
    )
    after = await _count(engine, table)
    added = after - before
    return ImportReport(k, total, added, total - added, time.monotonic() - started)


async def _count(engine: AsyncEngine, table: Table) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


def write_csv(kind: Kind, records: Iterable[Record], path: Path) -> int:
    """Write records as an importable file (UTF-8 with the byte-order mark, so Excel shows
    the Chinese text); returns the number of rows. Long-term licences get an empty
    ``valid_until``."""
    columns = COLUMNS[kind]
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for record in records:
            row = record_row(record, 0.0)
            writer.writerow(_cell(row[c]) for c in columns)
            count += 1
    return count


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
