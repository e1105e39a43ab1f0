"""Tables. One module so the schema reads in one place."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
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
    # Role "insurer" (issue 13): the configured insurer's code (kuaichu.insurers.model) the
    # account belongs to; NULL for police accounts.
    Column("insurer", String(32)),
    # The officer's badge number (警号, issue 12, migration 11), printed on documents; NULL
    # when not set (the document then has no badge line, never the login name).
    Column("badge", String(16)),
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
    # Stopped early by a write error (e.g. a full disk) or not finalized: ``failure`` says why.
    Column("partial", Boolean, nullable=False, server_default="0"),
    Column("failure", String(32)),
)

# The case file the officer fills in (kuaichu.cases.form.CaseForm as JSON). Each save bumps
# the revision; a save based on an older revision is refused (two tabs, two officers), and
# every save is an audit action with the fields it changed.
case_files = Table(
    "case_files",
    metadata,
    Column("case_id", String(32), ForeignKey("cases.id"), primary_key=True),
    Column("revision", Integer, nullable=False),
    Column("data", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("updated_by", String(64), nullable=False),
)

# Links to a party's progress page (网办进度): only the SHA-256 of the token is kept, as with
# sessions, so each message that carries a link mints its own token (a party may hold
# several; each opens the same page for that party only).
party_links = Table(
    "party_links",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("case_id", String(32), ForeignKey("cases.id"), nullable=False),
    Column("party", String(8), nullable=False),
    Column("phone", String(24)),
    Column("created_at", Float, nullable=False),
    # Set when the party's phone changed: the link then opens only a "this link was
    # replaced" page (a new link went to the new number).
    Column("revoked_at", Float),
)
Index("ix_party_links_case", party_links.c.case_id, party_links.c.party)

# Browsers allowed to open a party's progress links: the device that reported (it held the
# report's resume token) and each one that entered the one-time code sent to the party's
# phone. The cookie's SHA-256 only; ``phone`` is the number the code went to (NULL for the
# reporting device), so a trust earned with an old number ends when the number changes.
link_devices = Table(
    "link_devices",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("device_hash", String(64), nullable=False),
    Column("case_id", String(32), ForeignKey("cases.id"), nullable=False),
    Column("party", String(8), nullable=False),
    Column("phone", String(24)),
    Column("created_at", Float, nullable=False),
)
Index("ix_link_devices", link_devices.c.device_hash, link_devices.c.case_id, link_devices.c.party)

# One-time codes for opening a progress link on another device: the code's SHA-256, its
# expiry and the wrong tries so far; the newest row per (case, party) is the live one.
link_codes = Table(
    "link_codes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", String(32), ForeignKey("cases.id"), nullable=False),
    Column("party", String(8), nullable=False),
    Column("phone", String(24), nullable=False),
    Column("code_hash", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("failures", Integer, nullable=False, default=0),
    Column("next_try_at", Float, nullable=False, default=0.0),
    Column("used_at", Float),
)
Index("ix_link_codes_party", link_codes.c.case_id, link_codes.c.party)

# Rejoin links (issue 12, kuaichu.calls.rejoin): an SMS link back into a call, by the SHA-256 of
# its token only; kept across a restart, spent once (used_at), swept after expires_at.
rejoin_links = Table(
    "rejoin_links",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("call_id", String(32), ForeignKey("calls.id"), nullable=False, index=True),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("used_at", Float),
)

# Append-only: each registry check of one party (kuaichu.verification.VerificationResult as
# JSON). The officer's decisions on items that did not verify are audit actions.
verifications = Table(
    "verifications",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", String(32), ForeignKey("cases.id"), nullable=False),
    Column("party", String(8), nullable=False),
    Column("registry", String(32), nullable=False),
    Column("facts", Text, nullable=False),
    Column("result", Text, nullable=False),
    Column("checked_at", Float, nullable=False),
    Column("checked_by", String(64), nullable=False),
)
Index("ix_verifications_case", verifications.c.case_id)

# Issued determinations. Never updated except ``superseded_by``: a correction or a review
# outcome inserts a new version. ``content`` is the frozen document (kuaichu.documents); the
# PDF lives in the case folder with its SHA-256 here.
determinations = Table(
    "determinations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", String(32), ForeignKey("cases.id"), nullable=False),
    Column("number", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("code", String(16), nullable=False),
    Column("issued_at", Float, nullable=False),
    Column("issued_by", String(64), nullable=False),
    Column("content", Text, nullable=False),
    Column("pdf_path", Text),
    Column("pdf_sha256", String(64)),
    Column("superseded_by", Integer),
)
Index("ix_determinations_number", determinations.c.number, determinations.c.version, unique=True)
Index("ix_determinations_case", determinations.c.case_id)

# The notifier's outbox: a message is written here in the same transaction as the step that
# causes it, and a worker delivers it through the SMS adapter with retries, so nothing is lost
# while the gateway is down.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", String(32), ForeignKey("cases.id")),
    Column("party", String(8)),
    Column("phone", String(24), nullable=False),
    Column("template", String(32), nullable=False),
    Column("params", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("dedupe_key", String(128), nullable=False, unique=True),
    Column("status", String(12), nullable=False),  # pending, sent, failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False),
    Column("last_error", Text),
    Column("created_at", Float, nullable=False),
    Column("sent_at", Float),
    Column("gateway_id", String(128)),
    # A failed message someone resent: the new row's id (it leaves the attention list).
    Column("resent_as", Integer),
)
Index("ix_outbox_due", outbox.c.status, outbox.c.next_attempt_at)
Index("ix_outbox_case", outbox.c.case_id)

# Evidence stills (issue 4): frames captured from the driver's video and photos the driver's
# phone took on request. The JPEG is the evidence (its SHA-256 here and in the case folder's
# signed manifest); the officer's damage rectangles and note are metadata beside it.
captures = Table(
    "captures",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", String(32), ForeignKey("cases.id"), nullable=False),
    Column("call_id", String(32), ForeignKey("calls.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("source", String(16), nullable=False),  # video_frame, phone_still
    Column("path", Text, nullable=False),  # relative to the recordings directory
    Column("sha256", String(64), nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("sharpness", Float),
    Column("captured_at", Float, nullable=False),
    Column("offset_s", Float),
    Column("lat", Float),
    Column("lng", Float),
    Column("officer_id", Integer, ForeignKey("officers.id")),
    Column("plate", Text),  # JSON: the plate reading proposed to the officer
    Column("regions", Text, nullable=False, default="[]"),  # JSON: damage rectangles
    Column("note", Text, nullable=False, default=""),
    # The photo channel (issue 13, kuaichu.photoreports): which guided shot a driver's photo
    # answers, and the evidence metadata read from its EXIF before it was re-encoded
    # without any (NULL when the photo carried none, and for every video frame).
    # exif_taken_at: DateTimeOriginal as Unix seconds (its OffsetTimeOriginal, else the
    # server's zone); exif_time: that tag as the camera wrote it; exif_lat/exif_lng: the
    # GPS position in WGS-84 degrees (south and west negative).
    Column("shot", String(16)),
    Column("exif_taken_at", Float),
    Column("exif_time", String(40)),
    Column("exif_lat", Float),
    Column("exif_lng", Float),
)
Index("ix_captures_case", captures.c.case_id)

# Photo reports (拍照快处, issue 13, kuaichu.photoreports): a case reported with guided photos
# instead of a video call. Its one ``calls`` row (state "photo") is what every other part
# reads: the officer who takes the report becomes that row's officer, so the case is theirs
# (kuaichu.casework.context.authorize). ``token_hash``: SHA-256 of the driver page's upload
# token. ``status``: collecting (photos being taken), waiting (submitted, in the officers'
# photo queue), taken (an officer works it).
photo_reports = Table(
    "photo_reports",
    metadata,
    Column("case_id", String(32), ForeignKey("cases.id"), primary_key=True),
    Column("call_id", String(32), ForeignKey("calls.id"), nullable=False, unique=True),
    Column("token_hash", String(64), nullable=False),
    Column("status", String(12), nullable=False),
    Column("reason", String(24), nullable=False),  # why not video: kuaichu.photoreports
    Column("created_at", Float, nullable=False),
    Column("submitted_at", Float),
    Column("taken_at", Float),
    Column("taken_by", Integer, ForeignKey("officers.id")),
)
Index("ix_photo_reports_status", photo_reports.c.status, photo_reports.c.submitted_at)

# Video callbacks (issue 13, kuaichu.photoreports.callbacks): an officer's SMS link that opens
# the driver page straight into a video call of this case. Only the token's SHA-256; a link
# works once (``call_id`` is the call it started) and until ``expires_at``.
video_callbacks = Table(
    "video_callbacks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", String(32), ForeignKey("cases.id"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("officer_id", Integer, ForeignKey("officers.id"), nullable=False),
    Column("phone", String(24), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("call_id", String(32)),
    Column("used_at", Float),
)
Index("ix_video_callbacks_case", video_callbacks.c.case_id)

# Insurers (issue 13, kuaichu.insurers). A claim (定损理赔) is one insurer's work on one
# case, opened by a party's claim button or an officer's hand-off; ``status`` is the last
# the insurer recorded (kuaichu.insurers.claims), each change also an audit action of the
# case. ``acted_at``: the hand-off, then the insurer's last status change (what a complaint
# measures). ``amount_fen``: the assessed or paid amount in fen (分).
claims = Table(
    "claims",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", String(32), ForeignKey("cases.id"), nullable=False),
    Column("insurer", String(32), nullable=False),
    Column("parties", String(32), nullable=False),  # the insurer's policyholders: "A,B"
    Column("status", String(20), nullable=False),
    Column("amount_fen", Integer),
    Column("reason", Text),
    Column("assessor", String(64)),
    Column("opened_at", Float, nullable=False),
    Column("opened_by", String(64), nullable=False),
    Column("acted_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)
Index("ix_claims_case_insurer", claims.c.case_id, claims.c.insurer, unique=True)
Index("ix_claims_insurer", claims.c.insurer, claims.c.status)

# A party's complaint that the counterpart's insurer has not acted on a claim: the
# supervisors' queue, with a callback due 24 hours after filing.
complaints = Table(
    "complaints",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", String(32), ForeignKey("cases.id"), nullable=False),
    Column("claim_id", Integer, ForeignKey("claims.id"), nullable=False),
    Column("party", String(8), nullable=False),
    Column("insurer", String(32), nullable=False),
    Column("text", Text, nullable=False),
    Column("filed_at", Float, nullable=False),
    Column("due_at", Float, nullable=False),
    Column("called_back_at", Float),
    Column("called_back_by", String(64)),
    Column("outcome", Text),
)
Index("ix_complaints_open", complaints.c.called_back_at, complaints.c.due_at)

# The approved self-negotiated agreement's document (协议书), as ``determinations`` holds the
# determination's: numbered, versioned, frozen content, PDF with its SHA-256, never edited.
agreement_documents = Table(
    "agreement_documents",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", String(32), ForeignKey("cases.id"), nullable=False),
    Column("number", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("code", String(16), nullable=False),
    Column("issued_at", Float, nullable=False),
    Column("issued_by", String(64), nullable=False),
    Column("content", Text, nullable=False),
    Column("pdf_path", Text),
    Column("pdf_sha256", String(64)),
    Column("superseded_by", Integer),
)
Index(
    "ix_agreement_documents_number",
    agreement_documents.c.number,
    agreement_documents.c.version,
    unique=True,
)
Index("ix_agreement_documents_case", agreement_documents.c.case_id)

# The schema's version (kuaichu.storage.migrations).
schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", Float, nullable=False),
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
Index("ix_cases_status", cases.c.status)


# --- issue 13: the open API (kuaichu.api) ------------------------------------------------------

# An insurer's API keys: only the SHA-256 of the token is kept (the token is shown once, at
# creation); a revoked key stays listed with ``revoked_at`` and is refused.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("insurer", String(32), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("label", String(100), nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float),
    Column("last_used_at", Float),
)

# One webhook per insurer: where its events go and the secret their HMAC is keyed with (kept
# as given: the server must compute the HMAC; the data folder is the owner's alone).
webhooks = Table(
    "webhooks",
    metadata,
    Column("insurer", String(32), primary_key=True),
    Column("url", Text, nullable=False),
    Column("secret", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# The webhooks' outbox: an event is written in the transaction of the step that causes it
# and delivered by a worker with back-off (the SMS outbox's pattern, kuaichu.notify.outbox).
# ``body`` is the JSON exactly as signed and sent; ``event_id`` is the receivers' idempotency
# key and ``dedupe_key`` keeps a retried step from queueing the event twice.
webhook_events = Table(
    "webhook_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("event_id", String(40), nullable=False, unique=True),
    Column("dedupe_key", String(160), nullable=False, unique=True),
    Column("insurer", String(32), nullable=False),
    Column("type", String(32), nullable=False),
    Column("case_id", String(32), ForeignKey("cases.id")),
    Column("body", Text, nullable=False),
    Column("status", String(12), nullable=False),  # pending, sent, failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False),
    Column("last_error", Text),
    Column("created_at", Float, nullable=False),
    Column("sent_at", Float),
    Column("replays", Integer, nullable=False, default=0),
)
Index("ix_webhook_events_due", webhook_events.c.status, webhook_events.c.next_attempt_at)
Index("ix_webhook_events_insurer", webhook_events.c.insurer, webhook_events.c.id)

# The delivery log: one row per attempt (the admin's ``webhook log``).
webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("event", Integer, ForeignKey("webhook_events.id"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("at", Float, nullable=False),
    Column("url", Text, nullable=False),
    Column("http_status", Integer),
    Column("error", Text),
    Column("duration_ms", Integer, nullable=False),
)
Index("ix_webhook_attempts_event", webhook_attempts.c.event)


# --- issue 13: the identity index (kuaichu.storage.caseindex) ----------------------------------

# What the insurer scope, the API's feed and the fraud rules match cases on, one row per
# (case, kind, value, party): each party's plate, ID number, phone and insurer (normalised,
# kuaichu.cases.identity), and the case's declared place and time (party ""). Rewritten from
# the form in the transaction of every form write (CaseStore.write_form), so nothing has to
# parse the forms in bulk. ID numbers are as the forms hold them (same privacy level).
case_index = Table(
    "case_index",
    metadata,
    Column("case_id", String(32), ForeignKey("cases.id"), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("value", String(80), primary_key=True),
    Column("party", String(2), primary_key=True),
)
Index("ix_case_index_value", case_index.c.kind, case_index.c.value, case_index.c.case_id)

# Each case's last change (its last audit entry that is not a read): the API's change feed
# pages by (changed_at, case_id) on this index. Written with every audit entry.
case_changes = Table(
    "case_changes",
    metadata,
    Column("case_id", String(32), ForeignKey("cases.id"), primary_key=True),
    Column("changed_at", Float, nullable=False),
)
Index("ix_case_changes_at", case_changes.c.changed_at, case_changes.c.case_id)
