"""Tables. One module so the schema reads in one place."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

officers = Table(
    "officers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(64), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("role", String(16), nullable=False, default="officer"),
    Column("created_at", Float, nullable=False),
    Column("disabled", Integer, nullable=False, default=0),
)

sessions = Table(
    "sessions",
    metadata,
    # SHA-256 of the cookie value: a leaked database does not leak live sessions.
    Column("token_hash", String(64), primary_key=True),
    Column("officer_id", Integer, ForeignKey("officers.id"), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)

cases = Table(
    "cases",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("created_at", Float, nullable=False),
    Column("status", String(24), nullable=False),
    Column("reporter_phone", String(24)),
    Column("lat", Float),
    Column("lng", Float),
    Column("accuracy", Float),
)

calls = Table(
    "calls",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("case_id", String(32), ForeignKey("cases.id"), nullable=False),
    Column("state", String(16), nullable=False),
    Column("queued_at", Float, nullable=False),
    Column("answered_at", Float),
    Column("ended_at", Float),
    Column("end_reason", String(32)),
    Column("officer_id", Integer, ForeignKey("officers.id")),
    Column("lat", Float),
    Column("lng", Float),
    Column("accuracy", Float),
    Column("video_codec", String(16)),
)

# Append-only: the case's audit trail (kuaichu.cases.states.AuditEntry), one row per state
# transition or officer action, written in the same transaction as the change it records.
# cases.status is a cache of the last row's to_state. "when" is the aware ISO time, exactly
# as AuditEntry.to_dict() writes it, so replay() re-checks what was stored.
case_audit = Table(
    "case_audit",
    metadata,
    Column("case_id", String(32), ForeignKey("cases.id"), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("who", String(64), nullable=False),
    Column("when", String(40), nullable=False),
    Column("what", String(32), nullable=False),
    Column("from_state", String(24)),
    Column("to_state", String(24), nullable=False),
    Column("detail", Text, nullable=False),
)

recordings = Table(
    "recordings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("call_id", String(32), ForeignKey("calls.id"), nullable=False),
    Column("path", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("duration_s", Float, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("ended_at", Float, nullable=False),
    Column("streams", Text, nullable=False),
)

# Append-only: every queue and officer transition. The wallboard's figures come from here.
queue_events = Table(
    "queue_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ts", Float, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("call_id", String(32)),
    Column("officer_id", Integer),
    Column("detail", Text),
)
Index("ix_queue_events_ts", queue_events.c.ts)
Index("ix_calls_case", calls.c.case_id)
