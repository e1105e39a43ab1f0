"""Messages to parties: templates (:mod:`.messages`), the outbox and its worker
(:mod:`.outbox`), and the SMS adapters (:mod:`.sms`). See docs/notifications.md."""

from .messages import Template, format_deadline, mask_phone, render_text, sms_segments
from .outbox import Notifier, OutboxMessage, enqueue
from .sms import HttpSms, LogSms, SmsAdapter, SmsError, make_adapter

__all__ = [
    "HttpSms",
    "LogSms",
    "Notifier",
    "OutboxMessage",
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
