"""The administrator's commands for the open API (run on the server's machine, against its
database; a running server sees the change at once):

python server.py apikey create --insurer picc [--label "claims system"]   (prints the key once)
python server.py apikey list [--insurer picc]
python server.py apikey revoke ID
python server.py webhook set --insurer picc --url https://… [--secret S]  (prints the secret)
python server.py webhook remove --insurer picc
python server.py webhook list
python server.py webhook log [--insurer picc] [--status failed] [--limit 50] [--event ID]
python server.py webhook replay EVENT                                    (row id or ev_… id)
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Any

from ..errors import KuaichuError
from ..insurers.model import load_insurers
from ..storage.db import create_schema, make_engine
from .keys import ApiKeys
from .webhooks import WebhookStore

COMMANDS = ("apikey", "webhook")


def add_parsers(sub: argparse._SubParsersAction[Any]) -> None:
    keys = sub.add_parser("apikey", help="insurers' API keys (create, list, revoke)")
    keys.add_argument("action", choices=("create", "list", "revoke"))
    keys.add_argument("key_id", nargs="?", type=int, help="the key's id (revoke)")
    keys.add_argument("--insurer", help="the insurer's code, e.g. picc")
    keys.add_argument("--label", default="", help="what the key is for")
    hooks = sub.add_parser("webhook", help="insurers' webhooks, their delivery log, replays")
    hooks.add_argument("action", choices=("set", "remove", "list", "log", "replay"))
    hooks.add_argument("event", nargs="?", help="the event to replay (row id or ev_… id)")
    hooks.add_argument("--insurer", help="the insurer's code, e.g. picc")
    hooks.add_argument("--url", help="where the events go (set)")
    hooks.add_argument("--secret", help="the HMAC secret (set; default: a new random one)")
    hooks.add_argument("--status", choices=("pending", "sent", "failed"), help="log: only these")
    hooks.add_argument("--limit", type=int, default=50, help="log: how many events")
    hooks.add_argument("--event-id", dest="event_id", type=int, help="log: one event's tries")


def _time(value: float | None) -> str:
    return datetime.fromtimestamp(value).isoformat(timespec="seconds") if value else "-"


async def run(args: argparse.Namespace, database: str, insurers_setting: str) -> int:
    engine = make_engine(database)
    await create_schema(engine)
    insurers = load_insurers(insurers_setting)
    try:
        if args.command == "apikey":
            return await _apikey(args, ApiKeys(engine, insurers))
        return await _webhook(args, WebhookStore(engine, insurers))
    except KuaichuError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    finally:
        await engine.dispose()


async def _apikey(args: argparse.Namespace, keys: ApiKeys) -> int:
    if args.action == "create":
        if not args.insurer:
            print("error: apikey create needs --insurer CODE", file=sys.stderr)
            return 2
        key, token = await keys.create(args.insurer, args.label)
        print(f"API key {key.id} for {key.insurer} (shown once; store it now):")
        print(token)
        return 0
    if args.action == "revoke":
        if args.key_id is None:
            print("error: apikey revoke needs the key's ID", file=sys.stderr)
            return 2
        key = await keys.revoke(args.key_id)
        print(f"API key {key.id} of {key.insurer} revoked at {_time(key.revoked_at)}")
        return 0
    for key in await keys.list(args.insurer):
        state = f"revoked {_time(key.revoked_at)}" if key.revoked else "active"
        print(
            f"{key.id}\t{key.insurer}\t{state}\tcreated {_time(key.created_at)}\t"
            f"last used {_time(key.last_used_at)}\t{key.label}"
        )
    return 0


async def _webhook(args: argparse.Namespace, store: WebhookStore) -> int:
    if args.action == "set":
        if not args.insurer or not args.url:
            print("error: webhook set needs --insurer CODE and --url URL", file=sys.stderr)
            return 2
        hook = await store.configure(args.insurer, args.url, args.secret)
        print(f"webhook of {hook.insurer}: {hook.url}")
        if not args.secret:
            print(f"secret (shown once; give it to the insurer): {hook.secret}")
        return 0
    if args.action == "remove":
        if not args.insurer:
            print("error: webhook remove needs --insurer CODE", file=sys.stderr)
            return 2
        await store.remove(args.insurer)
        print(f"webhook of {args.insurer} removed")
        return 0
    if args.action == "list":
        for hook in await store.all():
            print(f"{hook.insurer}\t{hook.url}\tupdated {_time(hook.updated_at)}")
        return 0
    if args.action == "replay":
        if not args.event:
            print("error: webhook replay needs the EVENT (row id or ev_… id)", file=sys.stderr)
            return 2
        event = await store.replay(args.event)
        print(f"event {event.id} ({event.event_id}) queued again for {event.insurer}")
        return 0
    if args.event_id is not None:
        for attempt in await store.attempts(args.event_id):
            print(
                f"#{attempt['attempt']}\t{_time(attempt['at'])}\t{attempt['url']}\t"
                f"HTTP {attempt['http_status'] or '-'}\t{attempt['duration_ms']} ms\t"
                f"{attempt['error'] or 'ok'}"
            )
        return 0
    limit = max(1, min(args.limit, 10_000))
    for event in await store.events(args.insurer, limit, args.status):
        print(
            f"{event.id}\t{event.event_id}\t{event.insurer}\t{event.type}\t{event.case_id}\t"
            f"{event.status}\ttries {event.attempts}\treplays {event.replays}\t"
            f"created {_time(event.created_at)}\tsent {_time(event.sent_at)}\t"
            f"{event.last_error or ''}"
        )
    return 0
