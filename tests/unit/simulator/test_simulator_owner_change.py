"""The two-step owner change: instructions, the emailed link, confirmation and the PUT."""

from __future__ import annotations

import re
import uuid
from urllib.parse import quote, urlsplit

import pytest
import requests
from simulator_test_helpers import (
    TIMEOUT,
    check_confirm,
    get,
    params_of,
    put_owner,
    query_of,
    send_instructions,
    start_transfer,
)

from docspace_simulator import LOST_USER_ID, ZERO_GUID, Simulator

SEVEN_DAYS = 7 * 86400


@pytest.fixture
def make_portal():
    """Start a simulator and return a factory for portals with given options."""
    simulator = Simulator().start()

    def factory(alias="acme", **options):
        return simulator.add_portal(alias, **options)

    yield factory
    simulator.stop()


# POST /api/2.0/settings/owner


def test_instructions_sent_status_1(docspace_portal):
    owner = docspace_portal.users["owner"]
    response = send_instructions(docspace_portal, owner, docspace_portal.users["successor"].id)
    body = response.json()

    assert response.status_code == 200
    assert body["response"]["status"] == 1
    assert '<a href="mailto:Owner@acme.docspace.test">Owner@acme.docspace.test</a>' in body["response"]["message"]
    assert len(docspace_portal.outbox) == 1


def test_instructions_email_to_current_owner_only(docspace_portal):
    successor = docspace_portal.users["successor"]
    send_instructions(docspace_portal, docspace_portal.users["owner"], successor.id)
    email = docspace_portal.last_email

    assert email.to == "Owner@acme.docspace.test"
    assert email.new_owner_id == successor.id
    assert email.short_link in email.body
    assert email.sent_at <= docspace_portal.now()


@pytest.mark.parametrize("role", ["room_admin", "user", "guest"])
def test_instructions_non_admin_caller_403(docspace_portal, role):
    response = send_instructions(docspace_portal, docspace_portal.users[role], docspace_portal.users["successor"].id)

    assert response.status_code == 403
    assert response.json()["error"]["message"] == "Access denied"
    assert docspace_portal.outbox == []


def test_instructions_non_admin_caller_500_before_3_1(make_portal):
    portal = make_portal(version="3.0.4")
    response = send_instructions(portal, portal.users["user"], portal.users["successor"].id)

    assert response.status_code == 500


def test_instructions_owner_email_not_activated_400(make_portal):
    portal = make_portal(owner_email_activated=False)
    for role in ("owner", "admin"):
        response = send_instructions(portal, portal.users[role], portal.users["successor"].id)
        assert response.status_code == 400, role
        assert response.json()["error"]["message"] == "Owner's email is not activated"
    assert portal.outbox == []


def test_instructions_unactivated_owner_before_3_5(make_portal):
    portal = make_portal(version="3.2.1", owner_email_activated=False)
    response = send_instructions(portal, portal.users["owner"], portal.users["successor"].id)

    assert response.json()["response"]["status"] == 1


def test_instructions_activation_checked_before_guest(make_portal):
    portal = make_portal(owner_email_activated=False)
    response = send_instructions(portal, portal.users["owner"], portal.users["guest"].id)

    assert response.status_code == 400


def test_instructions_guest_target_403(docspace_portal):
    response = send_instructions(docspace_portal, docspace_portal.users["owner"], docspace_portal.users["guest"].id)

    assert response.status_code == 403
    assert response.json()["error"]["message"] == "Access denied"


def test_instructions_guest_target_403_for_admin_too(docspace_portal):
    response = send_instructions(docspace_portal, docspace_portal.users["admin"], docspace_portal.users["guest"].id)

    assert response.status_code == 403


@pytest.mark.parametrize(
    "caller_role, target",
    [
        ("admin", "successor"),
        ("owner", "zero"),
        ("owner", "disabled"),
        ("owner", "invited"),
    ],
)
def test_instructions_refused_with_http_200(docspace_portal, caller_role, target):
    target_id = ZERO_GUID if target == "zero" else docspace_portal.users[target].id
    response = send_instructions(docspace_portal, docspace_portal.users[caller_role], target_id)
    body = response.json()

    assert response.status_code == 200
    assert body["status"] == 0
    assert body["response"]["status"] == 0
    assert body["response"]["message"] == "No permissions to perform this action"
    assert docspace_portal.outbox == []


def test_instructions_unactivated_target_sent(docspace_portal):
    response = send_instructions(docspace_portal, docspace_portal.users["owner"], docspace_portal.users["unactivated"].id)

    assert response.json()["response"]["status"] == 1


def test_instructions_unknown_id_quirk(docspace_portal):
    unknown = str(uuid.uuid4())
    response = send_instructions(docspace_portal, docspace_portal.users["owner"], unknown)
    link = docspace_portal.last_email.link

    assert response.json()["response"]["status"] == 1
    assert params_of(link)["uid"] == LOST_USER_ID
    assert docspace_portal.browser_confirm(link).result == "Invalid"


def test_instructions_current_owner_as_target(docspace_portal):
    response = send_instructions(docspace_portal, docspace_portal.users["owner"], docspace_portal.owner_id)

    assert response.json()["response"]["status"] == 1


@pytest.mark.parametrize("body", [b"", b"{not json", b'{"ownerId": "not-a-guid"}', b"[]"])
def test_instructions_malformed_body_400(docspace_portal, body):
    response = requests.post(
        docspace_portal.base_url + "/api/2.0/settings/owner",
        data=body,
        headers={"Authorization": f"Bearer {docspace_portal.users['owner'].api_key}", "Content-Type": "application/json"},
        timeout=TIMEOUT,
    )

    assert response.status_code == 400
    assert response.json()["status"] == 1
    assert "errors" in response.json()["response"]


def test_instructions_form_body_415(docspace_portal):
    response = requests.post(
        docspace_portal.base_url + "/api/2.0/settings/owner",
        data={"ownerId": docspace_portal.users["successor"].id},
        headers={"Authorization": f"Bearer {docspace_portal.users['owner'].api_key}"},
        timeout=TIMEOUT,
    )

    assert response.status_code == 415


def test_instructions_property_name_case_insensitive(docspace_portal):
    response = requests.post(
        docspace_portal.base_url + "/api/2.0/settings/owner",
        json={"OWNERID": docspace_portal.users["successor"].id},
        headers={"Authorization": f"Bearer {docspace_portal.users['owner'].api_key}"},
        timeout=TIMEOUT,
    )

    assert response.json()["response"]["status"] == 1


# The link


def test_link_format_encemail(docspace_portal):
    link = start_transfer(docspace_portal, docspace_portal.users["successor"])
    parts = urlsplit(link)
    params = params_of(link)

    assert link.startswith(docspace_portal.base_url + "/confirm/PortalOwnerChange?")
    assert list(params) == ["type", "key", "encemail", "uid"]
    assert params["type"] == "PortalOwnerChange"
    assert params["uid"] == docspace_portal.users["successor"].id
    assert re.fullmatch(r"\d+\.[A-Z2-7]+", params["key"])
    assert "email=" not in parts.query.replace("encemail=", "")


def test_link_encemail_percent_encoded(docspace_portal):
    link = start_transfer(docspace_portal, docspace_portal.users["successor"])
    raw_value = query_of(link).split("encemail=")[1].split("&")[0]

    assert raw_value == quote(params_of(link)["encemail"], safe="")
    assert "+" not in raw_value
    assert "/" not in raw_value


def test_link_plain_email_before_3_5(make_portal):
    portal = make_portal(version="3.2.1")
    link = start_transfer(portal, portal.users["successor"])
    params = params_of(link)

    assert params["email"] == "Owner@acme.docspace.test"
    assert "encemail" not in params
    assert "email=Owner%40acme.docspace.test" in query_of(link)


def test_link_plus_in_owner_email_encoded(make_portal):
    portal = make_portal(version="3.2.1")
    portal.update_user(portal.owner_id, email="Owner+ops@acme.docspace.test")
    link = start_transfer(portal, portal.users["successor"])

    assert "email=Owner%2Bops%40acme.docspace.test" in query_of(link)
    assert portal.browser_confirm(link).result == "Ok"


def test_link_base_in_email(make_portal):
    portal = make_portal(link_base="http://docspace-internal.invalid:8092")
    start_transfer(portal, portal.users["successor"])
    email = portal.last_email

    assert email.link.startswith("http://docspace-internal.invalid:8092/confirm/PortalOwnerChange?")
    assert email.short_link.startswith("http://docspace-internal.invalid:8092/s/")


def test_short_link_redirects_to_link(docspace_portal):
    start_transfer(docspace_portal, docspace_portal.users["successor"])
    email = docspace_portal.last_email
    code = email.short_link.rsplit("/s/", 1)[1]
    response = requests.get(email.short_link, allow_redirects=False, timeout=TIMEOUT)

    assert len(code) == 15
    assert email.short_link == f"{docspace_portal.base_url}/s/{code}"
    assert response.status_code == 302
    assert response.headers["Location"] == email.link


def test_short_link_unknown_code_redirects_to_root(docspace_portal):
    response = get(docspace_portal, "/s/AAAAAAAAAAAAAAA")

    assert response.status_code == 302
    assert response.headers["Location"] == docspace_portal.base_url + "/"


def test_short_link_resolved_with_internal_host(make_portal):
    portal = make_portal(link_base="http://docspace-internal.invalid:8092")
    start_transfer(portal, portal.users["successor"])
    code = portal.last_email.short_link.rsplit("/", 1)[1]
    response = get(portal, f"/s/{code}")

    assert response.headers["Location"] == portal.last_email.link


def test_confirm_page_html(docspace_portal):
    link = start_transfer(docspace_portal, docspace_portal.users["successor"])
    response = requests.get(link, timeout=TIMEOUT)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")


# POST /api/2.0/authentication/confirm


def confirm_body(link: str, **overrides) -> dict:
    params = params_of(link)
    body = {"key": params["key"], "uiD": params["uid"], "type": params["type"]}
    if "encemail" in params:
        body["encEmail"] = params["encemail"]
    else:
        body["email"] = params["email"]
    body.update(overrides)
    return body


def test_confirm_ok(docspace_portal):
    link = start_transfer(docspace_portal, docspace_portal.users["successor"])
    response = check_confirm(docspace_portal, confirm_body(link))

    assert response.status_code == 200
    assert response.json()["response"]["result"] == 0


def test_confirm_anonymous_and_changes_nothing(docspace_portal):
    owner_before = docspace_portal.owner_id
    link = start_transfer(docspace_portal, docspace_portal.users["successor"])
    check_confirm(docspace_portal, confirm_body(link))

    assert docspace_portal.owner_id == owner_before


def test_confirm_property_names_case_insensitive(docspace_portal):
    link = start_transfer(docspace_portal, docspace_portal.users["successor"])
    body = {name.upper(): value for name, value in confirm_body(link).items()}

    assert check_confirm(docspace_portal, body).json()["response"]["result"] == 0


def test_confirm_numeric_type(docspace_portal):
    link = start_transfer(docspace_portal, docspace_portal.users["successor"])

    assert check_confirm(docspace_portal, confirm_body(link, type=6)).json()["response"]["result"] == 0


def test_confirm_plain_email_accepted(docspace_portal):
    link = start_transfer(docspace_portal, docspace_portal.users["successor"])
    body = confirm_body(link, email="owner@acme.docspace.test")
    del body["encEmail"]

    assert check_confirm(docspace_portal, body).json()["response"]["result"] == 0


@pytest.mark.parametrize(
    "overrides",
    [
        {"key": "1.ABC"},
        {"key": "garbage"},
        {"uiD": "00000000-0000-0000-0000-000000000001"},
        {"type": "EmailChange"},
        {"encEmail": "AAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
    ],
)
def test_confirm_tampered_invalid(docspace_portal, overrides):
    link = start_transfer(docspace_portal, docspace_portal.users["successor"])

    assert check_confirm(docspace_portal, confirm_body(link, **overrides)).json()["response"]["result"] == 1


def test_confirm_tampered_key_case_ignored(docspace_portal):
    link = start_transfer(docspace_portal, docspace_portal.users["successor"])
    key = params_of(link)["key"]

    assert check_confirm(docspace_portal, confirm_body(link, key=key.lower())).json()["response"]["result"] == 0


def test_confirm_expired_after_seven_days(docspace_portal):
    link = start_transfer(docspace_portal, docspace_portal.users["successor"])

    docspace_portal.advance_clock(SEVEN_DAYS - 60)
    assert check_confirm(docspace_portal, confirm_body(link)).json()["response"]["result"] == 0
    docspace_portal.advance_clock(120)
    assert check_confirm(docspace_portal, confirm_body(link)).json()["response"]["result"] == 2


def test_confirm_invalid_once_email_not_owner(docspace_portal):
    link = start_transfer(docspace_portal, docspace_portal.users["successor"])
    docspace_portal.set_owner(docspace_portal.users["admin"].id)

    assert check_confirm(docspace_portal, confirm_body(link)).json()["response"]["result"] == 1


def test_confirm_invalid_for_disabled_new_owner(docspace_portal):
    successor = docspace_portal.users["successor"]
    link = start_transfer(docspace_portal, successor)
    docspace_portal.update_user(successor.id, status=2)

    assert check_confirm(docspace_portal, confirm_body(link)).json()["response"]["result"] == 1


def test_confirm_missing_email_400(docspace_portal):
    link = start_transfer(docspace_portal, docspace_portal.users["successor"])
    body = confirm_body(link)
    del body["encEmail"]

    assert check_confirm(docspace_portal, body).status_code == 400


def test_confirm_malformed_uid_400(docspace_portal):
    link = start_transfer(docspace_portal, docspace_portal.users["successor"])

    assert check_confirm(docspace_portal, confirm_body(link, uiD="nope")).status_code == 400


def test_confirm_unknown_type_name_400(docspace_portal):
    link = start_transfer(docspace_portal, docspace_portal.users["successor"])

    assert check_confirm(docspace_portal, confirm_body(link, type="NoSuchType")).status_code == 400


# PUT /api/2.0/settings/owner: the confirm-header table


def test_put_without_confirm_with_key_403(docspace_portal):
    response = put_owner(docspace_portal, docspace_portal.users["successor"].id, user=docspace_portal.users["owner"])

    assert response.status_code == 403
    assert response.content == b""


def test_put_without_confirm_or_credentials_401(docspace_portal):
    response = put_owner(docspace_portal, docspace_portal.users["successor"].id)

    assert response.status_code == 401
    assert response.content == b""


@pytest.mark.parametrize("mangle", ["key", "uid", "type", "empty"])
def test_put_invalid_confirm_401_even_with_key(docspace_portal, mangle):
    successor = docspace_portal.users["successor"]
    query = query_of(start_transfer(docspace_portal, successor))
    if mangle == "key":
        query = re.sub(r"key=\d+\.", "key=1.", query)
    elif mangle == "uid":
        query = query.replace(successor.id, docspace_portal.users["admin"].id)
    elif mangle == "type":
        query = query.replace("type=PortalOwnerChange", "type=EmailChange")
    else:
        query = ""
    response = put_owner(docspace_portal, successor.id, confirm=query, user=docspace_portal.users["owner"])

    assert response.status_code == 401
    assert response.content == b""
    assert docspace_portal.owner_id == docspace_portal.users["owner"].id


def test_put_expired_confirm_401(docspace_portal):
    successor = docspace_portal.users["successor"]
    query = query_of(start_transfer(docspace_portal, successor))
    docspace_portal.advance_clock(SEVEN_DAYS + 1)
    response = put_owner(docspace_portal, successor.id, confirm=query, user=docspace_portal.users["owner"])

    assert response.status_code == 401


def test_put_decoded_plus_breaks_link(make_portal):
    portal = make_portal(version="3.2.1")
    portal.update_user(portal.owner_id, email="Owner+ops@acme.docspace.test")
    successor = portal.users["successor"]
    query = query_of(start_transfer(portal, successor))

    # A client that decodes the query string before forwarding it turns %2B into "+", which reads as a space.
    decoded = query.replace("%2B", "+").replace("%40", "@")
    response = put_owner(portal, successor.id, confirm=decoded, user=portal.users["owner"])

    assert response.status_code == 401


def test_put_success_with_owner_key(docspace_portal):
    owner = docspace_portal.users["owner"]
    successor = docspace_portal.users["successor"]
    query = query_of(start_transfer(docspace_portal, successor))
    response = put_owner(docspace_portal, successor.id, confirm=query, user=owner)
    body = response.json()

    assert response.status_code == 200
    assert body["count"] == 0
    assert "response" not in body
    assert body["status"] == 0
    assert body["statusCode"] == 200
    assert docspace_portal.owner_id == successor.id
    assert successor.user_type == "admin"


def test_put_success_empty_body_before_3_0(make_portal):
    portal = make_portal(version="2.6.3")
    successor = portal.users["successor"]
    query = query_of(start_transfer(portal, successor))
    response = put_owner(portal, successor.id, confirm=query, user=portal.users["owner"])

    assert response.status_code == 200
    assert response.content == b""
    assert portal.owner_id == successor.id


def test_put_promotion_without_credentials_403(docspace_portal):
    successor = docspace_portal.users["successor"]
    query = query_of(start_transfer(docspace_portal, successor))
    response = put_owner(docspace_portal, successor.id, confirm=query)

    assert response.status_code == 403
    assert response.json()["error"]["message"] == "Operation is not valid due to the current state of the object."
    assert docspace_portal.owner_id == docspace_portal.users["owner"].id


def test_put_promotion_with_admin_key_403(docspace_portal):
    successor = docspace_portal.users["successor"]
    query = query_of(start_transfer(docspace_portal, successor))
    response = put_owner(docspace_portal, successor.id, confirm=query, user=docspace_portal.users["admin"])

    assert response.status_code == 403


def test_put_admin_target_without_credentials_succeeds(docspace_portal):
    admin = docspace_portal.users["admin"]
    query = query_of(start_transfer(docspace_portal, admin))
    response = put_owner(docspace_portal, admin.id, confirm=query)

    assert response.status_code == 200
    assert docspace_portal.owner_id == admin.id


def test_put_body_owner_not_compared_with_uid(docspace_portal):
    query = query_of(start_transfer(docspace_portal, docspace_portal.users["successor"]))
    admin = docspace_portal.users["admin"]
    response = put_owner(docspace_portal, admin.id, confirm=query, user=docspace_portal.users["owner"])

    assert response.status_code == 200
    assert docspace_portal.owner_id == admin.id


@pytest.mark.parametrize(
    "target, message",
    [
        ("unknown", "The user could not be found"),
        ("guest", "The user could not be found"),
        ("disabled", "No permissions to perform this action"),
        ("invited", "No permissions to perform this action"),
    ],
)
def test_put_bad_target_500(docspace_portal, target, message):
    query = query_of(start_transfer(docspace_portal, docspace_portal.users["successor"]))
    target_id = str(uuid.uuid4()) if target == "unknown" else docspace_portal.users[target].id
    response = put_owner(docspace_portal, target_id, confirm=query, user=docspace_portal.users["owner"])

    assert response.status_code == 500
    assert response.json()["error"]["message"] == message


def test_put_over_admin_quota_402(make_portal):
    portal = make_portal(admin_quota=2)
    successor = portal.users["successor"]
    query = query_of(start_transfer(portal, successor))
    response = put_owner(portal, successor.id, confirm=query, user=portal.users["owner"])

    assert response.status_code == 402
    assert portal.owner_id == portal.users["owner"].id


def test_put_link_reusable_until_owner_changes(docspace_portal):
    successor = docspace_portal.users["successor"]
    query = query_of(start_transfer(docspace_portal, successor))
    owner = docspace_portal.users["owner"]

    assert put_owner(docspace_portal, owner.id, confirm=query, user=owner).status_code == 200
    assert put_owner(docspace_portal, successor.id, confirm=query, user=owner).status_code == 200
    assert put_owner(docspace_portal, successor.id, confirm=query, user=owner).status_code == 401


# Browser-side confirmation


def test_browser_confirm_short_link(docspace_portal):
    successor = docspace_portal.users["successor"]
    start_transfer(docspace_portal, successor)
    outcome = docspace_portal.browser_confirm(docspace_portal.last_email.short_link)

    assert outcome.result == "Ok"
    assert outcome.status == 200
    assert outcome.owner_changed is True
    assert outcome.owner_id == successor.id
    assert docspace_portal.owner_id == successor.id


@pytest.mark.parametrize("form", ["full", "query"])
def test_browser_confirm_link_forms(docspace_portal, form):
    successor = docspace_portal.users["successor"]
    link = start_transfer(docspace_portal, successor)
    outcome = docspace_portal.browser_confirm(link if form == "full" else query_of(link))

    assert outcome.owner_changed is True


def test_browser_confirm_not_counted(docspace_portal):
    start_transfer(docspace_portal, docspace_portal.users["successor"])
    before = docspace_portal.request_count()
    docspace_portal.browser_confirm(docspace_portal.last_email.short_link)

    assert docspace_portal.request_count() == before


def test_browser_confirm_expired(docspace_portal):
    start_transfer(docspace_portal, docspace_portal.users["successor"])
    docspace_portal.advance_clock(SEVEN_DAYS + 1)
    outcome = docspace_portal.browser_confirm(docspace_portal.last_email.short_link)

    assert outcome.result == "Expired"
    assert outcome.owner_changed is False
    assert outcome.status is None


def test_browser_confirm_unknown_short_link(docspace_portal):
    outcome = docspace_portal.browser_confirm(docspace_portal.base_url + "/s/ZZZZZZZZZZZZZZZ")

    assert outcome.result == "UnknownShortLink"


def test_browser_confirm_bad_target_reports_status(docspace_portal):
    successor = docspace_portal.users["successor"]
    start_transfer(docspace_portal, successor)
    docspace_portal.update_user(successor.id, status=4)
    outcome = docspace_portal.browser_confirm(docspace_portal.last_email.short_link)

    assert outcome.result == "Ok"
    assert outcome.status == 500
    assert outcome.owner_changed is False
    assert outcome.message == "No permissions to perform this action"


def test_make_confirmation_link_backdated(docspace_portal):
    successor = docspace_portal.users["successor"]
    issued = docspace_portal.now().replace(year=docspace_portal.now().year - 1)
    link = docspace_portal.make_confirmation_link(successor.id, issued_at=issued)

    assert check_confirm(docspace_portal, confirm_body(link)).json()["response"]["result"] == 2
