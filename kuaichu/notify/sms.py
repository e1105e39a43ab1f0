"""SMS adapters: where a rendered text goes. The log (the default, nothing to configure) or an
HTTP gateway that takes one JSON POST per message.

An adapter only sends; retries, back-off and bookkeeping belong to the outbox
(:mod:`kuaichu.notify.outbox`), which needs just one fact from a failure: whether trying again
later could help (:attr:`SmsError.retryable`).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, Final, Protocol

import aiohttp

from kuaichu.errors import KuaichuError
from kuaichu.settings import Settings

from .messages import mask_phone, redact_links, redact_phones

logger = logging.getLogger(__name__)


class SmsError(KuaichuError):
    """A message the adapter could not hand over. ``retryable`` says whether the same message
    may succeed later (gateway down, overloaded, timed out) or never will (refused as
    malformed, unauthorised, a number the gateway rejects)."""

    code = "sms_error"
    http_status = 502

    def __init__(self, message: str, *, retryable: bool, **detail: Any) -> None:
        super().__init__(message, **detail)
        self.retryable = retryable


class SmsAdapter(Protocol):
    name: str

    async def send(self, phone: str, text: str, message_id: int) -> str | None:
        """Hand one text over; returns the gateway's message id if it gives one. Raises
        :class:`SmsError`."""
        ...

    async def close(self) -> None: ...


class LogSms:
    """Writes each text to the log instead of sending it: development, demos, and a server
    without a gateway. The phone is masked and a progress link's token is cut out (the link is
    a password to the party's case); a one-time code stays, so whoever runs a demo can open a
    link on another device: the only secret this adapter ever logs (README, SMS)."""

    name = "log"

    async def send(self, phone: str, text: str, message_id: int) -> str | None:
        logger.info("SMS %d to %s: %s", message_id, mask_phone(phone), redact_links(text))
        return None

    async def close(self) -> None:
        return None


_PLACEHOLDER: Final = re.compile(r"\{(phone|text|signature|id)\}")

DEFAULT_BODY_TEMPLATE: Final = (
    '{"phone": {phone}, "text": {text}, "signature": {signature}, "id": {id}}'
)


def _quote_bare_placeholders(template: str) -> str:
    """Wrap each placeholder that stands where a JSON value goes (``"to": {phone}``) in quotes,
    so the template parses as JSON; placeholders already inside strings stay as they are."""
    out: list[str] = []
    i, in_string = 0, False
    while i < len(template):
        ch = template[i]
        if in_string:
            out.append(ch)
            if ch == "\\" and i + 1 < len(template):
                out.append(template[i + 1])
                i += 1
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
            out.append(ch)
        else:
            m = _PLACEHOLDER.match(template, i)
            if m:
                out.append(f'"{m.group(0)}"')
                i = m.end()
                continue
            out.append(ch)
        i += 1
    return "".join(out)


def _fill(node: Any, values: dict[str, str]) -> Any:
    # Substituting into parsed strings and serialising afterwards is what makes a text with
    # quotes, backslashes or newlines safe: json.dumps escapes them, nothing is spliced.
    if isinstance(node, str):
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], node)
    if isinstance(node, list):
        return [_fill(item, values) for item in node]
    if isinstance(node, dict):
        return {_fill(k, values): _fill(v, values) for k, v in node.items()}
    return node


def parse_body_template(template: str) -> Any:
    """The gateway body template as a JSON structure whose strings may hold the placeholders
    ``{phone}``, ``{text}``, ``{signature}`` and ``{id}``. A placeholder may stand alone as a
    value (``{"to": {phone}}``), quoted (``{"to": "{phone}"}``) or inside a longer string
    (``{"content": "{signature}{text}"}``); each becomes a JSON string. Raises ``ValueError``
    naming the setting when the template is not JSON."""
    flag = "--sms-body-template / KUAICHU_SMS_BODY_TEMPLATE"
    template = template.strip() or DEFAULT_BODY_TEMPLATE
    try:
        parsed = json.loads(_quote_bare_placeholders(template))
    except ValueError as exc:
        raise ValueError(f"{flag} is not JSON: {exc}") from None
    missing = {"phone", "text"} - set(_PLACEHOLDER.findall(template))
    if missing:
        names = ", ".join("{" + name + "}" for name in sorted(missing))
        raise ValueError(f"{flag} lacks the placeholder(s) {names}")
    return parsed


def render_body(template: Any, *, phone: str, text: str, signature: str, message_id: int) -> bytes:
    """One request body from a :func:`parse_body_template` structure."""
    values = {"phone": phone, "text": text, "signature": signature, "id": str(message_id)}
    return json.dumps(_fill(template, values), ensure_ascii=False).encode()


class HttpSms:
    """POSTs one JSON body per message to ``url``. 2xx means accepted (the gateway's id is taken
    from a JSON answer's ``id`` or ``message_id``); 5xx, time-outs, connection errors and the
    4xx that concern the gateway rather than the message (:func:`retryable_status`) are worth
    retrying; any other 4xx is final for that message (a legal notice then waits on the
    failed notices list to be resent)."""

    name = "http"

    def __init__(
        self,
        url: str,
        *,
        body_template: str = "",
        token: str = "",
        timeout: float = 5.0,
        signature: str = "",
    ) -> None:
        self.url = url
        self._template = parse_body_template(body_template)
        self._token = token
        self._signature = signature
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        # Created on first use: a ClientSession belongs to the running loop.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def send(self, phone: str, text: str, message_id: int) -> str | None:
        body = render_body(
            self._template, phone=phone, text=text, signature=self._signature, message_id=message_id
        )
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        try:
            async with self._client().post(self.url, data=body, headers=headers) as resp:
                status = resp.status
                answer = await resp.read()
        except TimeoutError:
            raise SmsError("SMS gateway timed out", retryable=True) from None
        except aiohttp.ClientError as exc:
            raise SmsError(
                f"SMS gateway unreachable: {type(exc).__name__}: {exc}", retryable=True
            ) from None
        if 200 <= status < 300:
            return _gateway_id(answer)
        # The answer may echo the request; keep a short, phone-free excerpt for the supervisor.
        excerpt = redact_links(redact_phones(answer[:200].decode("utf-8", "replace"))).strip()
        retryable = retryable_status(status)
        raise SmsError(
            f"SMS gateway answered HTTP {status}" + (f": {excerpt}" if excerpt else ""),
            retryable=retryable,
            status=status,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


# Answers about the gateway or our account, not about this message: credentials missing or
# refused (401, 403, 407), a wrong URL or method (404, 405), a time-out or "too early" (408,
# 425), throttling (429). Every message would get the same answer, so retrying (with back-off)
# is right: once the operator fixes the setting, the messages go. Any other 4xx refuses this
# message (a malformed body, a number the gateway rejects) and is final for it.
_GATEWAY_LEVEL: Final = frozenset({401, 403, 404, 405, 407, 408, 425, 429})


def retryable_status(status: int) -> bool:
    """Whether a gateway's HTTP status is worth retrying: 5xx and the gateway-level 4xx."""
    return status >= 500 or status in _GATEWAY_LEVEL


def _gateway_id(answer: bytes) -> str | None:
    try:
        data = json.loads(answer)
    except ValueError:
        return None
    if isinstance(data, dict):
        for key in ("id", "message_id"):
            value = data.get(key)
            if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
                return str(value)[:128]
    return None


def make_adapter(settings: Settings) -> SmsAdapter:
    """The HTTP gateway when ``--sms-gateway-url`` is set, else the log."""
    if settings.sms_gateway_url:
        return HttpSms(
            settings.sms_gateway_url,
            body_template=settings.sms_body_template,
            token=settings.sms_token,
            signature=settings.sms_signature,
        )
    return LogSms()


__all__ = [
    "DEFAULT_BODY_TEMPLATE",
    "HttpSms",
    "LogSms",
    "SmsAdapter",
    "SmsError",
    "make_adapter",
    "parse_body_template",
    "render_body",
    "retryable_status",
]
