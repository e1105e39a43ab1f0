"""``python server.py registry ...``: fill and query the local registry.

    registry import KIND FILE            licences|vehicles|policies from CSV (all or nothing)
    registry demo [--count N] [--seed S] [--today D] [--csv-dir DIR]
                                         a synthetic registry: into the database, or as CSVs
    registry check --plate P [--licence L] [--name N] [--date D] [--upstream URL | --local]
                   [--token T] [--json]  one party's verdicts, as the console would get them
    registry serve [--bind HOST:PORT] [--token T]
                                         the registry HTTP API over the local tables (a
                                         stand-in upstream for --registry-url)

Exit codes: 0 done (``check``: every item valid), 3 ``check`` found items that need the
officer's decision, 1 an error (one line on stderr, e.g. a bad CSV with its first bad line).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from kuaichu.errors import KuaichuError

from .csvimport import ProgressBar, RegistryImportError, import_csv
from .local import LocalRegistry
from .model import ItemStatus, PartyFacts, Registry, VerificationResult
from .records import KINDS, Kind

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_NEEDS_DECISION = 3
_PROBLEM_LINES = 10


def _iso_date(raw: str) -> date:
    try:
        if len(raw) == 10:
            return date.fromisoformat(raw)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"{raw!r} is not a date in the form YYYY-MM-DD")


def _bind(raw: str) -> tuple[str, int]:
    host, sep, port = raw.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{raw!r} is not HOST:PORT")
    return host.strip("[]") or "127.0.0.1", int(port)


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    reg = sub.add_parser(
        "registry",
        help="the local registry of licences, vehicles and 交强险 policies",
        description="Fill and query the local registry (docs/verification.md).",
    )
    rsub = reg.add_subparsers(dest="registry_command", required=True)

    imp = rsub.add_parser("import", help="import a CSV file (all rows or none)")
    imp.add_argument("kind", choices=KINDS)
    imp.add_argument("file", type=Path)

    demo = rsub.add_parser("demo", help="generate a realistic synthetic registry")
    demo.add_argument("--count", type=int, default=1000, help="licence holders (default 1000)")
    demo.add_argument("--seed", type=int, default=1, help="same seed, same registry")
    demo.add_argument("--today", type=_iso_date, help="the date the data is current on")
    demo.add_argument("--csv-dir", type=Path, help="write the three CSVs here instead of loading")

    check = rsub.add_parser("check", help="verify one party's licence, vehicle and insurance")
    check.add_argument("--plate", required=True)
    check.add_argument("--licence", help="licence number (the holder's ID number)")
    check.add_argument("--name")
    check.add_argument("--date", type=_iso_date, help="accident date (default today)")
    where = check.add_mutually_exclusive_group()
    where.add_argument("--upstream", help="ask this registry URL (default: --registry-url)")
    where.add_argument("--local", action="store_true", help="ask the local tables")
    check.add_argument("--token", help="bearer token for the upstream")
    check.add_argument("--json", action="store_true", help="print the result as JSON")

    serve = rsub.add_parser("serve", help="serve the registry HTTP API over the local tables")
    serve.add_argument("--bind", type=_bind, default=("127.0.0.1", 8090), help="HOST:PORT")
    serve.add_argument("--token", help="require this bearer token")


async def run(args: argparse.Namespace, database_url: str) -> int:
    from kuaichu.storage.db import make_engine

    engine = make_engine(database_url)
    try:
        command = args.registry_command
        if command == "import":
            return await _import(engine, args.kind, args.file)
        if command == "demo":
            return await _demo(engine, args)
        if command == "check":
            return await _check(engine, args)
        if command == "serve":
            return await _serve(engine, args)
        raise AssertionError(command)
    except RegistryImportError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        shown = exc.problems[1 : _PROBLEM_LINES + 1]
        for problem in shown:
            print(f"  {problem}", file=sys.stderr)
        if len(exc.problems) > len(shown) + 1:
            print(f"  ... {len(exc.problems) - len(shown) - 1} more", file=sys.stderr)
        return EXIT_ERROR
    except KuaichuError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        print(f"error: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        await engine.dispose()


async def _import(engine: AsyncEngine, kind: Kind, file: Path) -> int:
    bar = ProgressBar(f"{kind} {file.name}")
    try:
        report = await import_csv(engine, kind, file, bar)
    finally:
        bar.close()
    print(
        f"imported {report.rows:,} {kind} from {file.name}: {report.added:,} new, "
        f"{report.updated:,} updated ({report.seconds:.1f} s)"
    )
    return EXIT_OK


async def _demo(engine: AsyncEngine, args: argparse.Namespace) -> int:
    from .demo import generate_demo

    if args.count < 1:
        print("error: --count must be at least 1", file=sys.stderr)
        return EXIT_ERROR
    today = args.today or date.today()
    started = time.monotonic()
    demo = await asyncio.to_thread(generate_demo, args.count, args.seed, today)
    sizes = f"{len(demo.licences):,} licences, {len(demo.vehicles):,} vehicles, "
    sizes += f"{len(demo.policies):,} policies"
    if args.csv_dir is not None:
        paths = await asyncio.to_thread(demo.write_csv, args.csv_dir)
        print(f"wrote {sizes} (seed {args.seed}, current on {today}):")
        for kind in KINDS:
            print(f"  {paths[kind]}")
        print(f"import them with: python server.py registry import KIND {args.csv_dir}/KIND.csv")
        return EXIT_OK
    bar = ProgressBar("demo")
    try:
        await demo.load(engine, lambda kind, done, total: bar(f"writing {kind}", done, total))
    finally:
        bar.close()
    print(
        f"loaded {sizes} (seed {args.seed}, current on {today}) "
        f"in {time.monotonic() - started:.1f} s"
    )
    print("parties to try (registry check ...):")
    for label, facts in sorted(demo.samples.items()):
        print(
            f"  {label:<20} --plate {facts.plate} --licence {facts.licence_no} --name {facts.name}"
        )
    return EXIT_OK


async def _check(engine: AsyncEngine, args: argparse.Namespace) -> int:
    from kuaichu import settings as settings_mod

    s = settings_mod.load(args)
    url = None if args.local else (args.upstream or s.registry_url or None)
    registry: Registry
    if url:
        from .remote import RemoteRegistry

        registry = RemoteRegistry(
            url, timeout=s.registry_timeout, token=args.token or s.registry_token or None
        )
    else:
        registry = LocalRegistry(engine)
        await registry.ensure_schema()
    facts = PartyFacts(args.name, args.licence, args.plate, args.date or date.today())
    try:
        result = await registry.verify(facts)
    finally:
        await registry.close()
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(format_result(result, facts.accident_date))
    return EXIT_NEEDS_DECISION if result.needs_decision else EXIT_OK


def format_result(result: VerificationResult, on: date) -> str:
    lines = [f"registry check for {on.isoformat()} ({result.items[0].source}):"]
    for r in result.items:
        verdict = r.status.value + (f" ({r.reason})" if r.reason else "")
        lines.append(f"  {r.item.value:<10} {verdict:<32} {_summary(r.item.value, r.detail)}")
    pending = [i.value for i in result.needs_decision]
    if pending:
        lines.append(f"needs the officer's decision: {', '.join(pending)}")
    elif all(r.status is ItemStatus.VALID for r in result.items):
        lines.append("all valid")
    return "\n".join(lines)


def _summary(item: str, d: Any) -> str:
    if not d:
        return ""
    if item == "licence":
        until = d.get("valid_until") or "long-term"
        return f"class {d.get('licence_class')}, valid {d.get('valid_from')} to {until}"
    if item == "vehicle":
        return (
            f"{d.get('plate_colour')} plate, {d.get('vehicle_type')} {d.get('body_colour')} "
            f"{d.get('brand_model')}, inspection until {d.get('inspection_valid_until')}"
        )
    if item == "insurance" and "insurer" in d:
        return (
            f"{d.get('insurer')} {d.get('policy_no')}, "
            f"{d.get('valid_from')} to {d.get('valid_until')}"
        )
    return ", ".join(f"{k}={v}" for k, v in d.items())


async def _serve(engine: AsyncEngine, args: argparse.Namespace) -> int:
    from aiohttp import web

    from .remote import make_registry_app

    registry = LocalRegistry(engine)
    await registry.ensure_schema()
    host, port = args.bind
    runner = web.AppRunner(make_registry_app(registry, args.token), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        counts = await registry.counts()
        print(
            f"registry API on http://{host}:{port}/verify over {counts['licences']:,} licences, "
            f"{counts['vehicles']:,} vehicles, {counts['policies']:,} policies",
            flush=True,
        )
        if not args.token:
            print("warning: no --token: anyone who can reach the port can query", flush=True)
        await asyncio.Event().wait()  # until interrupted
    finally:
        await runner.cleanup()
    return EXIT_OK
