"""kuaichu.media.ice: the TURN REST credentials coturn's use-auth-secret checks, the ICE server
lists of both sides, and the start-up checks of the ICE settings."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from kuaichu.media.ice import (
    HandoutLimit,
    InvalidIceConfig,
    TurnRateLimited,
    aiortc_ice_servers,
    browser_ice_servers,
    ice_config,
    parse_url,
    turn_credential,
)
from kuaichu.settings import Settings

SECRET = "north-gate-turn-secret"


def test_credential_matches_a_literal_computed_with_openssl() -> None:
    # echo -n "1767225600:driver" | openssl dgst -sha1 -hmac north-gate-turn-secret -binary | base64
    cred = turn_credential(SECRET, "driver", now=1767225600 - 3600, ttl=3600)
    assert cred.username == "1767225600:driver"
    assert cred.credential == "P40omOEI9Jd4g1TWYOMxNmeKQyk="
    assert cred.expires_at == 1767225600
    assert SECRET not in repr(cred) and cred.credential not in repr(cred)


def test_credential_is_the_hmac_sha1_of_the_username_under_the_secret() -> None:
    cred = turn_credential(SECRET, "officer7", now=1_700_000_000.9, ttl=3600)
    assert cred.username == "1700003600:officer7"
    by_hand = hmac.new(b"north-gate-turn-secret", b"1700003600:officer7", hashlib.sha1)
    assert cred.credential == base64.b64encode(by_hand.digest()).decode()
    assert cred.credential == "f32kQbphy5Mi9sSAvmgBA3lgb8k="
    with pytest.raises(ValueError, match="':'"):
        turn_credential(SECRET, "a:b", now=0, ttl=3600)


def test_browser_list_carries_credentials_for_turn_only_and_the_expiry() -> None:
    config = ice_config(
        Settings(
            ice_servers="stun:stun.example.cn:3478, turn:turn.example.cn:3478?transport=udp,"
            "turn:turn.example.cn:3478?transport=tcp",
            turn_secret=SECRET,
            turn_ttl=600,
        )
    )
    body = browser_ice_servers(config, now=1_700_000_000, tag="driver")
    stun, turn = body["ice_servers"]
    assert stun == {"urls": ["stun:stun.example.cn:3478"]}
    assert turn["urls"] == [
        "turn:turn.example.cn:3478?transport=udp",
        "turn:turn.example.cn:3478?transport=tcp",
    ]
    assert turn["username"] == "1700000600:driver"
    assert turn["credential"] == turn_credential(SECRET, "driver", 1_700_000_000, 600).credential
    assert body["expires_at"] == 1_700_000_600
    assert body["ttl"] == 600 and body["refresh_margin"] == 150  # a quarter of a short life
    without = browser_ice_servers(config, now=1_700_000_000, tag="x", with_turn=False)
    assert without == {"ice_servers": [{"urls": ["stun:stun.example.cn:3478"]}]}


def test_no_ice_servers_is_an_empty_list() -> None:
    assert browser_ice_servers(ice_config(Settings()), now=0, tag="") == {"ice_servers": []}
    assert aiortc_ice_servers(ice_config(Settings()), now=0) == []


def test_server_side_servers_are_aiortc_objects_with_fresh_credentials() -> None:
    config = ice_config(
        Settings(ice_servers="stun:10.0.0.1,turn:10.0.0.1:3478?transport=tcp", turn_secret=SECRET)
    )
    stun, turn = aiortc_ice_servers(config, now=1000)
    assert stun.urls == "stun:10.0.0.1"
    assert turn.urls == ["turn:10.0.0.1:3478?transport=tcp"]
    assert turn.username == "4600:server"
    later = aiortc_ice_servers(config, now=5000)[1]
    assert later.username == "8600:server" and later.credential != turn.credential
    # aiortc reads them as it will when gathering: one TURN server over TCP with these.
    from aiortc.rtcicetransport import connection_kwargs

    kwargs = connection_kwargs([stun, turn])
    assert kwargs["stun_server"] == ("10.0.0.1", 3478)
    assert kwargs["turn_server"] == ("10.0.0.1", 3478)
    assert kwargs["turn_transport"] == "tcp"
    assert kwargs["turn_username"] == "4600:server"


@pytest.mark.parametrize(
    ("raw", "scheme", "host", "port"),
    [
        ("stun:stun.example.cn", "stun", "stun.example.cn", 3478),
        ("turn:203.0.113.5:443?transport=tcp", "turn", "203.0.113.5", 443),
        ("turns:turn.example.cn", "turns", "turn.example.cn", 5349),
        ("turn:[2001:db8::1]:3478", "turn", "2001:db8::1", 3478),
    ],
)
def test_urls_parse(raw: str, scheme: str, host: str, port: int) -> None:
    url = parse_url(raw)
    assert (url.scheme, url.host, url.port) == (scheme, host, port)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"ice_servers": "http://turn.example.cn"}, "must be stun:, stuns:, turn: or turns:"),
        ({"ice_servers": "turn:turn.example.cn"}, "--turn-secret / KUAICHU_TURN_SECRET is not set"),
        ({"ice_servers": "turn:a.cn", "turn_secret": "short"}, "at least 16 characters"),
        ({"ice_servers": "turn:a.cn:99999", "turn_secret": SECRET}, "out of range"),
        ({"ice_servers": "stun:a.cn?transport=tcp"}, "belongs to turn: URLs only"),
        ({"ice_servers": "turn:a b.cn", "turn_secret": SECRET}, "expected turn:HOST"),
        ({"turn_ttl": 10}, "--turn-ttl"),
        ({"ice_port_range": "40000"}, "--ice-port-range / KUAICHU_ICE_PORT_RANGE"),
        ({"ice_port_range": "41000-40000"}, "LOW <= HIGH"),
        ({"ice_port_range": "80-90"}, "1024 <= LOW"),
        ({"ice_announce_address": "turn.example.cn"}, "is not an IP address"),
        ({"ice_announce_address": "127.0.0.1"}, "routable IPv4"),
    ],
)
def test_settings_that_cannot_work_are_refused_naming_the_flag(
    settings: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidIceConfig) as caught:
        ice_config(Settings(**settings))  # type: ignore[arg-type]
    assert message in caught.value.message


def test_good_settings_parse_and_the_secret_stays_out_of_reprs() -> None:
    config = ice_config(
        Settings(
            ice_servers="turn:turn.example.cn:3478",
            turn_secret=SECRET,
            ice_port_range="40000 - 40999",
            ice_announce_address="203.0.113.7",
        )
    )
    assert config.port_range == (40000, 40999)
    assert config.announce_address == "203.0.113.7"
    assert SECRET not in repr(config)
    assert SECRET not in repr(Settings(turn_secret=SECRET))


def test_handout_limit_counts_per_key_in_a_sliding_window() -> None:
    limit = HandoutLimit(limit=3, window=60, max_entries=2)
    for t in (0, 1, 2):
        limit.take("10.0.0.1", t)
    with pytest.raises(TurnRateLimited) as caught:
        limit.take("10.0.0.1", 30)
    assert caught.value.http_status == 429 and caught.value.detail["retry_after"] == 30
    limit.take("10.0.0.2", 30)  # another address is not affected
    limit.take("10.0.0.1", 60.5)  # the first hand-out left the window
    # Bounded: a third address pushes out the least recently seen one (10.0.0.2).
    limit.take("10.0.0.3", 61)
    assert list(limit._times) == ["10.0.0.1", "10.0.0.3"]
