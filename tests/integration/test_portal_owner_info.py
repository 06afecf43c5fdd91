"""docspace_portal_owner_info through ansible-playbook, against the DocSpace simulator.

One playbook run reads every case. Each case is a portal of its own, named
after the role whose API key the task uses, so its request counter belongs to
that case alone.
"""

from types import SimpleNamespace

import pytest
from docspace_simulator import Simulator
from harness import assert_no_secrets, assert_no_traceback, runner_for

INFO_MODULE = "onlyoffice.docspace.docspace_portal_owner_info"

USER_FIELDS = {"id", "email", "display_name", "is_owner", "is_admin", "is_room_admin", "is_guest", "status",
               "activation_status", "is_ldap", "is_sso"}
PORTAL_FIELDS = {"url", "id", "alias", "name", "status", "version", "details_visible"}

# The role whose API key reads each portal. DocSpace shows the full portal
# object only to the owner and DocSpace admins.
CALLER_ROLES = ("owner", "admin", "room_admin", "user", "guest")
DETAILS_VISIBLE = {"owner": True, "admin": True, "room_admin": False, "user": False, "guest": False}

# The caller's flags as the info module reports them on DocSpace 3.7.2, where
# the owner's profile no longer sets isAdmin.
CALLER_FLAGS = {
    "owner": {"is_owner": True, "is_admin": False, "is_room_admin": False, "is_guest": False},
    "admin": {"is_owner": False, "is_admin": True, "is_room_admin": False, "is_guest": False},
    "room_admin": {"is_owner": False, "is_admin": False, "is_room_admin": True, "is_guest": False},
    "user": {"is_owner": False, "is_admin": False, "is_room_admin": False, "is_guest": False},
    "guest": {"is_owner": False, "is_admin": False, "is_room_admin": False, "is_guest": True},
}


def alias_for(role):
    return role.replace("_", "-")


@pytest.fixture(scope="module")
def info_batch(collections_path, tmp_path_factory):
    ansible = runner_for(collections_path, tmp_path_factory.mktemp("info-batch"))
    with Simulator() as simulator:
        portals = {role: simulator.add_portal(alias_for(role)) for role in CALLER_ROLES}
        check_portal = simulator.add_portal("check-mode")
        api_keys = {role: portal.users[role].api_key for role, portal in portals.items()}
        api_keys["check-mode"] = check_portal.users["owner"].api_key

        tasks = [{"name": role, INFO_MODULE: {"base_url": portal.base_url, "api_key": "{{ api_keys[%r] }}" % role}}
                 for role, portal in portals.items()]
        tasks.append({"name": "check-mode", "check_mode": True,
                      INFO_MODULE: {"base_url": check_portal.base_url, "api_key": "{{ api_keys['check-mode'] }}"}})

        run = ansible.run_tasks(tasks, extra_vars={"api_keys": api_keys})
        yield SimpleNamespace(run=run, portals=portals, check_portal=check_portal, api_keys=api_keys)


@pytest.mark.parametrize("role", CALLER_ROLES)
def test_info_unchanged(info_batch, role):
    assert info_batch.run.task(role)["status"] == "ok", info_batch.run.describe()


@pytest.mark.parametrize("role", CALLER_ROLES)
def test_info_fields(info_batch, role):
    result = info_batch.run.result(role)

    assert set(result["owner"]) == USER_FIELDS
    assert set(result["caller"]) == USER_FIELDS
    assert set(result["portal"]) == PORTAL_FIELDS


@pytest.mark.parametrize("role", CALLER_ROLES)
def test_info_owner_id(info_batch, role):
    portal = info_batch.portals[role]
    owner = info_batch.run.result(role)["owner"]

    assert owner["id"] == portal.users["owner"].id
    assert owner["is_owner"] is True


@pytest.mark.parametrize("role", [role for role in CALLER_ROLES if role != "guest"])
def test_info_owner_details(info_batch, role):
    expected = info_batch.portals[role].users["owner"]
    owner = info_batch.run.result(role)["owner"]

    assert owner["email"] == expected.email
    assert owner["display_name"] == expected.display_name
    assert owner["status"] == 1
    assert owner["activation_status"] == 1


def test_info_guest_sees_owner_id_only(info_batch):
    owner = info_batch.run.result("guest")["owner"]

    # DocSpace lets a guest read no other profile, so only the id is known.
    assert owner["email"] is None
    assert owner["status"] is None
    assert owner["display_name"] == info_batch.portals["guest"].users["owner"].id


@pytest.mark.parametrize("role", CALLER_ROLES)
def test_info_caller(info_batch, role):
    user = info_batch.portals[role].users[role]
    caller = info_batch.run.result(role)["caller"]

    assert caller["id"] == user.id
    assert caller["email"] == user.email
    assert caller["display_name"] == user.display_name
    assert {name: caller[name] for name in CALLER_FLAGS[role]} == CALLER_FLAGS[role]


@pytest.mark.parametrize("role", CALLER_ROLES)
def test_info_portal_details(info_batch, role):
    portal = info_batch.portals[role]
    facts = info_batch.run.result(role)["portal"]
    visible = DETAILS_VISIBLE[role]

    assert facts["url"] == portal.base_url
    assert facts["details_visible"] is visible
    assert facts["alias"] == (portal.alias if visible else None)
    assert facts["name"] == (portal.name if visible else None)
    assert facts["id"] == (portal.tenant_id if visible else None)


@pytest.mark.parametrize("role", CALLER_ROLES)
def test_info_requests(info_batch, role):
    portal = info_batch.portals[role]

    # The module documents 3 requests for the owner's key and 4 for any other:
    # the owner's profile is read separately then.
    assert portal.request_count() == (3 if role == "owner" else 4)
    assert portal.request_count("POST /api/2.0/settings/owner") == 0
    assert portal.request_count("PUT /api/2.0/settings/owner") == 0


def test_info_check_mode(info_batch):
    result = info_batch.run.result("check-mode")

    assert info_batch.run.task("check-mode")["status"] == "ok"
    assert result["owner"]["id"] == info_batch.check_portal.users["owner"].id
    assert result["caller"]["is_owner"] is True


def test_info_output_clean(info_batch):
    assert info_batch.run.rc == 0, info_batch.run.describe()
    assert_no_traceback(info_batch.run)
    assert_no_secrets(info_batch.run, *info_batch.api_keys.values())
