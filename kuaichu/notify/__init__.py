"""Messages to parties: templates (:mod:`.messages`), the outbox and its worker
(:mod:`.outbox`), and the SMS adapters (:mod:`.sms`). See docs/notifications.md."""

from .doorbell import Doorbell
from .messages import Template, format_deadline, mask_phone, render_text, sms_segments
from .outbox import Notifier, Outbox, OutboxMessage, OutboxStatus, enqueue
from .sms import HttpSms, LogSms, SmsAdapter, SmsError, make_adapter

__all__ = [
    "Doorbell",
    "HttpSms",
    "LogSms",
    "Notifier",
    "Outbox",
    "OutboxMessage",
    "OutboxStatus",
    "SmsAdapter",
    "SmsError",
    "Template",
    "enqueue",
    "format_deadline",
    "make_adapter",
    "mask_phone",
    "render_text",
    "sms_segments",
]
