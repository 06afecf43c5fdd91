# -*- coding: utf-8 -*-

# Copyright (c) onlyoffice.docspace contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""HTTP client for the DocSpace API, shared by the onlyoffice.docspace modules.

This is an internal module_utils file: its interface may change without notice.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import email.utils
import html
import ipaddress
import json
import os
import re
import time
import traceback

from ansible.module_utils.basic import env_fallback, missing_required_lib

REQUESTS_IMPORT_ERROR = None
try:
    import requests
    import requests.certs
    import requests.exceptions
except ImportError:
    requests = None
    REQUESTS_IMPORT_ERROR = traceback.format_exc()

from ansible.module_utils.six.moves.urllib.parse import urlsplit, urlunsplit

USER_AGENT = "onlyoffice.docspace-ansible/1.0.0"

# Retry policy. It is fixed on purpose rather than exposed as options.
# Reads make at most READ_ATTEMPTS requests and sleep at most MAX_TOTAL_SLEEP
# seconds in all, so one read takes at most READ_ATTEMPTS * timeout + 60 s.
READ_ATTEMPTS = 4
BACKOFF_SECONDS = (1, 2, 4)
MAX_RETRY_AFTER = 30
MAX_TOTAL_SLEEP = 60

# Statuses after which a repeated read is safe and useful: rate limiting and
# the gateway errors a proxy in front of DocSpace produces while it restarts.
RETRY_STATUSES_READ = frozenset((429, 502, 503, 504))
RETRY_STATUSES_WRITE = frozenset((429,))

POLICY_READ = "read"
POLICY_WRITE = "write"

_TITLE_RE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAG_RE = re.compile(r"<[^>]+>")
_SPACE_RE = re.compile(r"\s+")
_TOKEN_RE = re.compile(r"^[\x21-\x7e]+$")
_BEARER_RE = re.compile(r"^bearer(\s+|$)", re.IGNORECASE)


def docspace_argument_spec():
    """Return the connection options that every onlyoffice.docspace module takes."""
    return dict(
        base_url=dict(type="str", required=True, fallback=(env_fallback, ["DOCSPACE_BASE_URL"])),
        api_key=dict(type="str", required=True, no_log=True, fallback=(env_fallback, ["DOCSPACE_API_KEY"])),
        validate_certs=dict(type="bool", default=True),
        ca_path=dict(type="path"),
        timeout=dict(type="int", default=30),
    )


class DocSpaceError(Exception):
    """A failure the module reports with fail_json.

    ``details`` contains extra result keys, such as the users involved. No message
    or detail ever contains the API key or the confirmation link.
    """

    def __init__(self, msg, **details):
        super(DocSpaceError, self).__init__(msg)
        self.msg = msg
        self.details = details


class DocSpaceAPIError(DocSpaceError):
    """A DocSpace API request that failed or returned something unusable.

    ``uncertain`` is true when the server may have processed the request even
    though no usable response came back (a dropped connection, a read timeout,
    a gateway error), so a write must be settled by reading the state back.
    """

    def __init__(self, method, url, reason, status=None, server_message=None, hint=None, uncertain=False, retry_after=None):
        self.method = method
        self.url = url
        self.status = status
        self.server_message = server_message
        self.reason = reason
        self.hint = hint
        self.uncertain = uncertain
        self.retry_after = retry_after
        super(DocSpaceAPIError, self).__init__(self._format(), method=method, url=url, status=status)

    def _format(self):
        text = "%s %s failed: %s" % (self.method, self.url, self.reason)
        if self.hint:
            text += ". " + self.hint
        return text

    def with_hint(self, hint):
        """Replace the advice at the end of the message, keeping the facts."""
        self.hint = hint
        self.msg = self._format()
        self.args = (self.msg,)
        return self


def clean_server_message(text):
    """Strip HTML tags and entities from a DocSpace message (they embed mailto: anchors)."""
    if text is None:
        return None
    text = _TAG_RE.sub("", str(text))
    return _SPACE_RE.sub(" ", html.unescape(text)).strip()


def normalize_base_url(value):
    """Return the portal address without trailing slashes, or raise DocSpaceError.

    A path prefix is kept, since a portal may be served below one behind a proxy.
    """
    if value is None or not str(value).strip():
        raise DocSpaceError("base_url is empty; set it to the portal address, for example https://docspace.example.com")
    text = str(value).strip()

    # Reject user info first, so that no later message echoes a password.
    authority = text.split("://", 1)[-1].split("/", 1)[0]
    if "@" in authority:
        raise DocSpaceError("base_url must not contain a user name or password; pass credentials with api_key")

    if "://" not in text:
        scheme = re.match(r"(https?):/*", text, re.IGNORECASE)
        if scheme:
            raise DocSpaceError("base_url '%s' is missing '//' after '%s:'; write it as %s://%s"
                                % (text, scheme.group(1), scheme.group(1).lower(), text[scheme.end():]))
        raise DocSpaceError(
            "base_url '%s' has no scheme; write it with https:// (or http://), for example https://%s" % (text, text.lstrip("/"))
        )

    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        netloc = text.split("://", 1)[1].split("/", 1)[0]
        if netloc.count(":") > 1 and "[" not in netloc:
            raise DocSpaceError("base_url '%s' has an IPv6 address without square brackets; write the address in "
                                "brackets, for example http://[::1]:8080" % text)
        raise DocSpaceError("base_url '%s' is not a valid URL: %s" % (text, exc))

    if parts.scheme.lower() not in ("http", "https"):
        raise DocSpaceError("base_url '%s' has the unsupported scheme '%s'; use https:// or http://" % (text, parts.scheme))
    if not parts.hostname:
        raise DocSpaceError("base_url '%s' has no host name; use the portal address, for example https://docspace.example.com" % text)
    if parts.query or parts.fragment:
        raise DocSpaceError("base_url '%s' must not contain a query string or fragment; use the portal address only" % text)
    if port == 0:
        raise DocSpaceError("base_url '%s' has the invalid port 0" % text)

    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme.lower(), parts.netloc, path, "", ""))


def authorization_header(api_key):
    """Return the Authorization header value for an API key or a session token.

    API keys (``sk-...``) only work with the Bearer scheme, and a value that
    already starts with ``Bearer`` is not prefixed twice.
    """
    text = (api_key or "").strip()
    if _BEARER_RE.match(text):
        text = _BEARER_RE.sub("", text, count=1)
    if not text:
        raise DocSpaceError("api_key is empty; set it to the API key of the current portal owner (or DOCSPACE_API_KEY)")
    if not _TOKEN_RE.match(text):
        # requests would echo an invalid header value in its exception, so stop here.
        raise DocSpaceError("api_key contains spaces, line breaks or non-ASCII characters; paste the key exactly as DocSpace issued it")
    return "Bearer " + text


def run_with_client(module, action):
    """Call ``action`` with a DocSpaceClient built from the module's connection options.

    Returns what ``action`` returns. A missing requests library or a
    DocSpaceError fails the module. fail_json runs outside the except block,
    so that older ansible-core attaches no traceback to the result.
    """
    if REQUESTS_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib("requests"), exception=REQUESTS_IMPORT_ERROR)

    failure = None
    try:
        client = DocSpaceClient(
            module.params["base_url"],
            module.params["api_key"],
            validate_certs=module.params["validate_certs"],
            ca_path=module.params["ca_path"],
            timeout=module.params["timeout"],
            log=module.log,
            warn=module.warn,
        )
        return action(client)
    except DocSpaceError as exc:
        failure = exc
    module.fail_json(msg=failure.msg, **failure.details)


def protect_base_url_password(module):
    """Mask a password written into base_url in everything the module returns, invocation included.

    Modules call it right after creating the AnsibleModule, before any fail_json.
    """
    value = module.params.get("base_url")
    if not value:
        return
    try:
        password = urlsplit(str(value).strip()).password
    except ValueError:
        return
    if password:
        module.no_log_values.add(password)


def is_loopback_host(hostname):
    """Tell whether a URL's host is a loopback address or localhost (not a name that merely starts with 127.)."""
    host = (hostname or "").lower().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_retry_after(value, now=None):
    """Return the delay in seconds that a Retry-After header requests, or None."""
    if value is None:
        return None
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None:
        return None
    current = time.time() if now is None else now
    return max(0, int(moment.timestamp() - current + 0.999))


def html_title(text):
    match = _TITLE_RE.search(text or "")
    if match:
        return clean_server_message(match.group(1))
    return None


def status_hint(status):
    """Return the usual next step for an HTTP status that DocSpace returned."""
    if status == 401:
        return ("Check api_key: it must be a valid API key (sk-...) or session token of the current portal owner, "
                "not expired or revoked")
    if status == 402:
        return "The portal's plan does not allow this; check the DocSpace payments page"
    if status == 403:
        return "The API key is not allowed to do this; use the current owner's key, with write scope for writes"
    if status == 404:
        return "Check base_url: it must be the portal address that serves /api/2.0"
    if status == 429:
        return "DocSpace is rate limiting this key; run again later"
    if status is not None and status >= 500:
        return "DocSpace or a proxy in front of it failed; try again later, and check the portal's logs if it persists"
    return None


def _is_connect_failure(exc):
    """Tell whether a requests exception means the request never reached the server."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.SSLError):
        return False
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason = exc.args[0] if exc.args else None
        inner = getattr(reason, "reason", reason)
        name = type(inner).__name__
        # urllib3 raises NewConnectionError (a ConnectTimeoutError subclass)
        # when the TCP connection could not be opened at all.
        return name in ("NewConnectionError", "ConnectTimeoutError", "NameResolutionError")
    return False


def parse_envelope(method, url, response):
    """Return the ``response`` value of a DocSpace envelope, or raise DocSpaceAPIError.

    Successful actions without a result (the owner PUT) return None: DocSpace
    returns them with ``count: 0`` and no ``response`` key, and versions before
    3.0 with an empty body.
    """
    status = response.status_code
    body = response.text or ""
    content_type = response.headers.get("Content-Type", "")
    # A write that got a 2xx it cannot read may still have been processed.
    unreadable_write = 200 <= status < 300 and method not in ("GET", "HEAD")

    if 300 <= status < 400:
        location = response.headers.get("Location")
        where = urlsplit(location)._replace(query="", fragment="").geturl() if location else "nowhere"
        raise DocSpaceAPIError(
            method, url, "HTTP %d redirect to %s" % (status, where), status=status,
            hint="The client does not follow redirects; set base_url to the address the portal serves the API on "
                 "(for example https:// rather than http://, or the public host name)")

    if not body.strip():
        if 200 <= status < 300:
            return None
        reason = {401: "HTTP 401 Unauthorized", 403: "HTTP 403 Forbidden"}.get(status, "HTTP %d with an empty body" % status)
        raise DocSpaceAPIError(method, url, reason, status=status, hint=status_hint(status), uncertain=status >= 500,
                               retry_after=parse_retry_after(response.headers.get("Retry-After")))

    try:
        document = json.loads(body)
    except ValueError:
        if "html" in content_type.lower() or body.lstrip()[:1] == "<":
            title = html_title(body) or "no title"
            reason = "HTTP %d with an HTML page (%s) instead of JSON" % (status, title)
            hint = status_hint(status) if status >= 400 else (
                "Check base_url: this address serves a web page, not the DocSpace API")
        else:
            reason = "HTTP %d with a response that is not valid JSON (%d bytes)" % (status, len(body))
            hint = status_hint(status) if status >= 400 else (
                "The response was cut off or is not from DocSpace; check base_url and any proxy in front of the portal")
        raise DocSpaceAPIError(method, url, reason, status=status, hint=hint, uncertain=status >= 500 or unreadable_write)

    if status >= 400 or not isinstance(document, dict):
        server_message = None
        if isinstance(document, dict):
            error = document.get("error")
            if isinstance(error, dict):
                server_message = clean_server_message(error.get("message"))
            elif isinstance(document.get("response"), dict):
                # Validation problems come inside "response" with a title and errors.
                problem = document["response"]
                server_message = clean_server_message(problem.get("title") or problem.get("detail"))
        if status < 400:
            raise DocSpaceAPIError(method, url, "HTTP %d with JSON that is not a DocSpace envelope" % status, status=status,
                                   hint="Check base_url: the address does not look like a DocSpace portal",
                                   uncertain=unreadable_write)
        reason = "HTTP %d %s" % (status, server_message) if server_message else "HTTP %d" % status
        raise DocSpaceAPIError(method, url, reason, status=status, server_message=server_message, hint=status_hint(status),
                               uncertain=status >= 500, retry_after=parse_retry_after(response.headers.get("Retry-After")))

    if "response" in document:
        return document["response"]
    if document.get("count") == 0 or "statusCode" in document:
        return None
    raise DocSpaceAPIError(method, url, "HTTP %d with JSON that is not a DocSpace envelope" % status, status=status,
                           hint="Check base_url: the address does not look like a DocSpace portal", uncertain=unreadable_write)


class DocSpaceClient:
    """Send DocSpace API requests with the module's TLS, timeout and retry settings.

    Redirects are never followed, so the Authorization header cannot reach
    another host, and writes are never resent after the server may have
    processed them.
    """

    def __init__(self, base_url, api_key, validate_certs=True, ca_path=None, timeout=30, log=None, warn=None, sleep=None):
        if requests is None:
            raise DocSpaceError("The Python library requests is required")
        if timeout is None or timeout <= 0:
            raise DocSpaceError("timeout must be a positive number of seconds, got %r" % (timeout,))

        self.base_url = normalize_base_url(base_url)
        self._authorization = authorization_header(api_key)
        self.timeout = timeout
        self._log = log or (lambda message: None)
        self._sleep = sleep or time.sleep
        # Count of 429 responses, so a poll loop can slow down after throttling.
        self.throttled = 0

        parts = urlsplit(self.base_url)
        self.ca_path = ca_path if validate_certs else None

        # An explicit bundle path keeps REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE
        # from replacing the certificate checks the user asked for.
        if not validate_certs:
            self.verify = False
        elif ca_path:
            if parts.scheme == "https" and not os.path.exists(ca_path):
                raise DocSpaceError("ca_path '%s' does not exist; set it to the PEM file of the CA that signed the portal's "
                                    "certificate (or a directory prepared with c_rehash), or leave it unset to use the "
                                    "CA bundle that ships with requests" % ca_path)
            self.verify = ca_path
        else:
            self.verify = requests.certs.where()

        self.session = requests.Session()
        self.session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})

        if warn is not None:
            if not validate_certs and parts.scheme == "https":
                warn("validate_certs is false: the portal's TLS certificate is not checked")
            if parts.scheme == "http" and not is_loopback_host(parts.hostname):
                warn("base_url uses plain http:// to %s, so the API key crosses the network unencrypted; use https://"
                     % parts.hostname)

    def url(self, path):
        return self.base_url + path

    def get(self, path, params=None):
        return self.call("GET", path, params=params)

    def call(self, method, path, params=None, body=None, headers=None, policy=POLICY_READ, authenticated=True,
             expect_response=True):
        """Send one API request and return the envelope's ``response`` value.

        With ``expect_response`` (all requests but the owner PUT), a success
        without a ``response`` value is an error: DocSpace always sends one.
        """
        url = self.url(path)
        response = self.send(method, url, params=params, body=body, headers=headers, policy=policy,
                             authenticated=authenticated)
        value = parse_envelope(method, url, response)
        if value is None and expect_response:
            raise DocSpaceAPIError(method, url, "HTTP %d without a response value" % response.status_code,
                                   status=response.status_code, uncertain=method not in ("GET", "HEAD"),
                                   hint="The response was empty or cut off; check base_url and any proxy in front of the portal")
        return value

    def send(self, method, url, params=None, body=None, headers=None, policy=POLICY_READ, authenticated=True, display_url=None):
        """Send one request with retries and return the requests.Response.

        POLICY_READ retries on 429, 502, 503, 504 and on transport failures
        other than TLS errors.
        POLICY_WRITE retries only on 429 and on failures to connect, because
        then the server certainly did not process the request. ``display_url``
        replaces ``url`` in logs and errors when the URL itself is a secret.
        """
        shown = display_url or url
        request_headers = dict(headers or {})
        if authenticated:
            request_headers["Authorization"] = self._authorization
        if body is not None:
            request_headers["Content-Type"] = "application/json"
        data = json.dumps(body) if body is not None else None
        retry_statuses = RETRY_STATUSES_READ if policy == POLICY_READ else RETRY_STATUSES_WRITE

        slept = 0.0
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.session.request(method, url, params=params, data=data, headers=request_headers,
                                                timeout=self.timeout, verify=self.verify, allow_redirects=False)
            except requests.exceptions.RequestException as exc:
                failure = self._transport_failure(method, shown, exc)
                # A certificate problem does not go away on its own, so it is not retried.
                transient = not isinstance(exc, requests.exceptions.SSLError)
                retryable = (policy == POLICY_READ and transient) or _is_connect_failure(exc)
                delay = self._next_delay(attempt, slept, None) if retryable else None
                if delay is None:
                    raise failure
                self._log("%s %s: %s; retrying in %d s (attempt %d of %d)" % (method, shown, failure.reason, delay, attempt + 1, READ_ATTEMPTS))
                self._sleep(delay)
                slept += delay
                continue
            except OSError as exc:
                # requests raises a plain OSError for local set-up problems, such as a CA bundle path that does not exist.
                raise DocSpaceAPIError(method, shown, "the request could not be prepared (%s)" % exc,
                                       hint="Check ca_path and the other connection options")

            if response.status_code == 429:
                self.throttled += 1
            if response.status_code in retry_statuses:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                delay = self._next_delay(attempt, slept, retry_after)
                if delay is not None:
                    self._log("%s %s: HTTP %d; retrying in %d s (attempt %d of %d)"
                              % (method, shown, response.status_code, delay, attempt + 1, READ_ATTEMPTS))
                    self._sleep(delay)
                    slept += delay
                    continue
                if response.status_code == 429:
                    wait_hint = " after %d s" % retry_after if retry_after is not None else " later"
                    raise DocSpaceAPIError(method, shown, "HTTP 429 Too Many Requests (still rate limited after %d attempts)" % attempt,
                                           status=429, retry_after=retry_after,
                                           hint="DocSpace is rate limiting this key; run again%s" % wait_hint)
            return response

    def _next_delay(self, attempt, slept, retry_after):
        """Return the seconds to wait before the next attempt, or None to give up."""
        if attempt >= READ_ATTEMPTS:
            return None
        if retry_after is not None:
            if retry_after > MAX_RETRY_AFTER:
                return None
            delay = retry_after
        else:
            delay = BACKOFF_SECONDS[min(attempt - 1, len(BACKOFF_SECONDS) - 1)]
        if slept + delay > MAX_TOTAL_SLEEP:
            return None
        return delay

    def _transport_failure(self, method, url, exc):
        if isinstance(exc, requests.exceptions.SSLError):
            if self.ca_path:
                hint = ("Check that ca_path '%s' is a PEM file that contains the CA that signed the portal's "
                        "certificate" % self.ca_path)
            else:
                hint = "Set ca_path to the CA bundle that signed the portal's certificate, or validate_certs to false for a test portal"
            return DocSpaceAPIError(method, url, "TLS certificate verification or handshake failed", hint=hint)
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return DocSpaceAPIError(method, url, "connection timed out after %s s" % self.timeout,
                                    hint="Check base_url and that the portal is reachable from this host")
        if isinstance(exc, requests.exceptions.Timeout):
            return DocSpaceAPIError(method, url, "no response within timeout (%s s)" % self.timeout, uncertain=True,
                                    hint="Raise timeout, or check the portal's load")
        if isinstance(exc, requests.exceptions.ConnectionError):
            if _is_connect_failure(exc):
                return DocSpaceAPIError(method, url, "could not connect",
                                        hint="Check base_url (host name, port, scheme) and that the portal is reachable from this host")
            return DocSpaceAPIError(method, url, "the connection was closed before a response arrived", uncertain=True,
                                    hint="A proxy or the portal dropped the connection; try again later")
        return DocSpaceAPIError(method, url, "request failed (%s)" % type(exc).__name__,
                                hint="Check base_url and the connection options")
