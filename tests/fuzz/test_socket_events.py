"""Property-based fuzzing of every client→server socket.io event, through the real server.

Each namespace's handler table is read from the app (so a new event is fuzzed too); a driver
socket and an officer's (logged in) send every event hypothesis-generated payloads, mostly
hostile: the acknowledgement must be the envelope, ``{"ok": true, ...}`` or ``{"ok": false,
"error": {"code": ...}}`` with a code other than ``internal``, and the server must log no
exception. The schemas themselves are fuzzed directly in test_socket_schemas.py.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import socketio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kuaichu.signaling.base import BaseNamespace
from tests.fuzz.served import Served

EVENTS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
TEXT = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["", "\ud800", "\x00", "\u202e", "v=0\r\n", "x" * 70_000, "abcdefgh1234"]),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([10**30, 2**64, math.nan, math.inf, -math.inf]),
    st.floats(),
    TEXT,
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = [
    "call_id",
    "resume_token",
    "status",
    "type",
    "sdp",
    "kind",
    "location",
    "lat",
    "lng",
    "phone",
    "eligibility",
    "reason",
]


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


PAYLOADS = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=4),
    VALUES,
    st.builds(_nested, st.sampled_from([30, 400])),
    # A tuple is sent as several arguments.
    st.tuples(VALUES, VALUES),
)


def namespace_events(served: Served) -> dict[str, list[str]]:
    """The events each namespace handles, from the app's socket.io server."""
    from kuaichu.appkeys import sio_key

    assert served.server.app is not None
    sio = served.server.app[sio_key]
    return {
        name: sorted(ns.handlers)
        for name, ns in sio.namespace_handlers.items()
        if isinstance(ns, BaseNamespace) and ns.handlers
    }


@dataclass
class Sockets:
    served: Served
    clients: dict[str, socketio.AsyncClient]
    events: dict[str, list[str]]

    def call(self, namespace: str, event: str, data: Any) -> Any:
        client = self.clients[namespace]
        return self.served.run(client.call(event, data, namespace=namespace, timeout=10))


async def _connect(served: Served, namespace: str, cookie: str | None) -> socketio.AsyncClient:
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(
        served.server.url,
        namespaces=[namespace],
        transports=["websocket"],
        headers={"Cookie": cookie} if cookie else {},
    )
    return client


@pytest.fixture(scope="module")
def sockets(served: Served) -> Iterator[Sockets]:
    from sim.client import SimOfficer

    server = served.server
    officer = SimOfficer(server.url, server.officer_username, server.officer_password)
    cookie = served.run(officer.login())
    clients = {
        "/driver": served.run(_connect(served, "/driver", None)),
        "/officer": served.run(_connect(served, "/officer", cookie)),
    }
    yield Sockets(served, clients, namespace_events(served))
    for client in clients.values():
        served.run(client.disconnect())


def test_every_event_namespace_is_fuzzed(sockets: Sockets) -> None:
    assert set(sockets.events) == set(sockets.clients), sockets.events


@pytest.mark.parametrize("namespace", ["/driver", "/officer"])
def test_hostile_payloads_get_the_ack_envelope(sockets: Sockets, namespace: str) -> None:
    # Also the server's own event names, which a client must not be able to run, and one
    # nobody handles.
    events = [*sockets.events[namespace], "connect", "disconnect", "no_such_event"]

    @EVENTS
    @given(st.sampled_from(events), PAYLOADS)
    def send(event: str, payload: Any) -> None:
        ack = sockets.call(namespace, event, payload)
        assert isinstance(ack, dict) and isinstance(ack.get("ok"), bool), ack
        if not ack["ok"]:
            code = ack["error"]["code"]
            assert code and code != "internal", ack

    send()
    assert not sockets.served.server.problems(), sockets.served.server.problems()
