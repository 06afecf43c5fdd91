# -*- coding: utf-8 -*-

# Copyright (c) onlyoffice.docspace contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Unit tests for the DocSpace HTTP client: URLs, authorization, envelopes, retries and TLS."""

import email.utils

import pytest
import requests
import requests.certs

from ansible_collections.onlyoffice.docspace.plugins.module_utils import docspace_api
from ansible_collections.onlyoffice.docspace.plugins.module_utils.docspace_api import (
    POLICY_WRITE,
    DocSpaceAPIError,
    DocSpaceClient,
    DocSpaceError,
    authorization_header,
    clean_server_message,
    normalize_base_url,
    parse_envelope,
    parse_retry_after,
)
from ansible_collections.onlyoffice.docspace.tests.unit.plugins.docspace_fakes import (
    BASE_URL,
    OWNER_KEY,
    ScriptedSession,
    connect_timeout,
    empty,
    error_envelope,
    html_page,
    make_response,
    name_resolution_error,
    new_connection_error,
    no_content_ok,
    ok,
    read_timeout,
    remote_disconnected,
    ssl_error,
)

SETTINGS_URL = BASE_URL + "/api/2.0/settings"


# base_url --------------------------------------------------------------------


@pytest.mark.parametrize("value, expected", [
    ("https://docspace.example.com", "https://docspace.example.com"),
    ("https://docspace.example.com/", "https://docspace.example.com"),
    ("https://docspace.example.com///", "https://docspace.example.com"),
    ("  https://docspace.example.com/ \n", "https://docspace.example.com"),
    ("HTTPS://docspace.example.com", "https://docspace.example.com"),
    ("https://example.com/docspace/", "https://example.com/docspace"),
    ("https://example.com/office/docspace", "https://example.com/office/docspace"),
    ("https://docspace.example.com:8443/", "https://docspace.example.com:8443"),
    ("http://127.0.0.1:8092", "http://127.0.0.1:8092"),
    ("http://[::1]:8092/", "http://[::1]:8092"),
    ("https://[2001:db8::15]/docspace/", "https://[2001:db8::15]/docspace"),
    ("https://[2001:db8::15]:8443", "https://[2001:db8::15]:8443"),
])
def test_base_url_normalized(value, expected):
    assert normalize_base_url(value) == expected


@pytest.mark.parametrize("value, words", [
    (None, ["base_url is empty"]),
    ("", ["base_url is empty"]),
    ("   ", ["base_url is empty"]),
    ("docspace.example.com", ["has no scheme", "https://docspace.example.com"]),
    ("//docspace.example.com", ["has no scheme", "https://docspace.example.com"]),
    ("htps://docspace.example.com", ["unsupported scheme 'htps'", "use https://"]),
    ("ftp://docspace.example.com", ["unsupported scheme 'ftp'"]),
    ("https://", ["has no host name"]),
    ("https:///docspace", ["has no host name"]),
    ("https://docspace.example.com/?tenant=1", ["must not contain a query string or fragment"]),
    ("https://docspace.example.com/#/rooms", ["must not contain a query string or fragment"]),
    ("https://docspace.example.com:99999", ["is not a valid URL", "Port out of range"]),
    ("https://docspace.example.com:https", ["is not a valid URL", "Port could not be cast"]),
    ("https://docspace.example.com:0", ["invalid port 0"]),
    ("https://[2001:db8::15/", ["is not a valid URL"]),
    ("http:/127.0.0.1:8092/acme", ["is missing '//' after 'http:'", "write it as http://127.0.0.1:8092/acme"]),
    ("HTTPS:docspace.example.com", ["is missing '//' after 'HTTPS:'", "write it as https://docspace.example.com"]),
    ("http://::1:8092", ["IPv6 address without square brackets", "http://[::1]:8080"]),
    ("http://2001:db8::15/acme", ["IPv6 address without square brackets"]),
])
def test_base_url_invalid(value, words):
    with pytest.raises(DocSpaceError) as caught:
        normalize_base_url(value)

    for word in words:
        assert word in caught.value.msg


@pytest.mark.parametrize("value", [
    "https://admin:Pa55word@docspace.example.com",
    "https://admin:Pa55word@docspace.example.com/docspace/",
    "https://admin@docspace.example.com",
])
def test_base_url_user_info_rejected(value):
    with pytest.raises(DocSpaceError) as caught:
        normalize_base_url(value)

    assert "must not contain a user name or password" in caught.value.msg
    assert "Pa55word" not in caught.value.msg


# The user info check is not the first one, so an address with a password
# and another mistake must not be echoed either.
@pytest.mark.parametrize("value", [
    "admin:Pa55word@docspace.example.com",
    "htps://admin:Pa55word@docspace.example.com",
    "https://admin:Pa55word@docspace.example.com:99999",
    "https://admin:Pa55word@",
    "https://admin:Pa55word@docspace.example.com/?tenant=1",
])
def test_base_url_password_never_echoed(value):
    with pytest.raises(DocSpaceError) as caught:
        normalize_base_url(value)

    assert "Pa55word" not in caught.value.msg


# Authorization ---------------------------------------------------------------


@pytest.mark.parametrize("value, expected", [
    (OWNER_KEY, "Bearer " + OWNER_KEY),
    ("Bearer " + OWNER_KEY, "Bearer " + OWNER_KEY),
    ("bearer " + OWNER_KEY, "Bearer " + OWNER_KEY),
    ("BEARER   " + OWNER_KEY, "Bearer " + OWNER_KEY),
    ("  %s\n" % OWNER_KEY, "Bearer " + OWNER_KEY),
    ("55A2FB0D8E1F4C3B9A7D6E5F4A3B2C1D0E9F8A7B6C5D4E3F2A1B0C9D8E7F6A5B4==", "Bearer 55A2FB0D8E1F4C3B9A7D6E5F4A3B2C1D0E9F8A7B6C5D4E3F2A1B0C9D8E7F6A5B4=="),
])
def test_authorization_header_value(value, expected):
    assert authorization_header(value) == expected


@pytest.mark.parametrize("value, words", [
    (None, "api_key is empty"),
    ("", "api_key is empty"),
    ("   ", "api_key is empty"),
    ("Bearer ", "api_key is empty"),
    ("Bearer    \t", "api_key is empty"),
    ("sk-abc123 def456", "contains spaces"),
    ("sk-abc123\ndef456", "line breaks"),
    ("sk-abc123\tdef456", "contains spaces"),
    ("sk-abc123\u00e9def456", "non-ASCII"),
    ("Bearer sk-abc123 def456", "contains spaces"),
])
def test_authorization_header_invalid(value, words):
    with pytest.raises(DocSpaceError) as caught:
        authorization_header(value)

    assert words in caught.value.msg


@pytest.mark.parametrize("value", [
    "sk-abc123 def456",
    "sk-abc123\ndef456",
    "sk-abc123\u00e9def456",
])
def test_authorization_key_never_echoed(value):
    with pytest.raises(DocSpaceError) as caught:
        DocSpaceClient(BASE_URL, value)

    assert "abc123" not in caught.value.msg
    assert "def456" not in caught.value.msg


def test_client_sends_bearer_header():
    client = DocSpaceClient(BASE_URL, OWNER_KEY)
    client.session = ScriptedSession([ok({"ownerId": "x"})])

    client.get("/api/2.0/settings")

    assert client.session.requests[0].authorization == "Bearer " + OWNER_KEY


def test_client_unauthenticated_request_has_no_authorization():
    client = DocSpaceClient(BASE_URL, OWNER_KEY)
    client.session = ScriptedSession([ok({"result": 0})])

    client.call("POST", "/api/2.0/authentication/confirm", body={"type": "PortalOwnerChange"}, authenticated=False)

    assert "Authorization" not in client.session.requests[0].headers


def test_client_json_body_and_content_type():
    client = DocSpaceClient(BASE_URL, OWNER_KEY)
    client.session = ScriptedSession([ok({"status": 1})])

    client.call("POST", "/api/2.0/settings/owner", body={"ownerId": "abc"}, policy=POLICY_WRITE)

    request = client.session.requests[0]
    assert request.body == {"ownerId": "abc"}
    assert request.headers["Content-Type"] == "application/json"
    assert request.url == BASE_URL + "/api/2.0/settings/owner"


@pytest.mark.parametrize("timeout", [0, -5, None])
def test_client_timeout_invalid(timeout):
    with pytest.raises(DocSpaceError) as caught:
        DocSpaceClient(BASE_URL, OWNER_KEY, timeout=timeout)

    assert "timeout must be a positive number of seconds" in caught.value.msg


# Retry-After -----------------------------------------------------------------

NOW = 1767225600.0


@pytest.mark.parametrize("value, expected", [
    ("5", 5),
    (" 17 ", 17),
    ("0", 0),
    (email.utils.formatdate(NOW + 120, usegmt=True), 120),
    (email.utils.formatdate(NOW + 0.5, usegmt=True), 0),
    (email.utils.formatdate(NOW - 3600, usegmt=True), 0),
    ("soon", None),
    ("-3", None),
    ("2.5", None),
    ("", None),
    (None, None),
])
def test_retry_after_parsed(value, expected):
    assert parse_retry_after(value, now=NOW) == expected


# Envelopes -------------------------------------------------------------------


def parse(response, method="GET", url=SETTINGS_URL):
    return parse_envelope(method, url, response)


def parse_error(response, method="GET", url=SETTINGS_URL):
    with pytest.raises(DocSpaceAPIError) as caught:
        parse_envelope(method, url, response)
    return caught.value


@pytest.mark.parametrize("response, expected", [
    (ok({"ownerId": "4a515a15"}), {"ownerId": "4a515a15"}),
    (ok([{"id": 1}, {"id": 2}]), [{"id": 1}, {"id": 2}]),
    (ok([]), []),
    (ok(None), None),
    (no_content_ok(), None),
    (make_response(200, {"links": [], "status": 0, "statusCode": 200}), None),
    (make_response(200, ""), None),
    (make_response(204, ""), None),
    (make_response(200, "  \r\n"), None),
])
def test_envelope_success(response, expected):
    assert parse(response) == expected


@pytest.mark.parametrize("response, status, words", [
    (error_envelope(404, "The user could not be found"), 404, ["HTTP 404 The user could not be found", "Check base_url"]),
    (error_envelope(403, "Access denied"), 403, ["HTTP 403 Access denied", "current owner's key"]),
    (error_envelope(402, "The payment is required"), 402, ["HTTP 402", "payments page"]),
    (error_envelope(500, "Object reference not set"), 500, ["HTTP 500 Object reference not set", "try again later"]),
    (empty(401), 401, ["HTTP 401 Unauthorized", "Check api_key"]),
    (empty(403), 403, ["HTTP 403 Forbidden", "current owner's key"]),
    (empty(405), 405, ["HTTP 405 with an empty body"]),
    (empty(503), 503, ["HTTP 503 with an empty body", "try again later"]),
    (make_response(400, {"response": {"type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
                                      "title": "One or more validation errors occurred.", "status": 400,
                                      "errors": {"ownerId": ["The ownerId field is required."]}},
                         "status": 1, "statusCode": 400}),
     400, ["HTTP 400 One or more validation errors occurred."]),
    (make_response(400, {"response": {"detail": "Email is not valid"}, "status": 1, "statusCode": 400}),
     400, ["HTTP 400 Email is not valid"]),
    (make_response(404, ["not", "an", "envelope"]), 404, ["HTTP 404"]),
])
def test_envelope_error_status(response, status, words):
    error = parse_error(response)

    assert error.status == status
    for word in words:
        assert word in error.msg


def test_envelope_error_names_request():
    error = parse_error(empty(401), method="PUT", url=BASE_URL + "/api/2.0/settings/owner")

    assert error.msg.startswith("PUT https://docspace.example.com/api/2.0/settings/owner failed: ")


def test_envelope_error_message_html_stripped():
    response = error_envelope(400, "Owner's email is <b>not</b> activated &amp; cannot <a href=\"mailto:o@example.com\">receive</a>")

    error = parse_error(response)

    assert error.server_message == "Owner's email is not activated & cannot receive"


@pytest.mark.parametrize("response, words", [
    (html_page(502, "502 Bad Gateway"), ["HTTP 502 with an HTML page (502 Bad Gateway) instead of JSON", "try again later"]),
    (html_page(404, "404 Not Found"), ["HTML page (404 Not Found)", "Check base_url"]),
    (make_response(502, "<html><body>upstream down</body></html>"), ["HTML page (no title)"]),
    (html_page(200, "ONLYOFFICE DocSpace"), ["HTTP 200 with an HTML page (ONLYOFFICE DocSpace)", "serves a web page"]),
    (make_response(200, '{"response": {"ownerId": "4a5'), ["not valid JSON (29 bytes)", "cut off"]),
    (make_response(500, "Internal Server Error"), ["HTTP 500 with a response that is not valid JSON"]),
    (make_response(200, [1, 2, 3]), ["JSON that is not a DocSpace envelope", "Check base_url"]),
    (make_response(200, '"ok"'), ["JSON that is not a DocSpace envelope"]),
    (make_response(200, "null"), ["JSON that is not a DocSpace envelope"]),
    (make_response(200, {"ownerId": "4a515a15"}), ["JSON that is not a DocSpace envelope"]),
])
def test_envelope_unusable_body(response, words):
    error = parse_error(response)

    for word in words:
        assert word in error.msg


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_envelope_redirect_location_without_query(status):
    location = "https://login.example.com/sso/start?token=S3CRETTOKEN&next=%2F#frag"
    response = make_response(status, "", headers={"Location": location})

    error = parse_error(response)

    assert "HTTP %d redirect to https://login.example.com/sso/start" % status in error.msg
    assert "S3CRETTOKEN" not in error.msg
    assert "frag" not in error.msg
    assert "does not follow redirects" in error.msg


def test_envelope_redirect_without_location():
    error = parse_error(make_response(302, ""))

    assert "HTTP 302 redirect to nowhere" in error.msg


@pytest.mark.parametrize("response, uncertain", [
    (html_page(502, "502 Bad Gateway"), True),
    (empty(503), True),
    (html_page(504, "504 Gateway Time-out"), True),
    (error_envelope(500, "Object reference not set"), True),
    (make_response(500, "Internal Server Error"), True),
    (empty(401), False),
    (empty(429), False),
    (error_envelope(404, "The user could not be found"), False),
    (error_envelope(400, "Owner's email is not activated"), False),
    (make_response(200, "{"), False),
])
def test_envelope_uncertain_flag(response, uncertain):
    assert parse_error(response).uncertain is uncertain


def test_envelope_retry_after_kept():
    error = parse_error(empty(429, headers={"Retry-After": "12"}))

    assert error.retry_after == 12


def test_server_message_cleaned():
    text = 'Sent to <a href="mailto:o@example.com">o@example.com</a>,\n  check &quot;Inbox&quot;'

    assert clean_server_message(text) == 'Sent to o@example.com, check "Inbox"'


# Retries ---------------------------------------------------------------------


def scripted_client(outcomes, retry_sleep, logs=None, **options):
    client = DocSpaceClient(BASE_URL, OWNER_KEY, sleep=retry_sleep, log=logs.append if logs is not None else None, **options)
    client.session = ScriptedSession(outcomes)
    return client


def send(client, method="GET", policy=docspace_api.POLICY_READ):
    return client.send(method, SETTINGS_URL, policy=policy)


@pytest.mark.parametrize("outcomes, sleeps", [
    ([empty(429, {"Retry-After": "3"}), ok({})], [3]),
    ([empty(429), ok({})], [1]),
    ([empty(429, {"Retry-After": "30"}), ok({})], [30]),
    ([empty(429, {"Retry-After": "0"}), ok({})], [0]),
    ([html_page(502, "502 Bad Gateway"), ok({})], [1]),
    ([empty(503), empty(503), ok({})], [1, 2]),
    ([html_page(504, "504 Gateway Time-out"), empty(503), html_page(502, "502 Bad Gateway"), ok({})], [1, 2, 4]),
    ([new_connection_error(), ok({})], [1]),
    ([connect_timeout(), ok({})], [1]),
    ([read_timeout(), ok({})], [1]),
    ([remote_disconnected(), ok({})], [1]),
    ([remote_disconnected(), read_timeout(), empty(503), ok({})], [1, 2, 4]),
])
def test_read_retried(outcomes, sleeps, retry_sleep):
    client = scripted_client(outcomes, retry_sleep)

    response = send(client)

    assert response.status_code == 200
    assert retry_sleep.calls == sleeps
    assert len(client.session.requests) == len(sleeps) + 1


@pytest.mark.parametrize("outcome", [
    error_envelope(500, "Object reference not set"),
    empty(401),
    empty(403),
    error_envelope(404, "The user could not be found"),
    empty(405),
])
def test_read_not_retried_status(outcome, retry_sleep):
    client = scripted_client([outcome], retry_sleep)

    response = send(client)

    assert response.status_code == outcome.status_code
    assert retry_sleep.calls == []
    assert len(client.session.requests) == 1


def test_read_gives_up_after_four_attempts(retry_sleep):
    client = scripted_client([empty(503)] * 5, retry_sleep)

    with pytest.raises(DocSpaceAPIError) as caught:
        client.get("/api/2.0/settings")

    assert len(client.session.requests) == 4
    assert retry_sleep.calls == [1, 2, 4]
    assert caught.value.status == 503


def test_read_transport_failure_gives_up(retry_sleep):
    client = scripted_client([connect_timeout()] * 5, retry_sleep)

    with pytest.raises(DocSpaceAPIError) as caught:
        client.get("/api/2.0/settings")

    assert len(client.session.requests) == 4
    assert "connection timed out after 30 s" in caught.value.msg


def test_read_retry_after_over_cap_gives_up(retry_sleep):
    client = scripted_client([empty(429, {"Retry-After": "31"}), ok({})], retry_sleep)

    with pytest.raises(DocSpaceAPIError) as caught:
        send(client)

    assert len(client.session.requests) == 1
    assert retry_sleep.calls == []
    assert caught.value.status == 429
    assert "run again after 31 s" in caught.value.msg


def test_read_total_sleep_capped(retry_sleep):
    throttled = [empty(429, {"Retry-After": "25"})] * 4
    client = scripted_client(throttled, retry_sleep)

    with pytest.raises(DocSpaceAPIError) as caught:
        send(client)

    assert retry_sleep.calls == [25, 25]
    assert sum(retry_sleep.calls) <= docspace_api.MAX_TOTAL_SLEEP
    assert "still rate limited after 3 attempts" in caught.value.msg


def test_read_total_sleep_sixty_allowed(retry_sleep):
    outcomes = [empty(429, {"Retry-After": "30"}), empty(429, {"Retry-After": "30"}), ok({})]
    client = scripted_client(outcomes, retry_sleep)

    assert send(client).status_code == 200
    assert retry_sleep.calls == [30, 30]


def test_read_http_date_retry_after(retry_sleep, monkeypatch):
    monkeypatch.setattr(docspace_api.time, "time", lambda: NOW)
    header = email.utils.formatdate(NOW + 4, usegmt=True)
    client = scripted_client([empty(429, {"Retry-After": header}), ok({})], retry_sleep)

    send(client)

    assert retry_sleep.calls == [4]


@pytest.mark.parametrize("method", ["POST", "PUT"])
@pytest.mark.parametrize("outcomes, sleeps", [
    ([empty(429, {"Retry-After": "2"}), ok({"status": 1})], [2]),
    ([empty(429), ok({"status": 1})], [1]),
    ([new_connection_error(), ok({"status": 1})], [1]),
    ([connect_timeout(), ok({"status": 1})], [1]),
    ([name_resolution_error(), ok({"status": 1})], [1]),
    ([new_connection_error(), empty(429, {"Retry-After": "5"}), ok({"status": 1})], [1, 5]),
])
def test_write_retried(method, outcomes, sleeps, retry_sleep):
    client = scripted_client(outcomes, retry_sleep)

    response = send(client, method, POLICY_WRITE)

    assert response.status_code == 200
    assert retry_sleep.calls == sleeps


@pytest.mark.parametrize("method", ["POST", "PUT"])
@pytest.mark.parametrize("outcome, reason", [
    (read_timeout(), "no response within timeout (30 s)"),
    (remote_disconnected(), "the connection was closed before a response arrived"),
])
def test_write_transport_doubt_not_retried(method, outcome, reason, retry_sleep):
    client = scripted_client([outcome, ok({"status": 1})], retry_sleep)

    with pytest.raises(DocSpaceAPIError) as caught:
        send(client, method, POLICY_WRITE)

    assert len(client.session.requests) == 1
    assert caught.value.uncertain is True
    assert reason in caught.value.msg


@pytest.mark.parametrize("method", ["POST", "PUT"])
@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_write_server_error_not_retried(method, status, retry_sleep):
    client = scripted_client([empty(status), ok({"status": 1})], retry_sleep)

    with pytest.raises(DocSpaceAPIError) as caught:
        client.call(method, "/api/2.0/settings/owner", body={"ownerId": "x"}, policy=POLICY_WRITE)

    assert len(client.session.requests) == 1
    assert retry_sleep.calls == []
    assert caught.value.uncertain is True


def test_write_gives_up_after_four_throttles(retry_sleep):
    client = scripted_client([empty(429, {"Retry-After": "1"})] * 5, retry_sleep)

    with pytest.raises(DocSpaceAPIError) as caught:
        send(client, "POST", POLICY_WRITE)

    assert len(client.session.requests) == 4
    assert caught.value.status == 429
    assert caught.value.uncertain is False


@pytest.mark.parametrize("outcome", [new_connection_error(), connect_timeout()])
def test_connect_failure_not_uncertain(outcome, retry_sleep):
    client = scripted_client([outcome] * 4, retry_sleep)

    with pytest.raises(DocSpaceAPIError) as caught:
        send(client, "POST", POLICY_WRITE)

    assert caught.value.uncertain is False


def test_ssl_error_message(retry_sleep):
    client = scripted_client([ssl_error()], retry_sleep)

    with pytest.raises(DocSpaceAPIError) as caught:
        send(client, "POST", POLICY_WRITE)

    assert "TLS certificate verification or handshake failed" in caught.value.msg
    assert "ca_path" in caught.value.msg


def test_read_ssl_error_not_retried(retry_sleep):
    client = scripted_client([ssl_error(), ok({})], retry_sleep)

    with pytest.raises(DocSpaceAPIError) as caught:
        client.get("/api/2.0/settings")

    assert len(client.session.requests) == 1
    assert retry_sleep.calls == []
    assert "ca_path" in caught.value.msg


def test_throttled_counter(retry_sleep):
    client = scripted_client([empty(429), empty(429), ok({}), empty(429), ok({})], retry_sleep)

    send(client)
    send(client, "POST", POLICY_WRITE)

    assert client.throttled == 3


def test_retries_logged_without_key(retry_sleep):
    logs = []
    client = scripted_client([empty(503), remote_disconnected(), ok({})], retry_sleep, logs=logs)

    send(client)

    assert logs == [
        "GET %s: HTTP 503; retrying in 1 s (attempt 2 of 4)" % SETTINGS_URL,
        "GET %s: the connection was closed before a response arrived; retrying in 2 s (attempt 3 of 4)" % SETTINGS_URL,
    ]
    assert all(OWNER_KEY not in line for line in logs)


def test_display_url_hides_secret_url(retry_sleep):
    client = scripted_client([remote_disconnected()], retry_sleep)

    with pytest.raises(DocSpaceAPIError) as caught:
        client.send("GET", BASE_URL + "/s/SECRETCODE", authenticated=False, display_url=BASE_URL + "/s/<code>",
                    policy=POLICY_WRITE)

    assert "SECRETCODE" not in caught.value.msg
    assert BASE_URL + "/s/<code>" in caught.value.msg


def test_request_options_passed(retry_sleep):
    client = scripted_client([ok({})], retry_sleep, timeout=12)

    send(client)

    options = client.session.requests[0].options
    assert options["allow_redirects"] is False
    assert options["timeout"] == 12
    assert options["verify"] == requests.certs.where()


def test_redirect_not_followed(retry_sleep):
    redirect = make_response(302, "", headers={"Location": "https://docspace.example.com/login"})
    client = scripted_client([redirect, ok({})], retry_sleep)

    with pytest.raises(DocSpaceAPIError) as caught:
        client.get("/api/2.0/settings")

    assert len(client.session.requests) == 1
    assert caught.value.status == 302


# TLS and warnings ------------------------------------------------------------

CA_PATH_MARK = "<an existing CA file>"


@pytest.mark.parametrize("options, expected", [
    ({}, requests.certs.where()),
    ({"validate_certs": True, "ca_path": CA_PATH_MARK}, CA_PATH_MARK),
    ({"validate_certs": False}, False),
    ({"validate_certs": False, "ca_path": CA_PATH_MARK}, False),
])
def test_tls_verify_setting(options, expected, monkeypatch, tmp_path):
    # CA_PATH_MARK stands for a CA file that exists, which the client requires.
    ca_path = tmp_path / "docspace-ca.pem"
    ca_path.write_text("")
    options = {name: str(ca_path) if value == CA_PATH_MARK else value for name, value in options.items()}
    expected = str(ca_path) if expected == CA_PATH_MARK else expected
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/env-bundle.pem")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/nonexistent/curl-bundle.pem")
    client = DocSpaceClient(BASE_URL, OWNER_KEY, **options)

    # requests.Session.request merges the environment into verify exactly like this.
    settings = client.session.merge_environment_settings(SETTINGS_URL, {}, None, client.verify, None)

    assert client.verify == expected
    assert settings["verify"] == expected


def test_client_ca_path_missing(tmp_path):
    missing = str(tmp_path / "internal-ca.pem")

    with pytest.raises(DocSpaceError) as caught:
        DocSpaceClient("https://docspace.example.com", OWNER_KEY, ca_path=missing)

    assert "ca_path '%s' does not exist" % missing in caught.value.msg


def test_client_ca_path_unchecked_for_http(tmp_path):
    client = DocSpaceClient("http://127.0.0.1:8092", OWNER_KEY, ca_path=str(tmp_path / "internal-ca.pem"))

    assert client.base_url == "http://127.0.0.1:8092"


def test_client_ca_path_unchecked_without_validation(tmp_path):
    client = DocSpaceClient("https://docspace.example.com", OWNER_KEY, ca_path=str(tmp_path / "ca.pem"), validate_certs=False)

    assert client.verify is False


def test_client_local_os_error(retry_sleep):
    client = scripted_client([OSError("Could not find a suitable TLS CA certificate bundle")], retry_sleep)

    with pytest.raises(DocSpaceAPIError) as caught:
        send(client)

    assert caught.value.msg.startswith("GET %s failed: the request could not be prepared" % SETTINGS_URL)
    assert "Check ca_path" in caught.value.msg
    assert retry_sleep.calls == []


@pytest.mark.parametrize("base_url, options, expected", [
    (BASE_URL, {}, []),
    (BASE_URL, {"validate_certs": False}, ["validate_certs is false: the portal's TLS certificate is not checked"]),
    ("http://docspace.example.com", {}, ["base_url uses plain http:// to docspace.example.com, so the API key crosses "
                                         "the network unencrypted; use https://"]),
    ("http://192.0.2.10:8092", {"validate_certs": False}, ["base_url uses plain http:// to 192.0.2.10, so the API key "
                                                           "crosses the network unencrypted; use https://"]),
    ("http://127.0.0.1:8092", {}, []),
    ("http://127.0.0.53", {"validate_certs": False}, []),
    ("http://localhost:8092", {}, []),
    ("http://LOCALHOST", {}, []),
    ("http://[::1]:8092", {}, []),
    ("https://127.0.0.1:8443", {"validate_certs": False}, ["validate_certs is false: the portal's TLS certificate is not checked"]),
    # A DNS name that merely starts like a loopback address can resolve anywhere.
    ("http://127.0.0.1.example.com", {}, ["base_url uses plain http:// to 127.0.0.1.example.com, so the API key crosses "
                                          "the network unencrypted; use https://"]),
])
def test_client_warnings(base_url, options, expected):
    warnings = []

    DocSpaceClient(base_url, OWNER_KEY, warn=warnings.append, **options)

    assert warnings == expected
