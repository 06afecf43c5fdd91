"""Users, versions and the constants the DocSpace API exposes as numbers."""

from __future__ import annotations

import hashlib
import html
import re
import uuid
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

ZERO_GUID = "00000000-0000-0000-0000-000000000000"

# DocSpace resolves every unknown user id to this placeholder (Constants.LostUser in
# ASC.Core.Users). It counts as active, which is why an unknown `ownerId` gets an email.
LOST_USER_ID = "4a515a15-d4d6-4b8e-828e-e0586f18f3a3"

DEFAULT_VERSION = "3.7.2"

# Seeded users live in this namespace so their ids are stable across runs and machines.
USER_ID_NAMESPACE = uuid.UUID("6f1c2d3e-5a4b-4c7d-9e8f-0a1b2c3d4e5f")

ALIAS_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


class EmployeeStatus(IntEnum):
    ACTIVE = 1
    TERMINATED = 2
    PENDING = 4


class ActivationStatus(IntEnum):
    NOT_ACTIVATED = 0
    ACTIVATED = 1
    PENDING = 2


class ValidationResult(IntEnum):
    """Outcome of a confirmation-link check, as `response.result` carries it."""

    OK = 0
    INVALID = 1
    EXPIRED = 2


# DocSpace 3.x employee types: "admin" is a DocSpace admin, "user" the paid "User"
# type (isCollaborator), "guest" a visitor.
USER_TYPES = ("admin", "room_admin", "user", "guest")


def parse_version(text: str) -> tuple[int, ...]:
    """Parse "3.7.2" into (3, 7, 2); raise ValueError on anything else."""
    if not re.fullmatch(r"\d+(\.\d+){1,3}", text or ""):
        raise ValueError(f"invalid DocSpace version {text!r}: expected digits like 3.7.2")
    return tuple(int(part) for part in text.split("."))


def normalize_guid(text: str) -> str | None:
    """Return the canonical lowercase form of a GUID in any case, or None."""
    try:
        return str(uuid.UUID(text.strip().strip("{}")))
    except (ValueError, AttributeError):
        return None


def derived_hex(*parts: str) -> str:
    """Return 64 lowercase hex characters derived from the given parts."""
    return hashlib.sha256("\x1f".join(("docspace-simulator",) + parts).encode()).hexdigest()


@dataclass
class User:
    """A portal member with the fields the simulated profile endpoints expose."""

    id: str
    email: str
    first_name: str
    last_name: str
    user_name: str
    role: str
    user_type: str = "user"
    status: int = EmployeeStatus.ACTIVE
    activation_status: int = ActivationStatus.ACTIVATED
    api_key: str | None = None
    password: str | None = None
    is_ldap: bool = False
    is_sso: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def is_guest(self) -> bool:
        return self.user_type == "guest"

    @property
    def is_docspace_admin(self) -> bool:
        return self.user_type == "admin"

    def manifest(self) -> dict[str, Any]:
        """Describe the user for the manifest and the control API, secrets included."""
        return {
            "id": self.id,
            "email": self.email,
            "display_name": self.display_name,
            "user_name": self.user_name,
            "api_key": self.api_key,
            "password": self.password,
            "role": self.role,
            "user_type": self.user_type,
            "status": int(self.status),
            "activation_status": int(self.activation_status),
        }

    def profile(self, *, is_owner: bool, version: tuple[int, ...]) -> dict[str, Any]:
        """Build the EmployeeFullDto fields that DocSpace returns for this user."""

        # DocSpace 3.7.1 stopped reporting the owner as an admin.
        is_admin = self.is_docspace_admin and not (is_owner and version >= (3, 7, 1))
        return {
            "id": self.id,
            # DocSpace sends displayName HTML-encoded, with .NET's &#39; for the apostrophe.
            "displayName": html.escape(self.display_name).replace("&#x27;", "&#39;"),
            "email": self.email,
            "userName": self.user_name,
            "firstName": self.first_name,
            "lastName": self.last_name,
            "status": int(self.status),
            "activationStatus": int(self.activation_status),
            "isOwner": is_owner,
            "isAdmin": is_admin,
            "isRoomAdmin": self.user_type == "room_admin",
            "isVisitor": self.user_type == "guest",
            "isCollaborator": self.user_type == "user",
            "isLDAP": self.is_ldap,
            "isSSO": self.is_sso,
            "isAnonim": False,
            "hasAvatar": False,
            "cultureName": "en-US",
            "mobilePhoneActivationStatus": 0,
            **self.extra,
        }


# role: (first name, last name, user type, status, activation status)
SEED_USERS: dict[str, tuple[str, str, str, int, int]] = {
    "owner": ("Olivia", "Owner", "admin", EmployeeStatus.ACTIVE, ActivationStatus.ACTIVATED),
    "admin": ("Adam", "Admin", "admin", EmployeeStatus.ACTIVE, ActivationStatus.ACTIVATED),
    "room_admin": ("Rita", "Roomadmin", "room_admin", EmployeeStatus.ACTIVE, ActivationStatus.ACTIVATED),
    "user": ("Ulrich", "User", "user", EmployeeStatus.ACTIVE, ActivationStatus.ACTIVATED),
    "successor": ("Sam", "Successor", "user", EmployeeStatus.ACTIVE, ActivationStatus.ACTIVATED),
    "guest": ("Greta", "Guest", "guest", EmployeeStatus.ACTIVE, ActivationStatus.ACTIVATED),
    "disabled": ("Dora", "Disabled", "user", EmployeeStatus.TERMINATED, ActivationStatus.ACTIVATED),
    "invited": ("Ivan", "Invited", "user", EmployeeStatus.PENDING, ActivationStatus.PENDING),
    "unactivated": ("Uma", "Unactivated", "user", EmployeeStatus.ACTIVE, ActivationStatus.NOT_ACTIVATED),
    "unicode": ("Zoë", "Łukasiewicz-Ångström", "user", EmployeeStatus.ACTIVE, ActivationStatus.ACTIVATED),
}


def user_id_for(alias: str, role: str) -> str:
    return str(uuid.uuid5(USER_ID_NAMESPACE, f"{alias}/{role}"))


def api_key_for(alias: str, role: str) -> str:
    return "sk-" + derived_hex(alias, role, "api-key")


def password_for(alias: str, role: str) -> str:
    return "Pw-" + derived_hex(alias, role, "password")[:20]


def email_for(alias: str, role: str) -> str:
    # The owner keeps a capital letter so clients must compare emails case-insensitively.
    local = "Owner" if role == "owner" else role
    return f"{local}@{alias}.docspace.test"


def seed_users(alias: str, *, owner_email_activated: bool = True) -> list[User]:
    """Create the deterministic users every portal starts with."""
    users = []
    for role, (first, last, user_type, status, activation) in SEED_USERS.items():
        if role == "owner" and not owner_email_activated:
            activation = ActivationStatus.NOT_ACTIVATED
        users.append(
            User(
                id=user_id_for(alias, role),
                email=email_for(alias, role),
                first_name=first,
                last_name=last,
                user_name=role.replace("_", "."),
                role=role,
                user_type=user_type,
                status=status,
                activation_status=activation,
                api_key=api_key_for(alias, role),
                password=password_for(alias, role),
            )
        )
    return users
