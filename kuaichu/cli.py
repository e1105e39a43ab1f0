"""Command line: run the server, manage officer accounts, make a test certificate.

python server.py [--host H] [--port N] [--data-dir DIR] ...
python server.py officer add USERNAME [--name 姓名] [--role officer|supervisor] [--password P]
                           [--badge 警号]
python server.py officer badge USERNAME --badge 警号   (set; --badge "" clears it)
python server.py officer add USERNAME --role insurer --insurer picc   (an insurer's staff)
python server.py officer list
python server.py officer passwd USERNAME [--password P]
python server.py selfsigned --out DIR
python server.py evidence verify CASE_ID [--public-key K]
python server.py registry import|demo|check ...   (docs/verification.md)
python server.py apikey create|list|revoke ...     (insurers' API keys; kuaichu/api/commands.py)
python server.py webhook set|remove|list|log|replay ...   (insurers' webhooks)
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import getpass
import logging
import os
import ssl
import sys
import threading
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from . import settings as settings_mod
from .accounts.model import Role
from .errors import KuaichuError
from .storage.private import owner_only_umask, restrict_tree

COMMANDS = ("officer", "selfsigned", "evidence", "registry", "apikey", "webhook")
# Seconds in-flight HTTP requests get once the drain has closed the sockets.
REQUEST_GRACE = 2.0


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # aiortc and aioice are chatty at INFO about every ICE pair.
    # aiosqlite logs SQL parameters (phone numbers) at DEBUG.
    for name in ("aioice", "aiortc", "engineio", "socketio", "aiosqlite", "fontTools"):
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))


def _password(given: str | None) -> str:
    if given:
        return given
    env = os.environ.get("KUAICHU_OFFICER_PASSWORD")
    if env:
        return env
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        raise SystemExit("passwords differ")
    return first


async def _officer_cmd(args: argparse.Namespace, s: settings_mod.Settings) -> int:
    from .accounts.service import Accounts
    from .storage.db import Database, create_schema, make_engine

    s.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(s.database)
    await create_schema(engine)
    accounts = Accounts(Database(engine), s.session_hours * 3600)
    try:
        if args.action == "add":
            insurer = args.insurer or None
            if insurer is not None:
                # Only a configured company (--insurers): the code scopes everything it sees.
                from .insurers.model import load_insurers

                insurer = load_insurers(s.insurers).require(insurer).code
            o = await accounts.add_officer(
                args.username,
                _password(args.password),
                args.name or "",
                args.role,
                insurer,
                args.badge,
            )
            of = f" of insurer {o.insurer}" if o.insurer else ""
            print(f"added {o.role} {o.username} ({o.display_name}){of}")
        elif args.action == "badge":
            await accounts.set_badge(args.username, args.badge)
            print(f"badge of {args.username}: {args.badge.strip() if args.badge else 'none'}")
        elif args.action == "passwd":
            await accounts.set_password(args.username, _password(args.password))
            print(f"password changed for {args.username}")
        else:
            for o in await accounts.list_officers():
                of = f"\t{o.insurer}" if o.insurer else ""
                badge = f"\t警号 {o.badge}" if o.badge else ""
                print(f"{o.username}\t{o.role}\t{o.display_name}{of}{badge}")
    except KuaichuError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    finally:
        accounts.close()
        await engine.dispose()
    return 0


def _selfsigned(out: Path, host: str) -> None:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    alt: list[x509.GeneralName] = [x509.DNSName("localhost")]
    try:
        alt.append(x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
        alt.append(x509.DNSName(host))
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .sign(key, hashes.SHA256())
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path = out / "key.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    print(f"wrote {out / 'cert.pem'} and {key_path}")


def parse_args(argv: Sequence[str]) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    """The parser and the parsed arguments. Sub-command mode only when the first argument
    that is neither an option nor a setting's value names a command; settings flags may
    stand before or after it."""
    argv = list(argv)
    parser = argparse.ArgumentParser(prog="kuaichu", description="快处 call-centre server")
    settings_mod.add_arguments(parser)
    if _command(argv) is not None:
        sub = parser.add_subparsers(dest="command", required=True)
        off = sub.add_parser("officer", help="manage officer accounts")
        off.add_argument("action", choices=("add", "list", "passwd", "badge"))
        off.add_argument("username", nargs="?")
        off.add_argument("--name", help="display name, e.g. 张警官")
        off.add_argument("--badge", help="badge number (警号) printed on documents, e.g. 012345")
        off.add_argument("--role", default=Role.OFFICER.value, choices=[r.value for r in Role])
        off.add_argument("--password", help="default: KUAICHU_OFFICER_PASSWORD, stdin or prompt")
        off.add_argument(
            "--insurer", help="with --role insurer: the insurer's code (see --insurers)"
        )
        cert = sub.add_parser("selfsigned", help="write a self-signed TLS certificate")
        cert.add_argument("--out", type=Path, default=Path("data/tls"))
        ev = sub.add_parser(
            "evidence", help="verify a case's evidence folder against its signed manifest"
        )
        ev.add_argument("action", choices=("verify",))
        ev.add_argument("target", help="case id, or a folder path (containing a /)")
        ev.add_argument(
            "--public-key",
            help="PEM, base64 of the raw key, or a file; default: this server's key",
        )
        from .verification.commands import add_parser as add_registry_parser

        add_registry_parser(sub)
        from .api.commands import add_parsers as add_api_parsers

        add_api_parsers(sub)
        for command_parser in _command_parsers(sub):
            settings_mod.add_arguments(command_parser, in_subcommand=True)
    return parser, parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server, or the sub-command given."""
    # Before anything is created: the database, evidence, recordings and keys are the
    # owner's alone (0600 files, 0700 folders).
    owner_only_umask()
    parser, args = parse_args(sys.argv[1:] if argv is None else argv)
    s = settings_mod.load(args)
    command = getattr(args, "command", None)
    if command == "officer":
        if args.action in ("add", "passwd", "badge") and not args.username:
            parser.error("officer add/passwd/badge need a USERNAME")
        if args.action == "badge" and args.badge is None:
            parser.error("officer badge needs --badge (\"\" to clear it)")
        return asyncio.run(_officer_cmd(args, s))
    if command == "selfsigned":
        _selfsigned(args.out, s.host)
        return 0
    if command == "evidence":
        from .evidence.manifest import verify_command

        return verify_command(args.target, s.data_dir, s.recordings_path, args.public_key)
    if command == "registry":
        from .verification.commands import run as run_registry

        s.data_dir.mkdir(parents=True, exist_ok=True)
        return asyncio.run(run_registry(args, s.database))
    if command in ("apikey", "webhook"):
        from .api.commands import run as run_api

        s.data_dir.mkdir(parents=True, exist_ok=True)
        return asyncio.run(run_api(args, s.database, s.insurers))
    _configure_logging(s.log_level)
    # Files made before the umask (an older install, another tool) are tightened too.
    restrict_tree(s.data_dir, s.recordings_path)
    ssl_context = None
    if s.tls_cert:
        ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_context.load_cert_chain(s.tls_cert, s.tls_key)
    from .app import create_app

    scheme = "https" if ssl_context else "http"
    try:
        app = create_app(s)
    except KuaichuError as exc:
        print(f"kuaichu: invalid configuration: {exc.message}", file=sys.stderr)
        return 1
    # SIGTERM (and Ctrl-C) drain the server (app.py's drain); the bound holds even if a
    # step hangs.
    app.on_shutdown.insert(0, _exit_bound(s.shutdown_timeout))
    app.on_startup.append(_freeze_startup_objects)  # after the application's own start-up
    web.run_app(
        app,
        host=s.host,
        port=s.port,
        ssl_context=ssl_context,
        # After the drain closed every socket: how long in-flight HTTP requests may finish.
        shutdown_timeout=REQUEST_GRACE,
        print=lambda _msg: print(
            f"kuaichu on {scheme}://{s.host}:{s.port}  driver page /driver, console /console",
            flush=True,
        ),
        access_log=None,
    )
    return 0


async def _freeze_startup_objects(_app: web.Application) -> None:
    """What is loaded by now (modules, the schema, the application's objects) lives as long
    as the process: out of the collector's sight, so that a full collection walks only what
    calls create. A full collection holds the loop: 87-93 ms each at 10 calls before this
    (benchmarks/call_load.py), a frozen picture for every officer. Here, in the server's own
    process, not in create_app: a test process that serves the app would freeze its own
    garbage with it."""
    gc.collect()
    gc.freeze()


def _exit_bound(seconds: float) -> Callable[[web.Application], Awaitable[None]]:
    """An on_shutdown handler that arms a watchdog: a drain that has not finished within
    ``seconds`` of the signal ends the process (status 1, and says so), so a stop request
    is never left hanging."""

    async def arm(_app: web.Application) -> None:
        logging.getLogger(__name__).info("stopping: draining within %.0f s", seconds)
        timer = threading.Timer(seconds, _give_up, args=(seconds,))
        timer.daemon = True
        timer.start()

    return arm


def _give_up(seconds: float) -> None:
    print(f"kuaichu: shutdown did not finish within {seconds:.0f} s; exiting", file=sys.stderr)
    sys.stderr.flush()
    os._exit(1)


def _command(argv: Sequence[str]) -> str | None:
    """The sub-command: the first argument that is not an option or a setting's value (a
    value such as ``--data-dir officer`` is not a command), if it names one."""
    flags = settings_mod.flag_names()
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("-") or arg == "-":
            return arg if arg in COMMANDS else None
        if "=" not in arg and _takes_value(arg, flags):
            i += 1
        i += 1
    return None


def _takes_value(option: str, flags: frozenset[str]) -> bool:
    # argparse accepts an unambiguous prefix of a long option (--data for --data-dir).
    if option in flags:
        return True
    return option.startswith("--") and len([f for f in flags if f.startswith(option)]) == 1


def _command_parsers(sub: argparse._SubParsersAction[Any]) -> list[argparse.ArgumentParser]:
    """Every parser below ``sub``, nested sub-commands (registry import ...) included."""
    found: list[argparse.ArgumentParser] = []
    for parser in sub.choices.values():
        found.append(parser)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                found.extend(_command_parsers(action))
    return found
