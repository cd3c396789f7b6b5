"""Delivery channels: e-mail over SMTP, SMS through an HTTP gateway, group-robot webhooks.

Every channel has one method, ``send``, that either delivers the message or raises
``DeliveryError`` with a message an operator can act on (which channel, which server, what
answered). Secrets (SMTP password, gateway token) never appear in errors or logs.
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from badgewatch.config import Config, SmsConfig, SmtpConfig

logger = logging.getLogger(__name__)

_ERROR_BODY_CHARS = 200  # how much of a gateway's error answer is kept for context


class DeliveryError(Exception):
    """A message could not be delivered; the text says where and why, never a secret."""


@runtime_checkable
class Channel(Protocol):
    """One way of reaching a person; the outbox only needs a name and ``send``."""

    name: str

    def send(self, recipient: str, subject: str | None, body: str) -> None:
        """Deliver one message or raise ``DeliveryError``."""
        ...


class EmailChannel:
    """Sends UTF-8 e-mail through one SMTP server (STARTTLS and login when configured)."""

    name: str = "email"

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    def _message(self, recipient: str, subject: str | None, body: str) -> EmailMessage:
        """Builds the message with the modern policy so Chinese headers are RFC 2047 encoded."""
        message = EmailMessage()
        message["From"] = self.config.sender
        message["To"] = recipient
        message["Subject"] = subject or ""
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = make_msgid(domain=self.config.sender.rpartition("@")[2] or None)
        message.set_content(body, charset="utf-8")
        return message

    def send(self, recipient: str, subject: str | None, body: str) -> None:
        """One SMTP session per message: simple, and nothing stale survives a server restart."""
        cfg = self.config
        where = f"email to {recipient!r} via {cfg.host}:{cfg.port}"
        if not cfg.enabled:
            raise DeliveryError(f"{where}: e-mail is disabled ([smtp] enabled = false)")
        try:
            message = self._message(recipient, subject, body)
        except (ValueError, TypeError) as exc:  # e.g. a line break in the address
            raise DeliveryError(f"{where}: cannot build the message: {exc}") from exc
        try:
            with smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout) as smtp:
                if cfg.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if cfg.username:
                    smtp.login(cfg.username, cfg.password or "")
                refused = smtp.send_message(message)
        except UnicodeEncodeError as exc:
            # smtplib sends AUTH and plain envelopes as ASCII; the text may hold the password.
            raise DeliveryError(
                f"{where}: non-ASCII text where SMTP needs ASCII (username, password or address)"
            ) from exc
        except smtplib.SMTPAuthenticationError as exc:
            # The server's reply only; the password is never part of the text.
            raise DeliveryError(
                f"{where}: login as {cfg.username!r} refused: {exc.smtp_code} {_reply(exc)}"
            ) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"{where}: recipient refused: {exc.recipients}") from exc
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(f"{where}: server answered {exc.smtp_code} {_reply(exc)}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"{where}: {type(exc).__name__}: {exc}") from exc
        if refused:
            raise DeliveryError(f"{where}: recipient refused: {refused}")
        logger.debug("sent %s", where)


def _reply(exc: smtplib.SMTPResponseException) -> str:
    """SMTP replies arrive as bytes; errors want text."""
    error = exc.smtp_error
    return error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirected POST would silently turn into a GET; treat it as an error instead."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _http_url(url: str, what: str) -> str:
    """Only http(s) URLs are accepted, so urllib never opens a file:// or ftp:// URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{what} must be an http:// or https:// URL, got {url!r}")
    return url


def _post_json(
    url: str, payload: dict[str, Any], *, token: str | None, timeout: float, where: str
) -> bytes:
    """POSTs JSON and returns the answer's body; anything but a 2xx is a ``DeliveryError``."""
    headers = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")  # noqa: S310
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            status: int = response.status
            answer: bytes = response.read()
    except urllib.error.HTTPError as exc:
        detail = _snippet(exc.read() if exc.fp is not None else b"")
        raise DeliveryError(f"{where}: HTTP {exc.code} {exc.reason}{detail}") from exc
    except urllib.error.URLError as exc:
        raise DeliveryError(f"{where}: {exc.reason}") from exc
    except (OSError, ValueError) as exc:  # timeouts, resets, malformed answers
        raise DeliveryError(f"{where}: {type(exc).__name__}: {exc}") from exc
    if not 200 <= status < 300:
        raise DeliveryError(f"{where}: HTTP {status}{_snippet(answer)}")
    return answer


def _snippet(body: bytes) -> str:
    """The start of an error answer, which usually says what the gateway disliked."""
    text = body.decode("utf-8", "replace").strip()
    if not text:
        return ""
    if len(text) > _ERROR_BODY_CHARS:
        text = text[:_ERROR_BODY_CHARS] + "…"
    return f": {text}"


class HttpSmsChannel:
    """Sends SMS through an HTTP gateway that takes ``{"phone", "message"}`` as JSON."""

    name: str = "sms"

    def __init__(self, config: SmsConfig) -> None:
        self.config = config
        self.url = _http_url(config.url, "[sms] url")

    def send(self, recipient: str, subject: str | None, body: str) -> None:
        """SMS has no subject; the body is the whole text."""
        where = f"sms to {recipient!r} via {self.url}"
        _post_json(
            self.url,
            {"phone": recipient, "message": body},
            token=self.config.token,
            timeout=self.config.timeout,
            where=where,
        )
        logger.debug("sent %s", where)


class WebhookChannel:
    """Posts text to a group robot (WeCom / DingTalk style); the robot's group is the audience."""

    def __init__(self, url: str, *, name: str = "webhook", timeout: float = 10.0) -> None:
        self.name = name
        self.url = _http_url(url, "webhook url")
        self.timeout = timeout

    def send(self, recipient: str, subject: str | None, body: str) -> None:
        """Robots answer 200 with ``errcode`` != 0 on refusal, so the answer is checked too."""
        # The URL usually carries the robot's key; only its host goes into errors.
        where = f"webhook {self.name!r} to {urlsplit(self.url).netloc}"
        answer = _post_json(
            self.url,
            {"msgtype": "text", "text": {"content": body}},
            token=None,
            timeout=self.timeout,
            where=where,
        )
        try:
            parsed = json.loads(answer) if answer.strip() else {}
        except ValueError:
            parsed = {}
        if isinstance(parsed, dict) and parsed.get("errcode", 0) not in (0, "0", None):
            code, message = parsed.get("errcode"), parsed.get("errmsg", "")
            raise DeliveryError(f"{where}: robot refused: errcode {code} {message}")
        logger.debug("sent %s", where)


def channels_from_config(config: Config) -> dict[str, Channel]:
    """The channels a deployment configured, by the name outbox rows refer to."""
    channels: dict[str, Channel] = {"email": EmailChannel(config.smtp)}
    if config.sms.kind == "http":
        channels["sms"] = HttpSmsChannel(config.sms)
    if config.notify.webhook_url:
        channels["webhook"] = WebhookChannel(config.notify.webhook_url)
    return channels
