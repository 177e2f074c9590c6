"""The async Redtail CRM client (REDTAIL_API.md).

One `RedtailClient` holds one `httpx.AsyncClient`; concurrent tasks of one pull share it, and an
`asyncio.Semaphore(max_in_flight)` bounds the requests on the wire. Transient failures (429, 5xx,
timeouts, connection errors, the "Gateway Time-out" 401) are retried with exponential backoff and
jitter (`partners.http.RetryPolicy`); `authenticate` is never retried (Redtail locks a login after
3 failures).

Secrets (API key, user key, password, and their base64 / URL-encoded forms) never reach a log
record, an exception message, or the repr of any object here: every message the client builds
is scrubbed, and the request log carries only method, path, page, status and elapsed time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from ..base import (
    AccountLocked,
    BadResponse,
    Forbidden,
    InvalidCredentials,
    PartnerError,
    PartnerNotFound,
    PartnerTimeout,
    RateLimited,
    ServerError,
    Unreachable,
)
from ..http import (
    TAG,
    Failure,
    RetryPolicy,
    attempts_text,
    b64,
    network_reason,
    one_line,
    parse_retry_after,
    read_capped_body,
    scrub,
    server_text,
    tls_context,
    validate_base_url,
)
from .models import (
    AuthResult,
    ContactFamily,
    LookupItem,
    RedtailAccount,
    RedtailContact,
    coerce_id,
)

__all__ = [
    "MAX_PAGES",
    "MAX_RESPONSE_BYTES",
    "RedtailClient",
]

logger = logging.getLogger("plantech.redtail")

MAX_PAGES = 1000  # read at each listing: tests set a small cap on the module
MAX_RESPONSE_BYTES = 10 * 1024 * 1024  # the most of one answer the client reads ("10 MB")
_M = TypeVar("_M", bound=BaseModel)


# --------------------------------------------------------------------------- helpers


def _meta_int(meta: object, key: str) -> int | None:
    if not isinstance(meta, dict):
        return None
    try:
        value = coerce_id(meta.get(key))
    except ValueError:
        return None
    return value if value >= 0 else None


class RedtailClient:
    """An async client for one Redtail integration (one API key, one user key)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        user_key: str | None = None,
        *,
        max_in_flight: int = 8,
        timeout: float = 15.0,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        page_size: int = 50,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        if max_response_bytes < 1:
            raise ValueError("max_response_bytes must be at least 1")
        self.base_url = validate_base_url(base_url, "Redtail")
        self._api_key = api_key
        self._user_key = user_key or None
        self._timeout = float(timeout)
        self._retry = retry or RetryPolicy()
        self._page_size = page_size
        self._max_response_bytes = max_response_bytes
        self.max_in_flight = max_in_flight
        self._semaphore = asyncio.Semaphore(max_in_flight)
        self._lookup_cache: dict[str, list[LookupItem]] = {}
        self._lookup_locks: dict[str, asyncio.Lock] = {}
        self.request_count = 0
        limits = httpx.Limits(
            max_connections=max_in_flight, max_keepalive_connections=max_in_flight
        )
        if transport is None:
            transport = httpx.AsyncHTTPTransport(limits=limits, retries=0, verify=tls_context())
        self._http = httpx.AsyncClient(
            base_url=self.base_url + "/",
            transport=transport,
            timeout=httpx.Timeout(self._timeout),
            follow_redirects=False,
            headers={"Accept": "application/json", "User-Agent": "plantech-tui"},
        )
        self._closed = False

    # -- lifecycle

    async def __aenter__(self) -> RedtailClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await self._http.aclose()

    def __repr__(self) -> str:
        state = "with user key" if self._user_key else "no user key"
        return f"<RedtailClient {self.base_url} ({state}), requests={self.request_count}>"

    __str__ = __repr__

    @property
    def has_user_key(self) -> bool:
        return self._user_key is not None

    # -- public calls

    async def authenticate(self, username: str, password: str) -> AuthResult:
        """Log in with a Redtail username and password; the client keeps the user key.

        Never retried: Redtail locks a login after 3 failures.
        """
        header = "Basic " + b64(f"{self._api_key}:{username}:{password}")
        data = await self._get(
            "authentication",
            what="the login",
            authorization=header,
            login=True,
            extra_secrets=(password, header.removeprefix("Basic ")),
        )
        inner = data.get("authenticated_user", data)
        if not isinstance(inner, dict):
            raise BadResponse(
                "Redtail sent an unreadable login answer: authenticated_user is not an object",
                status=200,
            )
        raw_key = inner.get("user_key")
        if not isinstance(raw_key, str) or not raw_key.strip():
            raise BadResponse("Redtail sent an unreadable login answer: no user_key", status=200)
        try:
            result = AuthResult.model_validate({**inner, "user_key": raw_key.strip()})
        except ValidationError:
            raise BadResponse("Redtail sent an unreadable login answer", status=200) from None
        self._user_key = result.user_key
        return result

    async def search_contacts(
        self,
        *,
        name: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        email: str | None = None,
        account_number: str | None = None,
        limit: int = 200,
    ) -> tuple[list[RedtailContact], bool]:
        """Contacts matching every given criterion, up to `limit`: (contacts, truncated)."""
        criteria = {
            "name": name,
            "first_name": first_name,
            "last_name": last_name,
            "email": email,
            "account_number": account_number,
        }
        params = {k: v.strip() for k, v in criteria.items() if v is not None and v.strip()}
        if not params:
            raise ValueError("search_contacts needs at least one criterion")
        if limit < 1:
            raise ValueError("limit must be at least 1")
        items, truncated = await self._list(
            "contacts/search",
            "contacts",
            RedtailContact,
            what="the contact search",
            item_what="contact",
            params=params,
            limit=limit,
            include="emails",
        )
        return items, truncated

    async def get_contact(self, contact_id: int) -> RedtailContact:
        what = f"contact {contact_id}"
        data = await self._get(f"contacts/{int(contact_id)}", what=what, include="emails")
        raw = self._envelope_object(data, "contact", what)
        return self._parse(RedtailContact, raw, what)

    async def contact_accounts(self, contact_id: int) -> list[RedtailAccount]:
        """Every live account of a contact, over all pages; `deleted: true` ones dropped."""
        return (await self.contact_accounts_listing(contact_id))[0]

    async def contact_accounts_listing(
        self, contact_id: int
    ) -> tuple[list[RedtailAccount], bool]:
        """`contact_accounts`, and whether the listing was cut at `MAX_PAGES`."""
        items, cut = await self._list(
            f"contacts/{int(contact_id)}/accounts",
            "accounts",
            RedtailAccount,
            what=f"the accounts of contact {contact_id}",
            item_what="account",
        )
        return [a for a in items if not a.deleted], cut

    async def get_account(self, account_id: int) -> RedtailAccount:
        what = f"account {account_id}"
        data = await self._get(f"accounts/{int(account_id)}", what=what)
        raw = self._envelope_object(data, "account", what)
        return self._parse(RedtailAccount, raw, what)

    async def contact_family(self, contact_id: int) -> ContactFamily:
        what = f"the family of contact {contact_id}"
        data = await self._get(f"contacts/{int(contact_id)}/family", what=what)
        if "contact_family" not in data:
            raise BadResponse(f"Redtail sent an unreadable answer for {what}: no contact_family")
        raw = data["contact_family"]
        if raw is None:
            return ContactFamily(id=None, name="", members=[])
        if not isinstance(raw, dict):
            raise BadResponse(
                f"Redtail sent an unreadable answer for {what}: contact_family is not an object"
            )
        return self._parse(ContactFamily, raw, what.removeprefix("the "))

    async def account_types(self) -> list[LookupItem]:
        return await self._lookup("lists/account_types", "account_types", "the account types")

    async def tax_qualified_types(self) -> list[LookupItem]:
        return await self._lookup(
            "lists/account_tax_qualified_types",
            "account_tax_qualified_types",
            "the tax-qualified types",
        )

    # -- listing and parsing

    async def _lookup(self, path: str, key: str, what: str) -> list[LookupItem]:
        """A lookup list, fetched once per client (concurrent callers share one fetch)."""
        lock = self._lookup_locks.setdefault(key, asyncio.Lock())
        async with lock:
            if key not in self._lookup_cache:
                items, _ = await self._list(path, key, LookupItem, what=what, item_what="entry")
                self._lookup_cache[key] = items
            return list(self._lookup_cache[key])

    async def _list(
        self,
        path: str,
        key: str,
        model: type[_M],
        *,
        what: str,
        item_what: str,
        params: Mapping[str, str] | None = None,
        limit: int | None = None,
        include: str | None = None,
    ) -> tuple[list[_M], bool]:
        """All records of a paged listing, deduplicated by id: (records, truncated).

        Stops at total_pages or total_records, on an empty page, on a page shorter than the
        first page, on a page whose ids all repeat, after `MAX_PAGES` pages, or (with `limit`)
        once more than `limit` records are known to exist; `truncated` for the last two.
        """
        out: list[_M] = []
        seen: set[int] = set()
        first_len: int | None = None
        page = 1
        while True:
            page_what = what if page == 1 else f"{what} (page {page})"
            data = await self._get(
                path,
                what=page_what,
                params={**(params or {}), "page": str(page)},
                paged=True,
                include=include,
            )
            raw_items = data.get(key)
            if key not in data or not isinstance(raw_items, list):
                got = "missing" if key not in data else f"a {type(raw_items).__name__}"
                raise BadResponse(
                    f"Redtail sent an unreadable answer for {page_what}: "
                    f"expected a list under {key!r}, got {got}"
                )
            meta = data.get("meta")
            total_pages = _meta_int(meta, "total_pages")
            total_records = _meta_int(meta, "total_records")
            if not raw_items:
                break
            fresh = 0
            for raw in raw_items:
                item = self._parse(model, raw, item_what, context=page_what)
                item_id = getattr(item, "id")  # noqa: B009 - every listed model has an id
                if item_id in seen:
                    continue
                seen.add(item_id)
                out.append(item)
                fresh += 1
            if fresh == 0:
                break
            if limit is not None and len(out) > limit:
                return out[:limit], True
            if first_len is None:
                first_len = len(raw_items)
            elif len(raw_items) < first_len:
                break
            if total_pages is not None and page >= total_pages:
                break
            if total_records is not None and len(seen) >= total_records:
                break
            if page >= MAX_PAGES:
                logger.warning("%s: stopped after %d pages", what, MAX_PAGES)
                return out, True
            page += 1
        return out, False

    def _envelope_object(self, data: dict[str, Any], key: str, what: str) -> dict[str, Any]:
        raw = data.get(key)
        if key not in data:
            raise BadResponse(f"Redtail sent an unreadable answer for {what}: no {key!r}")
        if not isinstance(raw, dict):
            raise BadResponse(
                f"Redtail sent an unreadable answer for {what}: {key!r} is not an object"
            )
        return raw

    def _parse(self, model: type[_M], raw: object, what: str, *, context: str | None = None) -> _M:
        where = f" in {context}" if context else ""
        if not isinstance(raw, dict):
            raise BadResponse(
                f"Redtail sent an unreadable {what}{where}: a {type(raw).__name__}, not an object"
            )
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            err = exc.errors(include_url=False, include_input=False, include_context=False)[0]
            loc = ".".join(str(p) for p in err["loc"]) or "record"
            msg = str(err["msg"]).removeprefix("Value error, ")
            ident = raw.get("id")
            name = what
            if what in {"account", "contact", "entry"} and ident is not None:
                name = f"{what} {one_line(str(ident), 40)}"
            raise BadResponse(
                self._scrub(f"Redtail sent an unreadable {name}{where}: {loc}: {msg}")
            ) from None

    # -- one request, with retries

    async def _get(
        self,
        path: str,
        *,
        what: str,
        params: Mapping[str, str] | None = None,
        paged: bool = False,
        include: str | None = None,
        authorization: str | None = None,
        login: bool = False,
        extra_secrets: Iterable[str] = (),
    ) -> dict[str, Any]:
        """GET a JSON object; retries transient failures (never for the login)."""
        secrets = tuple(extra_secrets)
        if authorization is None:
            if self._user_key is None:
                raise InvalidCredentials(
                    "no Redtail user key: the integration needs re-authentication"
                )
            authorization = "Userkeyauth " + b64(f"{self._api_key}:{self._user_key}")
        headers = {"Authorization": authorization}
        if paged:
            headers["pagesize"] = str(self._page_size)
        if include:
            headers["include"] = include
        attempts = 1 if login else self._retry.attempts
        for attempt in range(1, attempts + 1):
            try:
                outcome = await self._attempt(
                    path, params, headers, what, login, attempt, attempts, secrets
                )
            except PartnerError as exc:
                if not secrets:
                    raise
                raise type(exc)(self._scrub(exc.message, secrets), status=exc.status) from None
            if isinstance(outcome, dict):
                return outcome
            if attempt >= attempts:
                raise type(outcome.error)(
                    self._scrub(outcome.error.message, secrets), status=outcome.error.status
                )
            await self._retry.sleep(self._retry.delay(attempt, outcome.retry_after))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _attempt(
        self,
        path: str,
        params: Mapping[str, str] | None,
        headers: dict[str, str],
        what: str,
        login: bool,
        attempt: int,
        attempts: int,
        secrets: tuple[str, ...],
    ) -> dict[str, Any] | Failure:
        gave_up = f"{attempts_text(attempt)}" if attempts > 1 else ""
        log_path = "/" + path + (f"?page={params['page']}" if params and "page" in params else "")
        async with self._semaphore:
            self.request_count += 1
            started = time.monotonic()
            try:
                async with (
                    asyncio.timeout(self._timeout),
                    self._http.stream("GET", path, params=params, headers=headers) as response,
                ):
                    body = await self._read_body(response, what, log_path)
            except (httpx.TimeoutException, TimeoutError):
                elapsed = (time.monotonic() - started) * 1000
                logger.debug("GET %s -> timeout after %.0f ms", log_path, elapsed)
                seconds = f"{self._timeout:g}"
                tail = f" ({gave_up})" if gave_up else ""
                return Failure(
                    PartnerTimeout(f"Redtail did not answer {what} within {seconds} s{tail}")
                )
            except httpx.TransportError as exc:
                elapsed = (time.monotonic() - started) * 1000
                reason = network_reason(exc, lambda text: self._scrub(text, secrets))
                logger.debug("GET %s -> network error after %.0f ms", log_path, elapsed)
                tail = f" ({gave_up})" if gave_up else ""
                return Failure(
                    Unreachable(f"cannot reach Redtail at {self.base_url}: {reason}{tail}")
                )
            except httpx.HTTPError as exc:
                logger.debug("GET %s -> %s", log_path, type(exc).__name__)
                reason = one_line(self._scrub(str(exc) or type(exc).__name__, secrets), 120)
                raise BadResponse(
                    f"Redtail sent an unreadable answer for {what}: {reason}"
                ) from None
            elapsed = (time.monotonic() - started) * 1000
        # let a request waiting for the slot just freed go on the wire before this one's
        # answer is parsed (JSON and validation hold the loop for ~1 ms a page)
        await asyncio.sleep(0)
        logger.debug("GET %s -> %d in %.0f ms", log_path, response.status_code, elapsed)
        return self._classify(response, body, what, login, gave_up, secrets, log_path)

    async def _read_body(self, response: httpx.Response, what: str, log_path: str) -> bytearray:
        """The body, never read past `max_response_bytes` (`partners.http.read_capped_body`)."""

        def too_large() -> BadResponse:
            logger.debug("GET %s -> %d, body over the cap", log_path, response.status_code)
            return self._too_large(what, log_path, response.status_code)

        return await read_capped_body(response, self._max_response_bytes, too_large)

    def _too_large(self, what: str, log_path: str, status: int) -> BadResponse:
        cap = self._max_response_bytes
        size = f"{cap // 1048576} MB" if cap % 1048576 == 0 else f"{cap} bytes"
        return BadResponse(
            f"Redtail sent a response over {size} from GET {log_path} for {what}; "
            "stopped reading it",
            status=status,
        )

    def _classify(
        self,
        response: httpx.Response,
        body_bytes: bytearray,
        what: str,
        login: bool,
        gave_up: str,
        secrets: tuple[str, ...],
        log_path: str,
    ) -> dict[str, Any] | Failure:
        status = response.status_code
        if 200 <= status < 300:
            return self._json_object(response, body_bytes, what, secrets, log_path)
        try:  # only read for its message: leniently, in the charset the answer names
            body = body_bytes.decode(response.encoding or "utf-8", errors="replace")
        except LookupError:
            body = body_bytes.decode("utf-8", errors="replace")
        server = server_text(body, lambda text: self._scrub(text, secrets))
        server = server or response.reason_phrase or ""
        detail = f": {server}" if server else ""
        tried = f": {gave_up}" if gave_up else ""
        low = body.lower()
        if status == 401:
            if "gateway time-out" in low or "gateway timeout" in low:
                return Failure(
                    ServerError(
                        f"Redtail gateway timed out on {what}{tried} (Gateway Time-out, HTTP 401)",
                        status=status,
                    )
                )
            if "account locked" in low:
                raise AccountLocked(f"Redtail locked the login{detail} (HTTP 401)", status=status)
            if login:
                raise InvalidCredentials(
                    f"Redtail refused the login{detail} (HTTP 401)", status=status
                )
            raise InvalidCredentials(
                f"Redtail refused the stored credentials (needs re-authentication){detail} "
                f"(HTTP 401)",
                status=status,
            )
        if status == 403:
            raise Forbidden(f"Redtail refused access to {what}{detail} (HTTP 403)", status=status)
        if status == 404:
            raise PartnerNotFound(
                f"Redtail has no {what.removeprefix('the ')}{detail} (HTTP 404)", status=status
            )
        if status == 429:
            return Failure(
                RateLimited(
                    f"Redtail rate limit on {what}{tried}{detail} (HTTP 429)", status=status
                ),
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if status == 408:
            return Failure(
                PartnerTimeout(
                    f"Redtail timed out on {what}{tried}{detail} (HTTP 408)", status=status
                )
            )
        if status >= 500:
            return Failure(
                ServerError(
                    f"Redtail server error on {what}{tried}{detail} (HTTP {status})", status=status
                ),
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        raise BadResponse(
            f"Redtail answered {what} with an unexpected HTTP {status}{detail}", status=status
        )

    def _json_object(
        self,
        response: httpx.Response,
        body: bytearray,
        what: str,
        secrets: tuple[str, ...],
        log_path: str,
    ) -> dict[str, Any]:
        status = response.status_code
        try:  # strictly: bytes that are not UTF-8 are refused, never stored as U+FFFD
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadResponse(
                f"Redtail sent invalid UTF-8 in the response from GET {log_path} for {what} "
                f"(at byte {exc.start})",
                status=status,
            ) from None
        try:
            data = json.loads(text, parse_float=Decimal, parse_constant=Decimal)
        except (ValueError, RecursionError):
            kind = response.headers.get("content-type", "no content type").split(";")[0]
            raw = self._scrub(text, secrets) if text else ""
            snippet = one_line(TAG.sub(" ", raw), 60)
            shown = f": {snippet!r}" if snippet else ": empty body"
            raise BadResponse(
                f"Redtail sent an unreadable answer for {what}: not JSON ({kind}){shown}",
                status=status,
            ) from None
        if not isinstance(data, dict):
            raise BadResponse(
                f"Redtail sent an unreadable answer for {what}: a JSON {type(data).__name__}, "
                "not an object",
                status=status,
            )
        return data

    # -- secrets

    def _scrub(self, text: str, extra: Iterable[str] = ()) -> str:
        """Remove every form of every secret this client knows from a message."""
        raw: list[str] = [self._api_key, *(s for s in extra)]
        if self._user_key:
            raw.append(self._user_key)
            raw.append(b64(f"{self._api_key}:{self._user_key}"))
        return scrub(text, raw)
