"""Settings: precedence, one explicit conversion per type, secrets kept out of the repr."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import pytest

from kuaichu import settings as settings_mod
from kuaichu.settings import Settings


def test_tokens_and_database_url_are_not_in_the_repr() -> None:
    s = Settings(
        sms_token="sms-s3cret",
        registry_token="reg-s3cret",
        database_url="postgresql+asyncpg://kc:db-s3cret@db/kc",
    )
    text = repr(s)
    assert "s3cret" not in text
    assert "sms_token" not in text and "registry_token" not in text
    assert "port=8080" in text  # the rest is still there to read
    assert s.sms_token == "sms-s3cret"


def test_every_field_has_a_converter() -> None:
    # A new field of an unknown type fails at import; this keeps the table honest.
    assert set(settings_mod._FIELD_CONVERTERS) == {f.name for f in dataclasses.fields(Settings)}


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("port", "9000", 9000),
        ("reservation_timeout", "2.5", 2.5),
        ("secure_cookies", "yes", True),
        ("secure_cookies", "off", False),
        ("secure_cookies", "", False),
        ("data_dir", "/srv/kc", Path("/srv/kc")),
        ("recordings_dir", "/srv/rec", Path("/srv/rec")),
        ("recordings_dir", "", None),
        ("host", "0.0.0.0", "0.0.0.0"),
        # A string setting is never turned into a number or a bool, whatever its name holds.
        ("sms_body_template", "1", "1"),
        ("authority", "true", "true"),
    ],
)
def test_environment_values_are_converted_by_field_type(
    name: str, raw: str, expected: object
) -> None:
    s = settings_mod.load(environ={settings_mod._env_name(name): raw})
    assert getattr(s, name) == expected


@pytest.mark.parametrize(
    ("name", "raw"),
    [("port", "http"), ("secure_cookies", "perhaps"), ("wrapup_seconds", "x"), ("data_dir", "")],
)
def test_bad_values_name_the_setting(name: str, raw: str) -> None:
    with pytest.raises(SystemExit, match=f"invalid setting {name}: KUAICHU_{name.upper()}"):
        settings_mod.load(environ={settings_mod._env_name(name): raw})


def test_precedence_defaults_environment_flags_overrides() -> None:
    parser = argparse.ArgumentParser()
    settings_mod.add_arguments(parser)
    env = {"KUAICHU_PORT": "1", "KUAICHU_HOST": "env-host", "KUAICHU_LOG_LEVEL": "DEBUG"}
    args = parser.parse_args(["--port", "2", "--host", "flag-host"])
    s = settings_mod.load(args, environ=env, host="override")
    assert (s.port, s.host, s.log_level, s.wrapup_seconds) == (2, "override", "DEBUG", 30.0)


def test_weekdays_are_monday_first() -> None:
    assert settings_mod.WEEKDAYS[0] == "mon" and len(settings_mod.WEEKDAYS) == 7
    config = settings_mod.hours_config("mon-fri 07:00-19:00; sun closed", "+08:00")
    assert config["fri"] == ["07:00-19:00"] and config["sun"] == [] and "sat" not in config
