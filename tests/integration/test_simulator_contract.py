"""Drive the DocSpace simulator with the official Python SDK (docspace-api-sdk).

The SDK's pydantic models are generated from DocSpace's OpenAPI description, so
parsing every simulated response with them checks the simulator's field names,
types and enum values against DocSpace's published contract.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

sdk = pytest.importorskip("docspace_api_sdk", reason="install tests/simulator-requirements.txt for the SDK contract test")

from docspace_api_sdk import (  # noqa: E402
    ApiClient,
    ApiException,
    AuthenticationApi,
    CommonSettingsApi,
    Configuration,
    OwnerApi,
    ProfilesApi,
    SettingsApi,
)
from docspace_api_sdk.models.auth_requests_dto import AuthRequestsDto  # noqa: E402
from docspace_api_sdk.models.confirm_type import ConfirmType  # noqa: E402
from docspace_api_sdk.models.email_validation_key_model import EmailValidationKeyModel  # noqa: E402
from docspace_api_sdk.models.employee_activation_status import EmployeeActivationStatus  # noqa: E402
from docspace_api_sdk.models.employee_status import EmployeeStatus  # noqa: E402
from docspace_api_sdk.models.owner_id_settings_request_dto import OwnerIdSettingsRequestDto  # noqa: E402
from docspace_api_sdk.models.validation_result import ValidationResult  # noqa: E402

from docspace_simulator import Simulator  # noqa: E402


@pytest.fixture(scope="module")
def simulator():
    with Simulator(https=True) as running:
        yield running


@pytest.fixture
def portal(simulator):
    portal = simulator.add_portal("contract")
    yield portal
    simulator.remove_portal("contract")


def client_for(portal, api_key=None, *, https=False):
    host = portal.https_base_url if https else portal.base_url
    configuration = Configuration(host=host, access_token=api_key)
    if https:
        configuration.ssl_ca_cert = portal.simulator.ca_path
    return ApiClient(configuration)


def owner_client(portal):
    return client_for(portal, portal.users["owner"].api_key)


def link_params(link):
    return {name: values[0] for name, values in parse_qs(urlsplit(link).query).items()}


def test_sdk_settings_owner_id(portal):
    # The SDK sends no credentials to this endpoint, which it lists as anonymous,
    # and an anonymous caller sees the zero GUID: pass the key explicitly.
    headers = {"Authorization": f"Bearer {portal.users['user'].api_key}"}
    settings = CommonSettingsApi(client_for(portal)).get_portal_settings(_headers=headers)

    assert str(settings.response.owner_id) == portal.owner_id
    assert settings.status == 0
    assert settings.status_code == 200


def test_sdk_settings_anonymous(portal):
    settings = CommonSettingsApi(client_for(portal)).get_portal_settings()

    assert str(settings.response.owner_id) == "00000000-0000-0000-0000-000000000000"


def test_sdk_portal_for_owner_and_user(portal):
    full = SettingsApi(owner_client(portal)).get_portal_information()
    reduced = SettingsApi(client_for(portal, portal.users["user"].api_key)).get_portal_information()

    assert str(full.response.owner_id) == portal.owner_id
    assert full.response.tenant_alias == "contract"
    assert str(reduced.response.owner_id) == "00000000-0000-0000-0000-000000000000"


def test_sdk_self_profile(portal):
    profile = ProfilesApi(owner_client(portal)).get_self_profile().response

    assert str(profile.id) == portal.owner_id
    assert profile.email == "Owner@contract.docspace.test"
    assert profile.is_owner is True
    assert profile.is_admin is False
    assert profile.status == EmployeeStatus.Active
    assert profile.activation_status == EmployeeActivationStatus.Activated


@pytest.mark.parametrize("role", ["admin", "room_admin", "user", "guest", "disabled", "invited", "unactivated", "unicode"])
def test_sdk_profile_by_id(portal, role):
    user = portal.users[role]
    profile = ProfilesApi(owner_client(portal)).get_profile_by_user_id(user.id.upper()).response

    assert str(profile.id) == user.id
    assert profile.display_name == user.display_name
    assert profile.is_visitor is (role == "guest")


def test_sdk_profile_by_email(portal):
    successor = portal.users["successor"]
    profile = ProfilesApi(owner_client(portal)).get_profile_by_email(email=successor.email.upper()).response

    assert str(profile.id) == successor.id
    assert profile.is_collaborator is True


def test_sdk_profile_not_found(portal):
    with pytest.raises(ApiException) as raised:
        ProfilesApi(owner_client(portal)).get_profile_by_user_id(str(uuid.uuid4()))

    assert raised.value.status == 404


def test_sdk_authentication_token(portal):
    owner = portal.users["owner"]
    token = AuthenticationApi(client_for(portal)).authenticate_me(AuthRequestsDto(user_name=owner.email, password=owner.password)).response
    profile = ProfilesApi(client_for(portal, token.token)).get_self_profile().response

    assert token.expires is not None
    assert str(profile.id) == owner.id


def test_sdk_owner_change_flow(portal):
    owner_api = OwnerApi(owner_client(portal))
    successor = portal.users["successor"]
    request = OwnerIdSettingsRequestDto(owner_id=uuid.UUID(successor.id))

    sent = owner_api.send_owner_change_instructions(request)
    assert sent.response.status == 1
    assert "mailto:" in sent.response.message

    params = link_params(portal.last_email.link)
    model = EmailValidationKeyModel(
        key=params["key"],
        enc_email=params["encemail"],
        ui_d=uuid.UUID(params["uid"]),
        type=ConfirmType.PORTALOWNERCHANGE,
    )
    confirmed = AuthenticationApi(client_for(portal)).check_confirm(model)
    assert confirmed.response.result == ValidationResult.Ok

    query = urlsplit(portal.last_email.link).query
    owner_api.update_portal_owner(request, _headers={"confirm": query})
    assert portal.owner_id == successor.id


def test_sdk_owner_change_over_https(portal):
    successor = portal.users["successor"]
    owner_api = OwnerApi(client_for(portal, portal.users["owner"].api_key, https=True))
    request = OwnerIdSettingsRequestDto(owner_id=uuid.UUID(successor.id))

    owner_api.send_owner_change_instructions(request)
    owner_api.update_portal_owner(request, _headers={"confirm": urlsplit(portal.last_email.link).query})

    assert portal.owner_id == successor.id


def test_sdk_refusal_status_0(portal):
    admin_api = OwnerApi(client_for(portal, portal.users["admin"].api_key))
    sent = admin_api.send_owner_change_instructions(OwnerIdSettingsRequestDto(owner_id=uuid.UUID(portal.users["successor"].id)))

    assert sent.status_code == 200
    assert sent.response.status == 0


def test_sdk_confirm_expired(portal):
    OwnerApi(owner_client(portal)).send_owner_change_instructions(OwnerIdSettingsRequestDto(owner_id=uuid.UUID(portal.users["successor"].id)))
    params = link_params(portal.last_email.link)
    portal.advance_clock(8 * 86400)
    model = EmailValidationKeyModel(key=params["key"], enc_email=params["encemail"], ui_d=uuid.UUID(params["uid"]), type=ConfirmType.PORTALOWNERCHANGE)

    assert AuthenticationApi(client_for(portal)).check_confirm(model).response.result == ValidationResult.Expired


def test_sdk_put_without_confirm_403(portal):
    request = OwnerIdSettingsRequestDto(owner_id=uuid.UUID(portal.users["successor"].id))

    with pytest.raises(ApiException) as raised:
        OwnerApi(owner_client(portal)).update_portal_owner(request)

    assert raised.value.status == 403
    assert not raised.value.body
