# -*- coding: utf-8 -*-

# Copyright (c) onlyoffice.docspace contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Unit tests for the owner flow: ids, emails, confirmation links, OwnerTransfer and gather_owner_info.

The flow runs on a real DocSpaceClient whose session is a scripted portal
(docspace_fakes.FakePortal), so every request is recorded as it would go
over the wire and every response goes through the real envelope parsing.
"""

import json

import pytest

from ansible_collections.onlyoffice.docspace.plugins.module_utils.docspace_api import DocSpaceAPIError, DocSpaceError
from ansible_collections.onlyoffice.docspace.plugins.module_utils.docspace_owner import (
    ConfirmationLink,
    OwnerTransfer,
    gather_owner_info,
    normalize_email,
    normalize_guid,
    split_confirmation,
)
from ansible_collections.onlyoffice.docspace.tests.unit.plugins.docspace_fakes import (
    ADMIN_ID,
    ADMIN_KEY,
    BASE_URL,
    CONFIRM_KEY,
    DISABLED_ID,
    ENCRYPTED_EMAIL,
    GUEST_ID,
    INVITED_ID,
    NEW_ID,
    NEW_KEY,
    OWNER_ID,
    OWNER_KEY,
    SHORT_CODE,
    UNKNOWN_ID,
    ZERO_GUID,
    FakePortal,
    confirmation_link,
    confirmation_query,
    empty,
    error_envelope,
    html_page,
    make_response,
    ok,
    read_timeout,
    remote_disconnected,
)

SECRETS = (OWNER_KEY, ADMIN_KEY, NEW_KEY, CONFIRM_KEY, SHORT_CODE, ENCRYPTED_EMAIL)

OWNER = {"id": OWNER_ID, "email": "olivia.owner@example.com", "display_name": "Olivia Owner"}
NEW = {"id": NEW_ID, "email": "nadia.admin@example.com", "display_name": "Nadia Admin"}

SETTINGS = "GET /api/2.0/settings"
SELF = "GET /api/2.0/people/@self"
BY_EMAIL = "GET /api/2.0/people/email"
SEND = "POST /api/2.0/settings/owner"
VALIDATE = "POST /api/2.0/authentication/confirm"
APPLY = "PUT /api/2.0/settings/owner"
SHORT = "GET /s/" + SHORT_CODE


def person(user_id):
    return "GET /api/2.0/people/" + user_id


def assert_no_secrets(value):
    text = value if isinstance(value, str) else json.dumps(value, default=repr)
    for secret in SECRETS:
        assert secret not in text


# Users -----------------------------------------------------------------------


@pytest.mark.parametrize("value", [
    "0c4c4e6c-7a5d-4d0b-9f1a-3e2d1c0b9a87",
    "0C4C4E6C-7A5D-4D0B-9F1A-3E2D1C0B9A87",
    "{0c4c4e6c-7a5d-4d0b-9f1a-3e2d1c0b9a87}",
    "(0C4C4E6C-7A5D-4D0B-9F1A-3E2D1C0B9A87)",
    "0c4c4e6c7a5d4d0b9f1a3e2d1c0b9a87",
    "{0C4C4E6C7A5D4D0B9F1A3E2D1C0B9A87}",
    "  0c4c4e6c-7a5d-4d0b-9f1a-3e2d1c0b9a87\n",
])
def test_guid_spellings(value):
    assert normalize_guid(value) == NEW_ID


@pytest.mark.parametrize("value", [
    "",
    None,
    "nadia",
    "0c4c4e6c-7a5d-4d0b-9f1a-3e2d1c0b9a8",
    "0c4c4e6c-7a5d-4d0b-9f1a-3e2d1c0b9a87a",
    "0c4c4e6c-7a5d-4d0b-9f1a-3e2d1c0b9g87",
    "nadia.admin@example.com",
])
def test_guid_malformed(value):
    with pytest.raises(DocSpaceError) as caught:
        normalize_guid(value)

    assert "is not a user id" in caught.value.msg
    assert caught.value.msg.startswith("owner_id ")


@pytest.mark.parametrize("value", [ZERO_GUID, "{00000000000000000000000000000000}", "00000000000000000000000000000000"])
def test_guid_zero(value):
    with pytest.raises(DocSpaceError) as caught:
        normalize_guid(value)

    assert "owner_id is the zero GUID" in caught.value.msg


@pytest.mark.parametrize("value, expected", [
    ("nadia.admin@example.com", "nadia.admin@example.com"),
    ("  Nadia.Admin@Example.COM ", "Nadia.Admin@Example.COM"),
    ("nadia+docspace@example.com", "nadia+docspace@example.com"),
])
def test_email_accepted(value, expected):
    assert normalize_email(value) == expected


@pytest.mark.parametrize("value", ["", None, "nadia", "nadia@", "@example.com", "nadia@@example.com",
                                   "nadia admin@example.com", "nadia@example.com, olivia@example.com"])
def test_email_invalid(value):
    with pytest.raises(DocSpaceError) as caught:
        normalize_email(value)

    assert "is not an email address" in caught.value.msg


# Confirmation values ---------------------------------------------------------

FULL_QUERY = confirmation_query()
EMAIL_QUERY = confirmation_query(email="olivia.owner@example.com", encemail=None)


@pytest.mark.parametrize("value, expected", [
    (BASE_URL + "/s/" + SHORT_CODE, (None, SHORT_CODE, None)),
    (BASE_URL + "/s/" + SHORT_CODE + "/", (None, SHORT_CODE, None)),
    ("https://example.com/docspace/s/" + SHORT_CODE, (None, SHORT_CODE, None)),
    ("http://docspace.internal:8092/s/" + SHORT_CODE, (None, SHORT_CODE, None)),
    ("  %s/s/%s\n" % (BASE_URL, SHORT_CODE), (None, SHORT_CODE, None)),
    ("/s/" + SHORT_CODE, (None, SHORT_CODE, None)),
    (confirmation_link(), (FULL_QUERY, None, None)),
    (confirmation_link(email="olivia.owner@example.com", encemail=None), (EMAIL_QUERY, None, None)),
    (confirmation_link(host="http://docspace.internal:8092"), (FULL_QUERY, None, None)),
    (confirmation_link().replace("&", "&amp;"), (FULL_QUERY, None, None)),
    (FULL_QUERY, (FULL_QUERY, None, None)),
    ("?" + FULL_QUERY, (FULL_QUERY, None, None)),
    (FULL_QUERY.replace("&", "&amp;"), (FULL_QUERY, None, None)),
    ("https://bit.ly/3AbCdEf", (None, None, "https://bit.ly/3AbCdEf")),
])
def test_confirmation_split(value, expected):
    assert split_confirmation(value) == expected


@pytest.mark.parametrize("value, words", [
    ("", "confirmation is empty"),
    ("   ", "confirmation is empty"),
    (None, "confirmation is empty"),
    (BASE_URL, "a URL without a query string"),
    (BASE_URL + "/", "a URL without a query string"),
    ("/confirm/PortalOwnerChange", "a URL without a query string"),
    ("ftp://docspace.example.com/" + CONFIRM_KEY, "a URL without a query string"),
    (CONFIRM_KEY, "neither a link nor a query string"),
    ("please see the email " + SHORT_CODE, "neither a link nor a query string"),
])
def test_confirmation_split_invalid(value, words):
    with pytest.raises(DocSpaceError) as caught:
        split_confirmation(value)

    assert words in caught.value.msg
    assert_no_secrets(caught.value.msg)


NEW_PROFILE = {"id": NEW_ID, "email": "nadia.admin@example.com", "displayName": "Nadia Admin"}
OWNER_PROFILE = {"id": OWNER_ID, "email": "olivia.owner@example.com", "displayName": "Olivia Owner"}


@pytest.mark.parametrize("query", [
    confirmation_query(),
    confirmation_query(email="olivia.owner@example.com", encemail=None),
    confirmation_query(email="Olivia.Owner@EXAMPLE.com", encemail=None),
    confirmation_query(uid=NEW_ID.upper()),
    confirmation_query(uid="{%s}" % NEW_ID),
    confirmation_query(confirm_type="portalownerchange"),
    # encemail skips the email check: it is encrypted, and only DocSpace can read it.
    confirmation_query(email=None, encemail="SOMEONEELSE"),
    "TYPE=PortalOwnerChange&Key=%s&EncEmail=X&UID=%s" % (CONFIRM_KEY, NEW_ID),
])
def test_link_check_accepts(query):
    assert ConfirmationLink(query).check(NEW_PROFILE, OWNER_PROFILE) == NEW_ID


@pytest.mark.parametrize("query, words", [
    (confirmation_query(confirm_type="EmailChange"), ["type 'EmailChange'", "not 'PortalOwnerChange'"]),
    (confirmation_query(uid=ADMIN_ID), ["uid " + ADMIN_ID, "does not match the requested new owner", NEW_ID]),
    (confirmation_query(uid="not-a-guid"), ["invalid uid 'not-a-guid'"]),
    (confirmation_query(email="mallory@example.com", encemail=None),
     ["email mallory@example.com", "Olivia Owner <olivia.owner@example.com>"]),
    (confirmation_query(key=""), ["parameters are missing", "'key'"]),
    ("type=PortalOwnerChange&encemail=X&uid=%s" % NEW_ID, ["parameters are missing", "'key'"]),
    (confirmation_query(encemail=None), ["parameters are missing", "'email' or 'encemail'"]),
    ("type=PortalOwnerChange&key=%s" % CONFIRM_KEY, ["'uid'", "'email' or 'encemail'"]),
])
def test_link_check_rejects(query, words):
    with pytest.raises(DocSpaceError) as caught:
        ConfirmationLink(query).check(NEW_PROFILE, OWNER_PROFILE)

    for word in words:
        assert word in caught.value.msg
    assert_no_secrets(caught.value.msg)


@pytest.mark.parametrize("query, expected", [
    (confirmation_query(), {"type": "PortalOwnerChange", "key": CONFIRM_KEY, "uiD": NEW_ID, "encEmail": ENCRYPTED_EMAIL}),
    (confirmation_query(email="olivia.owner%2Btag@example.com", encemail=None),
     {"type": "PortalOwnerChange", "key": CONFIRM_KEY, "uiD": NEW_ID, "email": "olivia.owner+tag@example.com"}),
    (confirmation_query(confirm_type="portalownerchange"),
     {"type": "PortalOwnerChange", "key": CONFIRM_KEY, "uiD": NEW_ID, "encEmail": ENCRYPTED_EMAIL}),
])
def test_link_validation_body(query, expected):
    assert ConfirmationLink(query).validation_body() == expected


def test_link_query_kept_verbatim():
    query = confirmation_query(email="olivia.owner%2Btag@example.com", encemail=None)

    assert ConfirmationLink(query).query == query


# OwnerTransfer ---------------------------------------------------------------


@pytest.fixture
def warnings():
    return []


@pytest.fixture
def run_flow(make_client, clock, poll_sleep, warnings):
    """Run OwnerTransfer with module defaults plus the given options and return its result."""

    def run(api_key=OWNER_KEY, check_mode=False, client=None, **options):
        params = dict(owner_id=None, owner_email=None, confirmation=None, send_instructions=True, wait=False,
                      wait_timeout=900, poll_interval=10)
        params.update(options)
        flow = OwnerTransfer(client or make_client(api_key), params, check_mode=check_mode, warn=warnings.append,
                             sleep=poll_sleep, monotonic=clock.monotonic)
        return flow.run()

    return run


@pytest.fixture
def run_error(run_flow):
    """Run OwnerTransfer expecting DocSpaceError and return the error, after checking that it contains no secret."""

    def run(**options):
        with pytest.raises(DocSpaceError) as caught:
            run_flow(**options)
        assert_no_secrets(caught.value.msg)
        assert_no_secrets(caught.value.details)
        return caught.value

    return run


def test_noop_by_id(run_flow, portal):
    result = run_flow(owner_id=OWNER_ID.upper())

    assert portal.summary() == [SETTINGS, person(OWNER_ID)]
    assert result["changed"] is False
    assert result["owner"] == OWNER
    assert result["new_owner"] == OWNER
    assert result["msg"] == "Olivia Owner <olivia.owner@example.com> already owns the portal"


def test_noop_by_email(run_flow, portal):
    result = run_flow(owner_email="Olivia.Owner@EXAMPLE.com")

    assert portal.summary() == [SETTINGS, BY_EMAIL]
    assert portal.requests[1].params == {"email": "Olivia.Owner@EXAMPLE.com"}
    assert result["changed"] is False
    assert result["pending_confirmation"] is False


def test_noop_with_confirmation(run_flow, portal):
    result = run_flow(owner_id=OWNER_ID, confirmation=confirmation_link())

    assert portal.summary() == [SETTINGS, person(OWNER_ID)]
    assert result["changed"] is False


def test_noop_ignores_caller(run_flow, portal):
    result = run_flow(owner_email="olivia.owner@example.com", api_key=ADMIN_KEY)

    assert portal.summary() == [SETTINGS, BY_EMAIL]
    assert result["changed"] is False


def test_send_requests(run_flow, portal):
    run_flow(owner_email="nadia.admin@example.com")

    assert portal.summary() == [SETTINGS, BY_EMAIL, SELF, SEND]
    assert portal.requests[3].body == {"ownerId": NEW_ID}
    assert all(request.authorization == "Bearer " + OWNER_KEY for request in portal.requests)


def test_send_result(run_flow):
    result = run_flow(owner_id=NEW_ID.upper())

    assert result["changed"] is True
    assert result["pending_confirmation"] is True
    assert result["instructions_sent"] is True
    assert result["instructions_sent_to"] == "olivia.owner@example.com"
    assert result["owner"] == OWNER
    assert result["new_owner"] == NEW
    assert "previous_owner" not in result
    assert result["msg"].startswith("Sent the owner-change instructions to the current owner Olivia Owner")


@pytest.mark.parametrize("options, api_key, words, requests", [
    # DocSpace itself returns status 1 ("sent") to a POST for an unknown id, so the flow must stop first.
    ({"owner_id": UNKNOWN_ID}, OWNER_KEY, ["owner_id %s: no such user on %s" % (UNKNOWN_ID, BASE_URL)],
     [SETTINGS, person(UNKNOWN_ID)]),
    ({"owner_email": "nobody@example.com"}, OWNER_KEY, ["owner_email nobody@example.com: no user with this email"],
     [SETTINGS, BY_EMAIL]),
    ({"owner_id": GUEST_ID}, OWNER_KEY, ["Gustav Guest <gustav.guest@example.com> is a guest"],
     [SETTINGS, person(GUEST_ID)]),
    ({"owner_id": INVITED_ID}, OWNER_KEY, ["Ines Invited <ines.invited@example.com> has not accepted the invitation"],
     [SETTINGS, person(INVITED_ID)]),
    ({"owner_email": "dora.disabled@example.com"}, OWNER_KEY, ["Dora Disabled <dora.disabled@example.com> is disabled"],
     [SETTINGS, BY_EMAIL]),
    ({"owner_id": NEW_ID}, ADMIN_KEY, ["api_key belongs to Adam Admin <adam.admin@example.com>",
                                       "only the portal owner Olivia Owner <olivia.owner@example.com>"],
     [SETTINGS, person(NEW_ID), SELF, person(OWNER_ID)]),
    ({"owner_id": NEW_ID}, NEW_KEY, ["api_key belongs to Nadia Admin <nadia.admin@example.com>",
                                     "only the portal owner Olivia Owner <olivia.owner@example.com>"],
     [SETTINGS, person(NEW_ID), SELF, person(OWNER_ID)]),
    # With a confirmation link, the refusals still come before anything else.
    ({"owner_id": GUEST_ID, "confirmation": confirmation_link(uid=GUEST_ID)}, OWNER_KEY, ["is a guest"],
     [SETTINGS, person(GUEST_ID)]),
    ({"owner_id": NEW_ID, "confirmation": BASE_URL + "/s/" + SHORT_CODE}, ADMIN_KEY, ["api_key belongs to Adam Admin"],
     [SETTINGS, person(NEW_ID), SELF, person(OWNER_ID)]),
])
def test_refusal_before_write(options, api_key, words, requests, run_error, portal):
    error = run_error(api_key=api_key, **options)

    for word in words:
        assert word in error.msg
    assert portal.summary() == requests


def test_refusal_owner_email_not_activated(run_error, portal):
    portal.users[OWNER_ID]["activationStatus"] = 0

    error = run_error(owner_id=NEW_ID)

    assert "The current owner's email olivia.owner@example.com is not activated" in error.msg
    assert portal.summary() == [SETTINGS, person(NEW_ID), SELF]
    assert error.details["owner"] == OWNER


def test_refusal_unknown_status(run_error, portal):
    portal.users[NEW_ID]["status"] = 3

    error = run_error(owner_id=NEW_ID)

    assert "is not active (status 3)" in error.msg


def test_refusal_names_new_owner(run_error):
    error = run_error(owner_id=GUEST_ID)

    assert error.details["new_owner"]["id"] == GUEST_ID


def test_refusal_non_owner_details(run_error):
    error = run_error(owner_id=NEW_ID, api_key=ADMIN_KEY)

    assert error.details["owner"] == OWNER


@pytest.mark.parametrize("changes, api_key, first", [
    ({GUEST_ID: {}, OWNER_ID: {"activationStatus": 0}}, ADMIN_KEY, "is a guest"),
    ({DISABLED_ID: {"isVisitor": True}}, OWNER_KEY, "is a guest"),
    ({INVITED_ID: {}}, ADMIN_KEY, "has not accepted the invitation"),
    ({DISABLED_ID: {}, OWNER_ID: {"activationStatus": 0}}, OWNER_KEY, "is disabled"),
    ({NEW_ID: {}, OWNER_ID: {"activationStatus": 0}}, ADMIN_KEY, "api_key belongs to Adam Admin"),
])
def test_refusal_order(changes, api_key, first, run_error, portal):
    target = [user_id for user_id in changes if user_id != OWNER_ID][0]
    for user_id, fields in changes.items():
        portal.users[user_id].update(fields)

    error = run_error(owner_id=target, api_key=api_key)

    assert first in error.msg
    assert portal.calls("POST") == []


def test_unconfirmed_new_owner_warns(run_flow, portal, warnings):
    portal.users[NEW_ID]["activationStatus"] = 0

    result = run_flow(owner_id=NEW_ID)

    assert warnings == ["Nadia Admin <nadia.admin@example.com> has not confirmed their email address yet; DocSpace "
                        "allows the transfer, but they may not receive portal emails"]
    assert portal.summary()[-1] == SEND
    assert result["instructions_sent"] is True


def test_check_mode_send(run_flow, portal):
    result = run_flow(owner_id=NEW_ID, check_mode=True)

    assert portal.summary() == [SETTINGS, person(NEW_ID), SELF]
    assert result["changed"] is True
    assert result["pending_confirmation"] is True
    assert result["instructions_sent"] is False
    assert "instructions_sent_to" not in result
    assert result["msg"].startswith("Would send the owner-change instructions")


def test_send_disabled(run_flow, portal):
    result = run_flow(owner_id=NEW_ID, send_instructions=False)

    assert portal.summary() == [SETTINGS, person(NEW_ID), SELF]
    assert result["changed"] is False
    assert result["pending_confirmation"] is True
    assert result["instructions_sent"] is False
    assert "instructions_sent_to" not in result


def test_send_status_zero_fails(run_error, portal):
    portal.script("POST", "/api/2.0/settings/owner",
                  ok({"status": 0, "message": "<b>No permissions</b> to perform <i>this</i> action"}))

    error = run_error(owner_id=NEW_ID)

    assert "status 0: No permissions to perform this action" in error.msg
    assert "<b>" not in error.msg
    assert error.details["new_owner"] == NEW


@pytest.mark.parametrize("response", [ok({"message": "sent"}), ok("sent"), ok(None)])
def test_send_without_status_fails(response, run_error, portal):
    portal.script("POST", "/api/2.0/settings/owner", response)

    error = run_error(owner_id=NEW_ID)

    # Without a status the email may have gone out, so the advice is to check the mailbox, not to resend.
    assert "check their mailbox before running again" in error.msg
    assert "Olivia Owner" in error.msg


@pytest.mark.parametrize("outcome, words", [
    (read_timeout(), ["no response within timeout", "may have sent the email anyway", "Olivia Owner"]),
    (remote_disconnected(), ["connection was closed", "may have sent the email anyway"]),
    (html_page(502, "502 Bad Gateway"), ["HTML page (502 Bad Gateway)", "may have sent the email anyway"]),
    (error_envelope(400, "Owner's email is not activated"), ["HTTP 400 Owner's email is not activated",
                                                             "the owner's email must be activated"]),
    (empty(403), ["HTTP 403 Forbidden", "lack the write scope", "Nadia Admin"]),
])
def test_send_failure_not_repeated(outcome, words, run_error, portal):
    portal.script("POST", "/api/2.0/settings/owner", outcome)

    error = run_error(owner_id=NEW_ID)

    assert len(portal.calls("POST")) == 1
    for word in words:
        assert word in error.msg


def test_send_retried_after_throttle(run_flow, portal, retry_sleep):
    portal.script("POST", "/api/2.0/settings/owner", empty(429, {"Retry-After": "2"}))

    result = run_flow(owner_id=NEW_ID)

    assert len(portal.calls("POST")) == 2
    assert retry_sleep.calls == [2]
    assert result["instructions_sent"] is True


# Completing with a confirmation link.


def test_complete_requests(run_flow, portal):
    run_flow(owner_email="nadia.admin@example.com", confirmation=confirmation_link())

    assert portal.summary() == [SETTINGS, BY_EMAIL, SELF, VALIDATE, APPLY, SETTINGS]


def test_complete_put_request(run_flow, portal):
    run_flow(owner_id=NEW_ID, confirmation=confirmation_link(uid=NEW_ID.upper()))

    put = portal.calls("PUT")[0]
    assert put.headers["confirm"] == confirmation_query(uid=NEW_ID.upper())
    assert put.authorization == "Bearer " + OWNER_KEY
    assert put.body == {"ownerId": NEW_ID}


def test_complete_validation_request(run_flow, portal):
    run_flow(owner_id=NEW_ID, confirmation=confirmation_link())

    validation = portal.calls("POST", "/api/2.0/authentication/confirm")[0]
    assert validation.authorization is None
    assert validation.body == {"type": "PortalOwnerChange", "key": CONFIRM_KEY, "uiD": NEW_ID, "encEmail": ENCRYPTED_EMAIL}


def test_complete_forwards_query_verbatim(run_flow, portal):
    portal.users[OWNER_ID]["email"] = "olivia.owner+tag@example.com"
    query = confirmation_query(email="olivia.owner%2Btag@example.com", encemail=None)

    run_flow(owner_id=NEW_ID, confirmation="?" + query)

    assert portal.calls("PUT")[0].headers["confirm"] == query


def test_complete_result(run_flow, portal):
    result = run_flow(owner_id=NEW_ID, confirmation=confirmation_link())

    assert portal.owner_id == NEW_ID
    assert result["changed"] is True
    assert result["owner"] == NEW
    assert result["previous_owner"] == OWNER
    assert result["pending_confirmation"] is False
    assert result["instructions_sent"] is False
    assert result["msg"] == ("Transferred ownership from Olivia Owner <olivia.owner@example.com> to Nadia Admin "
                             "<nadia.admin@example.com>")


def test_complete_result_has_no_secrets(run_flow):
    result = run_flow(owner_id=NEW_ID, confirmation=BASE_URL + "/s/" + SHORT_CODE)

    assert_no_secrets(result)


def test_check_mode_complete(run_flow, portal):
    result = run_flow(owner_id=NEW_ID, confirmation=confirmation_link(), check_mode=True)

    assert portal.summary() == [SETTINGS, person(NEW_ID), SELF, VALIDATE]
    assert portal.owner_id == OWNER_ID
    assert result["changed"] is True
    assert result["owner"] == NEW
    assert result["msg"].startswith("Would complete the transfer from Olivia Owner")


@pytest.mark.parametrize("link_result, words", [
    (2, ["The confirmation link has expired", "valid for 7 days", "Olivia Owner <olivia.owner@example.com>"]),
    (1, ["DocSpace rejected the confirmation link as invalid"]),
    (5, ["rejected the confirmation link (result 5)"]),
])
@pytest.mark.parametrize("check_mode", [False, True])
def test_link_rejected_by_docspace(link_result, words, check_mode, run_error, portal):
    portal.link_result = link_result

    error = run_error(owner_id=NEW_ID, confirmation=confirmation_link(), check_mode=check_mode)

    for word in words:
        assert word in error.msg
    assert portal.calls("PUT") == []


@pytest.mark.parametrize("link, words", [
    (confirmation_link(uid=ADMIN_ID), ["uid " + ADMIN_ID]),
    (confirmation_link(confirm_type="EmailActivation"), ["type 'EmailActivation'"]),
    (confirmation_link(email="mallory@example.com", encemail=None), ["email mallory@example.com"]),
    (confirmation_link(key=""), ["parameters are missing", "'key'"]),
])
@pytest.mark.parametrize("check_mode", [False, True])
def test_link_mismatch_sends_nothing(link, words, check_mode, run_error, portal):
    error = run_error(owner_id=NEW_ID, confirmation=link, check_mode=check_mode)

    for word in words:
        assert word in error.msg
    assert portal.calls("POST") == []
    assert portal.calls("PUT") == []


def test_confirmation_invalid_before_requests(run_error, portal):
    error = run_error(owner_id=NEW_ID, confirmation="see the email")

    assert "neither a link nor a query string" in error.msg
    assert portal.requests == []


@pytest.mark.parametrize("check_mode", [False, True])
def test_link_used_meanwhile(check_mode, run_flow, portal):
    def confirm_in_browser_then_reject(request):
        portal.owner_id = NEW_ID
        return ok({"result": 1})

    portal.script("POST", "/api/2.0/authentication/confirm", confirm_in_browser_then_reject)

    result = run_flow(owner_id=NEW_ID, confirmation=confirmation_link(), check_mode=check_mode)

    assert portal.summary() == [SETTINGS, person(NEW_ID), SELF, VALIDATE, SETTINGS]
    assert result["changed"] is False
    assert result["confirmed_elsewhere"] is True
    assert result["owner"] == NEW
    assert "completed meanwhile" in result["msg"]


def test_link_rejected_owner_unchanged(run_error, portal):
    portal.link_result = 1

    error = run_error(owner_id=NEW_ID, confirmation=confirmation_link())

    assert "rejected the confirmation link as invalid" in error.msg
    assert portal.summary() == [SETTINGS, person(NEW_ID), SELF, VALIDATE, SETTINGS]
    assert portal.owner_id == OWNER_ID


def test_put_refused_but_confirmed_elsewhere(run_flow, portal):
    def confirm_in_browser_then_reject(request):
        portal.owner_id = NEW_ID
        return empty(401)

    portal.script("PUT", "/api/2.0/settings/owner", confirm_in_browser_then_reject)

    result = run_flow(owner_id=NEW_ID, confirmation=confirmation_link())

    assert result["changed"] is False
    assert result["confirmed_elsewhere"] is True
    assert result["owner"] == NEW
    assert "previous_owner" not in result
    assert "completed meanwhile, in a browser or by another run" in result["msg"]


@pytest.mark.parametrize("failure", [read_timeout(), remote_disconnected(), html_page(504, "504 Gateway Time-out")])
def test_put_uncertain_but_applied(failure, run_flow, portal):
    def apply_then_lose_response(request):
        portal.owner_id = NEW_ID
        if isinstance(failure, BaseException):
            raise failure
        return failure

    portal.script("PUT", "/api/2.0/settings/owner", apply_then_lose_response)

    result = run_flow(owner_id=NEW_ID, confirmation=confirmation_link())

    assert len(portal.calls("PUT")) == 1
    assert result["changed"] is True
    assert result["previous_owner"] == OWNER
    assert "the response to PUT was lost" in result["msg"]
    assert "confirmed_elsewhere" not in result


@pytest.mark.parametrize("outcome, words", [
    (empty(401), ["HTTP 401 Unauthorized", "the owner is still Olivia Owner", "Run without confirmation to send new instructions"]),
    (empty(403), ["HTTP 403 Forbidden", "current owner's API key together with the link"]),
    (error_envelope(402, "The payment is required"), ["HTTP 402", "no free admin seat"]),
    (error_envelope(500, "The user could not be found"), ["HTTP 500 The user could not be found",
                                                          "DocSpace refused Nadia Admin <nadia.admin@example.com> as the new owner"]),
    (read_timeout(), ["no response within timeout", "The owner is still Olivia Owner", "run again with the same link"]),
    (html_page(502, "502 Bad Gateway"), ["HTML page (502 Bad Gateway)", "The owner is still Olivia Owner"]),
])
def test_put_refused_owner_unchanged(outcome, words, run_error, portal):
    portal.script("PUT", "/api/2.0/settings/owner", outcome)

    error = run_error(owner_id=NEW_ID, confirmation=confirmation_link())

    assert isinstance(error, DocSpaceAPIError)
    for word in words:
        assert word in error.msg
    assert len(portal.calls("PUT")) == 1
    assert error.details["owner"] == OWNER
    assert error.details["new_owner"] == NEW


def test_put_refused_read_back_fails(run_error, portal):
    portal.script("PUT", "/api/2.0/settings/owner", read_timeout())
    # Step 1 reads the settings once; the read-back and the three settling
    # read-backs after the doubtful PUT then fail on every attempt.
    portal.script("GET", "/api/2.0/settings", ok({"ownerId": OWNER_ID}), *[empty(503)] * 16)

    error = run_error(owner_id=NEW_ID, confirmation=confirmation_link())

    assert "The owner could not be read back, so the outcome is unknown" in error.msg


def test_put_accepted_owner_unchanged(run_error, portal):
    portal.script("PUT", "/api/2.0/settings/owner", make_response(200, ""))

    error = run_error(owner_id=NEW_ID, confirmation=confirmation_link())

    assert "DocSpace accepted PUT %s/api/2.0/settings/owner, but the owner is still user %s" % (BASE_URL, OWNER_ID) in error.msg


def test_put_empty_body_success(run_flow, portal):
    def apply_with_empty_body(request):
        portal.owner_id = NEW_ID
        return make_response(200, "")

    portal.script("PUT", "/api/2.0/settings/owner", apply_with_empty_body)

    result = run_flow(owner_id=NEW_ID, confirmation=confirmation_link())

    assert result["changed"] is True


# Short links.


def test_short_link_resolved(run_flow, portal):
    result = run_flow(owner_id=NEW_ID, confirmation="http://docspace.internal:8092/s/" + SHORT_CODE)

    resolve = portal.requests[3]
    assert portal.summary() == [SETTINGS, person(NEW_ID), SELF, SHORT, VALIDATE, APPLY, SETTINGS]
    assert resolve.url == BASE_URL + "/s/" + SHORT_CODE
    assert resolve.authorization is None
    assert resolve.options["allow_redirects"] is False
    assert portal.calls("PUT")[0].headers["confirm"] == FULL_QUERY
    assert result["changed"] is True


def test_short_link_path_prefix(clock, poll_sleep, retry_sleep, make_client):
    prefixed = "https://example.com/docspace"
    portal = FakePortal(base_url=prefixed)
    portal.links[SHORT_CODE] = confirmation_link(host=prefixed)
    client = make_client(base_url=prefixed + "/")
    client.session = portal
    params = dict(owner_id=NEW_ID, confirmation="https://example.com/docspace/s/" + SHORT_CODE, send_instructions=True)

    OwnerTransfer(client, params, sleep=poll_sleep, monotonic=clock.monotonic).run()

    assert portal.requests[3].url == prefixed + "/s/" + SHORT_CODE
    assert portal.owner_id == NEW_ID


def test_short_link_check_mode(run_flow, portal):
    result = run_flow(owner_id=NEW_ID, confirmation=BASE_URL + "/s/" + SHORT_CODE, check_mode=True)

    assert portal.summary() == [SETTINGS, person(NEW_ID), SELF, SHORT, VALIDATE]
    assert result["changed"] is True


@pytest.mark.parametrize("response, words", [
    (make_response(302, "", headers={"Location": BASE_URL + "/"}), ["short link in confirmation is unknown or no longer valid"]),
    (make_response(302, "", headers={"Location": "/"}), ["short link in confirmation is unknown or no longer valid"]),
    (html_page(200, "ONLYOFFICE DocSpace"), ["returned HTTP 200 instead of a redirect"]),
    (html_page(404, "404 Not Found"), ["returned HTTP 404 instead of a redirect"]),
    (make_response(302, ""), ["returned HTTP 302 instead of a redirect"]),
])
def test_short_link_unresolved(response, words, run_error, portal):
    portal.script("GET", "/s/" + SHORT_CODE, response)

    error = run_error(owner_id=NEW_ID, confirmation=BASE_URL + "/s/" + SHORT_CODE)

    for word in words:
        assert word in error.msg
    assert BASE_URL + "/s/<code>" in error.msg
    assert portal.summary()[-1] == SHORT


def test_short_link_transport_failure_hides_code(run_error, portal):
    portal.script("GET", "/s/" + SHORT_CODE, *[empty(503)] * 4)

    error = run_error(owner_id=NEW_ID, confirmation=BASE_URL + "/s/" + SHORT_CODE)

    assert "returned HTTP 503 instead of a redirect" in error.msg
    assert len(portal.calls("GET", "/s/" + SHORT_CODE)) == 4


def test_other_shortener_resolved(run_flow, portal):
    shortener = "https://bit.ly/3AbCdEf"
    portal.script("GET", shortener, make_response(301, "", headers={"Location": confirmation_link(host="https://docspace.internal")}))

    result = run_flow(owner_id=NEW_ID, confirmation=shortener)

    resolve = portal.requests[3]
    assert resolve.url == shortener
    assert resolve.authorization is None
    assert portal.calls("PUT")[0].headers["confirm"] == FULL_QUERY
    assert result["changed"] is True


def test_other_shortener_failure_hides_path(run_error, portal):
    portal.script("GET", "https://bit.ly/3AbCdEf", html_page(200, "Bitly"))

    error = run_error(owner_id=NEW_ID, confirmation="https://bit.ly/3AbCdEf")

    assert "GET https://bit.ly/<code> returned HTTP 200" in error.msg
    assert "3AbCdEf" not in error.msg


# Waiting for the confirmation.


def owner_is(user_id):
    return ok({"ownerId": user_id})


def test_wait_success(run_flow, portal, poll_sleep):
    # Step 1 reads the owner once; then three polls, the last one after the confirmation.
    portal.script("GET", "/api/2.0/settings", owner_is(OWNER_ID), owner_is(OWNER_ID), owner_is(OWNER_ID), owner_is(NEW_ID))

    result = run_flow(owner_id=NEW_ID, wait=True)

    assert poll_sleep.calls == [10, 10]
    assert result["changed"] is True
    assert result["pending_confirmation"] is False
    assert result["owner"] == NEW
    assert result["previous_owner"] == OWNER
    assert result["instructions_sent"] is True
    assert result["instructions_sent_to"] == "olivia.owner@example.com"


def test_wait_timeout(run_error, portal, poll_sleep):
    error = run_error(owner_id=NEW_ID, wait=True, wait_timeout=30, poll_interval=10)

    assert poll_sleep.calls == [10, 10, 10]
    assert len(portal.calls("GET", "/api/2.0/settings")) == 1 + 4
    assert error.msg.startswith("Timed out after 30 s waiting for Olivia Owner <olivia.owner@example.com> to confirm "
                                "the transfer to Nadia Admin <nadia.admin@example.com>")
    assert "still pending" in error.msg
    assert "the email sent to olivia.owner@example.com" in error.msg
    assert error.details["pending_confirmation"] is True
    assert error.details["instructions_sent"] is True


def test_wait_timeout_last_sleep_shortened(run_error, poll_sleep):
    run_error(owner_id=NEW_ID, wait=True, wait_timeout=25, poll_interval=10)

    assert poll_sleep.calls == [10, 10, 5]


def test_wait_interval_doubles_after_throttle(run_flow, portal, poll_sleep, retry_sleep):
    portal.script("GET", "/api/2.0/settings", owner_is(OWNER_ID), empty(429, {"Retry-After": "1"}), owner_is(OWNER_ID),
                  owner_is(OWNER_ID), owner_is(NEW_ID))

    run_flow(owner_id=NEW_ID, wait=True)

    assert retry_sleep.calls == [1]
    assert poll_sleep.calls == [20, 10]


def test_wait_interval_halves_after_throttle(run_flow, portal, poll_sleep, retry_sleep):
    throttled_poll = [empty(429, {"Retry-After": "1"}), owner_is(OWNER_ID)]
    portal.script("GET", "/api/2.0/settings", owner_is(OWNER_ID), *throttled_poll, *throttled_poll,
                  *[owner_is(OWNER_ID)] * 3, owner_is(NEW_ID))

    run_flow(owner_id=NEW_ID, wait=True)

    assert retry_sleep.calls == [1, 1]
    assert poll_sleep.calls == [20, 40, 20, 10, 10]


def test_wait_interval_doubles_after_rejected_throttle(run_flow, portal, poll_sleep):
    # A Retry-After above the client's cap ends the poll with HTTP 429 at once.
    portal.script("GET", "/api/2.0/settings", owner_is(OWNER_ID), empty(429, {"Retry-After": "120"}), owner_is(NEW_ID))

    run_flow(owner_id=NEW_ID, wait=True)

    assert poll_sleep.calls == [20]


def test_wait_interval_capped(run_flow, portal, poll_sleep):
    portal.script("GET", "/api/2.0/settings", owner_is(OWNER_ID), empty(429), owner_is(OWNER_ID), owner_is(NEW_ID))

    run_flow(owner_id=NEW_ID, wait=True, poll_interval=200, wait_timeout=3600)

    assert poll_sleep.calls == [300]


def test_wait_tolerates_server_error(run_flow, portal, poll_sleep, retry_sleep):
    portal.script("GET", "/api/2.0/settings", owner_is(OWNER_ID), *([empty(503)] * 4 + [owner_is(NEW_ID)]))

    result = run_flow(owner_id=NEW_ID, wait=True)

    assert retry_sleep.calls == [1, 2, 4]
    assert poll_sleep.calls == [10]
    assert result["owner"] == NEW


def test_wait_timeout_reports_last_error(run_error, portal):
    portal.script("GET", "/api/2.0/settings", owner_is(OWNER_ID), *[html_page(502, "502 Bad Gateway")] * 100)

    error = run_error(owner_id=NEW_ID, wait=True, wait_timeout=20)

    assert "The last poll failed: GET %s/api/2.0/settings failed: HTTP 502 with an HTML page" % BASE_URL in error.msg


def test_wait_stops_on_rejected_key(run_error, portal, poll_sleep):
    portal.script("GET", "/api/2.0/settings", owner_is(OWNER_ID), empty(401))

    error = run_error(owner_id=NEW_ID, wait=True)

    assert isinstance(error, DocSpaceAPIError)
    assert error.status == 401
    assert poll_sleep.calls == []


def test_wait_without_sending(run_flow, portal, poll_sleep):
    portal.script("GET", "/api/2.0/settings", owner_is(OWNER_ID), owner_is(NEW_ID))

    result = run_flow(owner_id=NEW_ID, wait=True, send_instructions=False)

    assert portal.calls("POST") == []
    assert result["changed"] is True
    assert result["instructions_sent"] is False
    assert "instructions_sent_to" not in result


def test_wait_without_sending_timeout(run_error):
    error = run_error(owner_id=NEW_ID, wait=True, send_instructions=False, wait_timeout=10)

    assert "open the link in the owner-change email" in error.msg
    assert error.details["instructions_sent"] is False


def test_wait_skipped_in_check_mode(run_flow, portal, poll_sleep):
    result = run_flow(owner_id=NEW_ID, wait=True, send_instructions=False, check_mode=True)

    assert portal.summary() == [SETTINGS, person(NEW_ID), SELF]
    assert poll_sleep.calls == []
    assert result["changed"] is False


# Diff and previous_owner.


def confirmed_elsewhere(portal):
    def reject_put(request):
        portal.owner_id = NEW_ID
        return empty(401)

    portal.script("PUT", "/api/2.0/settings/owner", reject_put)


@pytest.mark.parametrize("options, prepare, before, after", [
    ({"owner_id": OWNER_ID}, None, OWNER, OWNER),
    ({"owner_id": NEW_ID}, None, OWNER, NEW),
    ({"owner_id": NEW_ID, "check_mode": True}, None, OWNER, NEW),
    ({"owner_id": NEW_ID, "send_instructions": False}, None, OWNER, OWNER),
    ({"owner_id": NEW_ID, "confirmation": confirmation_link()}, None, OWNER, NEW),
    ({"owner_id": NEW_ID, "confirmation": confirmation_link(), "check_mode": True}, None, OWNER, NEW),
])
def test_diff_before_after(options, prepare, before, after, run_flow, portal):
    if prepare:
        prepare(portal)

    result = run_flow(**options)

    assert result["diff"] == {"before": before, "after": after}


# A run without a change shows no difference, and both sides are the owner it returns.
@pytest.mark.parametrize("options, prepare", [
    ({"owner_id": OWNER_ID}, None),
    ({"owner_id": NEW_ID, "send_instructions": False}, None),
    ({"owner_id": NEW_ID, "confirmation": confirmation_link()}, confirmed_elsewhere),
])
def test_diff_unchanged_shows_owner(options, prepare, run_flow, portal):
    if prepare:
        prepare(portal)

    result = run_flow(**options)

    assert result["changed"] is False
    assert result["diff"]["before"] == result["owner"]
    assert result["diff"]["after"] == result["owner"]


@pytest.mark.parametrize("options, prepare, expected", [
    ({"owner_id": OWNER_ID}, None, None),
    ({"owner_id": NEW_ID}, None, None),
    ({"owner_id": NEW_ID, "send_instructions": False}, None, None),
    ({"owner_id": NEW_ID, "confirmation": confirmation_link()}, None, OWNER),
    ({"owner_id": NEW_ID, "confirmation": confirmation_link(), "check_mode": True}, None, OWNER),
    ({"owner_id": NEW_ID, "confirmation": confirmation_link()}, confirmed_elsewhere, None),
])
def test_previous_owner_only_when_changed(options, prepare, expected, run_flow, portal):
    if prepare:
        prepare(portal)

    result = run_flow(**options)

    assert result.get("previous_owner") == expected


# Reading users.


def test_anonymous_settings_rejected(run_error, portal):
    portal.script("GET", "/api/2.0/settings", owner_is(ZERO_GUID))

    error = run_error(owner_id=NEW_ID)

    assert "DocSpace did not accept api_key" in error.msg


@pytest.mark.parametrize("response", [ok({"culture": "en-US"}), ok([]), ok(None)])
def test_settings_without_owner_rejected(response, run_error, portal):
    portal.script("GET", "/api/2.0/settings", response)

    error = run_error(owner_id=NEW_ID)

    assert "/api/2.0/settings" in error.msg
    assert "check base_url" in error.msg


def test_email_rejected_by_docspace(run_error, portal):
    portal.script("GET", "/api/2.0/people/email", error_envelope(400, "Email is not valid"))

    error = run_error(owner_email="nadia.admin@example.com")

    assert "HTTP 400 Email is not valid" in error.msg
    assert "DocSpace rejected owner_email 'nadia.admin@example.com'" in error.msg


def test_profile_without_id_rejected(run_error, portal):
    portal.script("GET", "/api/2.0/people/" + NEW_ID, ok({"displayName": "Nadia"}))

    error = run_error(owner_id=NEW_ID)

    assert "returned no user profile; check base_url" in error.msg


def test_caller_rejected_key(run_error, portal):
    portal.script("GET", "/api/2.0/people/@self", empty(401))

    error = run_error(owner_id=NEW_ID)

    assert "HTTP 401 Unauthorized" in error.msg
    assert "DocSpace did not accept api_key" in error.msg


# gather_owner_info -----------------------------------------------------------


def test_info_owner_key(make_client, portal):
    info = gather_owner_info(make_client(OWNER_KEY))

    assert portal.summary() == [SETTINGS, SELF, "GET /api/2.0/portal"]
    assert info["owner"]["is_owner"] is True
    assert info["caller"]["is_owner"] is True
    assert info["caller"]["email"] == "olivia.owner@example.com"


def test_info_non_owner_key(make_client, portal):
    info = gather_owner_info(make_client(ADMIN_KEY))

    assert portal.summary() == [SETTINGS, SELF, person(OWNER_ID), "GET /api/2.0/portal"]
    assert info["owner"]["email"] == "olivia.owner@example.com"
    assert info["owner"]["is_owner"] is True
    assert info["caller"]["is_owner"] is False
    assert info["caller"]["is_admin"] is True


def test_info_portal_details_for_admin(make_client):
    info = gather_owner_info(make_client(ADMIN_KEY))

    assert info["portal"] == {"url": BASE_URL, "id": 1, "alias": "docspace", "name": "Example DocSpace", "status": 0,
                              "version": 2, "details_visible": True}


def test_info_portal_details_hidden(make_client):
    info = gather_owner_info(make_client(NEW_KEY))

    assert info["portal"] == {"url": BASE_URL, "id": None, "alias": None, "name": None, "status": None,
                              "version": None, "details_visible": False}


def test_info_user_facts(make_client, portal):
    portal.users[NEW_ID].update(isVisitor=False, isRoomAdmin=True, isLDAP=True, activationStatus=2)

    info = gather_owner_info(make_client(NEW_KEY))

    assert info["caller"] == {"id": NEW_ID, "email": "nadia.admin@example.com", "display_name": "Nadia Admin",
                              "is_owner": False, "is_admin": False, "is_room_admin": True, "is_guest": False,
                              "status": 1, "activation_status": 2, "is_ldap": True, "is_sso": False}


def test_info_owner_profile_missing(make_client, portal):
    portal.script("GET", "/api/2.0/people/" + OWNER_ID, error_envelope(404, "The user could not be found"))

    info = gather_owner_info(make_client(NEW_KEY))

    assert info["owner"]["id"] == OWNER_ID
    assert info["owner"]["email"] is None
    assert info["owner"]["is_owner"] is True


def test_info_owner_profile_forbidden(make_client, portal):
    # The owner's email is documented as null when the caller may not read the profile.
    portal.script("GET", "/api/2.0/people/" + OWNER_ID, error_envelope(403, "Access denied"))

    info = gather_owner_info(make_client(NEW_KEY))

    assert info["owner"]["id"] == OWNER_ID
    assert info["owner"]["email"] is None


def test_info_rejected_key(make_client):
    with pytest.raises(DocSpaceError) as caught:
        gather_owner_info(make_client("sk-" + "f" * 64))

    assert "DocSpace did not accept api_key" in caught.value.msg
    assert "f" * 64 not in caught.value.msg
