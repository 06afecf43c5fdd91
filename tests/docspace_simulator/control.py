"""The JSON control API under /_simulator/ for tests that run the simulator in another process.

Control requests are neither counted nor logged as portal requests.
"""

from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from aiohttp import web

from .faults import Fault

if TYPE_CHECKING:
    from .portal import Portal
    from .server import Simulator

log = logging.getLogger("docspace_simulator")

_PORTAL_OPTIONS = {
    "alias",
    "prefix",
    "version",
    "owner_email_activated",
    "link_base",
    "rate_limit",
    "tenant_id",
    "name",
    "admin_quota",
}

_ADD_USER_FIELDS = {
    "email",
    "first_name",
    "last_name",
    "role",
    "user_name",
    "user_type",
    "status",
    "activation_status",
    "user_id",
    "api_key",
    "password",
    "is_ldap",
    "is_sso",
}


class ControlError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _json(value: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(value, ensure_ascii=False, indent=1).encode(),
        content_type="application/json",
        charset="utf-8",
    )


async def _read_object(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ControlError(400, f"invalid JSON body: {exc}") from None
    if not isinstance(data, dict):
        raise ControlError(400, "invalid JSON body: expected an object")
    return data


def _portal(simulator: Simulator, alias: str) -> Portal:
    try:
        return simulator.portal(alias)
    except KeyError as exc:
        raise ControlError(404, str(exc.args[0])) from None


# Handlers receive the simulator, the request and the path parameters.
Handler = Callable[..., Awaitable[web.Response]]


async def get_state(simulator: Simulator, request: web.Request) -> web.Response:
    return _json(simulator.manifest())


async def reset_all(simulator: Simulator, request: web.Request) -> web.Response:
    simulator.reset()
    return _json(simulator.manifest())


async def create_portal(simulator: Simulator, request: web.Request) -> web.Response:
    data = await _read_object(request)
    unknown = set(data) - _PORTAL_OPTIONS
    if unknown:
        raise ControlError(400, f"unknown portal options: {', '.join(sorted(unknown))}")
    if not data.get("alias"):
        raise ControlError(400, "missing portal option: alias")
    try:
        portal = simulator.add_portal(data.pop("alias"), **data)
    except (ValueError, TypeError) as exc:
        raise ControlError(400, str(exc)) from None
    return _json(portal.manifest(), 201)


async def get_portal(simulator: Simulator, request: web.Request, alias: str) -> web.Response:
    return _json(_portal(simulator, alias).manifest())


async def delete_portal(simulator: Simulator, request: web.Request, alias: str) -> web.Response:
    _portal(simulator, alias)
    simulator.remove_portal(alias)
    return _json({"removed": alias})


async def reset_portal(simulator: Simulator, request: web.Request, alias: str) -> web.Response:
    portal = _portal(simulator, alias)
    portal.reset()
    return _json(portal.manifest())


async def get_outbox(simulator: Simulator, request: web.Request, alias: str) -> web.Response:
    return _json([email.to_dict() for email in _portal(simulator, alias).outbox])


async def clear_outbox(simulator: Simulator, request: web.Request, alias: str) -> web.Response:
    _portal(simulator, alias).clear_outbox()
    return _json([])


async def get_requests(simulator: Simulator, request: web.Request, alias: str) -> web.Response:
    portal = _portal(simulator, alias)
    return _json(
        {
            "total": portal.request_count(),
            "counts": portal.request_counts(),
            "log": [record.to_dict() for record in portal.requests],
        }
    )


async def clear_requests(simulator: Simulator, request: web.Request, alias: str) -> web.Response:
    _portal(simulator, alias).clear_requests()
    return _json({"total": 0, "counts": {}, "log": []})


async def get_faults(simulator: Simulator, request: web.Request, alias: str) -> web.Response:
    return _json([fault.to_dict() for fault in _portal(simulator, alias).faults])


async def add_fault(simulator: Simulator, request: web.Request, alias: str) -> web.Response:
    portal = _portal(simulator, alias)
    data = await _read_object(request)
    try:
        fault = Fault.from_dict(data)
    except (ValueError, TypeError) as exc:
        raise ControlError(400, str(exc)) from None
    portal.faults_table.add(fault)
    return _json(fault.to_dict(), 201)


async def clear_faults(simulator: Simulator, request: web.Request, alias: str) -> web.Response:
    _portal(simulator, alias).clear_faults()
    return _json([])


async def delete_fault(simulator: Simulator, request: web.Request, alias: str, fault_id: str) -> web.Response:
    if not _portal(simulator, alias).remove_fault(int(fault_id)):
        raise ControlError(404, f"no fault {fault_id} on portal {alias!r}")
    return _json({"removed": int(fault_id)})


async def get_clock(simulator: Simulator, request: web.Request, alias: str) -> web.Response:
    return _json({"now": _portal(simulator, alias).now().isoformat()})


async def advance_clock(simulator: Simulator, request: web.Request, alias: str) -> web.Response:
    portal = _portal(simulator, alias)
    data = await _read_object(request)
    seconds = data.get("advance")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise ControlError(400, 'missing or invalid "advance": expected a number of seconds')
    return _json({"now": portal.advance_clock(seconds).isoformat()})


async def browser_confirm(simulator: Simulator, request: web.Request, alias: str) -> web.Response:
    portal = _portal(simulator, alias)
    data = await _read_object(request)
    link = data.get("link")
    if not isinstance(link, str) or not link.strip():
        raise ControlError(400, 'missing "link": expected the confirmation link or short link')
    return _json(portal.browser_confirm(link).to_dict())


async def get_users(simulator: Simulator, request: web.Request, alias: str) -> web.Response:
    return _json([user.manifest() for user in _portal(simulator, alias).all_users])


async def add_user(simulator: Simulator, request: web.Request, alias: str) -> web.Response:
    portal = _portal(simulator, alias)
    data = await _read_object(request)
    unknown = set(data) - _ADD_USER_FIELDS
    if unknown:
        raise ControlError(400, f"unknown user fields: {', '.join(sorted(unknown))}")
    if not data.get("email"):
        raise ControlError(400, "missing user field: email")
    try:
        user = portal.add_user(data.pop("email"), **data)
    except (ValueError, TypeError) as exc:
        raise ControlError(400, str(exc)) from None
    return _json(user.manifest(), 201)


async def update_user(simulator: Simulator, request: web.Request, alias: str, user_id: str) -> web.Response:
    portal = _portal(simulator, alias)
    data = await _read_object(request)
    try:
        user = portal.update_user(user_id, **data)
    except KeyError as exc:
        raise ControlError(404, str(exc.args[0])) from None
    except (ValueError, TypeError) as exc:
        raise ControlError(400, str(exc)) from None
    return _json(user.manifest())


async def get_owner(simulator: Simulator, request: web.Request, alias: str) -> web.Response:
    return _json(_portal(simulator, alias).owner.manifest())


async def set_owner(simulator: Simulator, request: web.Request, alias: str) -> web.Response:
    portal = _portal(simulator, alias)
    data = await _read_object(request)
    try:
        portal.set_owner(str(data.get("id", "")))
    except KeyError as exc:
        raise ControlError(404, str(exc.args[0])) from None
    return _json(portal.owner.manifest())


_PORTAL = r"/portals/(?P<alias>[^/]+)"

ROUTES: list[tuple[str, re.Pattern[str], Handler]] = [
    (method, re.compile(f"^{pattern}$"), handler)
    for method, pattern, handler in [
        ("GET", "/state", get_state),
        ("POST", "/reset", reset_all),
        ("POST", "/portals", create_portal),
        ("GET", _PORTAL, get_portal),
        ("DELETE", _PORTAL, delete_portal),
        ("POST", _PORTAL + "/reset", reset_portal),
        ("GET", _PORTAL + "/outbox", get_outbox),
        ("DELETE", _PORTAL + "/outbox", clear_outbox),
        ("GET", _PORTAL + "/requests", get_requests),
        ("DELETE", _PORTAL + "/requests", clear_requests),
        ("GET", _PORTAL + "/faults", get_faults),
        ("POST", _PORTAL + "/faults", add_fault),
        ("DELETE", _PORTAL + "/faults", clear_faults),
        ("DELETE", _PORTAL + r"/faults/(?P<fault_id>\d+)", delete_fault),
        ("GET", _PORTAL + "/clock", get_clock),
        ("POST", _PORTAL + "/clock", advance_clock),
        ("POST", _PORTAL + "/browser-confirm", browser_confirm),
        ("GET", _PORTAL + "/users", get_users),
        ("POST", _PORTAL + "/users", add_user),
        ("PATCH", _PORTAL + "/users/(?P<user_id>[^/]+)", update_user),
        ("GET", _PORTAL + "/owner", get_owner),
        ("PUT", _PORTAL + "/owner", set_owner),
    ]
]


async def handle(simulator: Simulator, request: web.Request, path: str) -> web.Response:
    """Handle one control request. `path` is relative to /_simulator."""
    path_known = False
    for method, pattern, handler in ROUTES:
        found = pattern.match(path.rstrip("/") or "/")
        if found is None:
            continue
        if method != request.method:
            path_known = True
            continue
        try:
            return await handler(simulator, request, **found.groupdict())
        except ControlError as exc:
            log.info("Control request %s /_simulator%s failed with %d: %s", request.method, path, exc.status, exc)
            return _json({"error": str(exc)}, exc.status)

    if path_known:
        return _json({"error": f"method {request.method} is not allowed on /_simulator{path}"}, 405)
    return _json({"error": f"unknown control path /_simulator{path}"}, 404)
