"""A loopback HTTP server that behaves like ONLYOFFICE DocSpace portals.

It covers the endpoints the onlyoffice.docspace collection calls: reading the
owner and users, and the two-step owner change with its emailed link.
"""

from .faults import FAULT_KINDS, Fault
from .model import (
    DEFAULT_VERSION,
    LOST_USER_ID,
    ZERO_GUID,
    ActivationStatus,
    EmployeeStatus,
    User,
    ValidationResult,
)
from .portal import BrowserConfirmation, Email, Portal, RequestRecord
from .ratelimit import RateLimit
from .server import Simulator

__all__ = [
    "ActivationStatus",
    "BrowserConfirmation",
    "DEFAULT_VERSION",
    "Email",
    "EmployeeStatus",
    "FAULT_KINDS",
    "Fault",
    "LOST_USER_ID",
    "Portal",
    "RateLimit",
    "RequestRecord",
    "Simulator",
    "User",
    "ValidationResult",
    "ZERO_GUID",
]
