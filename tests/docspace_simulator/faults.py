"""Injected faults: what a proxy, an overloaded server or a broken network does."""

from __future__ import annotations

import itertools
import json
import random
import threading
from dataclasses import asdict, dataclass, fields
from typing import Any

from . import envelopes
from .envelopes import Reply

FAULT_KINDS = ("status", "html", "slow", "drop", "redirect", "empty", "truncated", "wrong_shape")

# DocSpace's authentication layer and its rate limiter send these statuses with an empty body.
_EMPTY_BODY_STATUSES = {401, 403, 405, 429}

_ids = itertools.count(1)


@dataclass
class Fault:
    """A rule that replaces or delays the normal response of matching requests.

    `path` is either a portal-relative path ("/api/2.0/people/email") or an
    endpoint template ("/api/2.0/people/{userid}"); "*" matches every path.
    `times` limits how often the fault fires (None: no limit); with a
    `probability`, each matching request fires it with that chance.
    """

    kind: str
    path: str = "*"
    method: str = "*"
    times: int | None = 1
    probability: float | None = None
    status: int | None = None
    retry_after: int | None = None
    body: str | None = None
    message: str | None = None
    delay: float = 0.0
    location: str | None = None
    json_body: Any = None
    after_processing: bool = False
    id: int = 0
    applied: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"invalid fault kind {self.kind!r}: expected one of {', '.join(FAULT_KINDS)}")
        if self.probability is not None and not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"invalid fault probability {self.probability!r}: expected 0.0 to 1.0")
        if self.times is not None and self.times < 1:
            raise ValueError(f"invalid fault times {self.times!r}: expected 1 or more, or null for no limit")
        if self.body not in (None, "json", "empty"):
            raise ValueError(f"invalid fault body {self.body!r}: expected 'json' or 'empty'")
        if self.kind == "redirect" and not self.location:
            raise ValueError("a redirect fault needs a location")
        if self.kind == "slow" and self.delay <= 0:
            raise ValueError("a slow fault needs a delay in seconds greater than 0")
        self.method = self.method.upper()
        if not self.id:
            self.id = next(_ids)

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> Fault:
        """Create a fault from a JSON object; unknown keys raise ValueError."""
        known = {f.name for f in fields(cls)} - {"id", "applied"}
        unknown = set(spec) - known
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        if "kind" not in spec:
            raise ValueError("missing fault field: kind")

        values = dict(spec)
        if "probability" in values and "times" not in values:
            values["times"] = None
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def matches(self, method: str, path: str, template: str | None) -> bool:
        if self.method not in ("*", method.upper()):
            return False
        return self.path in ("*", path) or (template is not None and self.path == template)


class FaultTable:
    """The faults of one portal; safe to use from the server and the test thread."""

    def __init__(self, seed: int):
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._seed = seed
        self._random = random.Random(seed)

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def remove(self, fault_id: int) -> bool:
        with self._lock:
            before = len(self._faults)
            self._faults = [fault for fault in self._faults if fault.id != fault_id]
            return len(self._faults) != before

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._random = random.Random(self._seed)

    def list(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, method: str, path: str, template: str | None) -> Fault | None:
        """Return the first fault that fires for this request and count its use."""
        with self._lock:
            for fault in self._faults:
                if not fault.matches(method, path, template):
                    continue
                if fault.probability is not None and self._random.random() >= fault.probability:
                    continue

                fault.applied += 1
                if fault.times is not None and fault.applied >= fault.times:
                    self._faults.remove(fault)
                return fault
        return None


def render(fault: Fault, processed: Reply | None, *, url: str, method: str) -> Reply:
    """Build the reply a fault sends; `processed` is the real reply when there is one.

    "slow" and "drop" are not replies and are handled by the server.
    """
    if fault.kind == "status":
        status = fault.status or 503
        body = fault.body or ("empty" if status in _EMPTY_BODY_STATUSES else "json")
        if body == "empty":
            reply = envelopes.empty(status)
        else:
            message = fault.message or envelopes.REASONS.get(status, "Error")
            reply = envelopes.error(status, message)
        if fault.retry_after is not None:
            reply.headers["Retry-After"] = str(fault.retry_after)
        return reply

    if fault.kind == "html":
        reply = envelopes.nginx_page(fault.status or 502)
        if fault.retry_after is not None:
            reply.headers["Retry-After"] = str(fault.retry_after)
        return reply

    if fault.kind == "redirect":
        return envelopes.redirect(fault.location or "/", fault.status or 302)

    if fault.kind == "empty":
        return Reply(fault.status or 200, b"", envelopes.JSON_TYPE)

    if fault.kind == "truncated":
        if processed is not None and processed.body:
            text = processed.body
        else:
            text = envelopes.success({"status": 1, "message": "truncated"}, url=url, method=method).body
        return Reply(fault.status or 200, text[: max(1, len(text) // 2)], envelopes.JSON_TYPE)

    if fault.kind == "wrong_shape":
        shape = fault.json_body if fault.json_body is not None else [{"unexpected": True}]
        return Reply(fault.status or 200, json.dumps(shape).encode(), envelopes.JSON_TYPE)

    raise ValueError(f"fault kind {fault.kind!r} has no reply")
