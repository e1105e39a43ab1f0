"""How much the driver's phone may send: the REMB the server gives the driver's uplink.

The server forwards the driver's encoded video to the officer without transcoding, so the
only rate that matters is the one the *officer* can receive. A browser driver obeys the REMB
(goog-remb; aiortc offers no transport-cc) as the ceiling of its own loss-based estimate, so
the server computes that REMB here from what reaches the officer leg's sender:

- the officer browser's own REMB (its receive-side estimate of the server→officer path) is a
  cap, passed on as is;
- the officer's receiver reports (fraction lost) and its NACK rate drive a loss-based
  estimate the way WebRTC's send side does: above 10 % loss back off by half the loss (at most
  once a second), below 2 % grow 8 % a second, in between hold;
- the result stays within a configured floor and ceiling, and starts at a configured start
  value high enough for a 720p camera to start at 720p (Chromium drops resolution at once when
  its start rate is below ~500 kbit/s).

aiortc's own receive-side delay estimator is not used: it works from arrival times taken on a
busy Python event loop, starts near 250 kbit/s and collapses when the loop lags. The driver's
own uplink losses are the browser's business: it backs off from the server's receiver reports.

Pure decision logic (no I/O, no aiortc): :class:`UplinkPolicy` is fed times and numbers and
answers with a bitrate. :func:`with_bitrate_hints` is the matching SDP edit.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Final

from kuaichu.errors import KuaichuError

# WebRTC's send-side loss thresholds (the loss-based part of GCC).
LOSS_HIGH: Final = 0.10
LOSS_LOW: Final = 0.02
# Growth per second while loss is low, and the shortest time between two back-offs.
INCREASE_PER_SECOND: Final = 0.08
BACKOFF_INTERVAL: Final = 1.0
# A growth step never spans more than this (a gap in the reports is not a licence to jump).
MAX_GROWTH_STEP: Final = 2.0


@dataclass(frozen=True, slots=True)
class BandwidthLimits:
    """The driver uplink's video bitrate bounds, in bit/s."""

    floor_bps: int
    ceiling_bps: int
    start_bps: int

    def __post_init__(self) -> None:
        if not 0 < self.floor_bps <= self.start_bps <= self.ceiling_bps:
            raise ValueError(
                "video bitrates must satisfy 0 < min <= start <= max, got "
                f"min={self.floor_bps} start={self.start_bps} max={self.ceiling_bps}"
            )

    @classmethod
    def from_kbps(cls, floor: int, ceiling: int, start: int) -> BandwidthLimits:
        return cls(floor * 1000, ceiling * 1000, start * 1000)


class InvalidBandwidthConfig(KuaichuError):
    """Video bitrate settings that cannot work; the server does not start."""

    code = "invalid_bandwidth_config"


def configured_limits(min_kbps: int, max_kbps: int, start_kbps: int) -> BandwidthLimits:
    """The limits from --video-min-kbps, --video-max-kbps and --video-start-kbps."""
    try:
        return BandwidthLimits.from_kbps(min_kbps, max_kbps, start_kbps)
    except ValueError:
        raise InvalidBandwidthConfig(
            "--video-min-kbps, --video-start-kbps and --video-max-kbps must satisfy "
            f"0 < min <= start <= max (got {min_kbps}, {start_kbps}, {max_kbps})"
        ) from None


class UplinkPolicy:
    """The REMB for one driver's uplink, from the officer leg's feedback. Times are
    monotonic seconds handed in by the caller."""

    def __init__(self, limits: BandwidthLimits) -> None:
        self.limits = limits
        self._loss_based = float(limits.start_bps)
        self._officer_remb: int | None = None
        self._last_update: float | None = None
        self._last_backoff = -math.inf
        self.last_loss: float | None = None

    @property
    def officer_remb(self) -> int | None:
        return self._officer_remb

    def on_officer_remb(self, bitrate_bps: int) -> None:
        """The officer browser's REMB: what it estimates it can receive."""
        self._officer_remb = max(0, int(bitrate_bps))

    def on_officer_loss(self, loss: float, now: float) -> None:
        """One receiver report's worth of loss on the way to the officer (0..1): the larger of
        its fraction lost and the share of packets it NACKed since the last report."""
        loss = min(1.0, max(0.0, loss))
        self.last_loss = loss
        previous = self._last_update
        self._last_update = now
        if loss > LOSS_HIGH:
            if now - self._last_backoff >= BACKOFF_INTERVAL:
                self._loss_based *= 1.0 - 0.5 * loss
                self._last_backoff = now
        elif loss < LOSS_LOW and previous is not None:
            # Grow from where the officer's cap holds us, not from an estimate that ran away
            # above it while the cap was binding.
            base = min(self._loss_based, self._cap())
            step = min(max(0.0, now - previous), MAX_GROWTH_STEP)
            self._loss_based = base * (1.0 + INCREASE_PER_SECOND) ** step
        self._loss_based = min(
            max(self._loss_based, float(self.limits.floor_bps)), float(self.limits.ceiling_bps)
        )

    def on_driver_loss(self, loss: float, now: float) -> None:
        """Loss the server itself saw on the driver's uplink over the last interval (0..1).
        Only a back-off: growth is earned from the officer leg's clean reports, so a lossy
        uplink and a clean officer leg do not pull the target both ways."""
        loss = min(1.0, max(0.0, loss))
        if loss > LOSS_HIGH and now - self._last_backoff >= BACKOFF_INTERVAL:
            self._loss_based = max(
                self._loss_based * (1.0 - 0.5 * loss), float(self.limits.floor_bps)
            )
            self._last_backoff = now

    def officer_gone(self) -> None:
        """The officer leg closed: a new officer is a new path; keep the loss-based estimate
        (it is what the driver sent well) but drop the old officer's cap."""
        self._officer_remb = None
        self._last_update = None

    def _cap(self) -> float:
        return math.inf if self._officer_remb is None else float(self._officer_remb)

    def target(self) -> int:
        """The REMB to send now, within floor and ceiling."""
        value = min(self._loss_based, self._cap(), float(self.limits.ceiling_bps))
        return int(max(value, float(self.limits.floor_bps)))


_FMTP = re.compile(r"^a=fmtp:(\d+) (.*)$")
_RTPMAP = re.compile(r"^a=rtpmap:(\d+) ([A-Za-z0-9-]+)/")
_VIDEO_CODECS: Final = ("H264", "VP8", "VP9", "AV1")


def with_bitrate_hints(sdp: str, limits: BandwidthLimits) -> str:
    """The offer with Chromium's bitrate hints on each video codec's fmtp line:
    ``x-google-start-bitrate`` (so the encoder starts at the start value, not 300 kbit/s,
    and keeps 720p from the first frame) and ``x-google-max-bitrate`` (the ceiling, also when
    no REMB has arrived yet). Values in kbit/s. Other browsers ignore unknown fmtp
    parameters. A codec without an fmtp line (VP8) gets one."""
    hints = (
        f"x-google-start-bitrate={limits.start_bps // 1000};"
        f"x-google-max-bitrate={limits.ceiling_bps // 1000}"
    )
    newline = "\r\n" if "\r\n" in sdp else "\n"
    lines = sdp.split(newline)
    out: list[str] = []
    in_video = False
    video_pts: set[str] = set()
    with_fmtp: set[str] = set()
    pending: list[tuple[int, str]] = []  # (index in out after the rtpmap, payload type)
    for line in lines:
        if line.startswith("m="):
            _flush(out, pending, with_fmtp, hints)
            in_video = line.startswith("m=video")
            video_pts = set()
            with_fmtp = set()
        if in_video:
            rtpmap = _RTPMAP.match(line)
            if rtpmap and rtpmap.group(2).upper() in _VIDEO_CODECS:
                video_pts.add(rtpmap.group(1))
                out.append(line)
                pending.append((len(out), rtpmap.group(1)))
                continue
            fmtp = _FMTP.match(line)
            if fmtp and fmtp.group(1) in video_pts:
                with_fmtp.add(fmtp.group(1))
                out.append(line if "x-google-" in line else f"{line};{hints}")
                continue
        out.append(line)
    _flush(out, pending, with_fmtp, hints)
    return newline.join(out)


def _flush(out: list[str], pending: list[tuple[int, str]], done: set[str], hints: str) -> None:
    """Give the video codecs of the section just ended that had no fmtp line one, right
    after their rtpmap (inserted back to front so earlier indexes stay right)."""
    for index, pt in reversed(pending):
        if pt not in done:
            out.insert(index, f"a=fmtp:{pt} {hints}")
    pending.clear()
