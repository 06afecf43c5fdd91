# -*- coding: utf-8 -*-

# Copyright (c) onlyoffice.docspace contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Test doubles for the DocSpace client: responses, transport failures, a scripted portal and a fake clock.

Only the network is replaced. The client, the envelope parsing and the
owner flow under test are the real ones, so a request goes through
DocSpaceClient.send and parse_envelope exactly as in production.
"""

import http.client
import json
import socket
from collections import deque
from urllib.parse import parse_qsl, urlsplit

import requests
import requests.exceptions
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)

BASE_URL = "https://docspace.example.com"
ZERO_GUID = "00000000-0000-0000-0000-000000000000"

OWNER_ID = "4a515a15-d4d6-4b8e-828e-e0586f18f3a3"
NEW_ID = "0c4c4e6c-7a5d-4d0b-9f1a-3e2d1c0b9a87"
ADMIN_ID = "7d2e8f90-1a2b-4c3d-8e4f-5a6b7c8d9e0f"
GUEST_ID = "9b8a7c6d-5e4f-4a3b-9c2d-1e0f2a3b4c5d"
INVITED_ID = "1f2e3d4c-5b6a-4978-8877-665544332211"
DISABLED_ID = "2a3b4c5d-6e7f-4a1b-9c2d-3e4f5a6b7c8d"
UNKNOWN_ID = "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f"

# API keys look like "sk-" and 64 hex digits; these are made up for the tests.
OWNER_KEY = "sk-" + "a1" * 32
ADMIN_KEY = "sk-" + "b2" * 32
NEW_KEY = "sk-" + "c3" * 32

CONFIRM_KEY = "638712345678901.K3YHASHSECRET"
ENCRYPTED_EMAIL = "ENCRYPTEDOWNERMAIL"
SHORT_CODE = "AbCdEfGhIjKlMnO"


def owner_profile(**changes):
    profile = {
        "id": OWNER_ID,
        "email": "olivia.owner@example.com",
        "displayName": "Olivia Owner",
        "userName": "olivia",
        "status": 1,
        "activationStatus": 1,
        "isOwner": True,
        "isAdmin": False,
        "isVisitor": False,
    }
    profile.update(changes)
    return profile


def user_profile(user_id, email, name, **changes):
    profile = {
        "id": user_id,
        "email": email,
        "displayName": name,
        "status": 1,
        "activationStatus": 1,
        "isOwner": False,
        "isAdmin": False,
        "isVisitor": False,
    }
    profile.update(changes)
    return profile


def default_users():
    """Return the portal's users by id: the owner, the new owner and one of each refusal case."""
    users = [
        owner_profile(),
        user_profile(NEW_ID, "nadia.admin@example.com", "Nadia Admin"),
        user_profile(ADMIN_ID, "adam.admin@example.com", "Adam Admin", isAdmin=True),
        user_profile(GUEST_ID, "gustav.guest@example.com", "Gustav Guest", isVisitor=True),
        user_profile(INVITED_ID, "ines.invited@example.com", "Ines Invited", status=4, activationStatus=2),
        user_profile(DISABLED_ID, "dora.disabled@example.com", "Dora Disabled", status=2),
    ]
    return dict((user["id"], user) for user in users)


def confirmation_query(uid=NEW_ID, key=CONFIRM_KEY, email=None, encemail=ENCRYPTED_EMAIL, confirm_type="PortalOwnerChange"):
    """Return the query string of an owner-change link, as DocSpace builds it."""
    parts = ["type=%s" % confirm_type, "key=%s" % key]
    if email is not None:
        parts.append("email=%s" % email)
    if encemail is not None:
        parts.append("encemail=%s" % encemail)
    parts.append("uid=%s" % uid)
    return "&".join(parts)


def confirmation_link(host=BASE_URL, **query):
    return "%s/confirm/PortalOwnerChange?%s" % (host, confirmation_query(**query))


# Responses and transport failures -------------------------------------------


def make_response(status=200, body=None, headers=None, url=BASE_URL + "/api/2.0/settings", reason=None):
    """Build a real requests.Response: ``body`` is a str, or JSON-encoded when it is a dict or list."""
    response = requests.Response()
    response.status_code = status
    response.reason = reason or http.client.responses.get(status, "")
    response.url = url
    response.encoding = "utf-8"
    response.headers = CaseInsensitiveDict(headers or {})
    if isinstance(body, (dict, list)):
        text = json.dumps(body)
        response.headers.setdefault("Content-Type", "application/json; charset=utf-8")
    else:
        text = body or ""
    response._content = text.encode("utf-8")
    return response


def envelope(value, status=200):
    """Return a DocSpace success envelope around ``value``."""
    count = len(value) if isinstance(value, list) else 1
    return {"response": value, "count": count, "links": [], "status": 0, "statusCode": status}


def ok(value, headers=None):
    return make_response(200, envelope(value), headers=headers)


def no_content_ok():
    """Return the envelope DocSpace 3.x sends for an action without a result (the owner PUT)."""
    return make_response(200, {"count": 0, "links": [], "status": 0, "statusCode": 200})


def error_envelope(status, message):
    body = {"error": {"message": message, "type": "System.Exception", "stack": "", "hresult": -2146233088},
            "status": 1, "statusCode": status}
    return make_response(status, body)


def empty(status, headers=None):
    return make_response(status, "", headers=headers)


def html_page(status, title):
    body = "<html>\r\n<head><title>%s</title></head>\r\n<body><center><h1>%s</h1></center><hr><center>nginx</center></body>\r\n</html>\r\n" % (title, title)
    return make_response(status, body, headers={"Content-Type": "text/html"})


def new_connection_error():
    """Return what requests raises when the TCP connection cannot be opened."""
    reason = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")
    return requests.exceptions.ConnectionError(MaxRetryError(None, "/api/2.0/settings", reason=reason))


def name_resolution_error():
    reason = NameResolutionError("docspace.example.com", None, socket.gaierror(-2, "Name or service not known"))
    return requests.exceptions.ConnectionError(MaxRetryError(None, "/api/2.0/settings", reason=reason))


def connect_timeout():
    reason = ConnectTimeoutError(None, "Connection to docspace.example.com timed out. (connect timeout=30)")
    return requests.exceptions.ConnectTimeout(MaxRetryError(None, "/api/2.0/settings", reason=reason))


def read_timeout():
    return requests.exceptions.ReadTimeout(ReadTimeoutError(None, "/api/2.0/settings", "Read timed out. (read timeout=30)"))


def remote_disconnected():
    """Return what requests raises when the server closes the connection without a response."""
    cause = http.client.RemoteDisconnected("Remote end closed connection without response")
    return requests.exceptions.ConnectionError(ProtocolError("Connection aborted.", cause))


def ssl_error():
    return requests.exceptions.SSLError("certificate verify failed: unable to get local issuer certificate")


# Transport doubles -----------------------------------------------------------


class RecordedRequest:
    """One request as the client handed it to the session."""

    def __init__(self, method, url, params=None, data=None, headers=None, **options):
        self.method = method
        self.url = url
        self.params = dict(params or {})
        self.headers = CaseInsensitiveDict(headers or {})
        self.body = json.loads(data) if data else None
        self.options = options

        parts = urlsplit(url)
        self.host = parts.netloc
        self.full_path = parts.path
        self.query = parts.query
        # FakePortal replaces this with the path below the portal's base URL.
        self.path = parts.path

    @property
    def authorization(self):
        return self.headers.get("Authorization")

    def __repr__(self):
        return "<%s %s>" % (self.method, self.url)


class ScriptedSession:
    """A stand-in for requests.Session that replays a fixed sequence of responses and exceptions."""

    def __init__(self, outcomes):
        self.outcomes = deque(outcomes)
        self.requests = []
        self.headers = {}

    def request(self, method, url, **kwargs):
        self.requests.append(RecordedRequest(method, url, **kwargs))
        if not self.outcomes:
            raise AssertionError("unexpected request %s %s: the script has no response left" % (method, url))
        outcome = self.outcomes.popleft()
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


class FakeClock:
    """A monotonic clock that only moves when something sleeps, and records every sleep."""

    def __init__(self, start=1000.0):
        self.now = start
        self.sleeps = []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


class ClockSleeper:
    """A sleep function that advances a shared FakeClock and keeps its own record of delays."""

    def __init__(self, clock):
        self.clock = clock
        self.calls = []

    def __call__(self, seconds):
        self.calls.append(seconds)
        self.clock.sleep(seconds)


class FakePortal:
    """A scripted DocSpace portal behind a stand-in requests.Session.

    It serves the endpoints the owner flow uses with DocSpace's envelopes,
    picks the caller by the Authorization header, and records every request. ``script``
    queues responses, exceptions or callables for one method and path ahead
    of the default behaviour; a callable receives the RecordedRequest.
    """

    def __init__(self, base_url=BASE_URL, users=None, owner_id=OWNER_ID, keys=None):
        self.base_url = base_url
        self.base_path = urlsplit(base_url).path.rstrip("/")
        self.users = users if users is not None else default_users()
        self.owner_id = owner_id
        self.keys = keys if keys is not None else {OWNER_KEY: OWNER_ID, ADMIN_KEY: ADMIN_ID, NEW_KEY: NEW_ID}
        self.requests = []
        self.headers = {}
        self.scripts = {}
        self.links = {SHORT_CODE: confirmation_link()}
        self.link_result = 0
        self.instructions_message = ('The instructions have been sent to <a href="mailto:olivia.owner@example.com">'
                                     'olivia.owner@example.com</a>')

    # Scripting.

    def script(self, method, path, *outcomes):
        self.scripts.setdefault((method, path), deque()).extend(outcomes)

    def calls(self, method=None, path=None):
        return [request for request in self.requests
                if (method is None or request.method == method) and (path is None or request.path == path)]

    def summary(self):
        """Return the requests as "METHOD path" strings, in order."""
        return ["%s %s" % (request.method, request.path) for request in self.requests]

    # requests.Session interface.

    def request(self, method, url, **kwargs):
        request = RecordedRequest(method, url, **kwargs)
        request.path = self._relative_path(request)
        self.requests.append(request)

        queue = self.scripts.get((method, request.path))
        if queue:
            outcome = queue.popleft()
            if isinstance(outcome, BaseException):
                raise outcome
            if callable(outcome):
                outcome = outcome(request)
            if outcome is not None:
                return outcome
        return self.respond(request)

    def _relative_path(self, request):
        if not request.url.startswith(self.base_url):
            return request.url
        return request.full_path[len(self.base_path):]

    # Default behaviour, following the DocSpace server.

    def caller_id(self, request):
        authorization = request.authorization or ""
        if not authorization.startswith("Bearer "):
            return None
        return self.keys.get(authorization[len("Bearer "):])

    def respond(self, request):
        method, path = request.method, request.path
        caller = self.caller_id(request)

        if method == "GET" and path.startswith("/s/"):
            target = self.links.get(path[len("/s/"):], self.base_url + "/")
            return make_response(302, "", headers={"Location": target})
        if method == "POST" and path == "/api/2.0/authentication/confirm":
            return ok({"result": self.link_result})

        if caller is None:
            if method == "GET" and path == "/api/2.0/settings":
                # Anonymous visitors get the settings with the zero GUID as owner.
                return ok({"ownerId": ZERO_GUID, "culture": "en-US"})
            return empty(401)

        if method == "GET" and path == "/api/2.0/settings":
            return ok({"ownerId": self.owner_id, "culture": "en-US", "timezone": "UTC"})
        if method == "GET" and path == "/api/2.0/people/@self":
            return ok(dict(self.users[caller]))
        if method == "GET" and path == "/api/2.0/people/email":
            email = request.params.get("email", "").lower()
            for user in self.users.values():
                if user["email"].lower() == email:
                    return ok(dict(user))
            return error_envelope(404, "The user could not be found")
        if method == "GET" and path.startswith("/api/2.0/people/"):
            user = self.users.get(path[len("/api/2.0/people/"):].lower())
            if user is None:
                return error_envelope(404, "The user could not be found")
            return ok(dict(user))
        if method == "GET" and path == "/api/2.0/portal":
            return ok(self.tenant(caller))
        if method == "POST" and path == "/api/2.0/settings/owner":
            return ok({"status": 1, "message": self.instructions_message})
        if method == "PUT" and path == "/api/2.0/settings/owner":
            return self.apply_owner_change(request)
        return empty(404)

    def tenant(self, caller):
        user = self.users[caller]
        if caller == self.owner_id or user.get("isAdmin"):
            return {"tenantId": 1, "tenantAlias": "docspace", "name": "Example DocSpace", "ownerId": self.owner_id,
                    "status": 0, "version": 2}
        return {"tenantId": 0, "tenantAlias": None, "name": None, "ownerId": ZERO_GUID, "status": 0, "version": 0}

    def apply_owner_change(self, request):
        confirm = dict(parse_qsl(request.headers.get("confirm", "")))
        if not confirm:
            return empty(403)
        if confirm.get("key") != CONFIRM_KEY:
            return empty(401)
        self.owner_id = request.body["ownerId"]
        return no_content_ok()
