"""Settings, read once at start-up into a frozen object and passed down explicitly.

Every field is a CLI flag (``--data-dir``) and an environment variable (``KUAICHU_DATA_DIR``);
the flag wins. Every default works on one machine with nothing else installed.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Settings:
    host: str = field(default="127.0.0.1", metadata={"help": "address to listen on"})
    port: int = field(default=8080, metadata={"help": "TCP port"})
    data_dir: Path = field(
        default=Path("data"), metadata={"help": "database, keys and recordings live here"}
    )
    database_url: str = field(
        default="", metadata={"help": "SQLAlchemy URL; default sqlite in the data dir"}
    )
    recordings_dir: Path | None = field(
        default=None, metadata={"help": "default: DATA_DIR/recordings"}
    )
    tls_cert: Path | None = field(default=None, metadata={"help": "PEM certificate: serve https"})
    tls_key: Path | None = field(default=None, metadata={"help": "PEM private key for --tls-cert"})
    secure_cookies: bool = field(
        default=False, metadata={"help": "mark session cookies Secure (behind https)"}
    )
    reservation_timeout: float = field(
        default=20.0, metadata={"help": "seconds an officer has to accept an offered call"}
    )
    wrapup_seconds: float = field(
        default=30.0, metadata={"help": "wrap-up time after a call before the next offer"}
    )
    decline_cooldown: float = field(
        default=60.0,
        metadata={"help": "seconds before a declined call is offered to the same officer"},
    )
    default_handle_seconds: float = field(
        default=300.0,
        metadata={"help": "assumed call length for wait estimates before history exists"},
    )
    driver_grace_seconds: float = field(
        default=20.0,
        metadata={"help": "how long a call waits for a driver whose connection dropped"},
    )
    session_hours: float = field(default=12.0, metadata={"help": "officer login lifetime"})
    max_message_bytes: int = field(
        default=64 * 1024, metadata={"help": "largest socket.io message accepted"}
    )
    ice_servers: str = field(
        default="", metadata={"help": "comma-separated STUN/TURN URLs handed to the pages"}
    )
    log_level: str = field(default="INFO", metadata={"help": "logging level"})

    @property
    def recordings_path(self) -> Path:
        return self.recordings_dir or self.data_dir / "recordings"

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'kuaichu.sqlite3'}"


def _env_name(name: str) -> str:
    return "KUAICHU_" + name.upper()


def _convert(f: dataclasses.Field[Any], raw: str) -> Any:
    kind = str(f.type)
    if "bool" in kind:
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off", ""):
            return False
        raise ValueError(f"{_env_name(f.name)}: expected a boolean, got {raw!r}")
    if "Path" in kind:
        return Path(raw) if raw else None
    if "int" in kind:
        return int(raw)
    if "float" in kind:
        return float(raw)
    return raw


def add_arguments(parser: argparse.ArgumentParser) -> None:
    for f in dataclasses.fields(Settings):
        flag = "--" + f.name.replace("_", "-")
        parser.add_argument(
            flag,
            dest=f.name,
            default=None,
            help=f"{f.metadata.get('help', '')} [{_env_name(f.name)}]",
        )


def load(
    args: argparse.Namespace | None = None,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build Settings from defaults < environment < CLI flags < keyword overrides."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        raw: str | None = env.get(_env_name(f.name))
        cli = getattr(args, f.name, None) if args is not None else None
        if cli is not None:
            raw = cli
        if raw is not None:
            try:
                values[f.name] = _convert(f, raw)
            except ValueError as exc:
                raise SystemExit(f"invalid setting {f.name}: {exc}") from None
    values.update(overrides)
    return Settings(**values)


def parse(argv: Sequence[str] | None = None) -> Settings:
    parser = argparse.ArgumentParser(prog="kuaichu")
    add_arguments(parser)
    return load(parser.parse_args(argv))
