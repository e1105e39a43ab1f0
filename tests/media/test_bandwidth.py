"""The driver uplink's REMB policy and the SDP bitrate hints, on literal sequences."""

from __future__ import annotations

import pytest

from kuaichu.media.bandwidth import BandwidthLimits, UplinkPolicy, with_bitrate_hints

LIMITS = BandwidthLimits.from_kbps(300, 2500, 1500)


def test_starts_at_the_start_value_without_feedback() -> None:
    policy = UplinkPolicy(LIMITS)
    assert policy.target() == 1_500_000
    # Time alone does not move it: only the officer's reports do.
    assert policy.target() == 1_500_000


def test_officer_remb_caps_and_is_kept_within_floor_and_ceiling() -> None:
    policy = UplinkPolicy(LIMITS)
    policy.on_officer_remb(900_000)
    assert policy.target() == 900_000
    policy.on_officer_remb(100_000)
    assert policy.target() == 300_000  # the floor
    policy.on_officer_remb(9_000_000)
    assert policy.target() == 1_500_000  # the loss-based estimate has not grown yet
    policy.officer_gone()
    assert policy.target() == 1_500_000


def test_clean_reports_grow_eight_percent_a_second_up_to_the_ceiling() -> None:
    policy = UplinkPolicy(LIMITS)
    targets = []
    for second in range(0, 12):
        policy.on_officer_loss(0.0, float(second))
        targets.append(policy.target() // 1000)
    # The first report only starts the clock; then x1.08 a second, capped at 2500.
    assert targets == [1500, 1620, 1749, 1889, 2040, 2203, 2380, 2500, 2500, 2500, 2500, 2500]


def test_heavy_loss_backs_off_by_half_the_loss_at_most_once_a_second() -> None:
    policy = UplinkPolicy(LIMITS)
    policy.on_officer_loss(0.20, 10.0)
    assert policy.target() == 1_350_000  # x (1 - 0.5 * 0.2)
    policy.on_officer_loss(0.20, 10.4)  # within a second of the last back-off: no change
    assert policy.target() == 1_350_000
    policy.on_officer_loss(0.20, 11.0)
    assert policy.target() == 1_215_000
    # Moderate loss holds.
    policy.on_officer_loss(0.05, 12.0)
    policy.on_officer_loss(0.05, 13.0)
    assert policy.target() == 1_215_000
    # Total loss never goes below the floor.
    for t in range(14, 30):
        policy.on_officer_loss(1.0, float(t))
    assert policy.target() == 300_000


def test_degrades_then_recovers_when_loss_stops() -> None:
    policy = UplinkPolicy(LIMITS)
    for t in range(0, 10):
        policy.on_officer_loss(0.20, float(t))
    low = policy.target()
    assert low < 600_000
    for t in range(10, 40):
        policy.on_officer_loss(0.0, float(t))
    assert policy.target() == 2_500_000


def test_growth_starts_from_the_officers_cap() -> None:
    policy = UplinkPolicy(LIMITS)
    policy.on_officer_remb(600_000)
    policy.on_officer_loss(0.0, 0.0)
    policy.on_officer_loss(0.0, 1.0)
    # 600 * 1.08, not 1500 * 1.08: the estimate does not run away above a binding cap.
    policy.on_officer_remb(5_000_000)
    assert policy.target() == 648_000


def test_a_gap_in_reports_is_no_licence_to_jump() -> None:
    policy = UplinkPolicy(LIMITS)
    policy.on_officer_loss(0.0, 0.0)
    policy.on_officer_loss(0.0, 60.0)
    assert policy.target() == int(1_500_000 * 1.08**2)


@pytest.mark.parametrize("kbps", [(0, 2500, 1500), (300, 2500, 200), (300, 2500, 3000)])
def test_limits_are_checked(kbps: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError, match="min <= start <= max"):
        BandwidthLimits.from_kbps(*kbps)


OFFER = "\r\n".join(
    [
        "v=0",
        "o=- 1 1 IN IP4 0.0.0.0",
        "s=-",
        "t=0 0",
        "m=audio 9 UDP/TLS/RTP/SAVPF 96",
        "a=rtpmap:96 opus/48000/2",
        "a=fmtp:96 minptime=10",
        "m=video 9 UDP/TLS/RTP/SAVPF 97 98 99",
        "a=rtpmap:97 H264/90000",
        "a=fmtp:97 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
        "a=rtpmap:98 VP8/90000",
        "a=rtpmap:99 rtx/90000",
        "a=fmtp:99 apt=97",
        "a=ssrc:1 cname:x",
        "",
    ]
)


def test_bitrate_hints_on_each_video_codec_only() -> None:
    out = with_bitrate_hints(OFFER, LIMITS)
    hints = "x-google-start-bitrate=1500;x-google-max-bitrate=2500"
    assert out.split("\r\n") == [
        "v=0",
        "o=- 1 1 IN IP4 0.0.0.0",
        "s=-",
        "t=0 0",
        "m=audio 9 UDP/TLS/RTP/SAVPF 96",
        "a=rtpmap:96 opus/48000/2",
        "a=fmtp:96 minptime=10",
        "m=video 9 UDP/TLS/RTP/SAVPF 97 98 99",
        "a=rtpmap:97 H264/90000",
        "a=fmtp:97 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f;"
        + hints,
        "a=rtpmap:98 VP8/90000",
        "a=fmtp:98 " + hints,
        "a=rtpmap:99 rtx/90000",
        "a=fmtp:99 apt=97",
        "a=ssrc:1 cname:x",
        "",
    ]
    # Applying it twice changes nothing more.
    assert with_bitrate_hints(out, LIMITS) == out


def test_loss_on_the_drivers_uplink_backs_the_target_off_and_never_grows_it() -> None:
    # The uplink's loss is seen by the server only (the officer leg's reports cannot see
    # it): 20 % of the driver's packets lost for three seconds halves the target step by
    # step, once a second; a clean uplink alone does not raise it again.
    policy = UplinkPolicy(BandwidthLimits.from_kbps(300, 2500, 2000))
    start = policy.target()
    for tick in range(7):
        policy.on_driver_loss(0.2, now=100.0 + tick * 0.5)
    assert policy.target() == int(start * 0.9**4)
    before = policy.target()
    policy.on_driver_loss(0.0, now=110.0)
    assert policy.target() == before
