"""One call's bandwidth control and media counters, and the server-wide view of them.

:class:`CallBandwidth` carries out :class:`~kuaichu.media.bandwidth.UplinkPolicy` for one call:
it switches off aiortc's REMB on the driver's video receiver and sends the policy's REMB every
half second, and feeds the policy with the officer leg's RTCP feedback. On the way it counts
what makes a media figure trustworthy: packets received and lost per leg, NACKs and PLIs sent
and received, keyframes forwarded. :class:`MediaMetrics` sums them over the live calls and the
ended ones for ``GET /api/metrics``.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import asdict, dataclass
from typing import Any, Final

from aiortc import RTCRtpReceiver, RTCRtpSender

from kuaichu.clock import Clock, SystemClock
from kuaichu.media.aiortc_tap import (
    ReceiverReport,
    SenderFeedback,
    disable_receive_estimator,
    inbound_counts,
    packets_sent,
    send_remb,
    watch_receiver_feedback,
    watch_sender_feedback,
)
from kuaichu.media.bandwidth import BandwidthLimits, UplinkPolicy
from kuaichu.tasks import TaskOwner

logger = logging.getLogger(__name__)

# Seconds between two REMBs: Chromium trusts a REMB that arrives in its first two seconds
# as its start rate, and later ones as its ceiling.
REMB_INTERVAL: Final = 0.5
DEFAULT_LIMITS: Final = BandwidthLimits.from_kbps(300, 2500, 1500)


@dataclass(slots=True)
class DriverLegCounts:
    """The driver's uplink as the server receives it (video)."""

    packets_received: int = 0
    packets_lost: int = 0
    nacks_sent: int = 0  # packets asked for again
    plis_sent: int = 0
    rembs_sent: int = 0
    remb_bps: int = 0  # the last REMB sent


@dataclass(slots=True)
class OfficerLegCounts:
    """The driver's video on its way to the officer, as the officer's browser reports it."""

    packets_sent: int = 0
    packets_lost: int = 0  # cumulative, from the officer's receiver reports
    nacks_received: int = 0  # packets asked for again
    plis_received: int = 0
    remb_bps: int = 0  # the officer browser's last REMB (0: none yet)
    fraction_lost: float = 0.0  # in its last report


class _OfficerFeedback(SenderFeedback):
    def __init__(self, owner: CallBandwidth, sender: RTCRtpSender) -> None:
        self.owner = owner
        self.sender = sender
        self.sent_at_report = packets_sent(sender)
        self.nacks_since_report = 0
        self.lost_before = owner.officer.packets_lost

    def on_report(self, report: ReceiverReport) -> None:
        owner = self.owner
        sent = packets_sent(self.sender)
        # Repeated NACKs for one packet make this an overestimate, which only errs careful.
        nack_rate = self.nacks_since_report / max(1, sent - self.sent_at_report)
        self.sent_at_report = sent
        self.nacks_since_report = 0
        owner.officer.packets_lost = self.lost_before + report.packets_lost
        owner.officer.fraction_lost = report.fraction_lost
        owner.policy.on_officer_loss(max(report.fraction_lost, nack_rate), owner.now())

    def on_nack(self, packets: int) -> None:
        self.nacks_since_report += packets
        self.owner.officer.nacks_received += packets

    def on_remb(self, bitrate_bps: int) -> None:
        self.owner.officer.remb_bps = bitrate_bps
        self.owner.policy.on_officer_remb(bitrate_bps)

    def on_keyframe_request(self) -> None:
        self.owner.officer.plis_received += 1


class CallBandwidth:
    """The REMB sent to one call's driver, and the call's media counters."""

    def __init__(
        self,
        call_id: str,
        limits: BandwidthLimits = DEFAULT_LIMITS,
        *,
        metrics: MediaMetrics | None = None,
        interval: float = REMB_INTERVAL,
        clock: Clock | None = None,
    ) -> None:
        self.call_id = call_id
        self.policy = UplinkPolicy(limits)
        self.interval = interval
        self.driver = DriverLegCounts()
        self.officer = OfficerLegCounts()
        self.keyframes_forwarded = 0
        self._clock: Clock = clock or SystemClock()
        self._metrics = metrics
        self._receiver: RTCRtpReceiver | None = None
        self._inbound_before = (0, 0)  # from driver legs replaced earlier
        # The driver leg's (received, lost) at the last REMB, and whose they were.
        self._inbound_seen = (0, 0)
        self._inbound_seen_of: RTCRtpReceiver | None = None
        self._sender: RTCRtpSender | None = None
        self._sent_before = 0
        self._tasks = TaskOwner(f"call {call_id} bandwidth")
        self._remb_task: asyncio.Task[None] | None = None
        self._closed = False
        if metrics is not None:
            metrics.add(self)

    def now(self) -> float:
        return self._clock.monotonic()

    def driver_leg(self, receiver: RTCRtpReceiver) -> None:
        """A (new) driver leg's video receiver: our REMB replaces aiortc's from now on."""
        if self._closed:
            return
        self._fold_inbound()
        self._receiver = receiver
        disable_receive_estimator(receiver)
        watch_receiver_feedback(receiver, self._on_nack_sent, self._on_pli_sent)
        if self._remb_task is None:
            self._remb_task = self._tasks.spawn(self._send_rembs(), f"remb:{self.call_id}")

    def officer_leg(self, sender: RTCRtpSender) -> None:
        """A (new) officer leg's video sender: its feedback drives the REMB."""
        if self._closed:
            return
        self.officer_left()
        self._sender = sender
        watch_sender_feedback(sender, _OfficerFeedback(self, sender))

    def officer_left(self) -> None:
        if self._sender is not None:
            self._sent_before += packets_sent(self._sender)
            self._sender = None
        self.policy.officer_gone()
        self.officer.remb_bps = 0

    def keyframe_forwarded(self) -> None:
        self.keyframes_forwarded += 1

    def _on_nack_sent(self, packets: int) -> None:
        self.driver.nacks_sent += packets

    def _on_pli_sent(self) -> None:
        self.driver.plis_sent += 1

    def _fold_inbound(self) -> None:
        if self._receiver is not None:
            counts = inbound_counts(self._receiver)
            received, lost = self._inbound_before
            self._inbound_before = (received + counts.received, lost + counts.lost)

    def _driver_loss(self, receiver: RTCRtpReceiver) -> float:
        """The share of the driver's packets lost since the last look (the uplink's own
        loss: the officer leg's reports cannot see it)."""
        counts = inbound_counts(receiver)
        last = self._inbound_seen if self._inbound_seen_of is receiver else (0, 0)
        self._inbound_seen, self._inbound_seen_of = (counts.received, counts.lost), receiver
        received, lost = counts.received - last[0], counts.lost - last[1]
        expected = received + lost
        return lost / expected if expected > 0 and lost > 0 else 0.0

    async def _send_rembs(self) -> None:
        while True:
            receiver = self._receiver
            if receiver is not None:
                self.policy.on_driver_loss(self._driver_loss(receiver), self.now())
                target = self.policy.target()
                coro = send_remb(receiver, target)
                if coro is not None and await coro:
                    if target != self.driver.remb_bps:
                        logger.debug("call %s: REMB %d kbit/s", self.call_id, target // 1000)
                    self.driver.rembs_sent += 1
                    self.driver.remb_bps = target
            await asyncio.sleep(self.interval)

    def counts(self) -> dict[str, Any]:
        """The call's counters now (the live legs' aiortc statistics folded in)."""
        driver = DriverLegCounts(**asdict(self.driver))
        received, lost = self._inbound_before
        if self._receiver is not None:
            counts = inbound_counts(self._receiver)
            received, lost = received + counts.received, lost + counts.lost
        driver.packets_received, driver.packets_lost = received, lost
        officer = OfficerLegCounts(**asdict(self.officer))
        officer.packets_sent = self._sent_before + (
            packets_sent(self._sender) if self._sender is not None else 0
        )
        return {
            "call_id": self.call_id,
            "driver": asdict(driver),
            "officer": asdict(officer),
            "keyframes_forwarded": self.keyframes_forwarded,
            "remb_target_bps": self.policy.target(),
        }

    async def close(self) -> None:
        if self._closed:
            return
        if self._metrics is not None:
            self._metrics.retire(self)
        self._closed = True
        await self._tasks.close()


_SUMMED: Final = {
    "driver": tuple(f for f in DriverLegCounts.__slots__ if f not in ("remb_bps",)),
    "officer": tuple(
        f for f in OfficerLegCounts.__slots__ if f not in ("remb_bps", "fraction_lost")
    ),
}


class MediaMetrics:
    """The media counters of every call this process served: the live ones read now, the
    ended ones as they were when they ended."""

    def __init__(self) -> None:
        # Weak: a call's media that was never closed (a bug elsewhere) must not live on here.
        self._live: weakref.WeakValueDictionary[int, CallBandwidth] = (
            weakref.WeakValueDictionary()
        )
        self._ended: dict[str, dict[str, int]] = {"driver": {}, "officer": {}}
        self._ended_keyframes = 0
        self._ended_calls = 0

    def add(self, call: CallBandwidth) -> None:
        self._live[id(call)] = call

    def retire(self, call: CallBandwidth) -> None:
        if self._live.pop(id(call), None) is None:
            return
        counts = call.counts()
        for leg, fields in _SUMMED.items():
            for name in fields:
                self._ended[leg][name] = self._ended[leg].get(name, 0) + counts[leg][name]
        self._ended_keyframes += counts["keyframes_forwarded"]
        self._ended_calls += 1

    def snapshot(self) -> dict[str, Any]:
        """Totals since start-up and each live call's counters."""
        calls = [call.counts() for call in list(self._live.values())]
        totals: dict[str, Any] = {}
        for leg, fields in _SUMMED.items():
            totals[leg] = {
                name: self._ended[leg].get(name, 0) + sum(c[leg][name] for c in calls)
                for name in fields
            }
        totals["keyframes_forwarded"] = self._ended_keyframes + sum(
            c["keyframes_forwarded"] for c in calls
        )
        return {
            "calls_live": len(calls),
            "calls_ended": self._ended_calls,
            "totals": totals,
            "calls": calls,
        }
