"""One simulated DocSpace portal: its users, owner, outbox, clock and test hooks."""

from __future__ import annotations

import collections
import html
import secrets
import string
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from . import api
from .faults import Fault, FaultTable
from .links import CONFIRM_TYPE, LinkSigner, build_link, parse_query
from .model import (
    ALIAS_PATTERN,
    DEFAULT_VERSION,
    USER_TYPES,
    ActivationStatus,
    EmployeeStatus,
    User,
    ValidationResult,
    api_key_for,
    derived_hex,
    normalize_guid,
    parse_version,
    password_for,
    seed_users,
    user_id_for,
)
from .ratelimit import RateLimit, RateLimiter

if TYPE_CHECKING:
    from .server import Simulator

SHORT_CODE_LENGTH = 15
SHORT_CODE_ALPHABET = string.ascii_letters + string.digits
SESSION_LIFETIME = timedelta(days=30)

# Bounds memory in long load tests; counters keep counting past it.
REQUEST_LOG_LIMIT = 10000

_USER_FIELDS = {
    "email",
    "first_name",
    "last_name",
    "user_name",
    "user_type",
    "status",
    "activation_status",
    "api_key",
    "password",
    "is_ldap",
    "is_sso",
    "role",
}


@dataclass
class Email:
    """An email the portal sent, kept in the outbox instead of being delivered."""

    to: str
    subject: str
    body: str
    short_link: str
    link: str
    sent_at: datetime
    new_owner_id: str

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["sent_at"] = self.sent_at.isoformat()
        return data


@dataclass
class RequestRecord:
    """One request as the portal saw it; header values are never kept."""

    method: str
    path: str
    endpoint: str
    query: str
    body: str
    header_names: list[str]
    has_authorization: bool
    has_confirm: bool
    at: datetime
    status: int | None = None
    fault: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["at"] = self.at.isoformat()
        return data


@dataclass
class BrowserConfirmation:
    """What happened when the owner opened the confirmation link in a browser.

    `result` is "Ok", "Invalid", "Expired" or "UnknownShortLink"; `status` is the
    HTTP status of the owner-change PUT, or None when it was not sent.
    """

    result: str
    owner_changed: bool
    owner_id: str
    status: int | None = None
    message: str | None = None
    link: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PortalOptions:
    version: str = DEFAULT_VERSION
    owner_email_activated: bool = True
    link_base: str | None = None
    rate_limit: RateLimit | None = None
    tenant_id: int = 1
    name: str | None = None
    admin_quota: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Portal:
    """A DocSpace portal mounted under a path prefix of the simulator's listeners.

    Every method is safe to call from the test thread while the server runs.
    """

    def __init__(
        self,
        alias: str,
        *,
        prefix: str | None = None,
        version: str = DEFAULT_VERSION,
        owner_email_activated: bool = True,
        link_base: str | None = None,
        rate_limit: Any = None,
        tenant_id: int = 1,
        name: str | None = None,
        admin_quota: int | None = None,
    ):
        if not ALIAS_PATTERN.match(alias or ""):
            raise ValueError(f"invalid portal alias {alias!r}: use lowercase letters, digits and '-'")
        parse_version(version)
        if link_base is not None and not urlsplit(link_base).scheme:
            raise ValueError(f"invalid link_base {link_base!r}: expected a URL such as http://docspace.invalid")

        self.alias = alias
        self.prefix = _normalize_prefix(f"/{alias}" if prefix is None else prefix)
        self.options = PortalOptions(
            version=version,
            owner_email_activated=owner_email_activated,
            link_base=link_base.rstrip("/") if link_base else None,
            rate_limit=RateLimit.from_option(rate_limit),
            tenant_id=tenant_id,
            name=name or alias.capitalize(),
            admin_quota=admin_quota,
        )
        self.lock = threading.RLock()
        self.simulator: Simulator | None = None
        self.signer = LinkSigner(bytes.fromhex(derived_hex(alias, "portal-secret")))
        self.faults_table = FaultTable(seed=int(derived_hex(alias, "fault-seed")[:8], 16))
        self._reset_state()

    # Configuration

    @property
    def version(self) -> str:
        return self.options.version

    @property
    def version_info(self) -> tuple[int, ...]:
        return parse_version(self.options.version)

    @property
    def name(self) -> str:
        return self.options.name or self.alias

    @property
    def tenant_id(self) -> int:
        return self.options.tenant_id

    @property
    def link_base(self) -> str | None:
        return self.options.link_base

    @property
    def base_url(self) -> str:
        """The portal's address on the HTTP listener, e.g. http://127.0.0.1:8085/acme."""
        return self._require_simulator().http_url + self.prefix

    @property
    def https_base_url(self) -> str | None:
        https_url = self._require_simulator().https_url
        return https_url + self.prefix if https_url else None

    # State

    def _reset_state(self) -> None:
        with self.lock:
            users = seed_users(self.alias, owner_email_activated=self.options.owner_email_activated)
            self._users: dict[str, User] = {user.id: user for user in users}
            self._roles: dict[str, str] = {user.role: user.id for user in users}
            self.owner_id: str = self._roles["owner"]
            self._outbox: list[Email] = []
            self._short_links: dict[str, str] = {}
            self._sessions: dict[str, tuple[str, datetime]] = {}
            self._clock_offset = 0.0
            self._records: collections.deque[RequestRecord] = collections.deque(maxlen=REQUEST_LOG_LIMIT)
            self._counts: collections.Counter[str] = collections.Counter()
            self._total = 0
            self.rate_limiter = RateLimiter(self.options.rate_limit) if self.options.rate_limit else None
            self.faults_table.clear()

    def reset(self) -> None:
        """Restore the seeded state: users, owner, outbox, counters, faults and clock."""
        self._reset_state()

    @property
    def users(self) -> dict[str, User]:
        """Users by role ("owner" is the seeded owner, not necessarily the current one)."""
        with self.lock:
            return {role: self._users[user_id] for role, user_id in self._roles.items()}

    @property
    def all_users(self) -> list[User]:
        with self.lock:
            return list(self._users.values())

    @property
    def owner(self) -> User:
        with self.lock:
            return self._users[self.owner_id]

    def get_user(self, user_id: str) -> User | None:
        guid = normalize_guid(user_id)
        with self.lock:
            return self._users.get(guid) if guid else None

    def find_user_by_email(self, email: str) -> User | None:
        expected = email.strip().lower()
        with self.lock:
            return next((user for user in self._users.values() if user.email.lower() == expected), None)

    def find_user_by_name(self, user_name: str) -> User | None:
        expected = user_name.strip().lower()
        with self.lock:
            return next((user for user in self._users.values() if user.user_name.lower() == expected), None)

    def add_user(
        self,
        email: str,
        *,
        first_name: str = "Test",
        last_name: str = "User",
        role: str | None = None,
        user_name: str | None = None,
        user_type: str = "user",
        status: int = EmployeeStatus.ACTIVE,
        activation_status: int = ActivationStatus.ACTIVATED,
        user_id: str | None = None,
        api_key: str | None = None,
        password: str | None = None,
        is_ldap: bool = False,
        is_sso: bool = False,
    ) -> User:
        """Add a member; id, API key and password are derived from the email unless given."""
        if user_type not in USER_TYPES:
            raise ValueError(f"invalid user_type {user_type!r}: expected one of {', '.join(USER_TYPES)}")
        if "@" not in email:
            raise ValueError(f"invalid email {email!r}")

        key = role or email.split("@")[0].lower()
        guid = normalize_guid(user_id) if user_id else user_id_for(self.alias, "email:" + email.lower())
        if guid is None:
            raise ValueError(f"invalid user_id {user_id!r}: expected a GUID")

        with self.lock:
            if self.find_user_by_email(email):
                raise ValueError(f"a user with email {email!r} already exists on portal {self.alias!r}")
            if guid in self._users:
                raise ValueError(f"a user with id {guid} already exists on portal {self.alias!r}")
            if key in self._roles:
                raise ValueError(f"role {key!r} is already used by another user on portal {self.alias!r}")

            user = User(
                id=guid,
                email=email,
                first_name=first_name,
                last_name=last_name,
                user_name=user_name or key,
                role=key,
                user_type=user_type,
                status=int(status),
                activation_status=int(activation_status),
                api_key=api_key or api_key_for(self.alias, "email:" + email.lower()),
                password=password or password_for(self.alias, "email:" + email.lower()),
                is_ldap=is_ldap,
                is_sso=is_sso,
            )
            self._users[user.id] = user
            self._roles[key] = user.id
            return user

    def update_user(self, user_id: str, **changes: Any) -> User:
        """Change fields of a member, e.g. status=2 to disable them."""
        unknown = set(changes) - _USER_FIELDS
        if unknown:
            raise ValueError(f"unknown user fields: {', '.join(sorted(unknown))}")
        if "user_type" in changes and changes["user_type"] not in USER_TYPES:
            raise ValueError(f"invalid user_type {changes['user_type']!r}: expected one of {', '.join(USER_TYPES)}")

        with self.lock:
            user = self.get_user(user_id)
            if user is None:
                raise KeyError(f"no user {user_id!r} on portal {self.alias!r}")
            if "role" in changes and changes["role"] != user.role:
                if changes["role"] in self._roles:
                    raise ValueError(f"role {changes['role']!r} is already used by another user on portal {self.alias!r}")
                self._roles.pop(user.role, None)
                self._roles[changes["role"]] = user.id
            for name, value in changes.items():
                setattr(user, name, value)
            return user

    def set_owner(self, user_id: str) -> None:
        """Make a member the owner directly, as if a transfer had been confirmed."""
        with self.lock:
            user = self.get_user(user_id)
            if user is None:
                raise KeyError(f"no user {user_id!r} on portal {self.alias!r}")
            user.user_type = "admin"
            self.owner_id = user.id

    # Clock

    def now(self) -> datetime:
        """Return the portal clock's time: wall-clock UTC plus every advance_clock() so far."""
        return datetime.now(timezone.utc) + timedelta(seconds=self._clock_offset)

    def advance_clock(self, seconds: float) -> datetime:
        with self.lock:
            self._clock_offset += float(seconds)
            return self.now()

    # Sessions and authentication

    def create_session(self, user_id: str) -> tuple[str, datetime]:
        token = secrets.token_urlsafe(48)
        expires = self.now() + SESSION_LIFETIME
        with self.lock:
            self._sessions[token] = (user_id, expires)
        return token, expires

    def user_for_token(self, token: str) -> User | None:
        with self.lock:
            session = self._sessions.get(token)
            if session is None or session[1] < self.now():
                return None
            return self._users.get(session[0])

    def user_for_api_key(self, api_key: str) -> User | None:
        with self.lock:
            return next((user for user in self._users.values() if user.api_key and user.api_key == api_key), None)

    # Confirmation links

    def make_confirmation_link(
        self,
        new_owner_id: str,
        *,
        base: str | None = None,
        issued_at: datetime | None = None,
        owner_email: str | None = None,
    ) -> str:
        """Build the link an owner-change email carries, as DocSpace would right now."""
        email = owner_email or self.owner.email
        uid = normalize_guid(new_owner_id) or new_owner_id
        key = self.signer.make_key(email, CONFIRM_TYPE, uid, issued_at or self.now())
        link_base = base or self.link_base or self.base_url

        # DocSpace 3.5.0 replaced the plain `email` parameter with an encrypted `encemail`.
        if self.version_info >= (3, 5, 0):
            return build_link(link_base, key=key, uid=uid, encemail=self.signer.encrypt_email(email))
        return build_link(link_base, key=key, uid=uid, email=email)

    def shorten(self, link: str, base: str) -> str:
        with self.lock:
            code = "".join(secrets.choice(SHORT_CODE_ALPHABET) for _unused in range(SHORT_CODE_LENGTH))
            self._short_links[code] = link
        return f"{base}/s/{code}"

    def resolve_short_code(self, code: str) -> str | None:
        with self.lock:
            return self._short_links.get(code)

    def validate_owner_change(self, email: str | None, key: str, uid: str | None) -> ValidationResult:
        """Check owner-change link parameters the way DocSpace 3.7 does."""
        if not email or uid is None:
            return ValidationResult.INVALID
        with self.lock:
            # A link stops working once its email no longer belongs to the owner.
            if self.owner.email.lower() != email.lower():
                return ValidationResult.INVALID

            new_owner = self._users.get(uid)
            if new_owner is None or new_owner.status == EmployeeStatus.TERMINATED:
                return ValidationResult.INVALID
            return self.signer.check_key(email, CONFIRM_TYPE, uid, key, self.now())

    def send_owner_change_email(self, new_owner: User | None, new_owner_id: str, base: str) -> Email:
        """Put the owner-change email into the outbox and return it."""
        with self.lock:
            owner = self.owner
            link_base = self.link_base or base
            link = self.make_confirmation_link(new_owner_id, base=link_base)
            short_link = self.shorten(link, link_base)
            new_owner_name = new_owner.display_name if new_owner else "Unknown Unknown"
            body = (
                f"<p>Hello, {html.escape(owner.display_name)}!</p>\n"
                f"<p>A request was made to hand over ownership of the DocSpace portal "
                f"{html.escape(self.name)} to {html.escape(new_owner_name)}.</p>\n"
                f'<p><a href="{html.escape(short_link)}">Confirm the portal owner change</a></p>\n'
                f"<p>The link is valid for 7 days.</p>\n"
            )
            email = Email(
                to=owner.email,
                subject=f"Confirm the change of the {self.name} DocSpace owner",
                body=body,
                short_link=short_link,
                link=link,
                sent_at=self.now(),
                new_owner_id=new_owner_id,
            )
            self._outbox.append(email)
            return email

    @property
    def outbox(self) -> list[Email]:
        with self.lock:
            return list(self._outbox)

    @property
    def last_email(self) -> Email | None:
        with self.lock:
            return self._outbox[-1] if self._outbox else None

    def clear_outbox(self) -> None:
        with self.lock:
            self._outbox.clear()

    # Request counters

    def record_request(self, record: RequestRecord) -> None:
        with self.lock:
            self._records.append(record)
            self._counts[record.endpoint] += 1
            self._total += 1

    @property
    def requests(self) -> list[RequestRecord]:
        with self.lock:
            return list(self._records)

    def request_count(self, endpoint: str | None = None) -> int:
        """Count requests: all of them, or one endpoint such as "GET /api/2.0/people/{userid}".

        An endpoint given with a concrete path ("GET /api/2.0/people/email") is
        matched against the logged paths instead.
        """
        with self.lock:
            if endpoint is None:
                return self._total
            if endpoint in self._counts:
                return self._counts[endpoint]
            method, _unused, path = endpoint.partition(" ")
            return sum(1 for record in self._records if record.method == method.upper() and record.path == path)

    def request_counts(self) -> dict[str, int]:
        with self.lock:
            return dict(self._counts)

    def clear_requests(self) -> None:
        with self.lock:
            self._records.clear()
            self._counts.clear()
            self._total = 0

    # Faults

    def add_fault(self, kind: str, path: str = "*", method: str = "*", **options: Any) -> Fault:
        """Inject a fault; see Fault for the options."""
        if "probability" in options and "times" not in options:
            options["times"] = None
        return self.faults_table.add(Fault(kind=kind, path=path, method=method, **options))

    @property
    def faults(self) -> list[Fault]:
        return self.faults_table.list()

    def remove_fault(self, fault_id: int) -> bool:
        return self.faults_table.remove(fault_id)

    def clear_faults(self) -> None:
        self.faults_table.clear()

    # Browser-side confirmation

    def browser_confirm(self, link: str) -> BrowserConfirmation:
        """Do what the owner's browser does with the emailed link.

        Resolve a short link, validate the parameters, then send the owner-change
        PUT as the logged-in current owner. Nothing of this is counted or logged.
        """
        link = link.strip()
        parts = urlsplit(link)
        path_segments = [segment for segment in parts.path.split("/") if segment]
        if len(path_segments) >= 2 and path_segments[-2] == "s" and not parts.query:
            resolved = self.resolve_short_code(path_segments[-1])
            if resolved is None:
                return BrowserConfirmation("UnknownShortLink", False, self.owner_id, link=link)
            link = resolved

        query = urlsplit(link).query if "?" in link or "://" in link else link
        params = parse_query(query)
        with self.lock:
            email = params.get("email") or self.signer.decrypt_email(params.get("encemail", ""))
            uid = normalize_guid(params.get("uid", ""))
            if params.get("type", "").lower() != CONFIRM_TYPE.lower():
                result = ValidationResult.INVALID
            else:
                result = self.validate_owner_change(email, params.get("key", ""), uid)
            if result != ValidationResult.OK:
                return BrowserConfirmation(_result_name(result), False, self.owner_id, link=link)

            token, _unused = self.create_session(self.owner_id)
            headers = api.Headers({"confirm": query, "Content-Type": "application/json"})
            call = api.Call(
                method="PUT",
                path="/api/2.0/settings/owner",
                query_string="",
                headers=headers,
                cookies={"asc_auth_key": token},
                body=f'{{"ownerId":"{uid}"}}'.encode(),
                base=self.link_base or self._base_or_placeholder(),
            )
            previous_owner = self.owner_id
            reply = api.dispatch(self, call)
            message = None
            if reply.status != 200:
                body = reply.json() if reply.body else None
                message = body.get("error", {}).get("message") if isinstance(body, dict) else None
            return BrowserConfirmation(
                "Ok",
                self.owner_id != previous_owner,
                self.owner_id,
                status=reply.status,
                message=message,
                link=link,
            )

    # Manifest

    def manifest(self) -> dict[str, Any]:
        with self.lock:
            return {
                "alias": self.alias,
                "prefix": self.prefix,
                "base_url": self.base_url if self.simulator and self.simulator.http_url else None,
                "https_base_url": self.https_base_url if self.simulator and self.simulator.http_url else None,
                "version": self.version,
                "name": self.name,
                "tenant_id": self.tenant_id,
                "link_base": self.link_base,
                "owner_id": self.owner_id,
                "rate_limit": self.options.rate_limit.to_dict() if self.options.rate_limit else None,
                "users": {role: self._users[user_id].manifest() for role, user_id in self._roles.items()},
            }

    def _require_simulator(self) -> Simulator:
        if self.simulator is None or not self.simulator.http_url:
            raise RuntimeError(f"portal {self.alias!r} has no address yet: add it to a started Simulator")
        return self.simulator

    def _base_or_placeholder(self) -> str:
        try:
            return self.base_url
        except RuntimeError:
            return "http://docspace-simulator.invalid" + self.prefix

    def __repr__(self) -> str:
        return f"<Portal {self.alias!r} prefix={self.prefix!r} version={self.version}>"


def _normalize_prefix(prefix: str) -> str:
    prefix = prefix.strip()
    if prefix in ("", "/"):
        return ""
    if not prefix.startswith("/"):
        prefix = "/" + prefix
    prefix = prefix.rstrip("/")
    if prefix.startswith("/_simulator"):
        raise ValueError(f"invalid prefix {prefix!r}: /_simulator is reserved for the control API")
    return prefix


def _result_name(result: ValidationResult) -> str:
    return {ValidationResult.OK: "Ok", ValidationResult.INVALID: "Invalid", ValidationResult.EXPIRED: "Expired"}[result]
