"""The media of one call: the driver leg, at most one officer leg at a time, the recording.

The server makes the SDP offer on both legs. Encoded frames are forwarded between the legs
(driver video+audio to the officer, officer audio and optional video to the driver) and
remuxed into the recording; nothing is decoded or re-encoded.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiortc import RTCIceServer, RTCSessionDescription
from aiortc import sdp as aiortc_sdp

from kuaichu.clock import Clock
from kuaichu.errors import MediaError, NoCommonCodec
from kuaichu.media import aioice_tap
from kuaichu.media.aiortc_tap import (
    EncodedFrame,
    check_aiortc_internals,
    install_short_turns,
    on_keyframe_request,
    tap_receiver,
    watch_receiver_feedback,
)
from kuaichu.media.bandwidth import BandwidthLimits, with_bitrate_hints
from kuaichu.media.bitstream import is_keyframe, video_codec_preferences
from kuaichu.media.forward import EncodedTrack
from kuaichu.media.frame_capture import Capture, FrameCapturer
from kuaichu.media.frame_size import frame_dimensions
from kuaichu.media.leg_health import CONNECT_TIMEOUT, MEDIA_TIMEOUT, LegWatch
from kuaichu.media.legs import KEYFRAME_MIN_INTERVAL, KeyframeRequester, Leg, new_leg
from kuaichu.media.recorder import CallRecorder, RecordingInfo
from kuaichu.media.uplink import DEFAULT_LIMITS, CallBandwidth, MediaMetrics

logger = logging.getLogger(__name__)

VIDEO_CODECS = ("H264", "VP8")


def _parse_sdp(sdp: str, who: str) -> Any:
    if not isinstance(sdp, str) or "m=" not in sdp or not sdp.lstrip().startswith("v="):
        raise MediaError(f"{who} sent a malformed SDP answer")
    try:
        return aiortc_sdp.SessionDescription.parse(sdp)
    except Exception as exc:
        raise MediaError(f"{who} sent a malformed SDP answer: {exc}") from exc


def _answer_codecs(description: Any, kind: str) -> list[str] | None:
    """Codec names (in order, RTX left out) of the first ``kind`` section; None when the
    section is missing or rejected (port 0)."""
    for media in description.media:
        if media.kind == kind:
            if media.port == 0:
                return None
            return [c.name for c in media.rtp.codecs if c.name.lower() != "rtx"]
    return None


class CallMedia:
    """Media of one call: the driver leg, at most one officer leg at a time, and the recording."""

    def __init__(
        self,
        call_id: str,
        recording_dir: Path,
        *,
        ice_servers: list[RTCIceServer] | Callable[[], list[RTCIceServer]] | None = None,
        on_failed: Callable[[str, str], None] | None = None,
        on_recording_failed: Callable[[str], None] | None = None,
        keyframe_min_interval: float = KEYFRAME_MIN_INTERVAL,
        clock: Clock | None = None,
        bandwidth: BandwidthLimits = DEFAULT_LIMITS,
        metrics: MediaMetrics | None = None,
        on_leg_up: Callable[[str], None] | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
        media_timeout: float = MEDIA_TIMEOUT,
    ) -> None:
        """``keyframe_min_interval`` rate-limits the PLIs sent to each leg, timed by ``clock``;
        ``on_recording_failed(reason)`` hears when a write error stopped the recording.
        ``bandwidth`` bounds the REMB the driver gets; ``metrics`` counts the call's media.
        An answered leg that is not connected and receiving within ``connect_timeout``, or
        that receives nothing for ``media_timeout`` seconds, is reported to ``on_failed``
        as "connect_timeout" / "no_media"; ``on_leg_up(leg)`` hears when it first receives."""
        check_aiortc_internals()
        aioice_tap.ensure_installed()
        install_short_turns()
        self.call_id = call_id
        self._keyframe_min_interval = keyframe_min_interval
        self._clock = clock
        self.recording_dir = Path(recording_dir)
        self.video_codec: str | None = None
        # A callable gives each new peer connection its own (fresh TURN credentials: a leg
        # re-offered hours into a call must not carry an expired one).
        self._ice_servers = ice_servers
        self._on_failed = on_failed
        self._on_leg_up = on_leg_up
        self._connect_timeout = connect_timeout
        self._media_timeout = media_timeout
        self._recorder = CallRecorder(
            call_id, self.recording_dir, on_failure=on_recording_failed
        )
        self._driver: Leg | None = None
        self._officer: Leg | None = None
        self._closed = False
        self._close_task: asyncio.Task[RecordingInfo | None] | None = None
        self._lock = asyncio.Lock()
        self._limits = bandwidth
        self._bandwidth = CallBandwidth(call_id, bandwidth, metrics=metrics)
        # (width, height) of the driver's last keyframe: what the server actually receives.
        self.received_video_size: tuple[int, int] | None = None
        # Fed from _on_driver_video only while a capture waits for frames.
        self._capturer = FrameCapturer(
            call_id,
            self.recording_dir,
            request_keyframe=lambda: self._driver_keyframe("evidence capture", force=True),
            recording_offset=self._recording_offset,
        )

    # ---- introspection (tests, supervisor) --------------------------------------------------

    @property
    def recorder(self) -> CallRecorder:
        return self._recorder

    @property
    def driver_keyframes(self) -> KeyframeRequester | None:
        return self._driver.keyframes if self._driver else None

    @property
    def officer_video_track(self) -> EncodedTrack | None:
        """The track carrying the driver's video to the officer (None without officer leg)."""
        return self._officer.video_out if self._officer else None

    @property
    def capturer(self) -> FrameCapturer:
        return self._capturer

    @property
    def bandwidth(self) -> CallBandwidth:
        return self._bandwidth

    # ---- evidence --------------------------------------------------------------------------

    async def capture(self, kind: str, directory: Path | None = None) -> Capture:
        """Store the sharpest frame of the driver's video from a fresh keyframe on as a JPEG
        in ``directory`` (default: the call's recording folder). Raises MediaError when the
        driver's video is not up, CaptureBusy when too many captures are under way,
        CaptureTimeout when no keyframe comes."""
        self._check_open()
        leg = self._driver
        if leg is None or not leg.answered or leg.closing:
            raise MediaError("the driver leg is not up", call_id=self.call_id)
        if leg.video is None or self.video_codec is None:
            raise MediaError("the driver sends no video", call_id=self.call_id)
        if leg.pc.connectionState in ("failed", "closed"):
            raise MediaError(f"the driver leg is {leg.pc.connectionState}", call_id=self.call_id)
        return await self._capturer.capture(kind, directory)

    # ---- driver leg ----------------------------------------------------------------------

    async def driver_offer(self) -> dict[str, str]:
        """Offer to the driver: receive audio+video, send the officer's audio (and video once
        there is some). A second call replaces the driver leg (the driver rejoined after a
        network change); the recording continues."""
        async with self._lock:
            self._check_open()
            if self._driver is not None:
                logger.info("call %s: driver rejoins, replacing driver leg", self.call_id)
                old, self._driver = self._driver, None
                await old.close()
                # The new leg's timestamps start afresh, and the officer's decoder must
                # start again from one of its keyframes.
                officer = self._officer
                if officer is not None:
                    officer.audio_out.new_source()
                    if officer.video_out is not None:
                        officer.video_out.new_source()
            # A rejoining driver must keep the codec an officer leg may already be carrying.
            prefs = video_codec_preferences(self.video_codec)
            leg = self._new_leg("driver", prefs, to_kind_keyframe=self._officer_keyframes)
            self._driver = leg
            assert leg.video is not None
            tap_receiver(leg.audio.receiver, lambda f: self._on_driver_audio(leg, f))
            tap_receiver(leg.video.receiver, lambda f: self._on_driver_video(leg, f))
            self.received_video_size = None
            self._bandwidth.driver_leg(leg.video.receiver)
            # Every keyframe request the driver's receiver sends (aiortc's own for a frame
            # lost, ours for a capture or an officer): the frames kept for a capture since the
            # last keyframe may decode with smears from there on; the keyframe asked for
            # starts them again.
            watch_receiver_feedback(leg.video.receiver, None, self._capturer.frames_lost)
            offer = await self._make_offer(leg)
            return {**offer, "sdp": with_bitrate_hints(offer["sdp"], self._limits)}

    async def driver_answer(self, sdp: str) -> None:
        async with self._lock:
            self._check_open()
            leg = self._driver
            if leg is None or leg.answered or leg.pc.signalingState != "have-local-offer":
                raise MediaError("no driver offer is waiting for an answer")
            description = _parse_sdp(sdp, "driver")
            video = _answer_codecs(description, "video")
            codec = video[0].upper() if video else None
            if codec is not None and codec not in VIDEO_CODECS:
                raise NoCommonCodec(f"driver answered video codec {codec}")
            if _answer_codecs(description, "audio") is None:
                raise NoCommonCodec("driver rejected audio")
            await self._apply_answer(leg, sdp)
            if codec is None:
                logger.warning("call %s: driver sends no video", self.call_id)
            elif self.video_codec is None:
                self.video_codec = codec
            leg.answered = True
            self._watch(leg)
            logger.info("call %s: driver leg negotiated video=%s", self.call_id, codec)

    # ---- officer leg ---------------------------------------------------------------------

    async def officer_offer(self) -> dict[str, str]:
        """Offer to an officer: the driver's video codec only, and Opus."""
        async with self._lock:
            self._check_open()
            if self._driver is None or not self._driver.answered:
                raise MediaError("the driver leg is not negotiated yet")
            if self._officer is not None:
                old, self._officer = self._officer, None
                await old.close()
            prefs = video_codec_preferences(self.video_codec) if self.video_codec else None
            leg = self._new_leg("officer", prefs, to_kind_keyframe=self._driver_keyframe)
            self._officer = leg
            tap_receiver(leg.audio.receiver, lambda f: self._on_officer_audio(leg, f))
            if leg.video is not None:
                tap_receiver(leg.video.receiver, lambda f: self._on_officer_video(leg, f))
                on_keyframe_request(leg.video.sender, lambda: self._driver_keyframe("officer PLI"))
                self._bandwidth.officer_leg(leg.video.sender)
            return await self._make_offer(leg)

    async def officer_answer(self, sdp: str) -> None:
        async with self._lock:
            self._check_open()
            leg = self._officer
            if leg is None or leg.answered or leg.pc.signalingState != "have-local-offer":
                raise MediaError("no officer offer is waiting for an answer")
            description = _parse_sdp(sdp, "officer")
            audio = _answer_codecs(description, "audio")
            if not audio or audio[0].lower() != "opus":
                raise NoCommonCodec("officer cannot take Opus audio", codec="opus")
            if self.video_codec is not None:
                video = _answer_codecs(description, "video")
                if not video or video[0].upper() != self.video_codec:
                    raise NoCommonCodec(
                        f"officer cannot take {self.video_codec} video", codec=self.video_codec
                    )
            await self._apply_answer(leg, sdp)
            leg.answered = True
            self._watch(leg)
            driver = self._driver
            if driver is not None:
                driver.audio_out.new_source()
                if driver.video_out is not None:
                    driver.video_out.new_source()
            logger.info("call %s: officer leg negotiated", self.call_id)
            # The officer's decoder needs a keyframe: ask now rather than wait for the GOP.
            self._driver_keyframe("officer joined", force=True)

    def fail_leg(self, name: str, reason: str) -> bool:
        """Declare the ``name`` leg failed from outside (its page saw its own connection
        die): ``on_failed`` hears it like a watchdog verdict. False when there is no
        answered leg of that name, or it was reported already."""
        leg = self._driver if name == "driver" else self._officer
        if leg is None or not leg.answered or leg.closing or leg.reported:
            return False
        self._leg_failed(leg, reason)
        return True

    async def detach_officer(self) -> None:
        """The officer dropped: close the officer leg only; driver leg and recording go on."""
        async with self._lock:
            leg, self._officer = self._officer, None
            if leg is None:
                return
            logger.info("call %s: detaching officer leg", self.call_id)
            self._bandwidth.officer_left()
            await leg.close()

    # ---- shutdown --------------------------------------------------------------------------

    async def close(self) -> RecordingInfo | None:
        """Stop both legs and finalize the recording (off the loop). Idempotent."""
        if self._close_task is None:
            self._closed = True
            # Not a background task: one shared close that every caller awaits (shielded,
            # so a caller cancelled mid-close does not leave the recording half-finalized).
            self._close_task = asyncio.get_running_loop().create_task(self._close())
        return await asyncio.shield(self._close_task)

    async def _close(self) -> RecordingInfo | None:
        async with self._lock:
            legs = [leg for leg in (self._officer, self._driver) if leg is not None]
            self._officer = self._driver = None
        # No driver leg any more, so no more frames: develop what captures already hold.
        try:
            await self._capturer.close()
        except Exception:
            logger.exception("call %s: closing evidence capture failed", self.call_id)
        for leg in legs:
            try:
                await leg.close()
            except Exception:
                logger.exception("call %s: closing %s leg failed", self.call_id, leg.name)
        await self._bandwidth.close()
        info = await self._recorder.stop()
        logger.info(
            "call %s: media closed, recording=%s", self.call_id, info.path if info else None
        )
        return info

    # ---- internals ------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise MediaError("call media is closed", call_id=self.call_id)

    def _new_leg(
        self,
        name: str,
        video_prefs: list[Any] | None,
        *,
        to_kind_keyframe: Callable[[str], None],
    ) -> Leg:
        servers = self._ice_servers() if callable(self._ice_servers) else self._ice_servers
        leg = new_leg(
            self.call_id,
            name,
            list(servers or []),
            video_prefs,
            to_kind_keyframe=to_kind_keyframe,
            keyframe_min_interval=self._keyframe_min_interval,
            clock=self._clock,
        )
        pc = leg.pc

        @pc.on("connectionstatechange")  # type: ignore[untyped-decorator,misc]
        def _on_state() -> None:
            state = pc.connectionState
            logger.info("call %s: %s leg connection %s", self.call_id, name, state)
            if state in ("failed", "closed"):
                self._leg_failed(leg, state)

        return leg

    def _leg_failed(self, leg: Leg, reason: str) -> None:
        """Report a dead leg to ``on_failed``, once per leg, unless we are closing it."""
        if leg.closing or leg.reported or self._closed:
            return
        leg.reported = True
        if self._on_failed is not None:
            try:
                self._on_failed(leg.name, reason)
            except Exception:
                logger.exception("call %s: on_failed callback raised", self.call_id)

    def _watch(self, leg: Leg) -> None:
        """Start the answered leg's watchdog (kuaichu.media.leg_health)."""
        on_up = self._on_leg_up

        def alive() -> None:
            if on_up is not None and not (leg.closing or self._closed):
                on_up(leg.name)

        leg.watch = LegWatch(
            f"call {self.call_id} {leg.name}",
            leg.pc,
            on_dead=lambda reason: self._leg_failed(leg, reason),
            on_alive=alive,
            connect_timeout=self._connect_timeout,
            media_timeout=self._media_timeout,
        )
        leg.watch.start()

    async def _make_offer(self, leg: Leg) -> dict[str, str]:
        offer = await leg.pc.createOffer()
        # aiortc gathers ICE candidates here: the offer carries them all (no trickle).
        await leg.pc.setLocalDescription(offer)
        local = leg.pc.localDescription
        return {"type": local.type, "sdp": local.sdp}

    async def _apply_answer(self, leg: Leg, sdp: str) -> None:
        try:
            await leg.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        except MediaError:
            raise
        except Exception as exc:
            if "Failed to set remote" in str(exc):
                raise NoCommonCodec(f"{leg.name}: {exc}") from exc
            raise MediaError(f"{leg.name} SDP answer rejected: {exc}") from exc

    def _driver_keyframe(self, reason: str, force: bool = False) -> None:
        driver = self._driver
        if driver is None:
            return
        driver.keyframes.request(reason, force=force)

    def _recording_offset(self) -> float | None:
        started = self._recorder.started_at
        return None if started is None else time.time() - started

    def _officer_keyframes(self, reason: str) -> None:
        officer = self._officer
        if officer is not None:
            officer.keyframes.request(reason)

    def _active_officer(self) -> Leg | None:
        leg = self._officer
        return leg if leg is not None and leg.answered and not leg.closing else None

    def _on_driver_video(self, leg: Leg, frame: EncodedFrame) -> None:
        if leg is not self._driver:
            return
        key = is_keyframe(frame.codec, frame.data)
        if frame.after_loss and not key:
            # Packets before this frame were given up: it and the frames up to the next
            # keyframe reference a picture nobody got. The officer's browser would decode
            # them into smears (the server's own sequence numbers hide the loss from it), and
            # so would a player of the recording or a capture: all wait for a keyframe.
            self._recorder.video_lost()
            self._capturer.frames_lost()
            officer = self._active_officer()
            if officer is not None and officer.video_out is not None:
                officer.video_out.frames_lost()
            self._driver_keyframe("video lost")
        if key:
            self.received_video_size = frame_dimensions(frame.codec, frame.data) or (
                self.received_video_size
            )
        self._recorder.add(
            "video", frame.codec, frame.data, frame.timestamp, source=leg, keyframe=key
        )
        if self._capturer.active:
            self._capturer.push(frame.codec, frame.data, frame.timestamp, key)
        officer = self._active_officer()
        if officer is not None and officer.video_out is not None:
            officer.video_out.push(frame.data, frame.timestamp, key)
            if key:
                self._bandwidth.keyframe_forwarded()

    def _on_driver_audio(self, leg: Leg, frame: EncodedFrame) -> None:
        if leg is not self._driver:
            return
        self._recorder.add(
            "driver_audio", frame.codec, frame.data, frame.timestamp, source=leg, keyframe=True
        )
        officer = self._active_officer()
        if officer is not None:
            officer.audio_out.push(frame.data, frame.timestamp)

    def _on_officer_audio(self, leg: Leg, frame: EncodedFrame) -> None:
        if leg is not self._officer:
            return
        self._recorder.add(
            "officer_audio", frame.codec, frame.data, frame.timestamp, source=leg, keyframe=True
        )
        driver = self._driver
        if driver is not None and driver.answered:
            driver.audio_out.push(frame.data, frame.timestamp)

    def _on_officer_video(self, leg: Leg, frame: EncodedFrame) -> None:
        if leg is not self._officer:
            return
        driver = self._driver
        if driver is not None and driver.answered and driver.video_out is not None:
            driver.video_out.push(frame.data, frame.timestamp, is_keyframe(frame.codec, frame.data))
