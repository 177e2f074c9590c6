"""The fake Salesforce as one Starlette app serving two hosts: the login host (OAuth device
flow, refresh, revoke, identity, and `/__admin` for tests and the presenter) and the instance
host (`/services/data/…`: versions, sobjects, describe, records, query and queryAll with
cursors). It tells them apart by the request's Host, as the real split does by name.

Faults (`name[:arg],…`, FAULTS below) reproduce what a client must survive. Every request
body and query text is size-capped; admin routes answer loopback clients only.
"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import time
import urllib.parse
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from . import soql
from .dataset import (
    DEMO_CLIENT_ID,
    DEMO_USERNAME,
    ORG_ID,
    PACKAGE_OBJECTS,
    SCHEMAS,
    STANDARD_OBJECTS,
    USER_ID,
    FakeOrg,
)
from .faults import FAULTS, FaultSpecError, parse_faults

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

__all__ = ["FAULTS", "FaultSpecError", "FakeState", "create_app", "parse_faults"]

VERSIONS = ["59.0", "60.0", "61.0", "62.0"]
BODY_CAP = 64 * 1024  # a form body (OAuth) or admin JSON
QUERY_CAP = 100_000  # SOQL's own limit on a statement's length
PAGE = 2000
API_MAX = 100_000
USER_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
HOSTILE = ("[bold red]PWNED[/] \x1b]52;c;cGxhbnRlY2g=\x07\x1b[2J\x1b[31m<script>alert(1)"
           "</script>\u202e" + "x" * 100_000)

@dataclass
class _Device:
    user_code: str
    status: str = "pending"  # pending, approved, denied, expired, used
    last_poll: float = 0.0
    created: float = field(default_factory=time.monotonic)


@dataclass
class _Cursor:
    records: list[dict[str, Any]]
    sobject: str
    page: int
    all_rows: bool


class FakeState:
    """Everything the fake remembers; tests reach it as `server.state` or
    `app.state.fake`."""

    def __init__(self, org: FakeOrg, *, login_url: str, instance_url: str, faults: str | None,
                 auto_approve: bool, device_interval: int, latency_ms: int, seed: int,
                 approve_after: float | None = None) -> None:
        self.org = org
        self.login_url = login_url.rstrip("/")
        self.instance_url = instance_url.rstrip("/")
        self.client_id = DEMO_CLIENT_ID
        self.username = DEMO_USERNAME
        self.auto_approve = auto_approve
        # the demo's stand-in for a person approving in a browser: codes approve themselves
        # this many seconds after they were issued
        self.approve_after = approve_after
        self.device_interval = device_interval
        self.latency_ms = latency_ms
        self.rng = random.Random(seed)
        self.devices: dict[str, _Device] = {}
        self.access: dict[str, str] = {}  # access token → its refresh token
        self.refresh: set[str] = set()  # live refresh tokens
        self.cursors: dict[str, _Cursor] = {}
        self.faults: dict[str, Any] = {}
        self.request_count = 0  # data requests (instance host)
        self.refresh_count = 0
        self.revoked = 0
        self.api_used = 10_018
        self.queries: list[str] = []  # every SOQL text asked (tests look at what was sent)
        self.set_faults(faults)

    # -- tests and the presenter

    def set_faults(self, spec: str | None) -> dict[str, Any]:
        self.faults = parse_faults(spec)
        return self.faults

    def pending(self) -> list[str]:
        return [d.user_code for d in self.devices.values() if d.status == "pending"]

    def _device(self, user_code: str | None) -> _Device | None:
        waiting = [d for d in self.devices.values() if d.status == "pending"
                   and (user_code is None or d.user_code == user_code.upper())]
        return max(waiting, key=lambda d: d.created) if waiting else None

    def approve(self, user_code: str | None = None) -> str | None:
        return self._set(user_code, "approved")

    def deny(self, user_code: str | None = None) -> str | None:
        return self._set(user_code, "denied")

    def expire(self, user_code: str | None = None) -> str | None:
        return self._set(user_code, "expired")

    def _set(self, user_code: str | None, status: str) -> str | None:
        device = self._device(user_code)
        if device is None:
            return None
        device.status = status
        return device.user_code

    def expire_access_tokens(self) -> None:
        self.access.clear()

    # -- tokens

    def _new_tokens(self, refresh: str | None) -> dict[str, Any]:
        access = f"{ORG_ID[:15]}!AQ{secrets.token_urlsafe(24)}"
        if refresh is None:
            refresh = f"5Aep{secrets.token_urlsafe(32)}"
            self.refresh.add(refresh)
            fresh_refresh = True
        else:
            fresh_refresh = False
        self.access[access] = refresh
        doc = {"access_token": access, "signature": secrets.token_urlsafe(16),
               "scope": "api refresh_token", "instance_url": self.instance_url,
               "id": f"{self.login_url}/id/{ORG_ID}/{USER_ID}", "token_type": "Bearer",
               "issued_at": str(int(time.time() * 1000))}
        if fresh_refresh:
            doc["refresh_token"] = refresh
        return doc


# --------------------------------------------------------------------------- answers


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)  # currency is a JSON number
    raise TypeError(type(value).__name__)


def _json(doc: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    from starlette.responses import Response

    body = json.dumps(doc, default=_encode, ensure_ascii=False).encode("utf-8")
    return Response(body, status_code=status, media_type="application/json",
                    headers=headers or {})


def _rest_error(status: int, code: str, message: str) -> Response:
    return _json([{"message": message, "errorCode": code}], status)


def _oauth_error(code: str, description: str, status: int = 400) -> Response:
    return _json({"error": code, "error_description": description}, status)


def _record(sobject: str, row: dict[str, Any], version: str) -> dict[str, Any]:
    url = f"/services/data/v{version}/sobjects/{sobject}/{row.get('Id')}"
    return {"attributes": {"type": sobject, "url": url}, **row}


# --------------------------------------------------------------------------- the app


def create_app(org: FakeOrg, faults: str | None = None, *, login_url: str,
               instance_url: str, auto_approve: bool = False, device_interval: int = 5,
               latency_ms: int = 0, seed: int = 1, approve_after: float | None = None
               ) -> Starlette:
    from starlette.applications import Starlette
    from starlette.routing import Route

    state = FakeState(org, login_url=login_url, instance_url=instance_url, faults=faults,
                      auto_approve=auto_approve, device_interval=device_interval,
                      latency_ms=latency_ms, seed=seed, approve_after=approve_after)
    login_host = urllib.parse.urlsplit(state.login_url).netloc.lower()

    async def handle(request: Request) -> Response:
        host = request.headers.get("host", "").lower()
        path = request.url.path
        if path.startswith("/__admin"):
            if host != login_host:
                return _rest_error(404, "NOT_FOUND", "The requested resource does not exist")
            return await _admin(state, request)
        if state.latency_ms:
            await asyncio.sleep(state.latency_ms / 1000)
        if host == login_host:
            return await _login_host(state, request)
        return await _instance_host(state, request)

    app = Starlette(routes=[Route("/{path:path}", handle, methods=["GET", "POST"])])
    app.state.fake = state
    return app


async def _form(request: Request) -> dict[str, str] | None:
    body = await _capped_body(request)
    if body is None:
        return None
    try:
        pairs = urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        return None
    return dict(pairs)


async def _capped_body(request: Request) -> bytes | None:
    try:
        if int(request.headers.get("content-length", "0")) > BODY_CAP:
            return None
    except ValueError:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > BODY_CAP:
            return None
    return bytes(body)


# -- the login host


async def _login_host(state: FakeState, request: Request) -> Response:
    path = request.url.path.rstrip("/")
    if path == "/services/oauth2/token" and request.method == "POST":
        form = await _form(request)
        if form is None:
            return _oauth_error("invalid_request", "request body too large or unreadable")
        return _token(state, form)
    if path == "/services/oauth2/revoke" and request.method == "POST":
        form = await _form(request)
        token = (form or {}).get("token", "")
        if token in state.refresh:
            state.refresh.discard(token)
            for access in [a for a, r in state.access.items() if r == token]:
                del state.access[access]
            state.revoked += 1
            return _json(None)
        if token in state.access:
            del state.access[token]
            state.revoked += 1
            return _json(None)
        return _oauth_error("invalid_token", "invalid token")
    if path == f"/id/{ORG_ID}/{USER_ID}" and request.method == "GET":
        if _bearer(request) not in state.access:
            return _oauth_error("Bad_OAuth_Token", "Bad_OAuth_Token", 403)
        return _json({"username": state.username, "display_name": "Demo Advisor",
                      "email": state.username, "user_id": USER_ID,
                      "organization_id": ORG_ID})
    return _rest_error(404, "NOT_FOUND", "The requested resource does not exist")


def _token(state: FakeState, form: dict[str, str]) -> Response:
    if form.get("response_type") == "device_code":
        if form.get("client_id") != state.client_id:
            return _oauth_error("invalid_client_id", "client identifier invalid")
        device_code = secrets.token_urlsafe(32)
        user_code = "".join(state.rng.choice(USER_CODE_ALPHABET) for _ in range(8))
        device = state.devices[device_code] = _Device(user_code)
        if state.auto_approve:
            device.status = "approved"
        return _json({"device_code": device_code, "user_code": user_code,
                      "verification_uri": f"{state.login_url}/setup/connect",
                      "interval": state.device_interval})
    grant = form.get("grant_type")
    if grant == "device":
        if form.get("client_id") != state.client_id:
            return _oauth_error("invalid_client_id", "client identifier invalid")
        polled = state.devices.get(form.get("code", ""))
        if polled is None or polled.status == "used":
            return _oauth_error("invalid_grant", "invalid device code")
        now = time.monotonic()
        if (polled.status == "pending" and state.approve_after is not None
                and now - polled.created >= state.approve_after):
            polled.status = "approved"
        too_soon = state.device_interval and now - polled.last_poll < state.device_interval
        polled.last_poll = now
        if polled.status == "pending":
            if too_soon:
                return _oauth_error("slow_down", "polling too fast")
            return _oauth_error("authorization_pending", "authorization pending")
        if polled.status == "denied":
            return _oauth_error("access_denied", "end-user denied authorization")
        if polled.status == "expired":
            return _oauth_error("expired_token", "the device code has expired")
        polled.status = "used"
        return _json(state._new_tokens(None))
    if grant == "refresh_token":
        state.refresh_count += 1
        token = form.get("refresh_token", "")
        if "dead_refresh" in state.faults or token not in state.refresh:
            return _oauth_error("invalid_grant", "expired access/refresh token")
        if form.get("client_id") != state.client_id:
            return _oauth_error("invalid_client_id", "client identifier invalid")
        if "rotate_refresh" in state.faults:
            state.refresh.discard(token)
            for access in [a for a, r in state.access.items() if r == token]:
                del state.access[access]
            return _json(state._new_tokens(None))
        return _json(state._new_tokens(token))
    return _oauth_error("unsupported_grant_type", "grant type not supported")


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    return header[7:] if header.lower().startswith("bearer ") else ""


# -- the instance host


def _limit_headers(state: FakeState) -> dict[str, str]:
    return {"Sforce-Limit-Info": f"api-usage={state.api_used}/{API_MAX}"}


async def _instance_host(state: FakeState, request: Request) -> Response:
    path = request.url.path
    if path.rstrip("/") == "/services/data":
        return _json([{"label": f"v{v}", "url": f"/services/data/v{v}", "version": v}
                      for v in VERSIONS])
    if not path.startswith("/services/data/v"):
        return _rest_error(404, "NOT_FOUND", "The requested resource does not exist")
    if request.method != "GET":
        return _rest_error(405, "METHOD_NOT_ALLOWED", "HTTP Method not allowed")
    state.request_count += 1
    faults = state.faults
    token = _bearer(request)
    if token not in state.access:
        return _rest_error(401, "INVALID_SESSION_ID", "Session expired or invalid")
    if "expire_token" in faults:
        faults["expire_token"] -= 1
        if faults["expire_token"] <= 0:
            del faults["expire_token"]
            state.access.pop(token, None)
            return _rest_error(401, "INVALID_SESSION_ID", "Session expired or invalid")
    state.api_used += 1
    headers = _limit_headers(state)
    if faults.get("request_limit", 0) > 0:
        faults["request_limit"] -= 1
        return _with(_rest_error(403, "REQUEST_LIMIT_EXCEEDED",
                                 "TotalRequests Limit exceeded."), headers)
    if faults.get("server_error", 0) > 0:
        faults["server_error"] -= 1
        return _rest_error(503, "SERVER_UNAVAILABLE", "Server temporarily unavailable")
    if _targets(faults.get("malformed"), request):
        from starlette.responses import Response

        return Response(b"<html><body>Maintenance</body></html>", 200,
                        media_type="application/json")
    version, _, rest = path.removeprefix("/services/data/v").partition("/")
    if version not in VERSIONS:
        return _rest_error(404, "NOT_FOUND", f"API version {version} is not supported")
    rest = rest.rstrip("/")
    try:
        if rest == "sobjects":
            return _with(_json({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": [
                {"name": n, "label": n, "queryable": True} for n in _objects(state, version)]}),
                headers)
        if rest.startswith("sobjects/"):
            return _with(_sobject(state, version, rest.split("/")[1:]), headers)
        if rest in ("query", "queryAll"):
            if "slow" in faults:
                await asyncio.sleep(faults["slow"] / 1000)
            return _with(_query(state, version, request, all_rows=rest == "queryAll"), headers)
        if rest.startswith("query/"):
            return _with(_next_page(state, version, rest.removeprefix("query/")), headers)
    except soql.SoqlError as exc:
        return _with(_rest_error(400, exc.code, exc.message), headers)
    return _rest_error(404, "NOT_FOUND", "The requested resource does not exist")


def _with(response: Response, headers: dict[str, str]) -> Response:
    response.headers.update(headers)
    return response


def _objects(state: FakeState, version: str) -> list[str]:
    org = state.org
    package = org.package and "no_package" not in state.faults \
        and "standard_only" not in state.faults
    standard = (org.standard or "standard_only" in state.faults) and float(version) >= 61
    names = [n for n in SCHEMAS if n not in PACKAGE_OBJECTS | STANDARD_OBJECTS]
    return names + (sorted(PACKAGE_OBJECTS) if package else []) + (
        sorted(STANDARD_OBJECTS) if standard else [])


def _schemas(state: FakeState, version: str) -> dict[str, dict[str, str]]:
    hidden = state.faults.get("hidden_field", "")
    out = {}
    for name in _objects(state, version):
        schema = dict(SCHEMAS[name])
        obj, _, field_name = hidden.partition(".")
        if obj.casefold() == name.casefold():
            schema = {k: v for k, v in schema.items() if k.casefold() != field_name.casefold()}
        out[name] = schema
    return out


def _sobject(state: FakeState, version: str, parts: list[str]) -> Response:
    schemas = _schemas(state, version)
    name = next((n for n in schemas if parts and n.casefold() == parts[0].casefold()), None)
    if name is None:
        return _rest_error(404, "NOT_FOUND", "The requested resource does not exist")
    if len(parts) == 2 and parts[1] == "describe":
        fields = []
        for field_name, kind in schemas[name].items():
            values: list[dict[str, Any]] = []
            if field_name in ("FinServ__FinancialAccountType__c", "Type") and kind == "picklist":
                values = [{"value": v, "label": v, "active": True, "defaultValue": False}
                          for v in state.org.account_types]
            fields.append({"name": field_name, "type": kind, "nillable": field_name != "Id",
                           "picklistValues": values})
        return _json({"name": name, "label": name, "fields": fields})
    if len(parts) == 2:
        row = state.org.rows[name].get(parts[1])
        if row is None or row.get("IsDeleted"):
            return _rest_error(404, "NOT_FOUND", "The requested resource does not exist")
        visible = {k: v for k, v in row.items() if k in schemas[name]}
        return _json(_record(name, visible, version))
    return _rest_error(404, "NOT_FOUND", "The requested resource does not exist")


def _query(state: FakeState, version: str, request: Request, *, all_rows: bool) -> Response:
    text = request.query_params.get("q", "")
    if not text.strip() or len(text) > QUERY_CAP:
        raise soql.SoqlError("MALFORMED_QUERY", "the query is empty or longer than 100,000 "
                             "characters")
    state.queries.append(text)
    owner = state.faults.get("request_limit_owner")
    if owner and owner in text:
        return _rest_error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
    hostile = state.faults.get("hostile_message")
    if hostile and hostile in text:
        return _rest_error(400, "HOSTILE", "Refused: " + HOSTILE)
    query = soql.parse(text)
    schemas = _schemas(state, version)

    def rows(sobject: str) -> list[dict[str, Any]]:
        out = [r for r in state.org.rows[sobject].values()
               if all_rows or not r.get("IsDeleted")]
        state.rng.shuffle(out)  # no ORDER BY: no order
        return out

    sobject, found = soql.run(query, schemas, rows)
    if _targets(state.faults.get("hostile_text"), request):
        for record in found:
            for key in ("Name", "FinServ__FinancialAccountNumber__c", "FirstName", "LastName"):
                if isinstance(record.get(key), str):
                    record[key] = record[key] + " " + HOSTILE
    size = _batch_size(request)
    records = [_record(sobject, r, version) for r in found]
    huge = _targets(state.faults.get("huge_page"), request)
    return _page(state, version, _Cursor(records, sobject, size, all_rows), 0, huge=huge)


def _targets(fault: Any, request: Request) -> bool:
    """A fault set without an id hits every data request; with one, the queries naming it."""
    if fault is None or fault is False:
        return False
    return fault is True or str(fault) in request.query_params.get("q", "")


def _batch_size(request: Request) -> int:
    options = request.headers.get("sforce-query-options", "")
    for part in options.split(","):
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "batchsize":
            try:
                return min(2000, max(200, int(value)))
            except ValueError:
                break
    return PAGE


def _page(state: FakeState, version: str, cursor: _Cursor, offset: int, *,
          huge: bool = False) -> Response:
    chunk = cursor.records[offset:offset + cursor.page]
    end = offset + len(chunk)
    doc: dict[str, Any] = {"totalSize": len(cursor.records), "done": end >= len(cursor.records),
                           "records": chunk}
    if not doc["done"]:
        cursor_id = next((k for k, c in state.cursors.items() if c is cursor), None)
        if cursor_id is None:
            cursor_id = "01g" + secrets.token_hex(8)[:12] + "AAA"
            state.cursors[cursor_id] = cursor
        doc["nextRecordsUrl"] = f"/services/data/v{version}/query/{cursor_id}-{end}"
    if huge:
        doc["padding"] = "x" * (11 * 1024 * 1024)
    return _json(doc)


def _next_page(state: FakeState, version: str, locator: str) -> Response:
    cursor_id, _, offset = locator.rpartition("-")
    cursor = state.cursors.get(cursor_id)
    if "dead_cursor" in state.faults:
        del state.faults["dead_cursor"]
        state.cursors.pop(cursor_id, None)
        cursor = None
    if cursor is None or not offset.isdigit():
        raise soql.SoqlError("INVALID_QUERY_LOCATOR", "invalid query locator")
    return _page(state, version, cursor, int(offset))


# -- admin (tests, the presenter)


_ADMIN_READS = frozenset({"device/pending", "requests", "faults"})  # what a GET may ask


async def _admin(state: FakeState, request: Request) -> Response:
    from ...fake_server import browser_refusal

    client = request.client.host if request.client else ""
    if client not in ("127.0.0.1", "::1", "localhost"):
        return _rest_error(403, "FORBIDDEN", "The admin routes answer loopback clients only")
    refused = browser_refusal(request.method, request.headers)
    if refused:
        return _rest_error(403, "FORBIDDEN", refused)
    action = request.url.path.removeprefix("/__admin").strip("/")
    if request.method != "POST" and action not in _ADMIN_READS:
        return _rest_error(405, "METHOD_NOT_ALLOWED", "this admin route changes the fake: POST")
    body = await _capped_body(request) if request.method == "POST" else b""
    try:
        doc = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError):
        doc = None
    if not isinstance(doc, dict):
        return _rest_error(400, "BAD_REQUEST", "a JSON object is expected")
    code = doc.get("user_code") if isinstance(doc.get("user_code"), str) else None
    if action in ("device/approve", "device/deny", "device/expire"):
        verb = action.split("/")[1]
        done = getattr(state, verb)(code)
        if done is None:
            return _rest_error(404, "NOT_FOUND", "no device code is waiting")
        return _json({verb + ("d" if verb.endswith("e") else "ed"): done})
    if action == "device/pending":
        return _json({"pending": state.pending()})
    if action == "tokens/expire":
        state.expire_access_tokens()
        return _json({"expired": True})
    if action == "faults":
        if request.method == "GET":
            return _json({"faults": state.faults, "known": list(FAULTS)})
        try:
            state.set_faults(str(doc.get("faults") or ""))
        except FaultSpecError as exc:
            return _rest_error(400, "BAD_REQUEST", str(exc))
        return _json({"faults": state.faults})
    if action == "requests":
        return _json({"count": state.request_count, "refreshes": state.refresh_count,
                      "revoked": state.revoked})
    return _rest_error(404, "NOT_FOUND", "no such admin route")
