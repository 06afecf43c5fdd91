"""Envelopes, authentication and the read endpoints of the simulated portal."""

from __future__ import annotations


import pytest
import requests
from simulator_test_helpers import TIMEOUT, get

from docspace_simulator import ZERO_GUID, Simulator

# Envelopes


def test_success_envelope_shape(docspace_portal):
    response = get(docspace_portal, "/api/2.0/people/@self", docspace_portal.users["owner"])
    body = response.json()

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert set(body) == {"response", "count", "links", "status", "statusCode"}
    assert body["count"] == 1
    assert body["status"] == 0
    assert body["statusCode"] == 200
    assert body["links"] == [{"href": docspace_portal.base_url + "/api/2.0/people/@self", "action": "GET"}]


def test_error_envelope_shape(docspace_portal):
    response = get(docspace_portal, "/api/2.0/people/nobody", docspace_portal.users["owner"])
    body = response.json()

    assert response.status_code == 404
    assert set(body) == {"error", "status", "statusCode"}
    assert set(body["error"]) == {"message", "type", "stack", "hresult"}
    assert body["error"]["message"] == "The user could not be found"
    assert body["status"] == 1
    assert body["statusCode"] == 404


@pytest.mark.parametrize(
    "path",
    ["/api/2.0/people/@self", "/api/2.0/portal", "/api/2.0/people/owner", "/api/2.0/people/email?email=a@b.test"],
)
def test_unauthenticated_read_empty_401(docspace_portal, path):
    response = get(docspace_portal, path)

    assert response.status_code == 401
    assert response.content == b""


def test_wrong_method_empty_405(docspace_portal):
    response = requests.delete(docspace_portal.base_url + "/api/2.0/settings/owner", timeout=TIMEOUT)

    assert response.status_code == 405
    assert response.content == b""


def test_wrong_method_on_literal_path_405(docspace_portal):
    response = requests.post(docspace_portal.base_url + "/api/2.0/people/email", timeout=TIMEOUT)

    assert response.status_code == 405


@pytest.mark.parametrize("path", ["/api/2.0/nothing", "/api/3.0/settings", "/files/"])
def test_unknown_path_nginx_404(docspace_portal, path):
    response = get(docspace_portal, path)

    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<center>nginx</center>" in response.text


def test_path_outside_every_portal_nginx_404(docspace_simulator):
    response = requests.get(docspace_simulator.http_url + "/other/api/2.0/settings", timeout=TIMEOUT)

    assert response.status_code == 404
    assert "nginx" in response.text


def test_routes_case_insensitive(docspace_portal):
    response = get(docspace_portal, "/API/2.0/Settings")

    assert response.status_code == 200


# Authentication


def test_raw_api_key_without_bearer_401(docspace_portal):
    owner = docspace_portal.users["owner"]
    response = get(docspace_portal, "/api/2.0/people/@self", headers={"Authorization": owner.api_key})

    assert response.status_code == 401
    assert response.content == b""


def test_unknown_api_key_401(docspace_portal):
    response = get(docspace_portal, "/api/2.0/people/@self", headers={"Authorization": "Bearer sk-" + "0" * 64})

    assert response.status_code == 401


def test_disabled_user_key_401(docspace_portal):
    response = get(docspace_portal, "/api/2.0/people/@self", docspace_portal.users["disabled"])

    assert response.status_code == 401


def test_api_key_of_other_portal_401(docspace_simulator):
    other = docspace_simulator.add_portal("other")
    acme = docspace_simulator.portal("acme")

    response = get(acme, "/api/2.0/people/@self", other.users["owner"])

    assert response.status_code == 401


def login(portal, user_name, password):
    return requests.post(
        portal.base_url + "/api/2.0/authentication",
        json={"userName": user_name, "password": password},
        timeout=TIMEOUT,
    )


def test_session_token_raw_bearer_and_cookie(docspace_portal):
    owner = docspace_portal.users["owner"]
    response = login(docspace_portal, owner.email.lower(), owner.password)
    token = response.json()["response"]["token"]

    assert response.status_code == 200
    assert response.json()["response"]["expires"]
    for headers, cookies in [({"Authorization": token}, None), ({"Authorization": f"Bearer {token}"}, None), ({}, {"asc_auth_key": token})]:
        me = get(docspace_portal, "/api/2.0/people/@self", headers=headers, cookies=cookies)
        assert me.status_code == 200
        assert me.json()["response"]["id"] == owner.id


def test_login_by_user_name(docspace_portal):
    user = docspace_portal.users["user"]
    response = login(docspace_portal, user.user_name, user.password)

    assert response.status_code == 200


def test_login_wrong_password_401(docspace_portal):
    response = login(docspace_portal, docspace_portal.users["owner"].email, "wrong")

    assert response.status_code == 401
    assert response.json()["error"]["message"] == "User authentication failed"


def test_login_missing_user_name_400(docspace_portal):
    response = login(docspace_portal, "", "x")

    assert response.status_code == 400


def test_session_expires_with_portal_clock(docspace_portal):
    owner = docspace_portal.users["owner"]
    token = login(docspace_portal, owner.email, owner.password).json()["response"]["token"]

    docspace_portal.advance_clock(31 * 86400)
    response = get(docspace_portal, "/api/2.0/people/@self", headers={"Authorization": token})

    assert response.status_code == 401


# Settings and portal


def test_settings_owner_id_for_any_user(docspace_portal):
    for role in ("owner", "admin", "user", "guest"):
        response = get(docspace_portal, "/api/2.0/settings", docspace_portal.users[role])
        assert response.json()["response"]["ownerId"] == docspace_portal.owner_id, role


def test_settings_anonymous_zero_owner(docspace_portal):
    response = get(docspace_portal, "/api/2.0/settings")

    assert response.status_code == 200
    assert response.json()["response"]["ownerId"] == ZERO_GUID


def test_settings_invalid_key_treated_as_anonymous(docspace_portal):
    response = get(docspace_portal, "/api/2.0/settings", headers={"Authorization": "Bearer sk-nope"})

    assert response.status_code == 200
    assert response.json()["response"]["ownerId"] == ZERO_GUID


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_portal_full_for_owner_and_admin(docspace_portal, role):
    tenant = get(docspace_portal, "/api/2.0/portal", docspace_portal.users[role]).json()["response"]

    assert tenant["ownerId"] == docspace_portal.owner_id
    assert tenant["tenantAlias"] == "acme"
    assert tenant["tenantId"] == docspace_portal.tenant_id
    assert tenant["name"] == docspace_portal.name


@pytest.mark.parametrize("role", ["room_admin", "user", "guest"])
def test_portal_defaults_for_others(docspace_portal, role):
    tenant = get(docspace_portal, "/api/2.0/portal", docspace_portal.users[role]).json()["response"]

    assert tenant["ownerId"] == ZERO_GUID
    assert tenant["tenantAlias"] is None


# People


def test_people_by_guid_any_case(docspace_portal):
    owner = docspace_portal.users["owner"]
    for value in (owner.id, owner.id.upper(), "{" + owner.id + "}"):
        response = get(docspace_portal, f"/api/2.0/people/{value}", owner)
        assert response.status_code == 200, value
        assert response.json()["response"]["id"] == owner.id


def test_people_by_user_name_first(docspace_portal):
    owner = docspace_portal.users["owner"]
    successor = docspace_portal.users["successor"]

    # A user whose name looks like another user's GUID is found by name.
    docspace_portal.update_user(successor.id, user_name=owner.id)
    response = get(docspace_portal, f"/api/2.0/people/{owner.id}", owner)

    assert response.json()["response"]["id"] == successor.id


@pytest.mark.parametrize("value", ["0b7e3f4c-9d2a-4e61-8c55-3a1f2e9d7b40", "not-a-guid", "12345"])
def test_people_unknown_or_malformed_404(docspace_portal, value):
    response = get(docspace_portal, f"/api/2.0/people/{value}", docspace_portal.users["owner"])

    assert response.status_code == 404
    assert response.json()["error"]["message"] == "The user could not be found"


def test_people_guest_reading_other_403(docspace_portal):
    response = get(docspace_portal, f"/api/2.0/people/{docspace_portal.owner_id}", docspace_portal.users["guest"])

    assert response.status_code == 403
    assert response.json()["error"]["message"] == "Access denied"


def test_people_by_email_case_insensitive(docspace_portal):
    owner = docspace_portal.users["owner"]
    response = get(docspace_portal, "/api/2.0/people/email", owner, params={"email": owner.email.upper()})

    assert response.status_code == 200
    assert response.json()["response"]["id"] == owner.id
    assert response.json()["response"]["email"] == "Owner@acme.docspace.test"


def test_people_by_email_unknown_404(docspace_portal):
    response = get(docspace_portal, "/api/2.0/people/email", docspace_portal.users["owner"], params={"email": "nobody@acme.docspace.test"})

    assert response.status_code == 404


def test_people_by_email_missing_400_validation(docspace_portal):
    response = get(docspace_portal, "/api/2.0/people/email", docspace_portal.users["owner"])
    body = response.json()

    assert response.status_code == 400
    assert body["status"] == 1
    assert "email" in body["response"]["errors"]


def test_people_by_email_malformed_400(docspace_portal):
    response = get(docspace_portal, "/api/2.0/people/email", docspace_portal.users["owner"], params={"email": "not-an-email"})

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "System.ArgumentException"


def test_people_by_email_plus_sign(docspace_portal):
    owner = docspace_portal.users["owner"]
    added = docspace_portal.add_user("first+tag@acme.docspace.test")
    response = get(docspace_portal, "/api/2.0/people/email", owner, params={"email": "first+tag@acme.docspace.test"})

    assert response.json()["response"]["id"] == added.id


PROFILE_FLAGS = {
    # role: (status, activationStatus, isAdmin, isRoomAdmin, isVisitor, isCollaborator)
    "owner": (1, 1, False, False, False, False),
    "admin": (1, 1, True, False, False, False),
    "room_admin": (1, 1, False, True, False, False),
    "user": (1, 1, False, False, False, True),
    "successor": (1, 1, False, False, False, True),
    "guest": (1, 1, False, False, True, False),
    "disabled": (2, 1, False, False, False, True),
    "invited": (4, 2, False, False, False, True),
    "unactivated": (1, 0, False, False, False, True),
}


@pytest.mark.parametrize("role", sorted(PROFILE_FLAGS))
def test_seeded_profile_flags(docspace_portal, role):
    user = docspace_portal.users[role]
    profile = get(docspace_portal, f"/api/2.0/people/{user.id}", docspace_portal.users["owner"]).json()["response"]
    flags = (profile["status"], profile["activationStatus"], profile["isAdmin"], profile["isRoomAdmin"], profile["isVisitor"], profile["isCollaborator"])

    assert flags == PROFILE_FLAGS[role]
    assert profile["isOwner"] == (role == "owner")
    assert profile["email"] == user.email
    assert profile["isLDAP"] is False
    assert profile["isSSO"] is False


def test_self_profile_fields(docspace_portal):
    owner = docspace_portal.users["owner"]
    profile = get(docspace_portal, "/api/2.0/people/@self", owner).json()["response"]

    assert profile["displayName"] == "Olivia Owner"
    assert profile["userName"] == "owner"
    assert profile["firstName"] == "Olivia"
    assert profile["lastName"] == "Owner"


def test_unicode_user_names(docspace_portal):
    user = docspace_portal.users["unicode"]
    profile = get(docspace_portal, f"/api/2.0/people/{user.id}", user).json()["response"]

    assert profile["firstName"] == "Zoë"
    assert profile["displayName"] == "Zoë Łukasiewicz-Ångström"
    assert profile["email"].isascii()


def test_display_name_html_encoded(docspace_portal):
    owner = docspace_portal.users["owner"]
    added = docspace_portal.add_user("obrien@acme.docspace.test", first_name="Seán", last_name="O'Brien & <Co>")
    profile = get(docspace_portal, f"/api/2.0/people/{added.id}", owner).json()["response"]

    assert profile["displayName"] == "Seán O&#39;Brien &amp; &lt;Co&gt;"
    assert profile["lastName"] == "O'Brien & <Co>"


@pytest.mark.parametrize("version, owner_is_admin", [("3.7.2", False), ("3.7.1", False), ("3.7.0", True), ("2.6.3", True)])
def test_owner_is_admin_by_version(version, owner_is_admin):
    with Simulator() as simulator:
        portal = simulator.add_portal("versioned", version=version)
        profile = get(portal, "/api/2.0/people/@self", portal.users["owner"]).json()["response"]

    assert profile["isAdmin"] is owner_is_admin
    assert profile["isOwner"] is True


def test_seeded_users_deterministic():
    first = Simulator().add_portal("same")
    second = Simulator().add_portal("same")

    for role in first.users:
        assert first.users[role].id == second.users[role].id
        assert first.users[role].api_key == second.users[role].api_key
        assert first.users[role].password == second.users[role].password
    assert first.users["owner"].api_key.startswith("sk-")
    assert len(first.users["owner"].api_key) == 67
    assert first.users["owner"].email == "Owner@same.docspace.test"
