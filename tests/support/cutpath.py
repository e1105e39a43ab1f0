"""One network path between two aiortc peers that a test can cut: the answering side reaches
the offering side only through a :class:`~tests.support.udprelay.UdpRelay`.

The offer keeps a single host candidate, rewritten to the relay's address; the answer goes
back with no candidate and no end-of-candidates (as Chromium sends it), so the offerer learns
the answerer only as a peer-reflexive candidate: the relay's upstream socket. Cutting the
relay cuts every datagram of the call, both ways.
"""

from __future__ import annotations

import re

from tests.support.udprelay import Address, UdpRelay, rewrite_candidate

_CANDIDATE = re.compile(r"^a=candidate:\S+ \d+ udp \d+ (\d+\.\d+\.\d+\.\d+) (\d+) typ host", re.M)


def first_host_candidate(sdp: str) -> Address:
    match = _CANDIDATE.search(sdp)
    if match is None:
        raise AssertionError("the SDP has no IPv4 host candidate")
    return match.group(1), int(match.group(2))


def only_via(sdp: str, original: Address, relay: Address) -> str:
    """The offer with every candidate but ``original`` removed, and that one at ``relay``."""
    kept = []
    for line in sdp.split("\r\n"):
        if line.startswith("a=candidate:") and f" {original[0]} {original[1]} " not in line:
            continue
        kept.append(line)
    return rewrite_candidate("\r\n".join(kept), original, relay)


def without_candidates(sdp: str) -> str:
    """The answer with no candidate and no end-of-candidates."""
    lines = sdp.split("\r\n")
    return "\r\n".join(
        line for line in lines if not line.startswith(("a=candidate:", "a=end-of-candidates"))
    )


async def relay_offer(sdp: str) -> tuple[str, UdpRelay]:
    """A relay in front of the offer's first host candidate, and the offer pointing at it.
    The relay runs in its own thread, so a busy test loop does not distort the path."""
    target = first_host_candidate(sdp)
    relay = await UdpRelay.start(target=target, in_thread=True)
    return only_via(sdp, target, relay.address), relay
