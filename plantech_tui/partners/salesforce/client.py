"""The async Salesforce REST client (SALESFORCE_FSC_API.md): OAuth device flow, refresh,
revoke, identity; SOQL queries paged by `nextRecordsUrl`; describe; the error table.

One `SalesforceClient` holds one `httpx.AsyncClient` for both hosts (the login host for
OAuth, the token's `instance_url` for data); concurrent tasks of one pull share it, and an
`asyncio.Semaphore(max_in_flight)` bounds the requests on the wire. A 401 INVALID_SESSION_ID
refreshes the access token once (concurrent requests share that one refresh) and retries the
request once; a second 401 or a dead refresh token is "reconnect needed", never retried.
REQUEST_LIMIT_EXCEEDED stops (never retried); 5xx and network errors are retried with
backoff (`partners.http.RetryPolicy`).

Tokens never reach a log record, an exception message or a repr: every message is scrubbed
of every token this client has held, and the request log carries only method, path (never a
query's text), status and elapsed time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import httpx

from ..base import (
    BadResponse,
    DeviceCode,
    Forbidden,
    InvalidCredentials,
    PartnerError,
    PartnerNotFound,
    PartnerTimeout,
    RateLimited,
    ServerError,
    Unreachable,
    secret_fields,
)
from ..http import (
    TAG,
    Failure,
    RetryPolicy,
    attempts_text,
    network_reason,
    one_line,
    parse_retry_after,
    read_capped_body,
    scrub,
    tls_context,
    validate_base_url,
)

__all__ = [
    "API_VERSION",
    "DEVICE_TIMEOUT",
    "DeadCursor",
    "InvalidField",
    "InvalidType",
    "MAX_PAGES",
    "MAX_RESPONSE_BYTES",
    "SalesforceClient",
    "Tokens",
    "device_login",
    "like_literal",
    "revoke_token",
    "soql_literal",
    "valid_id",
]

logger = logging.getLogger("plantech.salesforce")

NAME = "Salesforce"
API_VERSION = "61.0"  # the first with the standard FSC objects; the highest listed otherwise
MAX_PAGES = 1000  # a query stops after this many pages (tests set a small cap on the module)
MAX_RESPONSE_BYTES = 10 * 1024 * 1024  # the most of one answer the client reads
DEVICE_TIMEOUT = 600.0  # the device flow gives up after 10 minutes
LIMIT_WARNING = 0.8  # warn when the org has used this share of its daily API requests
_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")
_LIMIT = re.compile(r"api-usage=(\d+)/(\d+)")
_NO_COLUMN = re.compile(r"No such column '([^']+)'", re.IGNORECASE)


# --------------------------------------------------------------------------- SOQL quoting


def soql_literal(text: str) -> str:
    """A quoted SOQL string literal: `\\` first, then quotes and the escapes SOQL knows.
    Control characters other than newline and tab are dropped (SOQL has no escape for
    them, and no name or e-mail needs one)."""
    out = text.replace("\\", "\\\\").replace("'", "\\'").replace('"', '\\"')
    out = out.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    out = "".join(ch for ch in out if ch.isprintable())
    return f"'{out}'"


def like_literal(text: str) -> str:
    """A SOQL LIKE pattern matching `text` anywhere, its own % and _ taken literally."""
    inner = soql_literal(text)[1:-1].replace("%", "\\%").replace("_", "\\_")
    return f"'%{inner}%'"


def valid_id(value: str) -> bool:
    """A 15- or 18-character Salesforce id (letters and digits only): checked before it goes
    into a query, so an id can never carry SOQL."""
    return bool(_ID.fullmatch(value or ""))


def id_list(ids: Iterable[str]) -> str:
    """`('001…', '001…')` for IN, every id checked first."""
    checked = []
    for value in ids:
        if not valid_id(value):
            raise ValueError(f"not a Salesforce id: {one_line(value, 40)!r}")
        checked.append(f"'{value}'")
    if not checked:
        raise ValueError("an IN list needs at least one id")
    return "(" + ", ".join(checked) + ")"


# --------------------------------------------------------------------------- errors


class InvalidField(BadResponse):
    """400 INVALID_FIELD: a field absent from the org or hidden by field-level security."""

    kind = "invalid_field"

    def __init__(self, message: str, *, status: int | None = None, field: str = "") -> None:
        super().__init__(message, status=status)
        self.field = field


class InvalidType(BadResponse):
    """400 INVALID_TYPE: an object this org (or user) does not have."""

    kind = "invalid_type"


class DeadCursor(BadResponse):
    """400 INVALID_QUERY_LOCATOR: a `nextRecordsUrl` that expired; the query runs again."""

    kind = "dead_cursor"


# --------------------------------------------------------------------------- tokens


@dataclass(frozen=True, repr=False)
class Tokens:
    """One integration's OAuth tokens and where they work: the stored secret (JSON)."""

    access_token: str
    refresh_token: str
    instance_url: str
    login_url: str
    client_id: str

    def __repr__(self) -> str:
        return f"Tokens(instance_url={self.instance_url!r}, tokens=***)"

    __str__ = __repr__

    def to_secret(self) -> str:
        return json.dumps({"access_token": self.access_token,
                           "refresh_token": self.refresh_token,
                           "instance_url": self.instance_url, "login_url": self.login_url,
                           "client_id": self.client_id})

    @classmethod
    def from_secret(cls, secret: str) -> Tokens:
        """Parse `to_secret`'s form; ValueError (with no secret in it) otherwise."""
        values = secret_fields(secret, ("access_token", "refresh_token", "instance_url",
                                        "login_url", "client_id"))
        if not values["refresh_token"]:
            raise ValueError("stored secret lacks refresh_token")
        return cls(**values)

    def secrets(self) -> tuple[str, ...]:
        return (self.access_token, self.refresh_token)


# --------------------------------------------------------------------------- one exchange


@dataclass
class _Answer:
    status: int
    data: Any
    headers: httpx.Headers = field(default_factory=httpx.Headers)


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"), parse_float=Decimal, parse_constant=Decimal)
    except (ValueError, RecursionError, UnicodeDecodeError):
        return None


def _rest_error(data: Any) -> tuple[str, str]:
    """(errorCode, message) of a REST error body `[{"message","errorCode"}]` (or an OAuth
    `{"error","error_description"}`), leniently."""
    if isinstance(data, list) and data and isinstance(data[0], dict):
        data = data[0]
    if isinstance(data, dict):
        code = data.get("errorCode", data.get("error", ""))
        message = data.get("message", data.get("error_description", ""))
        return (code if isinstance(code, str) else "",
                message if isinstance(message, str) else "")
    return "", ""


class _Http:
    """The shared plumbing of the client and the login functions: one request, capped, timed,
    classified; secrets scrubbed from every message."""

    def __init__(self, *, transport: httpx.AsyncBaseTransport | None, timeout: float,
                 max_in_flight: int, max_response_bytes: int) -> None:
        limits = httpx.Limits(max_connections=max_in_flight,
                              max_keepalive_connections=max_in_flight)
        if transport is None:
            transport = httpx.AsyncHTTPTransport(limits=limits, retries=0, verify=tls_context())
        self.timeout = float(timeout)
        self.max_response_bytes = max_response_bytes
        self.http = httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(self.timeout),
                                      follow_redirects=False,
                                      headers={"Accept": "application/json",
                                               "User-Agent": "plantech-tui"})
        self.known_secrets: list[str] = []
        self.request_count = 0

    def scrub(self, text: str) -> str:
        return scrub(text, self.known_secrets)

    async def exchange(self, method: str, url: str, *, what: str,
                       headers: Mapping[str, str] | None = None,
                       data: Mapping[str, str] | None = None,
                       params: Mapping[str, str] | None = None) -> _Answer:
        """One request; network failures and timeouts raise Unreachable / PartnerTimeout
        (the caller decides whether to retry); any status comes back as an _Answer."""
        self.request_count += 1
        log_path = urllib.parse.urlsplit(url).path
        started = time.monotonic()
        try:
            async with (
                asyncio.timeout(self.timeout),
                self.http.stream(method, url, headers=headers, data=data,
                                 params=params) as response,
            ):
                body = await read_capped_body(response, self.max_response_bytes,
                                              lambda: self._too_large(what, log_path))
        except (httpx.TimeoutException, TimeoutError):
            logger.debug("%s %s -> timeout", method, log_path)
            raise PartnerTimeout(f"{NAME} did not answer {what} within {self.timeout:g} s"
                                 ) from None
        except httpx.TransportError as exc:
            reason = network_reason(exc, self.scrub)
            logger.debug("%s %s -> network error", method, log_path)
            host = urllib.parse.urlsplit(url).netloc
            raise Unreachable(f"cannot reach {NAME} at {host}: {reason}") from None
        except httpx.HTTPError as exc:
            reason = one_line(self.scrub(str(exc) or type(exc).__name__), 120)
            raise BadResponse(f"{NAME} sent an unreadable answer for {what}: {reason}"
                              ) from None
        logger.debug("%s %s -> %d in %.0f ms", method, log_path, response.status_code,
                      (time.monotonic() - started) * 1000)
        if 200 <= response.status_code < 300:
            data_out = self._json(bytes(body), what, response)
        else:
            data_out = _json_or_none(bytes(body))
            if data_out is None:  # an HTML error page: its title is enough
                text = bytes(body).decode("utf-8", errors="replace")
                data_out = {"message": one_line(TAG.sub(" ", self.scrub(text)), 120)}
        return _Answer(response.status_code, data_out, response.headers)

    def _json(self, body: bytes, what: str, response: httpx.Response) -> Any:
        if not body.strip():
            return None
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadResponse(f"{NAME} sent invalid UTF-8 for {what} (at byte {exc.start})",
                              status=response.status_code) from None
        try:
            return json.loads(text, parse_float=Decimal, parse_constant=Decimal)
        except (ValueError, RecursionError):
            kind = response.headers.get("content-type", "no content type").split(";")[0]
            snippet = one_line(TAG.sub(" ", self.scrub(text)), 60)
            raise BadResponse(f"{NAME} sent an unreadable answer for {what}: not JSON ({kind})"
                              + (f": {snippet!r}" if snippet else ""),
                              status=response.status_code) from None

    def _too_large(self, what: str, log_path: str) -> BadResponse:
        cap = self.max_response_bytes
        size = f"{cap // 1048576} MB" if cap % 1048576 == 0 else f"{cap} bytes"
        return BadResponse(f"{NAME} sent a response over {size} from {log_path} for {what}; "
                           "stopped reading it")

    async def aclose(self) -> None:
        await self.http.aclose()


def _oauth_failure(answer: _Answer, what: str, scrubbed: Callable[[str], str]) -> PartnerError:
    """An OAuth endpoint's refusal as the error the user reads."""
    code, message = _rest_error(answer.data)
    detail = one_line(scrubbed(message or code or f"HTTP {answer.status}"), 200)
    if code == "invalid_grant":
        return InvalidCredentials(f"{NAME} refused the stored login ({detail}): reconnect "
                                  "needed", status=answer.status)
    if code in ("invalid_client_id", "invalid_client"):
        return InvalidCredentials(f"{NAME} does not know this client id ({detail}): use the "
                                  "consumer key of the firm's connected app, with device flow "
                                  "on", status=answer.status)
    if answer.status >= 500:
        return ServerError(f"{NAME} server error on {what} ({detail})", status=answer.status)
    return BadResponse(f"{NAME} refused {what}: {detail}", status=answer.status)


# --------------------------------------------------------------------------- login


Sleep = Callable[[float], Awaitable[None]]


async def device_login(login_url: str, client_id: str, *,
                       transport: httpx.AsyncBaseTransport | None = None,
                       prompt: Callable[[DeviceCode], None] | None = None,
                       sleep: Sleep = asyncio.sleep, give_up: float = DEVICE_TIMEOUT,
                       timeout: float = 15.0) -> tuple[Tokens, str]:
    """The OAuth 2.0 device flow as Salesforce runs it: ask for a code, show it (`prompt`),
    poll with `grant_type=device` every `interval` s until the user approves it in a browser;
    then read who logged in. Returns (tokens, username)."""
    login = validate_base_url(login_url, f"{NAME} login")
    client_id = (client_id or "").strip()
    http = _Http(transport=transport, timeout=timeout, max_in_flight=2,
                 max_response_bytes=1024 * 1024)
    token_url = f"{login}/services/oauth2/token"
    try:
        answer = await http.exchange("POST", token_url, what="the device code", data={
            "response_type": "device_code", "client_id": client_id,
            "scope": "api refresh_token"})
        if answer.status != 200 or not isinstance(answer.data, dict):
            raise _oauth_failure(answer, "the device code", http.scrub)
        doc = answer.data
        device_code, user_code = doc.get("device_code"), doc.get("user_code")
        url = doc.get("verification_uri")
        if not all(isinstance(v, str) and v for v in (device_code, user_code, url)):
            raise BadResponse(f"{NAME} sent an unreadable device-code answer")
        assert isinstance(device_code, str) and isinstance(user_code, str)
        assert isinstance(url, str)
        http.known_secrets.append(device_code)
        try:
            interval = max(0.0, float(doc.get("interval", 5)))
        except (TypeError, ValueError):
            interval = 5.0
        if prompt is not None:
            prompt(DeviceCode(url=one_line(url, 300), code=one_line(user_code, 40),
                              partner=NAME, interval=interval))
        waited = 0.0
        while True:
            answer = await http.exchange("POST", token_url, what="the login", data={
                "grant_type": "device", "client_id": client_id, "code": device_code})
            if answer.status == 200 and isinstance(answer.data, dict):
                break
            code, message = _rest_error(answer.data)
            if code == "authorization_pending":
                pass
            elif code == "slow_down":
                interval += 5
            elif code == "access_denied":
                raise InvalidCredentials(f"the login was denied in the browser "
                                         f"({one_line(http.scrub(message or code), 120)})",
                                         status=answer.status)
            else:
                raise _oauth_failure(answer, "the login", http.scrub)
            if waited >= give_up:
                raise PartnerTimeout(f"nobody approved the {NAME} login within "
                                     f"{give_up / 60:g} minutes: try again")
            await sleep(interval)
            waited += max(interval, 0.001)
        tokens = _tokens_from(answer.data, login, client_id, None)
        http.known_secrets += tokens.secrets()
        username = await _username(http, answer.data, tokens)
        return tokens, username
    finally:
        await http.aclose()


def _tokens_from(doc: Mapping[str, Any], login_url: str, client_id: str,
                 previous: Tokens | None) -> Tokens:
    access = doc.get("access_token")
    refresh = doc.get("refresh_token") or (previous.refresh_token if previous else None)
    instance = doc.get("instance_url") or (previous.instance_url if previous else None)
    if not isinstance(access, str) or not access:
        raise BadResponse(f"{NAME} sent a token answer without an access token")
    if not isinstance(refresh, str) or not refresh:
        raise BadResponse(f"{NAME} sent no refresh token: the connected app needs the "
                          "refresh_token (offline access) scope")
    if not isinstance(instance, str):
        raise BadResponse(f"{NAME} sent a token answer without an instance URL")
    instance = validate_base_url(instance, f"{NAME} instance")
    return Tokens(access_token=access, refresh_token=refresh, instance_url=instance,
                  login_url=login_url, client_id=client_id)


async def _username(http: _Http, doc: Mapping[str, Any], tokens: Tokens) -> str:
    """The identity URL's `username` (on the login host); the id itself if it says nothing."""
    identity = doc.get("id")
    if not isinstance(identity, str) or not identity:
        return "salesforce user"
    parts = urllib.parse.urlsplit(identity)
    login_host = urllib.parse.urlsplit(tokens.login_url).netloc
    instance_host = urllib.parse.urlsplit(tokens.instance_url).netloc
    if parts.netloc not in (login_host, instance_host):  # never send a token elsewhere
        return one_line(parts.path.rsplit("/", 1)[-1] or "salesforce user", 80)
    answer = await http.exchange("GET", identity, what="who logged in",
                                 headers={"Authorization": f"Bearer {tokens.access_token}"})
    if answer.status == 200 and isinstance(answer.data, dict):
        name = answer.data.get("username") or answer.data.get("preferred_username")
        if isinstance(name, str) and name.strip():
            return one_line(name, 120)
    return one_line(parts.path.rsplit("/", 1)[-1] or "salesforce user", 80)


async def revoke_token(tokens: Tokens, *, transport: httpx.AsyncBaseTransport | None = None,
                       timeout: float = 15.0) -> None:
    """Revoke the refresh token (its access tokens go with it). An unknown token (already
    revoked) is not an error."""
    http = _Http(transport=transport, timeout=timeout, max_in_flight=1,
                 max_response_bytes=1024 * 1024)
    http.known_secrets += tokens.secrets()
    try:
        answer = await http.exchange("POST", f"{tokens.login_url}/services/oauth2/revoke",
                                     what="the revocation", data={"token": tokens.refresh_token})
    finally:
        await http.aclose()
    code, _ = _rest_error(answer.data)
    if answer.status == 200 or code == "invalid_token":
        return
    raise _oauth_failure(answer, "the revocation", http.scrub)


# --------------------------------------------------------------------------- the client


class SalesforceClient:
    """An async client for one org, with one integration's tokens."""

    def __init__(self, tokens: Tokens, *, save_secret: Callable[[str], None] | None = None,
                 max_in_flight: int = 8, timeout: float = 15.0,
                 retry: RetryPolicy | None = None,
                 transport: httpx.AsyncBaseTransport | None = None,
                 max_response_bytes: int = MAX_RESPONSE_BYTES) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.tokens = tokens
        self.instance_url = validate_base_url(tokens.instance_url, f"{NAME} instance")
        self._save_secret = save_secret
        self._retry = retry or RetryPolicy()
        self._http = _Http(transport=transport, timeout=timeout, max_in_flight=max_in_flight,
                           max_response_bytes=max_response_bytes)
        self._http.known_secrets += tokens.secrets()
        self._semaphore = asyncio.Semaphore(max_in_flight)
        self._refresh_lock = asyncio.Lock()
        self._generation = 0  # bumped by each refresh: a request refreshes only its own token
        self._version: asyncio.Future[str] | None = None
        self.api_usage: tuple[int, int] | None = None  # (used, max) of the org's daily requests
        self.limit_warned = False
        self.refreshes = 0

    @property
    def request_count(self) -> int:
        return self._http.request_count

    def __repr__(self) -> str:
        return f"<SalesforceClient {self.instance_url}, requests={self.request_count}>"

    __str__ = __repr__

    async def aclose(self) -> None:
        if self._version is not None and not self._version.done():
            self._version.cancel()
        await self._http.aclose()

    async def __aenter__(self) -> SalesforceClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- what the partner asks

    async def version(self) -> str:
        """`v61.0` if the org lists it, else the highest it lists (fetched once, no auth)."""
        if self._version is None:
            async def pick() -> str:
                answer = await self._send("GET", f"{self.instance_url}/services/data/",
                                          what="the API versions", auth=False)
                listed = answer.data if isinstance(answer.data, list) else []
                versions = []
                for item in listed:
                    text = item.get("version") if isinstance(item, dict) else None
                    try:
                        versions.append((float(text), str(text)))  # type: ignore[arg-type]
                    except (TypeError, ValueError):
                        continue
                if not versions:
                    raise BadResponse(f"{NAME} listed no API versions")
                if any(v == API_VERSION for _, v in versions):
                    return API_VERSION
                return max(versions)[1]

            self._version = asyncio.ensure_future(pick())
        return await asyncio.shield(self._version)

    async def data_url(self, path: str) -> str:
        return f"{self.instance_url}/services/data/v{await self.version()}/{path.lstrip('/')}"

    async def sobjects(self) -> set[str]:
        """The objects this user may see."""
        answer = await self._send("GET", await self.data_url("sobjects/"),
                                  what="the object list")
        items = answer.data.get("sobjects") if isinstance(answer.data, dict) else None
        if not isinstance(items, list):
            raise BadResponse(f"{NAME} sent an unreadable object list")
        return {i["name"] for i in items if isinstance(i, dict) and isinstance(i.get("name"), str)}

    async def describe(self, sobject: str) -> dict[str, Any]:
        answer = await self._send("GET", await self.data_url(f"sobjects/{sobject}/describe"),
                                  what=f"the description of {sobject}")
        if not isinstance(answer.data, dict) or not isinstance(answer.data.get("fields"), list):
            raise BadResponse(f"{NAME} sent an unreadable description of {sobject}")
        return answer.data

    async def query(self, soql: str, *, what: str, all_rows: bool = False
                    ) -> tuple[list[dict[str, Any]], bool]:
        """Every record of a SOQL query over all pages: (records, cut). Stops when `done`, on
        a missing `nextRecordsUrl`, an empty page, a page of ids already seen, or after
        MAX_PAGES pages (cut). A cursor that died mid-way runs the query again, once."""
        for attempt in (1, 2):
            try:
                return await self._query_once(soql, what=what, all_rows=all_rows)
            except DeadCursor:
                if attempt == 2:
                    raise
                logger.info("%s: the query cursor expired; running the query again", what)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _query_once(self, soql: str, *, what: str, all_rows: bool
                          ) -> tuple[list[dict[str, Any]], bool]:
        url = await self.data_url("queryAll" if all_rows else "query")
        params: dict[str, str] | None = {"q": soql}
        out: list[dict[str, Any]] = []
        seen: set[str] = set()
        for page in range(1, MAX_PAGES + 1):
            page_what = what if page == 1 else f"{what} (page {page})"
            answer = await self._send("GET", url, what=page_what, params=params)
            doc = answer.data
            records = doc.get("records") if isinstance(doc, dict) else None
            if not isinstance(records, list):
                raise BadResponse(f"{NAME} sent an unreadable answer for {page_what}: no "
                                  "records")
            fresh = 0
            for record in records:
                if not isinstance(record, dict):
                    raise BadResponse(f"{NAME} sent an unreadable record in {page_what}")
                rid = record.get("Id")
                key = rid if isinstance(rid, str) else json.dumps(record, default=str,
                                                                  sort_keys=True)
                if key in seen:
                    continue
                seen.add(key)
                out.append(record)
                fresh += 1
            next_url = doc.get("nextRecordsUrl") if isinstance(doc, dict) else None
            if doc.get("done", True) is not False or not records or not fresh:
                return out, False
            if not isinstance(next_url, str) or not next_url.startswith("/services/data/"):
                return out, False
            url, params = self.instance_url + next_url, None
        logger.warning("%s: stopped after %d pages", what, MAX_PAGES)
        return out, True

    # -- one request: auth, refresh once, retries, the error table

    async def _send(self, method: str, url: str, *, what: str,
                    params: Mapping[str, str] | None = None, auth: bool = True) -> _Answer:
        refreshed = False
        attempts = self._retry.attempts
        attempt = 0
        while True:
            attempt += 1
            generation = self._generation
            headers = {"Authorization": f"Bearer {self.tokens.access_token}"} if auth else {}
            try:
                async with self._semaphore:
                    answer = await self._http.exchange(method, url, what=what, params=params,
                                                       headers=headers)
            except (Unreachable, PartnerTimeout) as exc:
                if attempt >= attempts:
                    raise type(exc)(f"{exc.message} ({attempts_text(attempt)})") from None
                await self._retry.sleep(self._retry.delay(attempt))
                continue
            self._note_limits(answer.headers)
            if 200 <= answer.status < 300:
                return answer
            code, message = _rest_error(answer.data)
            detail = one_line(self._http.scrub(message or code or f"HTTP {answer.status}"), 300)
            if answer.status == 401 and auth:
                if refreshed:
                    raise InvalidCredentials(f"{NAME} refused the session again after a "
                                             f"refresh ({detail}): reconnect needed",
                                             status=401)
                await self._refresh(generation)
                refreshed = True
                attempt -= 1  # the retry after a refresh is not a failed attempt
                continue
            outcome = self._classify(answer, code, detail, what, attempt, attempts)
            if attempt >= attempts:
                raise outcome.error
            await self._retry.sleep(self._retry.delay(attempt, outcome.retry_after))

    def _classify(self, answer: _Answer, code: str, detail: str, what: str, attempt: int,
                  attempts: int) -> Failure:
        """A failed answer: raises what is never retried, returns what may be."""
        status = answer.status
        if status == 403 and code == "REQUEST_LIMIT_EXCEEDED":
            raise RateLimited(f"{NAME} API request limit reached on {what} ({detail}): the "
                              "org's daily allowance is used up; nothing was retried",
                              status=status)
        if status == 403:
            raise Forbidden(f"{NAME} refused access to {what} ({detail})", status=status)
        if status == 404:
            raise PartnerNotFound(f"{NAME} has no {what.removeprefix('the ')} ({detail})",
                                  status=status)
        if status == 400:
            if code == "INVALID_FIELD":
                found = _NO_COLUMN.search(detail)
                raise InvalidField(f"{NAME} refused {what}: {detail}", status=status,
                                   field=found.group(1) if found else "")
            if code == "INVALID_TYPE":
                raise InvalidType(f"{NAME} refused {what}: {detail}", status=status)
            if code == "INVALID_QUERY_LOCATOR":
                raise DeadCursor(f"{NAME} expired the cursor of {what}", status=status)
            if code == "MALFORMED_QUERY":
                raise BadResponse(f"{NAME} refused the query PlanTech built for {what} "
                                  f"(MALFORMED_QUERY: {detail}): please report this",
                                  status=status)
            raise BadResponse(f"{NAME} refused {what}: {code or 'HTTP 400'} {detail}",
                              status=status)
        if status == 429 or status >= 500:
            tried = f", {attempts_text(attempt)}" if attempt >= attempts and attempts > 1 else ""
            cls = RateLimited if status == 429 else ServerError
            return Failure(cls(f"{NAME} server error on {what} ({detail}, HTTP {status}"
                               f"{tried})", status=status),
                           retry_after=parse_retry_after(answer.headers.get("Retry-After")))
        raise BadResponse(f"{NAME} answered {what} with an unexpected HTTP {status} ({detail})",
                          status=status)

    async def _refresh(self, generation: int) -> None:
        """A new access token with the refresh token, once for every request that saw the
        old one die; a rotated refresh token is kept; the new secret goes to `save_secret`."""
        async with self._refresh_lock:
            if self._generation != generation:
                return  # another request refreshed meanwhile
            tokens = self.tokens
            answer = await self._http.exchange(
                "POST", f"{tokens.login_url}/services/oauth2/token", what="the token refresh",
                data={"grant_type": "refresh_token", "refresh_token": tokens.refresh_token,
                      "client_id": tokens.client_id})
            if answer.status != 200 or not isinstance(answer.data, dict):
                error = _oauth_failure(answer, "the token refresh", self._http.scrub)
                if answer.status == 400:
                    raise InvalidCredentials(error.message if "reconnect" in error.message
                                             else f"{error.message}: reconnect needed",
                                             status=400)
                raise error
            fresh = _tokens_from(answer.data, tokens.login_url, tokens.client_id, tokens)
            fresh = replace(fresh, instance_url=tokens.instance_url)  # data stays on its host
            self._http.known_secrets += fresh.secrets()
            self.tokens = fresh
            self._generation += 1
            self.refreshes += 1
            logger.info("%s: access token refreshed", NAME)
            if self._save_secret is not None:
                self._save_secret(fresh.to_secret())

    def _note_limits(self, headers: httpx.Headers) -> None:
        found = _LIMIT.search(headers.get("Sforce-Limit-Info", ""))
        if not found:
            return
        used, most = int(found.group(1)), int(found.group(2))
        self.api_usage = (used, most)
        if most and used >= LIMIT_WARNING * most and not self.limit_warned:
            self.limit_warned = True
            logger.warning("%s: the org has used %d of its %d daily API requests (%.0f %%)",
                           NAME, used, most, 100 * used / most)
