"""The fake Redtail as a Starlette app: the routes, envelopes and errors of REDTAIL_API.md.

Requests under ``/api/public/v1`` pass through `RedtailGate` first (log, latency,
Authorization, faults) and only then reach the router, so an unauthenticated request to any
path gets 401 rather than 404. ``/__admin`` (loopback clients only, no Redtail auth) changes
the data and the faults while the server runs.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
import json
import math
import random
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ...fake_server import browser_refusal
from .dataset import (
    INCLUDED_TYPES,
    DatasetError,
    FakeAccount,
    FakeData,
    FakeUser,
    format_balance,
    next_timestamp,
    parse_balance,
)
from .faults import BODY_FAULTS, FaultSet, parse_faults

BASE_PATH = "/api/public/v1"
ADMIN_PATH = "/__admin"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_FAILED_LOGINS = 3
LYING_TOTAL_PAGES = 9999
HANG_SECONDS = 30.0
GATE_SECONDS = 60.0  # the longest a held account listing waits for the test to let it go

MSG_MISSING = "Authorization header missing"
MSG_BAD_HEADER = "Invalid authorization header"
MSG_BAD_LOGIN = "Invalid username or password"
MSG_BAD_API_KEY = "Invalid API key"
MSG_BAD_USER_KEY = "Invalid user key"
MSG_LOCKED = "Account Locked. Too many failed login attempts"
MSG_GATEWAY = "Gateway Time-out"
MSG_FORBIDDEN = "User Forbidden from accessing accounts"
MSG_CONTACT_404 = "Contact not found"
MSG_ACCOUNT_404 = "Account not found"
MSG_RATE = "Rate limit exceeded"
MSG_500 = "Internal Server Error"
# markup, a live action, terminal escapes (title, clipboard write), bidi, then 100 kB
MSG_HOSTILE = ("Boom [/] [@click=app.quit]quit[/] \x1b]0;pwned\x07\x1b]52;c;cHduZWQ=\x07"
               "\x1b[2J\u202eevil" + " tail" * 20_000)

HTML_500 = (
    b"<html>\r\n<head><title>500 Internal Server Error</title></head>\r\n<body>\r\n"
    b"<center><h1>500 Internal Server Error</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
MALFORMED_BODY = b'{"accounts": [{"id": 5001, "contact_id": 101, "balance": "12'
HUGE_PAGE_BYTES = 11 * 1024 * 1024  # huge_page: over the client's 10 MB cap
ENDLESS_BODY_LIMIT = 64 * 1024 * 1024  # endless_body: the fake gives up after this much
BAD_UTF8 = b"\xc3\x28\xff"  # bad_utf8: a broken two-byte sequence and a byte UTF-8 never uses
_PAD_CHUNK = b"x" * 65536

_CONTACT_PATH = re.compile(r"^/contacts/(\d+)(/[^/]+)?$")
_NUMERIC_SEGMENT = re.compile(r"/\d+(?=/|$)")

T = TypeVar("T")


class FakeState:
    """Everything the running fake knows besides the dataset: faults, counters, lockouts."""

    def __init__(self, data: FakeData, latency_ms: int, faults: str | list[str] | None) -> None:
        self.data = data
        self.latency_ms = latency_ms
        self.faults: FaultSet = parse_faults(faults)
        self.hang_seconds = HANG_SECONDS
        self.request_log: list[tuple[str, str]] = []
        self.route_counts: Counter[str] = Counter()
        self.failed_logins: dict[str, int] = {}
        self.demo_moves = 0
        self.demo_adds = 0
        self.demo_added: list[int] = []
        # a test harness's gate (FakeRedtailServer.holding_accounts): while it is set,
        # account listings wait for it to open, so a test sees a pull in flight for sure
        self.accounts_gate: threading.Event | None = None
        # body faults (huge_page, endless_body): bytes of padding sent, bodies finished; a
        # test waits on `body_faults_done` rather than on time
        self.huge_page_bytes = HUGE_PAGE_BYTES
        self.endless_body_limit = ENDLESS_BODY_LIMIT
        self.body_fault_bytes: Counter[str] = Counter()
        self.body_faults_finished: Counter[str] = Counter()
        self.body_faults_done = threading.Condition()

    def set_faults(self, spec: str | list[str] | FaultSet | None) -> FaultSet:
        """Replace the active faults (counting faults count from now). FaultSpecError if bad."""
        self.faults = parse_faults(spec)
        return self.faults

    def locked_users(self) -> list[str]:
        return sorted(u for u, n in self.failed_logins.items() if n >= MAX_FAILED_LOGINS)


def fake_state(request: Request) -> FakeState:
    state: FakeState = request.app.state.fake
    return state


def message(status: int, text: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"message": text}, status_code=status, headers=headers)


def route_pattern(method: str, path: str) -> str:
    return f"{method} {_NUMERIC_SEGMENT.sub('/{id}', path)}"


def is_loopback(client: Any) -> bool:
    if not client:
        return False
    host = str(client[0]).split("%", 1)[0].strip("[]")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


def _decode_credentials(header: str) -> tuple[str, str] | None:
    """(scheme in lower case, decoded text) or None when the header cannot be read."""
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if not scheme or not token:
        return None
    try:
        text = base64.b64decode(token, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    return scheme.casefold(), text


async def _sleep(seconds: float) -> None:
    """Injected latency (a module attribute so tests can observe it without waiting)."""
    await asyncio.sleep(seconds)


async def _wait_disconnect(receive: Receive) -> None:
    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            return


async def _hang(receive: Receive, seconds: float) -> bool:
    """Sleep like a stuck upstream; True when the client went away meanwhile."""
    sleeper = asyncio.ensure_future(asyncio.sleep(seconds))
    watcher = asyncio.ensure_future(_wait_disconnect(receive))
    try:
        done, _pending = await asyncio.wait({sleeper, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        sleeper.cancel()
        watcher.cancel()
    return watcher in done


class RedtailGate:
    """Logging, latency, Authorization and faults for every request, before routing."""

    def __init__(self, app: ASGIApp, state: FakeState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path == ADMIN_PATH or path.startswith(ADMIN_PATH + "/"):
            if not is_loopback(scope.get("client")):
                await message(403, "The admin routes answer loopback clients only")(
                    scope, receive, send
                )
                return
            headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                       for k, v in scope.get("headers", [])}
            refused = browser_refusal(scope["method"], headers)
            if refused:
                await message(403, refused)(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        if not (path == BASE_PATH or path.startswith(BASE_PATH + "/")):
            await message(404, "Not found")(scope, receive, send)
            return
        rel = path[len(BASE_PATH) :].rstrip("/") or "/"
        scope = dict(scope, path=BASE_PATH + (rel if rel != "/" else ""))
        method: str = scope["method"]
        st = self.state
        st.request_log.append((method, rel))
        st.route_counts[route_pattern(method, rel)] += 1
        if st.latency_ms > 0:
            await _sleep(st.latency_ms / 1000)
        response, skip_app = await self._gate(scope, receive, rel)
        if response is not None:
            await response(scope, receive, send)
        elif not skip_app:
            fault = self._body_fault(rel)
            if fault is not None:
                send = _BodyFault(fault, st, send, receive)
            await self.app(scope, receive, send)

    def _body_fault(self, rel: str) -> str | None:
        match = _CONTACT_PATH.match(rel)
        if not match or match[2] != "/accounts":
            return None
        contact_id = int(match[1])
        for name in BODY_FAULTS:
            if self.state.faults.targets_contact(name, contact_id):
                return name
        return None

    async def _gate(self, scope: Scope, receive: Receive, rel: str) -> tuple[Response | None, bool]:
        st = self.state
        faults = st.faults
        header = Headers(scope=scope).get("authorization")
        if rel == "/authentication":
            if header is None:
                return message(401, MSG_MISSING), False
            if faults.has("locked"):
                return message(401, MSG_LOCKED), False
            if scope["method"] not in ("GET", "HEAD"):
                return message(405, "Method not allowed"), False
            return self._authenticate(header), False
        if header is None:
            return message(401, MSG_MISSING), False
        user_or_error = self._user_for(header)
        if isinstance(user_or_error, Response):
            return user_or_error, False
        scope.setdefault("state", {})["redtail_user"] = user_or_error.username
        if faults.has("unauthorized"):
            return message(401, MSG_BAD_USER_KEY), False
        counted = faults.take_counting()
        if counted == "gateway_timeout":
            return message(401, MSG_GATEWAY), False
        if counted == "rate_limit":
            return message(429, MSG_RATE, {"Retry-After": "1"}), False
        if counted == "server_error":
            return Response(HTML_500, status_code=500, media_type="text/html"), False
        match = _CONTACT_PATH.match(rel)
        if match:
            contact_id = int(match[1])
            if faults.targets_contact("not_found", contact_id):
                return message(404, MSG_CONTACT_404), False
            if match[2] == "/accounts":
                if faults.targets_contact("forbidden", contact_id):
                    return message(403, MSG_FORBIDDEN), False
                if faults.targets_contact("server_error_contact", contact_id):
                    return message(500, MSG_500), False
                if faults.targets_contact("hostile_message", contact_id):
                    return message(500, MSG_HOSTILE), False
                if faults.targets_contact("timeout", contact_id):
                    if await _hang(receive, st.hang_seconds):
                        return None, True
                if faults.targets_contact("malformed", contact_id):
                    return _malformed(), False
                if faults.slow_ms > 0:
                    await _sleep(faults.slow_ms / 1000)
                gate = st.accounts_gate
                if gate is not None:
                    await asyncio.to_thread(gate.wait, GATE_SECONDS)
        if faults.has("malformed"):
            return _malformed(), False
        return None, False

    def _authenticate(self, header: str) -> Response:
        st = self.state
        decoded = _decode_credentials(header)
        if decoded is None or decoded[0] != "basic":
            return message(401, MSG_BAD_HEADER)
        parts = decoded[1].split(":", 2)
        if len(parts) != 3:
            return message(401, MSG_BAD_HEADER)
        api_key, username, password = parts
        if api_key not in st.data.api_keys:
            return message(401, MSG_BAD_API_KEY)
        login = username.casefold()
        if st.failed_logins.get(login, 0) >= MAX_FAILED_LOGINS:
            return message(401, MSG_LOCKED)
        user = st.data.user(username)
        if user is None or user.password != password:
            st.failed_logins[login] = st.failed_logins.get(login, 0) + 1
            return message(401, MSG_BAD_LOGIN)
        st.failed_logins.pop(login, None)
        return JSONResponse(
            {
                "authenticated_user": {
                    "user_key": user.user_key,
                    "redtail_user_id": user.redtail_user_id,
                    "redtail_database_id": user.redtail_database_id,
                }
            }
        )

    def _user_for(self, header: str) -> FakeUser | Response:
        decoded = _decode_credentials(header)
        if decoded is None or decoded[0] != "userkeyauth":
            return message(401, MSG_BAD_HEADER)
        api_key, sep, user_key = decoded[1].partition(":")
        if not sep:
            return message(401, MSG_BAD_HEADER)
        if api_key not in self.state.data.api_keys:
            return message(401, MSG_BAD_API_KEY)
        user = self.state.data.user_by_key(user_key)
        if user is None:
            return message(401, MSG_BAD_USER_KEY)
        return user


class _BodyFault:
    """A `send` that holds the real (successful) answer and sends a hostile body instead:
    ``bad_utf8`` breaks the first company name, ``huge_page`` pads the page past
    `FakeState.huge_page_bytes` with a true Content-Length, ``endless_body`` pads it in chunks
    (no Content-Length) until the client hangs up or `FakeState.endless_body_limit`."""

    def __init__(self, fault: str, state: FakeState, send: Send, receive: Receive) -> None:
        self.fault = fault
        self.state = state
        self.send = send
        self.receive = receive
        self.start: dict[str, Any] | None = None
        self.body = bytearray()

    async def __call__(self, msg: Any) -> None:
        if msg["type"] == "http.response.start":
            self.start = dict(msg)
            return
        if msg["type"] != "http.response.body" or self.start is None:
            await self.send(msg)
            return
        self.body += msg.get("body", b"")
        if msg.get("more_body", False):
            return
        start, body = self.start, bytes(self.body)
        if start["status"] != 200 or not body.endswith(b"}"):
            await self.send(start)
            await self.send({"type": "http.response.body", "body": body})
            return
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        if self.fault == "bad_utf8":
            marker = b'"company":"'
            at = body.find(marker)
            if at >= 0:
                at += len(marker)
                body = body[:at] + BAD_UTF8 + body[at:]
            headers.append((b"content-length", str(len(body)).encode()))
            await self.send({**start, "headers": headers})
            await self.send({"type": "http.response.body", "body": body})
            return
        head = body[:-1] + b',"padding":"'
        if self.fault == "huge_page":
            pad = max(0, self.state.huge_page_bytes - len(head) - 2)
            headers.append((b"content-length", str(len(head) + pad + 2).encode()))
            await self._stream({**start, "headers": headers}, head, pad, b'"}')
        else:  # endless_body: chunked, and the JSON never closes
            await self._stream({**start, "headers": headers}, head,
                               self.state.endless_body_limit, b"")

    async def _stream(self, start: dict[str, Any], head: bytes, pad: int, tail: bytes) -> None:
        st = self.state
        watcher = asyncio.ensure_future(_wait_disconnect(self.receive))
        try:
            await self.send(start)
            await self.send({"type": "http.response.body", "body": head, "more_body": True})
            sent = 0
            while sent < pad and not watcher.done():
                chunk = _PAD_CHUNK[: pad - sent]
                await self.send({"type": "http.response.body", "body": chunk, "more_body": True})
                sent += len(chunk)
                st.body_fault_bytes[self.fault] += len(chunk)
                await asyncio.sleep(0)  # let the disconnect watcher run
            await self.send({"type": "http.response.body", "body": tail})
        finally:
            watcher.cancel()
            with st.body_faults_done:
                st.body_faults_finished[self.fault] += 1
                st.body_faults_done.notify_all()


def _malformed() -> Response:
    return Response(MALFORMED_BODY, status_code=200, media_type="application/json")


# -- paging ----------------------------------------------------------------------------------


class BadRequest(Exception):
    pass


def _page_number(request: Request) -> int:
    raw = request.query_params.get("page")
    if raw is None or not raw.strip():
        return 1
    try:
        page = int(raw.strip())
    except ValueError:
        raise BadRequest(f"Invalid page: {raw[:20]!r}") from None
    return max(page, 1)


def _page_size(request: Request, faults: FaultSet) -> int:
    if faults.has("ignore_pagesize"):
        return DEFAULT_PAGE_SIZE
    raw = request.headers.get("pagesize")
    if raw is None:
        return DEFAULT_PAGE_SIZE
    try:
        size = int(raw.strip())
    except ValueError:
        return DEFAULT_PAGE_SIZE
    if size < 1:
        return DEFAULT_PAGE_SIZE
    return min(size, MAX_PAGE_SIZE)


def paged(
    request: Request,
    key: str,
    items: Sequence[T],
    render: Callable[[T], dict[str, Any]],
    *,
    may_lie: bool = True,
) -> Response:
    st = fake_state(request)
    try:
        page = _page_number(request)
    except BadRequest as exc:
        return message(400, str(exc))
    size = _page_size(request, st.faults)
    total = len(items)
    pages = math.ceil(total / size)
    meta = {"total_records": total, "total_pages": pages}
    if may_lie and st.faults.has("lying_pages"):
        meta = {"total_records": LYING_TOTAL_PAGES * size, "total_pages": LYING_TOTAL_PAGES}
        if page > pages >= 1:
            page = pages
    chunk = items[(page - 1) * size : page * size]
    return JSONResponse({key: [render(item) for item in chunk], "meta": meta})


def _includes(request: Request) -> set[str]:
    raw = request.headers.get("include") or request.query_params.get("include") or ""
    return {part.strip().casefold() for part in raw.split(",") if part.strip()}


# -- Redtail routes --------------------------------------------------------------------------


def _contact_renderer(request: Request) -> Callable[[Any], dict[str, Any]]:
    include = _includes(request)
    emails, phones = "emails" in include, "phones" in include

    def render(contact: Any) -> dict[str, Any]:
        return dict(contact.to_api(emails=emails, phones=phones))

    return render


async def list_contacts(request: Request) -> Response:
    data = fake_state(request).data
    contacts = [data.contacts[cid] for cid in sorted(data.contacts)]
    return paged(request, "contacts", contacts, _contact_renderer(request))


def fold(text: str | None) -> str:
    """Case-, accent- and apostrophe-insensitive form for searching."""
    if not text:
        return ""
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _alnum(text: str) -> str:
    return "".join(ch for ch in text if ch.isalnum())


async def search_contacts(request: Request) -> Response:
    data = fake_state(request).data
    params = request.query_params
    criteria = {
        key: fold(params.get(key, "").strip())
        for key in ("name", "first_name", "last_name", "email", "account_number")
        if params.get(key, "").strip()
    }
    by_number: set[int] | None = None
    if "account_number" in criteria:
        wanted = criteria["account_number"]
        wanted_alnum = _alnum(wanted)
        by_number = set()
        for account in list(data.accounts.values()):
            if account.deleted or not account.number:
                continue
            number = fold(account.number)
            if wanted in number or (wanted_alnum and wanted_alnum in _alnum(number)):
                by_number.update(account.owners)
    found = []
    for cid in sorted(data.contacts):
        contact = data.contacts[cid]
        if by_number is not None and cid not in by_number:
            continue
        if "first_name" in criteria and criteria["first_name"] not in fold(contact.first_name):
            continue
        if "last_name" in criteria and criteria["last_name"] not in fold(contact.last_name):
            continue
        if "email" in criteria and not any(criteria["email"] in fold(e) for e in contact.emails):
            continue
        if "name" in criteria:
            wanted = criteria["name"]
            parts = [
                fold(p)
                for p in (
                    contact.first_name,
                    contact.middle_name,
                    contact.last_name,
                    contact.nickname,
                )
                if p
            ]
            whole = fold(contact.name)
            if wanted not in whole and not all(
                any(token in part for part in parts) for token in wanted.split()
            ):
                continue
        found.append(contact)
    return paged(request, "contacts", found, _contact_renderer(request))


async def get_contact(request: Request) -> Response:
    data = fake_state(request).data
    contact = data.contacts.get(request.path_params["contact_id"])
    if contact is None:
        return message(404, MSG_CONTACT_404)
    return JSONResponse({"contact": _contact_renderer(request)(contact)})


async def contact_accounts(request: Request) -> Response:
    data = fake_state(request).data
    contact_id: int = request.path_params["contact_id"]
    if contact_id not in data.contacts:
        return message(404, MSG_CONTACT_404)
    accounts = data.accounts_of(contact_id)
    return paged(request, "accounts", accounts, lambda a: a.to_api(contact_id))


async def get_account(request: Request) -> Response:
    data = fake_state(request).data
    account = data.accounts.get(request.path_params["account_id"])
    if account is None:
        return message(404, MSG_ACCOUNT_404)
    return JSONResponse({"account": account.to_api()})


async def contact_family(request: Request) -> Response:
    data = fake_state(request).data
    contact_id: int = request.path_params["contact_id"]
    if contact_id not in data.contacts:
        return message(404, MSG_CONTACT_404)
    family = data.family_of(contact_id)
    if family is None:
        return JSONResponse({"contact_family": None})
    members = []
    for i, member in enumerate(family.members):
        contact = data.contacts.get(member.contact_id)
        if contact is None:
            continue
        members.append(
            {
                "id": family.id * 100 + i + 1,
                "family_id": family.id,
                "contact_id": contact.id,
                "first_name": contact.first_name,
                "last_name": contact.last_name,
                "full_name": contact.name,
                "hoh": member.hoh,
                "relationship": member.relationship,
            }
        )
    return JSONResponse(
        {"contact_family": {"id": family.id, "name": family.name, "members": members}}
    )


async def account_types(request: Request) -> Response:
    items = fake_state(request).data.account_types
    return paged(request, "account_types", items, dict, may_lie=False)


async def tax_qualified_types(request: Request) -> Response:
    items = fake_state(request).data.tax_qualified_types
    return paged(request, "account_tax_qualified_types", items, dict, may_lie=False)


# -- admin routes ----------------------------------------------------------------------------


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        doc = json.loads(raw, parse_float=Decimal)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadRequest("The body is not JSON") from None
    if not isinstance(doc, dict):
        raise BadRequest("The body must be a JSON object")
    return doc


def _admin_account(account: FakeAccount) -> dict[str, Any]:
    return {"account": account.to_json()}


def _account_or_404(request: Request) -> FakeAccount:
    account = fake_state(request).data.accounts.get(request.path_params["account_id"])
    if account is None:
        raise HTTPException(404, MSG_ACCOUNT_404)
    return account


def _admin(handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)  # type: ignore[no-any-return]
        except BadRequest as exc:
            return message(400, str(exc))
        except DatasetError as exc:
            return message(400, str(exc))

    wrapped.__name__ = handler.__name__
    return wrapped


_ACCOUNT_FIELDS = (
    "number",
    "company",
    "balance",
    "account_type",
    "account_type_id",
    "taxqualified",
    "taxqualified_type",
    "product",
    "status",
    "deleted",
    "date_opened",
)


def _account_fields(data: FakeData, body: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key in _ACCOUNT_FIELDS:
        if key not in body:
            continue
        value = body[key]
        if key == "balance":
            value = parse_balance(value)
        elif key == "taxqualified_type" and isinstance(value, str) and not value.isdigit():
            resolved = data.tax_qualified_type_id(value)
            if resolved is None:
                raise BadRequest(f"Unknown tax-qualified type {value!r}")
            value = resolved
        elif key in ("taxqualified_type", "account_type_id") and value is not None:
            value = int(value)
        elif key in ("taxqualified", "deleted"):
            value = bool(value)
        elif key == "number":
            value = "" if value is None else str(value)
        fields[key] = value
    return fields


def _contact_ids(data: FakeData, body: dict[str, Any]) -> list[int]:
    raw = body.get("contact_ids")
    if raw is None and "contact_id" in body:
        raw = [body["contact_id"]]
    if not isinstance(raw, list) or not raw:
        raise BadRequest("contact_ids: a non-empty list of contact ids is required")
    try:
        ids = [int(x) for x in raw]
    except (TypeError, ValueError):
        raise BadRequest("contact_ids: not contact ids") from None
    for cid in ids:
        if cid not in data.contacts:
            raise BadRequest(f"Unknown contact {cid}")
    return ids


@_admin
async def admin_create_account(request: Request) -> Response:
    data = fake_state(request).data
    body = await _body(request)
    owners = _contact_ids(data, body)
    fields = _account_fields(data, body)
    account_id = int(body["id"]) if body.get("id") is not None else data.next_account_id()
    if account_id in data.accounts:
        return message(409, f"Account {account_id} exists")
    now = timestamp_now()
    account = FakeAccount(account_id, owners, created_at=now, updated_at=now, **fields)
    data.add_account(account)
    return JSONResponse(_admin_account(account), status_code=201)


def timestamp_now() -> str:
    return next_timestamp(None)


@_admin
async def admin_get_account(request: Request) -> Response:
    return JSONResponse(_admin_account(_account_or_404(request)))


@_admin
async def admin_update_account(request: Request) -> Response:
    data = fake_state(request).data
    account = _account_or_404(request)
    body = await _body(request)
    fields = _account_fields(data, body)
    if "contact_ids" in body or "contact_id" in body:
        fields["owners"] = _contact_ids(data, body)
    data.update_account(account.id, **fields)
    return JSONResponse(_admin_account(account))


@_admin
async def admin_set_balance(request: Request) -> Response:
    data = fake_state(request).data
    account = _account_or_404(request)
    body = await _body(request)
    if "balance" not in body:
        raise BadRequest('Expected {"balance": "123.45" or null}')
    data.update_account(account.id, balance=parse_balance(body["balance"]))
    return JSONResponse(_admin_account(account))


@_admin
async def admin_set_deleted(request: Request) -> Response:
    data = fake_state(request).data
    account = _account_or_404(request)
    body = await _body(request)
    data.update_account(account.id, deleted=bool(body.get("deleted", True)))
    return JSONResponse(_admin_account(account))


@_admin
async def admin_set_owners(request: Request) -> Response:
    data = fake_state(request).data
    account = _account_or_404(request)
    body = await _body(request)
    data.update_account(account.id, owners=_contact_ids(data, body))
    return JSONResponse(_admin_account(account))


@_admin
async def admin_delete_account(request: Request) -> Response:
    data = fake_state(request).data
    account = _account_or_404(request)
    data.remove_account(account.id)
    return JSONResponse({"removed": account.to_json()})


@_admin
async def admin_faults(request: Request) -> Response:
    st = fake_state(request)
    if request.method == "POST":
        body = await _body(request)
        spec = body.get("faults")
        if spec is not None and not isinstance(spec, str | list):
            raise BadRequest('Expected {"faults": "name[:arg],..."}')
        try:
            st.set_faults(spec)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
    return JSONResponse({"faults": st.faults.describe()})


@_admin
async def admin_latency(request: Request) -> Response:
    st = fake_state(request)
    if request.method == "POST":
        body = await _body(request)
        try:
            st.latency_ms = max(0, int(body.get("latency_ms", 0)))
        except (TypeError, ValueError):
            raise BadRequest('Expected {"latency_ms": N}') from None
    return JSONResponse({"latency_ms": st.latency_ms})


@_admin
async def admin_reset_logins(request: Request) -> Response:
    st = fake_state(request)
    st.failed_logins.clear()
    return JSONResponse({"locked_users": []})


@_admin
async def admin_state(request: Request) -> Response:
    st = fake_state(request)
    return JSONResponse(
        {
            **st.data.counts(),
            "faults": st.faults.describe(),
            "latency_ms": st.latency_ms,
            "requests": len(st.request_log),
            "requests_by_route": dict(sorted(st.route_counts.items())),
            "failed_logins": dict(st.failed_logins),
            "locked_users": st.locked_users(),
        }
    )


def _demo_contacts(data: FakeData) -> list[int]:
    addams: list[int] = [cid for cid in (101, 102) if cid in data.contacts]
    if addams:
        return addams
    return [min(data.contacts)] if data.contacts else []


def _moveable(data: FakeData) -> list[FakeAccount]:
    seen: dict[int, FakeAccount] = {}
    for cid in _demo_contacts(data):
        for account in data.accounts_of(cid):
            if (
                not account.deleted
                and account.balance is not None
                and account.account_type in INCLUDED_TYPES
            ):
                seen.setdefault(account.id, account)
    return [seen[k] for k in sorted(seen)]


@_admin
async def admin_demo_move_balance(request: Request) -> Response:
    st = fake_state(request)
    candidates = _moveable(st.data)
    if not candidates:
        return message(404, "No account with a balance to move")
    rng = random.Random(7919 + st.demo_moves)
    account = candidates[0] if st.demo_moves == 0 else rng.choice(candidates)
    st.demo_moves += 1
    old = Decimal(str(account.balance))
    percent = Decimal(rng.randrange(100, 500)) / 100 * rng.choice((1, 1, -1))
    new = (old * (1 + percent / 100)).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    st.data.update_account(account.id, balance=format_balance(new))
    return JSONResponse(
        {
            **_admin_account(account),
            "old_balance": format_balance(old),
            "new_balance": account.balance,
            "percent": str(percent),
        }
    )


_DEMO_NEW_ACCOUNTS: tuple[tuple[str, str, bool, str | None, str], ...] = (
    ("Vanguard", "Roth IRA", True, "Roth IRA", "Target Retirement 2040"),
    ("Charles Schwab", "Brokerage", False, None, "Schwab One"),
    ("T. Rowe Price", "Rollover IRA", True, "Rollover IRA", "Retirement 2035 Fund"),
    ("Ally Bank", "Savings", False, None, "Online Savings"),
    ("Athene", "Fixed Annuity", False, "Non-Qualified", "Performance Elite 10"),
    ("Fidelity", "HSA", True, "HSA", "Fidelity HSA"),
)


@_admin
async def admin_demo_add_account(request: Request) -> Response:
    st = fake_state(request)
    data = st.data
    owners = _demo_contacts(data)[:1]
    if not owners:
        return message(404, "No contact to add an account to")
    n = st.demo_adds
    st.demo_adds += 1
    rng = random.Random(104729 + n)
    company, account_type, qualified, tq_name, product = _DEMO_NEW_ACCOUNTS[
        n % len(_DEMO_NEW_ACCOUNTS)
    ]
    account_id = 5901 + n if owners[0] == 101 else data.next_account_id()
    while account_id in data.accounts:
        account_id += 1
    now = timestamp_now()
    account = data.add_account(
        FakeAccount(
            account_id,
            owners,
            number=f"{rng.randrange(100, 1000)}-{rng.randrange(100000, 1000000)}",
            company=company,
            balance=format_balance(Decimal(rng.randrange(500_000, 25_000_000)) / 100),
            account_type=account_type,
            taxqualified=qualified,
            taxqualified_type=data.tax_qualified_type_id(tq_name),
            product=product,
            status="Active",
            created_at=now,
            updated_at=now,
        )
    )
    st.demo_added.append(account.id)
    return JSONResponse(_admin_account(account), status_code=201)


@_admin
async def admin_demo_remove_account(request: Request) -> Response:
    st = fake_state(request)
    data = st.data
    while st.demo_added:
        account_id = st.demo_added.pop()
        if account_id in data.accounts:
            removed = data.remove_account(account_id)
            assert removed is not None
            return JSONResponse({"removed": removed.to_json()})
    contacts = _demo_contacts(data)
    if not contacts:
        return message(404, "No account to remove")
    protected = {a.id for a in _moveable(data)[:1]}
    candidates = [
        a
        for a in data.accounts_of(contacts[0])
        if not a.deleted and len(set(a.owners)) == 1 and a.id not in protected
    ]
    if not candidates:
        return message(404, "No account to remove")
    removed = data.remove_account(candidates[-1].id)
    assert removed is not None
    return JSONResponse({"removed": removed.to_json()})


# -- the app ---------------------------------------------------------------------------------


async def _http_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        text = exc.detail if exc.status_code != 404 or exc.detail != "Not Found" else "Not found"
        return message(exc.status_code, text, dict(exc.headers or {}))
    return message(500, MSG_500)


def create_app(
    data: FakeData, *, latency_ms: int = 0, faults: str | list[str] | None = None
) -> Starlette:
    """The fake Redtail. `app.state.fake` is its FakeState (data, faults, counters);
    `app.state.request_log` lists ``(method, path)`` of every request under the base path,
    the path relative to it (``("GET", "/contacts/101/accounts")``), query string excluded."""
    state = FakeState(data, latency_ms, faults)
    b, a = BASE_PATH, ADMIN_PATH
    routes = [
        Route(f"{b}/contacts", list_contacts, methods=["GET"]),
        Route(f"{b}/contacts/search", search_contacts, methods=["GET"]),
        Route(f"{b}/contacts/{{contact_id:int}}", get_contact, methods=["GET"]),
        Route(f"{b}/contacts/{{contact_id:int}}/accounts", contact_accounts, methods=["GET"]),
        Route(f"{b}/contacts/{{contact_id:int}}/family", contact_family, methods=["GET"]),
        Route(f"{b}/accounts/{{account_id:int}}", get_account, methods=["GET"]),
        Route(f"{b}/lists/account_types", account_types, methods=["GET"]),
        Route(f"{b}/lists/account_tax_qualified_types", tax_qualified_types, methods=["GET"]),
        Route(f"{a}/state", admin_state, methods=["GET"]),
        Route(f"{a}/faults", admin_faults, methods=["GET", "POST"]),
        Route(f"{a}/latency", admin_latency, methods=["GET", "POST"]),
        Route(f"{a}/logins/reset", admin_reset_logins, methods=["POST"]),
        Route(f"{a}/accounts", admin_create_account, methods=["POST"]),
        Route(f"{a}/accounts/{{account_id:int}}", admin_get_account, methods=["GET"]),
        Route(f"{a}/accounts/{{account_id:int}}", admin_update_account, methods=["POST", "PATCH"]),
        Route(f"{a}/accounts/{{account_id:int}}", admin_delete_account, methods=["DELETE"]),
        Route(f"{a}/accounts/{{account_id:int}}/balance", admin_set_balance, methods=["POST"]),
        Route(f"{a}/accounts/{{account_id:int}}/deleted", admin_set_deleted, methods=["POST"]),
        Route(f"{a}/accounts/{{account_id:int}}/owners", admin_set_owners, methods=["POST"]),
        Route(f"{a}/demo/move-balance", admin_demo_move_balance, methods=["POST"]),
        Route(f"{a}/demo/add-account", admin_demo_add_account, methods=["POST"]),
        Route(f"{a}/demo/remove-account", admin_demo_remove_account, methods=["POST"]),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error})
    app.state.fake = state
    app.state.data = data
    app.state.request_log = state.request_log
    app.add_middleware(RedtailGate, state=state)
    return app
