"""HTTP plumbing every partner client shares: the retry policy, base-URL validation, one-line
safe server messages, secret scrubbing, capped body reads, and why a connection failed.

Secrets never reach a message built here: every text passes through the caller's `scrub`
before it is shortened (a cut secret would escape scrubbing).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import ipaddress
import json
import random
import re
import socket
import ssl
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime

import httpx

from ..domain.errors import ValidationFailed
from ..domain.text import clean_line
from .base import PartnerError

__all__ = [
    "ERROR_BODY_CAP",
    "Failure",
    "TAG",
    "RETRY_AFTER_CAP",
    "RetryPolicy",
    "attempts_text",
    "b64",
    "network_reason",
    "one_line",
    "parse_retry_after",
    "read_capped_body",
    "scrub",
    "server_text",
    "tls_context",
    "validate_base_url",
]

ERROR_BODY_CAP = 1024 * 1024  # an error answer is read only this far: its message is enough
RETRY_AFTER_CAP = 60.0
_MESSAGE_CAP = 200


# --------------------------------------------------------------------------- retry policy


async def _default_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff and jitter.

    `attempts` counts every try (1 = no retry). The n-th wait is
    `min(max_delay, base_delay * 2**(n-1))`, shortened by up to `jitter` of itself at random;
    a `Retry-After` (capped at `retry_after_cap`) is a floor. `sleep` is awaited for every wait,
    so tests can record (and skip) them.
    """

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    jitter: float = 0.25
    retry_after_cap: float = RETRY_AFTER_CAP
    sleep: Callable[[float], Awaitable[None]] = field(default=_default_sleep, compare=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("RetryPolicy.jitter must be between 0 and 1")

    def delay(self, retry_number: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry `retry_number` (1-based)."""
        backoff = min(self.max_delay, self.base_delay * (2 ** max(0, retry_number - 1)))
        backoff *= 1.0 - self.jitter * random.random()
        if retry_after is not None:
            return max(backoff, min(max(retry_after, 0.0), self.retry_after_cap))
        return backoff


# --------------------------------------------------------------------------- helpers


def validate_base_url(url: str, partner: str) -> str:
    """A partner's API root, e.g. ``https://crm.redtailtechnology.com/api/public/v1``, without
    a trailing "/"; messages call it "the {partner} base URL". https is required, except http:// for loopback hosts (127.0.0.0/8, ::1,
    localhost)."""
    text = (url or "").strip()
    if not text:
        raise ValidationFailed(f"the {partner} base URL is empty", field="base_url")
    if any(ch.isspace() for ch in text):
        raise ValidationFailed(f"the {partner} base URL must not contain spaces", field="base_url")
    if not text.isprintable():
        raise ValidationFailed(f"the {partner} base URL must not contain control characters",
                               field="base_url")
    shown = one_line(text, 120)
    try:
        parts = urllib.parse.urlsplit(text)
    except ValueError as exc:  # e.g. an unbalanced IPv6 bracket
        raise ValidationFailed(f"the {partner} base URL is not valid ({exc}): {shown}",
                               field="base_url") from None
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"} or not parts.netloc:
        raise ValidationFailed(
            f"the {partner} base URL must start with https:// (got {shown})", field="base_url"
        )
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ValidationFailed(
            f"the {partner} base URL must not contain a user name or password", field="base_url"
        )
    host = parts.hostname or ""
    if not host:
        raise ValidationFailed(f"the {partner} base URL has no host: {shown}", field="base_url")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ValidationFailed(
            f"the {partner} base URL has a bad port: {shown}", field="base_url"
        ) from None
    if parts.query or parts.fragment:
        raise ValidationFailed(
            f"the {partner} base URL must not have a query or fragment: {shown}", field="base_url"
        )
    if scheme == "http" and not _is_loopback(host):
        raise ValidationFailed(
            f"the {partner} base URL must use https:// (http:// is allowed only for loopback "
            f"hosts such as 127.0.0.1): {shown}",
            field="base_url",
        )
    try:  # whatever else the HTTP client would refuse, refused here with a clear message
        httpx.URL(text)
    except httpx.InvalidURL as exc:
        raise ValidationFailed(f"the {partner} base URL is not valid ({one_line(str(exc), 80)}): "
                               f"{shown}", field="base_url") from None
    return text.rstrip("/")


def _is_loopback(host: str) -> bool:
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


_WS = re.compile(r"\s+")
TAG = re.compile(r"<[^>]*>")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_H1 = re.compile(r"<h1[^>]*>(.*?)</h1>", re.IGNORECASE | re.DOTALL)


def one_line(text: str, cap: int = _MESSAGE_CAP) -> str:
    return clean_line(text, cap)  # one line, no terminal controls or bidi overrides, capped


def server_text(body: str, scrub: Callable[[str], str]) -> str:
    """The human part of an error body: a JSON "message", an HTML title, or the text itself.

    `scrub` runs on the text before it is shortened (a cut secret would escape scrubbing)."""
    stripped = body.strip()
    if not stripped:
        return ""
    try:
        data = json.loads(stripped, parse_float=Decimal)
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict):
        for key in ("message", "error", "errors", "detail"):
            value = data.get(key)
            if isinstance(value, str) and value.strip():
                return one_line(scrub(value))
            if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
                return one_line(scrub("; ".join(value)))
        return ""
    if isinstance(data, str):
        return one_line(scrub(data))
    stripped = scrub(stripped)
    if stripped.startswith("<") or "<html" in stripped[:200].lower():
        match = _TITLE.search(stripped) or _H1.search(stripped)
        inner = match.group(1) if match else TAG.sub(" ", stripped)
        return one_line(TAG.sub(" ", inner))
    return one_line(stripped)


def parse_retry_after(value: str | None) -> float | None:
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)


def exception_chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def network_reason(exc: BaseException, scrub: Callable[[str], str]) -> str:
    """A short human reason for a connection failure (looks through the exception chain).

    `scrub` cleans exception text before it is shortened (a cut secret escapes scrubbing)."""
    chain = exception_chain(exc)
    for link in chain:
        if isinstance(link, ConnectionRefusedError):
            return "connection refused"
        if isinstance(link, socket.gaierror):
            return "host not found"
        if isinstance(link, ssl.SSLError):
            return "TLS error: " + one_line(scrub(str(link) or type(link).__name__), 120)
    text = " ".join(str(link) for link in chain)
    low = text.lower()
    if "refused" in low:
        return "connection refused"
    if "name or service not known" in low or "nodename nor servname" in low:
        return "host not found"
    if "certificate" in low or "ssl" in low:
        return "TLS error"
    if "unreachable" in low:
        return "network unreachable"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return "the connection was closed unexpectedly"
    if "all connection attempts failed" in low:
        return "connection failed"
    return one_line(scrub(str(exc) or type(exc).__name__), 120)


def attempts_text(n: int) -> str:
    return f"gave up after {n} attempt{'s' if n != 1 else ''}"


def b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


@dataclass
class Failure:
    """A retryable outcome: the error to raise if it is the last attempt."""

    error: PartnerError
    retry_after: float | None = None


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process: building one (loading the CA bundle) costs
    30-60 ms, which every pull would otherwise pay again. Verification stays on."""
    return httpx.create_ssl_context()



def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every form of every secret (as is, base64, URL-encoded) replaced by ***."""
    forms: set[str] = set()
    for secret in secrets:
        if not secret or len(secret) < 4:
            continue
        forms.update({secret, b64(secret), urllib.parse.quote(secret, safe=""),
                      urllib.parse.quote_plus(secret)})
    for form in sorted(forms, key=len, reverse=True):
        if len(form) >= 4:
            text = text.replace(form, "***")
    return text


async def read_capped_body(response: httpx.Response, cap: int,
                           too_large: Callable[[], PartnerError]) -> bytearray:
    """The body, read as it streams in and never past the cap: a success over `cap` (by its
    Content-Length before any of it is read, or once that much has arrived) raises
    `too_large()`; an error answer is read only as far as `ERROR_BODY_CAP` and the rest
    dropped (its message is all that is needed)."""
    success = 200 <= response.status_code < 300
    if not success:
        cap = min(cap, ERROR_BODY_CAP)
    else:
        try:
            declared = int(response.headers.get("content-length", ""))
        except ValueError:
            declared = None
        if declared is not None and declared > cap:
            raise too_large()
    body = bytearray()
    async for chunk in response.aiter_bytes():
        if len(body) + len(chunk) > cap:
            if not success:
                body += chunk[: cap - len(body)]
                break
            raise too_large()
        body += chunk
    return body
