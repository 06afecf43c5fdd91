"""HTTP replies in the shapes DocSpace and its nginx front end produce."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"

# .NET exception type and HRESULT behind each error kind, as DocSpace reports them.
EXCEPTIONS = {
    "argument": ("System.ArgumentException", -2147024809),
    "not_found": ("ASC.Common.Web.ItemNotFoundException", -2146232969),
    "security": ("System.Security.SecurityException", -2146233078),
    "invalid_operation": ("System.InvalidOperationException", -2146233079),
    "authentication": ("System.Security.Authentication.AuthenticationException", -2146233087),
    "quota": ("ASC.Core.Tenants.TenantQuotaException", -2146233088),
    "generic": ("System.Exception", -2146233088),
}

REASONS = {
    200: "OK",
    204: "No Content",
    301: "Moved Permanently",
    302: "Found",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Not Allowed",
    408: "Request Time-out",
    409: "Conflict",
    413: "Request Entity Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}


@dataclass
class Reply:
    """One HTTP response, independent of the server library."""

    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def _dump(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _links(url: str, method: str) -> list[dict[str, str]]:
    return [{"href": url, "action": method}]


def success(value: Any, *, url: str, method: str, status: int = 200) -> Reply:
    """Wrap a value in the success envelope; `count` is the list length or 1."""
    count = len(value) if isinstance(value, list) else 1
    envelope = {"response": value, "count": count, "links": _links(url, method), "status": 0, "statusCode": status}
    return Reply(status, _dump(envelope), JSON_TYPE)


def success_without_response(*, url: str, method: str) -> Reply:
    """Build the reply to an action that returns nothing: `count` 0 and no `response` key."""
    envelope = {"count": 0, "links": _links(url, method), "status": 0, "statusCode": 200}
    return Reply(200, _dump(envelope), JSON_TYPE)


def error(status: int, message: str, kind: str = "generic") -> Reply:
    """Build the envelope DocSpace sends when an action throws."""
    type_name, hresult = EXCEPTIONS[kind]
    envelope = {
        "error": {"message": message, "type": type_name, "stack": "", "hresult": hresult},
        "status": 1,
        "statusCode": status,
    }
    return Reply(status, _dump(envelope), JSON_TYPE)


def validation_problem(errors: dict[str, list[str]], *, url: str, method: str) -> Reply:
    """Build the 400 ASP.NET sends when model binding fails, inside the envelope."""
    problem = {
        "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
        "title": "One or more validation errors occurred.",
        "status": 400,
        "errors": errors,
        "traceId": f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-00",
    }
    envelope = {"response": problem, "count": 1, "links": _links(url, method), "status": 1, "statusCode": 400}
    return Reply(400, _dump(envelope), JSON_TYPE)


def empty(status: int, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, b"", None, dict(headers or {}))


def nginx_page(status: int) -> Reply:
    """Build the HTML error page nginx serves for its own 404 and 50x errors."""
    title = f"{status} {REASONS.get(status, 'Error')}"
    page = (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )
    return Reply(status, page.encode(), HTML_TYPE, {"Server": "nginx"})


def html_page(title: str, paragraph: str, status: int = 200) -> Reply:
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8">'
        f"<title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n<p>{paragraph}</p>\n</body>\n</html>\n"
    )
    return Reply(status, page.encode(), HTML_TYPE)


def redirect(location: str, status: int = 302) -> Reply:
    return Reply(status, b"", None, {"Location": location})
