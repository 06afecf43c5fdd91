"""The DocSpace endpoints a portal serves, as plain functions from a Call to a Reply.

The behaviour follows DocSpace-server 3.7.2 and the version-dependent changes
back to 2.6.3, selected by the portal's `version`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

from . import envelopes
from .envelopes import Reply
from .links import CONFIRM_TYPE, CONFIRM_TYPE_NUMBER, parse_query
from .model import (
    LOST_USER_ID,
    ZERO_GUID,
    ActivationStatus,
    EmployeeStatus,
    User,
    ValidationResult,
    normalize_guid,
)

if TYPE_CHECKING:
    from .portal import Portal

ACCESS_DENIED = "Access denied"
NO_PERMISSIONS = "No permissions to perform this action"
USER_NOT_FOUND = "The user could not be found"
INVALID_STATE = "Operation is not valid due to the current state of the object."
OWNER_NOT_ACTIVATED = "Owner's email is not activated"
INSTRUCTIONS_SENT = "Instructions for changing the portal owner have been sent to :email."

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# ConfirmType names DocSpace accepts in /authentication/confirm; only the owner
# change is simulated, the others always validate as Invalid.
CONFIRM_TYPE_NAMES = {
    "empinvite": 0,
    "linkinvite": 1,
    "portalsuspend": 2,
    "portalcontinue": 3,
    "portalremove": 4,
    "dnschange": 5,
    "portalownerchange": 6,
    "activation": 7,
    "emailchange": 8,
    "emailactivation": 9,
    "passwordchange": 10,
    "profileremove": 11,
    "phoneactivation": 12,
    "phoneauth": 13,
    "auth": 14,
    "tfaactivation": 15,
    "tfaauth": 16,
    "wizard": 17,
    "guestsharelink": 18,
}


@dataclass
class Call:
    """One request to a portal; `path` is relative to the portal's prefix."""

    method: str
    path: str
    query_string: str
    headers: Mapping[str, str]
    cookies: Mapping[str, str]
    body: bytes
    base: str
    remote: str = ""

    @property
    def url(self) -> str:
        return self.base + self.path + (f"?{self.query_string}" if self.query_string else "")


class Headers(dict):
    """Request headers for calls made inside the simulator; names are case-insensitive."""

    def __init__(self, headers: Mapping[str, str]):
        super().__init__((name.lower(), value) for name, value in headers.items())

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(name.lower())


@dataclass
class Identity:
    """Who the credentials of a request belong to; `presented` is set even when invalid."""

    user: User | None
    presented: bool


@dataclass
class Route:
    method: str
    template: str
    handler: Callable[..., Reply]
    auth: str = "required"
    pattern: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.template))
        self.pattern = re.compile(f"^{regex}$", re.IGNORECASE)

    @property
    def is_api(self) -> bool:
        return self.template.startswith("/api/")


# Request helpers


def authenticate(portal: Portal, call: Call) -> Identity:
    """Resolve API keys (only with Bearer) and session tokens (header or cookie)."""
    header = call.headers.get("Authorization")
    cookie = call.cookies.get("asc_auth_key")
    if not header and not cookie:
        return Identity(None, False)

    user = None
    if header:
        value = header.strip()
        if value[:7].lower() == "bearer ":
            credential = value[7:].strip()
            user = portal.user_for_api_key(credential) if credential.startswith("sk-") else portal.user_for_token(credential)
        else:
            # A raw `sk-...` is taken for a session token and fails, like DocSpace does.
            user = portal.user_for_token(value)
    if user is None and cookie:
        user = portal.user_for_token(cookie)

    if user is not None and user.status != EmployeeStatus.ACTIVE:
        user = None
    return Identity(user, True)


def read_json_body(call: Call, parameter: str) -> tuple[dict[str, Any] | None, Reply | None]:
    """Parse a JSON object body; property names become lowercase like ASP.NET binds them."""
    content_type = call.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if call.body and content_type and not (content_type == "application/json" or content_type.endswith("+json")):
        return None, envelopes.Reply(415, b"", None)

    if not call.body.strip():
        errors = {"": ["A non-empty request body is required."], parameter: [f"The {parameter} field is required."]}
        return None, envelopes.validation_problem(errors, url=call.url, method=call.method)

    try:
        data = json.loads(call.body)
    except (ValueError, UnicodeDecodeError):
        errors = {"$": ["The input is not valid JSON."], parameter: [f"The {parameter} field is required."]}
        return None, envelopes.validation_problem(errors, url=call.url, method=call.method)

    if not isinstance(data, dict):
        errors = {"$": ["The JSON value could not be converted to an object."]}
        return None, envelopes.validation_problem(errors, url=call.url, method=call.method)
    return {name.lower(): value for name, value in data.items()}, None


def read_guid(call: Call, data: dict[str, Any], name: str) -> tuple[str | None, Reply | None]:
    """Read a GUID property; a missing one is the zero GUID, as .NET binds a value type."""
    value = data.get(name.lower())
    if value is None:
        return ZERO_GUID, None
    guid = normalize_guid(value) if isinstance(value, str) else None
    if guid is None:
        errors = {f"$.{name}": ["The JSON value could not be converted to System.Guid."]}
        return None, envelopes.validation_problem(errors, url=call.url, method=call.method)
    return guid, None


def lookup_user(portal: Portal, user_id: str) -> User | None:
    """Find a user by id the way UserManager.GetUsers does, minus the placeholder."""
    guid = normalize_guid(user_id)
    return portal.get_user(guid) if guid else None


# Endpoints


def get_settings(portal: Portal, call: Call, identity: Identity) -> Reply:
    settings: dict[str, Any] = {
        "culture": "en-US",
        "utcOffset": "00:00:00",
        "utcHoursOffset": 0.0,
        "timezone": "UTC",
        "trustedDomains": [],
        "trustedDomainsType": 0,
        "greetingSettings": portal.name,
        "docSpace": True,
        "standalone": True,
        "baseDomain": "docspace.test",
        "version": portal.version,
        "tenantStatus": 0,
        "tenantAlias": portal.alias,
        "cookieSettingsEnabled": False,
        "deepLink": {"androidPackageName": None, "url": None, "iosPackageId": None},
        "socketUrl": "/socket.io",
        "displayAbout": True,
        # Any authenticated caller sees the owner id; anonymous callers see zeros.
        "ownerId": ZERO_GUID,
    }
    if identity.user is not None:
        settings.update(
            {
                "ownerId": portal.owner_id,
                "nameSchemaId": "Common",
                "enabledJoin": False,
                "enableAdmMess": False,
                "thirdpartyEnable": False,
                "limitedAccessSpace": False,
                "limitedAccessDevToolsForUsers": False,
                "displayBanners": False,
            }
        )
    return envelopes.success(settings, url=call.url, method=call.method)


def get_portal(portal: Portal, call: Call, identity: Identity) -> Reply:
    user = identity.user
    assert user is not None

    # Only the owner and DocSpace admins see the tenant; others get a default object.
    if user.id == portal.owner_id or user.is_docspace_admin:
        tenant = {
            "tenantId": portal.tenant_id,
            "tenantAlias": portal.alias,
            "name": portal.name,
            "ownerId": portal.owner_id,
            "status": 0,
            "version": 2,
            "calls": False,
            "spam": False,
            "language": "en-US",
            "timeZone": "UTC",
            "trustedDomains": [],
            "trustedDomainsType": 0,
            "industry": 0,
            "creationDateTime": "2024-01-15T09:30:00",
            "lastModified": "2024-01-15T09:30:00",
            "statusChangeDate": "2024-01-15T09:30:00",
            "versionChanged": "2024-01-15T09:30:00",
        }
    else:
        tenant = {
            "tenantId": 0,
            "tenantAlias": None,
            "name": None,
            "ownerId": ZERO_GUID,
            "status": 0,
            "version": 0,
            "calls": False,
            "spam": False,
            "trustedDomains": None,
            "trustedDomainsType": 0,
            "industry": 0,
            "creationDateTime": "0001-01-01T00:00:00",
            "lastModified": "0001-01-01T00:00:00",
            "statusChangeDate": "0001-01-01T00:00:00",
            "versionChanged": "0001-01-01T00:00:00",
        }
    return envelopes.success(tenant, url=call.url, method=call.method)


def profile_reply(portal: Portal, call: Call, user: User) -> Reply:
    profile = user.profile(is_owner=user.id == portal.owner_id, version=portal.version_info)
    return envelopes.success(profile, url=call.url, method=call.method)


def get_self(portal: Portal, call: Call, identity: Identity) -> Reply:
    assert identity.user is not None
    return profile_reply(portal, call, identity.user)


def get_user(portal: Portal, call: Call, identity: Identity, userid: str) -> Reply:
    # DocSpace tries the value as a user name first, then as a GUID.
    user = portal.find_user_by_name(userid) or lookup_user(portal, userid)
    if user is None:
        return envelopes.error(404, USER_NOT_FOUND, "not_found")
    return _profile_if_visible(portal, call, identity, user)


def get_user_by_email(portal: Portal, call: Call, identity: Identity) -> Reply:
    email = parse_query(call.query_string).get("email", "").strip()
    if not email:
        errors = {"email": ["The email field is required."]}
        return envelopes.validation_problem(errors, url=call.url, method=call.method)
    if not EMAIL_PATTERN.match(email):
        return envelopes.error(400, f"Incorrect email: {email}", "argument")

    user = portal.find_user_by_email(email)
    if user is None:
        return envelopes.error(404, USER_NOT_FOUND, "not_found")
    return _profile_if_visible(portal, call, identity, user)


def _profile_if_visible(portal: Portal, call: Call, identity: Identity, user: User) -> Reply:
    caller = identity.user
    assert caller is not None

    # Guests may read only their own profile here.
    if caller.is_guest and caller.id != user.id:
        return envelopes.error(403, ACCESS_DENIED, "security")
    return profile_reply(portal, call, user)


def send_owner_instructions(portal: Portal, call: Call, identity: Identity) -> Reply:
    """Send the owner-change instructions (POST /api/2.0/settings/owner), checking in DocSpace's order."""
    caller = identity.user
    assert caller is not None

    data, problem = read_json_body(call, "inDto")
    if problem:
        return problem
    owner_id, problem = read_guid(call, data or {}, "ownerId")
    if problem:
        return problem

    with portal.lock:
        owner = portal.owner

        # 1. Owner or DocSpace admin only; before 3.1.0 the rejection was a 500.
        if caller.id != owner.id and not caller.is_docspace_admin:
            if portal.version_info >= (3, 1, 0):
                return envelopes.error(403, ACCESS_DENIED, "security")
            return envelopes.error(500, ACCESS_DENIED, "security")

        # 2. Since 3.5.0 the owner's own email must be confirmed, also for a request from an admin.
        if portal.version_info >= (3, 5, 0) and owner.activation_status != ActivationStatus.ACTIVATED:
            return envelopes.error(400, OWNER_NOT_ACTIVATED, "argument")

        # 3. A guest cannot own a portal. An unknown id resolves to DocSpace's active
        # placeholder user, which passes this check and the next.
        new_owner = lookup_user(portal, owner_id or ZERO_GUID)
        if new_owner is not None and new_owner.is_guest:
            return envelopes.error(403, ACCESS_DENIED, "security")

        # 4. A rejection that still returns HTTP 200.
        target_inactive = new_owner is not None and new_owner.status != EmployeeStatus.ACTIVE
        if caller.id != owner.id or owner_id == ZERO_GUID or target_inactive:
            return envelopes.success({"status": 0, "message": NO_PERMISSIONS}, url=call.url, method=call.method)

        # 5. The link names the placeholder's id when the user is unknown, so it never works.
        link_uid = new_owner.id if new_owner is not None else LOST_USER_ID
        portal.send_owner_change_email(new_owner, link_uid, call.base)
        anchor = f'<a href="mailto:{owner.email}">{owner.email}</a>'
        message = INSTRUCTIONS_SENT.replace(":email", anchor)
        return envelopes.success({"status": 1, "message": message}, url=call.url, method=call.method)


def confirm_identity(portal: Portal, call: Call, identity: Identity) -> tuple[User | None, Reply | None]:
    """Run the `confirm` authentication scheme; return the acting user or the rejection."""
    header = call.headers.get("confirm")
    if header is None:
        # Without a link an API key is authenticated but not authorised.
        return None, envelopes.empty(403 if identity.user is not None else 401)

    params = parse_query(header)
    if params.get("type", "").lower() != CONFIRM_TYPE.lower():
        return None, envelopes.empty(401)

    email = params.get("email") or portal.signer.decrypt_email(params.get("encemail", ""))
    uid = normalize_guid(params.get("uid", ""))
    if portal.validate_owner_change(email, params.get("key", ""), uid) != ValidationResult.OK:
        return None, envelopes.empty(401)

    # A valid link acts as the authenticated caller, or else as the link's uid.
    acting = identity.user or (portal.get_user(uid) if uid else None)
    return acting, None


def update_owner(portal: Portal, call: Call, identity: Identity) -> Reply:
    """Change the owner (PUT /api/2.0/settings/owner) as the `confirm` header authorises."""
    with portal.lock:
        acting, rejection = confirm_identity(portal, call, identity)
        if rejection:
            return rejection

        data, problem = read_json_body(call, "inDto")
        if problem:
            return problem
        owner_id, problem = read_guid(call, data or {}, "ownerId")
        if problem:
            return problem

        # The body's ownerId is not compared with the link's uid.
        new_owner = lookup_user(portal, owner_id or ZERO_GUID)
        if new_owner is None or new_owner.is_guest:
            return envelopes.error(500, USER_NOT_FOUND, "generic")
        if new_owner.status != EmployeeStatus.ACTIVE:
            return envelopes.error(500, NO_PERMISSIONS, "generic")

        # Promoting a non-admin needs the current owner's own credentials.
        if not new_owner.is_docspace_admin:
            if acting is None or acting.id != portal.owner_id:
                return envelopes.error(403, INVALID_STATE, "invalid_operation")
            quota = portal.options.admin_quota
            admins = sum(1 for user in portal.all_users if user.is_docspace_admin)
            if quota is not None and admins >= quota:
                return envelopes.error(402, "The number of paid admins exceeds the quota", "quota")
            new_owner.user_type = "admin"

        portal.owner_id = new_owner.id

    # Before 3.0.0 a void action returned an empty body.
    if portal.version_info < (3, 0, 0):
        return envelopes.Reply(200, b"", None)
    return envelopes.success_without_response(url=call.url, method=call.method)


def check_confirm(portal: Portal, call: Call, identity: Identity) -> Reply:
    """Validate link parameters without changing anything (POST /api/2.0/authentication/confirm)."""
    data, problem = read_json_body(call, "inDto")
    if problem:
        return problem
    data = data or {}

    confirm_type = data.get("type")
    if isinstance(confirm_type, str):
        type_number = CONFIRM_TYPE_NAMES.get(confirm_type.lower())
    elif isinstance(confirm_type, int) and not isinstance(confirm_type, bool):
        type_number = confirm_type if confirm_type in CONFIRM_TYPE_NAMES.values() else None
    else:
        type_number = None
    if confirm_type is not None and type_number is None:
        errors = {"$.type": ["The JSON value could not be converted to ASC.Web.Studio.Utility.ConfirmType."]}
        return envelopes.validation_problem(errors, url=call.url, method=call.method)

    uid = None
    if data.get("uid") is not None:
        uid = normalize_guid(data["uid"]) if isinstance(data["uid"], str) else None
        if uid is None:
            errors = {"$.uiD": ["The JSON value could not be converted to System.Nullable`1[System.Guid]."]}
            return envelopes.validation_problem(errors, url=call.url, method=call.method)

    email = data.get("email") or None
    if not email and data.get("encemail"):
        email = portal.signer.decrypt_email(str(data["encemail"]))
        if email is None:
            return envelopes.success({"result": int(ValidationResult.INVALID)}, url=call.url, method=call.method)
    if not email:
        return envelopes.error(400, "Value cannot be null or empty. (Parameter 'email')", "argument")

    if type_number != CONFIRM_TYPE_NUMBER:
        result = ValidationResult.INVALID
    else:
        result = portal.validate_owner_change(str(email), str(data.get("key") or ""), uid)
    return envelopes.success({"result": int(result)}, url=call.url, method=call.method)


def authenticate_me(portal: Portal, call: Call, identity: Identity) -> Reply:
    """Exchange a user name or email and a password for a session token (POST /api/2.0/authentication)."""
    data, problem = read_json_body(call, "inDto")
    if problem:
        return problem
    data = data or {}

    user_name = data.get("username")
    password = data.get("password")
    if not user_name:
        return envelopes.error(400, "userName empty", "argument")
    if not password:
        return envelopes.error(400, "password empty", "argument")

    user = portal.find_user_by_email(str(user_name)) or portal.find_user_by_name(str(user_name))
    if user is None or user.password != password:
        return envelopes.error(401, "User authentication failed", "authentication")
    if user.status != EmployeeStatus.ACTIVE:
        return envelopes.error(403, "The user is disabled", "invalid_operation")

    token, expires = portal.create_session(user.id)
    response = {"token": token, "expires": expires.isoformat(), "sms": False, "tfa": False}
    return envelopes.success(response, url=call.url, method=call.method)


def short_link(portal: Portal, call: Call, identity: Identity, code: str) -> Reply:
    link = portal.resolve_short_code(code)
    return envelopes.redirect(link if link else call.base + "/")


def confirm_page(portal: Portal, call: Call, identity: Identity) -> Reply:
    return envelopes.html_page(
        "Portal owner change",
        "The DocSpace web client would now ask the signed-in owner to confirm the change. The simulator does this through its browser-confirm hook.",
    )


def root_page(portal: Portal, call: Call, identity: Identity) -> Reply:
    return envelopes.html_page(f"{portal.name} (DocSpace simulator)", f"DocSpace {portal.version} portal {portal.alias}.")


# Literal paths come before templates that would also match them.
ROUTES = [
    Route("POST", "/api/2.0/authentication", authenticate_me, auth="anonymous"),
    Route("POST", "/api/2.0/authentication/confirm", check_confirm, auth="anonymous"),
    Route("GET", "/api/2.0/settings", get_settings, auth="anonymous"),
    Route("POST", "/api/2.0/settings/owner", send_owner_instructions),
    Route("PUT", "/api/2.0/settings/owner", update_owner, auth="confirm"),
    Route("GET", "/api/2.0/portal", get_portal),
    Route("GET", "/api/2.0/people/@self", get_self),
    Route("GET", "/api/2.0/people/email", get_user_by_email),
    Route("GET", "/api/2.0/people/{userid}", get_user),
    Route("GET", "/s/{code}", short_link, auth="anonymous"),
    Route("GET", "/confirm/PortalOwnerChange", confirm_page, auth="anonymous"),
    Route("GET", "/", root_page, auth="anonymous"),
]


def match(method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
    """Find the route for a request: (route, path parameters, path exists for another method)."""
    candidates = [(route, found) for route in ROUTES if (found := route.pattern.match(path))]
    if not candidates:
        return None, {}, False

    # A literal path shadows templates that also match it, for every method, as in ASP.NET.
    literal = [(route, found) for route, found in candidates if "{" not in route.template]
    for route, found in literal or candidates:
        if route.method == method.upper():
            return route, found.groupdict(), True
    return None, {}, True


def endpoint_name(method: str, path: str) -> tuple[str, str | None]:
    """Return the counter key ("GET /api/2.0/people/{userid}") and the route template."""
    route, _unused, _unused = match(method, path)
    if route is None:
        return f"{method.upper()} {path}", None
    return f"{route.method} {route.template}", route.template


def dispatch(portal: Portal, call: Call) -> Reply:
    """Handle one request to a portal, including authentication and rate limiting."""
    route, params, path_known = match(call.method, call.path)
    if route is None:
        # ASP.NET returns an empty 405 for a wrong method, and unknown paths reach nginx's 404.
        return envelopes.empty(405) if path_known else envelopes.nginx_page(404)

    identity = authenticate(portal, call)
    limit_headers: dict[str, str] = {}
    if portal.rate_limiter is not None and route.is_api:
        key = identity.user.id if identity.user else f"ip:{call.remote}"
        is_write = call.method.upper() in ("POST", "PUT", "DELETE", "PATCH")
        with portal.lock:
            allowed, limit_headers = portal.rate_limiter.check(key, is_write=is_write, now=portal.now().timestamp())
        if not allowed:
            return envelopes.empty(429, limit_headers)

    if route.auth == "required" and identity.user is None:
        reply = envelopes.empty(401)
    else:
        reply = route.handler(portal, call, identity, **params)
    reply.headers.update(limit_headers)
    return reply
