# -*- coding: utf-8 -*-

# Copyright (c) onlyoffice.docspace contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Unit tests for the docspace_portal_owner module, run through main().

Option handling is tested with the owner flow replaced by a recorder. The
end-to-end cases run the real client and flow against the scripted portal,
and they scan the whole module output for secrets.
"""

import pytest

from ansible_collections.onlyoffice.docspace.plugins.module_utils import docspace_api
from ansible_collections.onlyoffice.docspace.plugins.module_utils.docspace_api import DocSpaceAPIError, DocSpaceError
from ansible_collections.onlyoffice.docspace.plugins.modules import docspace_portal_owner
from ansible_collections.onlyoffice.docspace.tests.unit.plugins.docspace_fakes import (
    ADMIN_ID,
    BASE_URL,
    CONFIRM_KEY,
    ENCRYPTED_EMAIL,
    NEW_ID,
    OWNER_ID,
    OWNER_KEY,
    SHORT_CODE,
    confirmation_link,
    confirmation_query,
    empty,
)
from ansible_collections.onlyoffice.docspace.tests.unit.plugins.module_harness import run_module

SECRETS = (OWNER_KEY, CONFIRM_KEY, SHORT_CODE, ENCRYPTED_EMAIL)
# AnsibleModule replaces a no_log value that turns up inside another string with this mask.
NO_LOG_MASK = "********"

CONNECTION = {"base_url": BASE_URL, "api_key": OWNER_KEY}
OWNER = {"id": OWNER_ID, "email": "olivia.owner@example.com", "display_name": "Olivia Owner"}
NEW = {"id": NEW_ID, "email": "nadia.admin@example.com", "display_name": "Nadia Admin"}


class FlowRecorder:
    """Stands in for the OwnerTransfer class: records how main() built each flow and what it returns or raises."""

    def __init__(self):
        self.instances = []
        self.result = flow_result()
        self.errors = []

    def __call__(self, client, params, check_mode=False, warn=None):
        flow = RecordedFlow(self, client, params, check_mode)
        self.instances.append(flow)
        return flow

    def fail_with(self, error):
        self.errors.append(error)


class RecordedFlow:
    def __init__(self, recorder, client, params, check_mode):
        self.recorder = recorder
        self.client = client
        self.params = params
        self.check_mode = check_mode

    def run(self):
        if self.recorder.errors:
            raise self.recorder.errors[0]
        return dict(self.recorder.result)


def flow_result(**changes):
    result = {"changed": True, "msg": "Sent the owner-change instructions", "owner": OWNER, "new_owner": NEW,
              "pending_confirmation": True, "instructions_sent": True, "instructions_sent_to": OWNER["email"],
              "diff": {"before": OWNER, "after": NEW}}
    result.update(changes)
    return result


@pytest.fixture
def flow(monkeypatch):
    recorder = FlowRecorder()
    monkeypatch.setattr(docspace_portal_owner, "OwnerTransfer", recorder)
    return recorder


@pytest.fixture(autouse=True)
def no_connection_env(monkeypatch):
    monkeypatch.delenv("DOCSPACE_BASE_URL", raising=False)
    monkeypatch.delenv("DOCSPACE_API_KEY", raising=False)


@pytest.fixture
def run(capsys):
    def call(args, **options):
        return run_module(docspace_portal_owner.main, args, capsys, **options)

    return call


def assert_no_secrets(module_run):
    for secret in SECRETS:
        assert secret not in module_run.output
    for line in module_run.logs:
        for secret in SECRETS:
            assert secret not in line
    assert NO_LOG_MASK not in module_run.output


# Options ---------------------------------------------------------------------


@pytest.mark.parametrize("args, words", [
    ({"owner_id": NEW_ID, "owner_email": "nadia.admin@example.com"}, "parameters are mutually exclusive: owner_id|owner_email"),
    ({}, "one of the following is required: owner_id, owner_email"),
    ({"owner_id": NEW_ID, "wait_timeout": -1}, "wait_timeout must be a positive number of seconds, got -1"),
    ({"owner_id": NEW_ID, "poll_interval": 0}, "poll_interval must be a positive number of seconds, got 0"),
    ({"owner_id": NEW_ID, "poll_interval": -10}, "poll_interval must be a positive number of seconds, got -10"),
    ({"owner_id": NEW_ID, "timeout": "soon"}, "timeout"),
    ({"owner_id": NEW_ID, "base_url": "docspace.example.com"}, "base_url 'docspace.example.com' has no scheme"),
    ({"owner_id": NEW_ID, "api_key": "Bearer sk-abc def"}, "api_key contains spaces"),
    ({"owner_id": NEW_ID, "timeout": 0}, "timeout must be a positive number of seconds, got 0"),
])
def test_options_invalid(args, words, run, flow):
    module_run = run(dict(CONNECTION, **args))

    assert module_run.exit_code == 1
    assert module_run.failed is True
    assert words in module_run.result["msg"]
    assert flow.instances == []


def test_options_missing_connection(run, flow):
    module_run = run({"owner_id": NEW_ID})

    assert module_run.failed is True
    assert "missing required arguments: api_key, base_url" in module_run.result["msg"]


def test_options_defaults_reach_flow(run, flow):
    run(dict(CONNECTION, owner_email="nadia.admin@example.com"))

    params = flow.instances[0].params
    assert params["send_instructions"] is True
    assert params["wait"] is False
    assert params["wait_timeout"] == 900
    assert params["poll_interval"] == 10
    assert params["confirmation"] is None
    assert params["owner_id"] is None


def test_options_zero_wait_timeout_allowed(run, flow):
    module_run = run(dict(CONNECTION, owner_id=NEW_ID, wait=True, wait_timeout=0))

    assert module_run.failed is False
    assert flow.instances[0].params["wait_timeout"] == 0


def test_env_fallback(run, flow, monkeypatch):
    monkeypatch.setenv("DOCSPACE_BASE_URL", " https://docspace.example.com/ ")
    monkeypatch.setenv("DOCSPACE_API_KEY", OWNER_KEY)

    module_run = run({"owner_id": NEW_ID})

    client = flow.instances[0].client
    assert module_run.failed is False
    assert client.base_url == BASE_URL
    assert client._authorization == "Bearer " + OWNER_KEY
    assert_no_secrets(module_run)


def test_env_fallback_loses_to_options(run, flow, monkeypatch):
    monkeypatch.setenv("DOCSPACE_BASE_URL", "https://other.example.com")
    monkeypatch.setenv("DOCSPACE_API_KEY", "sk-" + "0" * 64)

    run(dict(CONNECTION, owner_id=NEW_ID))

    client = flow.instances[0].client
    assert client.base_url == BASE_URL
    assert client._authorization == "Bearer " + OWNER_KEY


@pytest.mark.parametrize("check_mode", [False, True])
def test_check_mode_reaches_flow(check_mode, run, flow):
    run(dict(CONNECTION, owner_id=NEW_ID), check_mode=check_mode)

    assert flow.instances[0].check_mode is check_mode


def test_connection_options_reach_client(run, flow, tmp_path):
    ca_path = tmp_path / "docspace-ca.pem"
    ca_path.write_text("")
    run(dict(CONNECTION, owner_id=NEW_ID, timeout=12, ca_path=str(ca_path)))

    client = flow.instances[0].client
    assert client.timeout == 12
    assert client.verify == str(ca_path)


# Results ---------------------------------------------------------------------


def test_result_passed_through(run, flow):
    module_run = run(dict(CONNECTION, owner_id=NEW_ID))

    assert module_run.exit_code == 0
    assert module_run.result["changed"] is True
    assert module_run.result["owner"] == OWNER
    assert module_run.result["new_owner"] == NEW
    assert module_run.result["instructions_sent_to"] == "olivia.owner@example.com"


def test_diff_removed_without_diff_mode(run, flow):
    module_run = run(dict(CONNECTION, owner_id=NEW_ID), diff=False)

    assert "diff" not in module_run.result


def test_diff_kept_in_diff_mode(run, flow):
    module_run = run(dict(CONNECTION, owner_id=NEW_ID), diff=True)

    assert module_run.result["diff"] == {"before": OWNER, "after": NEW}


@pytest.mark.parametrize("error, expected", [
    (DocSpaceError("Gustav Guest is a guest", new_owner=NEW), {"msg": "Gustav Guest is a guest", "new_owner": NEW}),
    (DocSpaceError("Timed out", owner=OWNER, pending_confirmation=True, instructions_sent=False),
     {"msg": "Timed out", "owner": OWNER, "pending_confirmation": True, "instructions_sent": False}),
    (DocSpaceAPIError("PUT", BASE_URL + "/api/2.0/settings/owner", "HTTP 401 Unauthorized", status=401, hint="Run again"),
     {"msg": "PUT %s/api/2.0/settings/owner failed: HTTP 401 Unauthorized. Run again" % BASE_URL, "status": 401,
      "method": "PUT", "url": BASE_URL + "/api/2.0/settings/owner"}),
])
def test_flow_failure_reported(error, expected, run, flow):
    flow.fail_with(error)

    module_run = run(dict(CONNECTION, owner_id=NEW_ID))

    assert module_run.exit_code == 1
    assert module_run.failed is True
    for key, value in expected.items():
        assert module_run.result[key] == value


def test_failure_has_no_traceback(run, flow):
    flow.fail_with(DocSpaceError("Gustav Guest is a guest"))

    module_run = run(dict(CONNECTION, owner_id=NEW_ID))

    assert "Traceback" not in module_run.output


# End to end against the scripted portal ------------------------------------


@pytest.fixture
def portal_session(portal, monkeypatch):
    """Make every DocSpaceClient that main() builds send its requests to the scripted portal."""
    monkeypatch.setattr(docspace_api.requests, "Session", lambda: portal)
    return portal


def test_e2e_send(run, portal_session):
    module_run = run(dict(CONNECTION, owner_email="nadia.admin@example.com"), diff=True)

    assert module_run.result["changed"] is True
    assert module_run.result["pending_confirmation"] is True
    assert module_run.result["diff"] == {"before": OWNER, "after": NEW}
    assert len(portal_session.requests) == 4
    assert_no_secrets(module_run)


@pytest.mark.parametrize("confirmation", [
    BASE_URL + "/s/" + SHORT_CODE,
    confirmation_link(),
    confirmation_query(),
    confirmation_link(email="olivia.owner@example.com", encemail=None),
])
@pytest.mark.parametrize("check_mode", [False, True])
def test_e2e_complete_hides_confirmation(confirmation, check_mode, run, portal_session):
    module_run = run(dict(CONNECTION, owner_id=NEW_ID, confirmation=confirmation), check_mode=check_mode, diff=True)

    assert module_run.result["changed"] is True
    assert module_run.result["owner"] == NEW
    assert_no_secrets(module_run)


def put_rejected(portal):
    portal.script("PUT", "/api/2.0/settings/owner", empty(401))


def link_expired(portal):
    portal.link_result = 2


def short_link_unknown(portal):
    portal.links.clear()


def short_link_dropped(portal):
    portal.script("GET", "/s/" + SHORT_CODE, empty(400))


@pytest.mark.parametrize("prepare, confirmation, words", [
    (put_rejected, confirmation_link(), "HTTP 401 Unauthorized"),
    (link_expired, confirmation_link(), "The confirmation link has expired"),
    (short_link_unknown, BASE_URL + "/s/" + SHORT_CODE, "short link in confirmation is unknown"),
    (short_link_dropped, BASE_URL + "/s/" + SHORT_CODE, "returned HTTP 400 instead of a redirect"),
    (None, confirmation_link(uid=ADMIN_ID), "does not match the requested new owner"),
    (None, confirmation_link(confirm_type="EmailChange"), "has type 'EmailChange'"),
    (None, "see " + CONFIRM_KEY, "neither a link nor a query string"),
    (None, "ftp://docspace.example.com/" + SHORT_CODE, "a URL without a query string"),
])
def test_e2e_failure_hides_confirmation(prepare, confirmation, words, run, portal_session):
    if prepare:
        prepare(portal_session)

    module_run = run(dict(CONNECTION, owner_id=NEW_ID, confirmation=confirmation))

    assert module_run.failed is True
    assert words in module_run.result["msg"]
    assert_no_secrets(module_run)


def test_e2e_rejected_key_hidden(run, portal_session):
    module_run = run(dict(CONNECTION, api_key="sk-" + "e" * 64, owner_id=NEW_ID))

    assert module_run.failed is True
    assert "DocSpace did not accept api_key" in module_run.result["msg"]
    assert "e" * 64 not in module_run.output
    assert NO_LOG_MASK not in module_run.output


def test_e2e_warnings(run, portal_session):
    portal_session.users[NEW_ID]["activationStatus"] = 0

    module_run = run(dict(CONNECTION, owner_id=NEW_ID, validate_certs=False))

    assert module_run.warning_texts() == [
        "validate_certs is false: the portal's TLS certificate is not checked",
        "Nadia Admin <nadia.admin@example.com> has not confirmed their email address yet; DocSpace allows the "
        "transfer, but they may not receive portal emails",
    ]
