# -*- coding: utf-8 -*-

# Copyright (c) onlyoffice.docspace contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Unit tests for the docspace_portal_owner_info module, run through main() against the scripted portal."""

import pytest

from ansible_collections.onlyoffice.docspace.plugins.module_utils import docspace_api
from ansible_collections.onlyoffice.docspace.plugins.module_utils.docspace_api import DocSpaceError
from ansible_collections.onlyoffice.docspace.plugins.modules import docspace_portal_owner_info
from ansible_collections.onlyoffice.docspace.tests.unit.plugins.docspace_fakes import (
    ADMIN_ID,
    ADMIN_KEY,
    BASE_URL,
    NEW_KEY,
    OWNER_ID,
    OWNER_KEY,
    empty,
    html_page,
)
from ansible_collections.onlyoffice.docspace.tests.unit.plugins.module_harness import run_module

NO_LOG_MASK = "********"
CONNECTION = {"base_url": BASE_URL, "api_key": OWNER_KEY}


@pytest.fixture(autouse=True)
def no_connection_env(monkeypatch):
    monkeypatch.delenv("DOCSPACE_BASE_URL", raising=False)
    monkeypatch.delenv("DOCSPACE_API_KEY", raising=False)


@pytest.fixture
def portal_session(portal, monkeypatch):
    """Make every DocSpaceClient that main() builds send its requests to the scripted portal."""
    monkeypatch.setattr(docspace_api.requests, "Session", lambda: portal)
    return portal


@pytest.fixture
def run(capsys, portal_session):
    def call(args, **options):
        return run_module(docspace_portal_owner_info.main, args, capsys, **options)

    return call


def assert_key_hidden(module_run, api_key):
    assert api_key not in module_run.output
    assert api_key[3:] not in module_run.output
    assert NO_LOG_MASK not in module_run.output


def test_info_owner_key(run, portal_session):
    module_run = run(CONNECTION)

    assert module_run.exit_code == 0
    assert module_run.result["changed"] is False
    assert module_run.result["owner"]["id"] == OWNER_ID
    assert module_run.result["caller"]["is_owner"] is True
    assert module_run.result["portal"]["details_visible"] is True
    assert len(portal_session.requests) == 3
    assert_key_hidden(module_run, OWNER_KEY)


def test_info_admin_key(run, portal_session):
    module_run = run(dict(CONNECTION, api_key=ADMIN_KEY))

    assert module_run.result["caller"]["id"] == ADMIN_ID
    assert module_run.result["caller"]["is_owner"] is False
    assert module_run.result["owner"]["email"] == "olivia.owner@example.com"
    assert len(portal_session.requests) == 4
    assert_key_hidden(module_run, ADMIN_KEY)


def test_info_user_key_hides_portal(run):
    module_run = run(dict(CONNECTION, api_key=NEW_KEY))

    assert module_run.result["portal"]["details_visible"] is False
    assert module_run.result["portal"]["name"] is None
    assert module_run.result["portal"]["url"] == BASE_URL


def test_info_check_mode_same_result(run, portal_session):
    normal = run(CONNECTION).result
    checked = run(CONNECTION, check_mode=True).result

    assert checked["owner"] == normal["owner"]
    assert checked["caller"] == normal["caller"]
    assert checked["portal"] == normal["portal"]
    assert [request.method for request in portal_session.requests] == ["GET"] * 6


def test_info_no_diff(run):
    module_run = run(CONNECTION, diff=True)

    assert "diff" not in module_run.result


def test_info_rejected_key(run):
    api_key = "sk-" + "d" * 64

    module_run = run(dict(CONNECTION, api_key=api_key))

    assert module_run.exit_code == 1
    assert "DocSpace did not accept api_key" in module_run.result["msg"]
    assert_key_hidden(module_run, api_key)


@pytest.mark.parametrize("path, response, words", [
    ("/api/2.0/people/@self", empty(401), "HTTP 401 Unauthorized"),
    ("/api/2.0/settings", html_page(404, "404 Not Found"), "HTML page (404 Not Found)"),
    ("/api/2.0/portal", empty(403), "HTTP 403 Forbidden"),
])
def test_info_api_failure(path, response, words, run, portal_session):
    portal_session.script("GET", path, response)

    module_run = run(CONNECTION)

    assert module_run.failed is True
    assert words in module_run.result["msg"]
    assert "Traceback" not in module_run.output
    assert_key_hidden(module_run, OWNER_KEY)


@pytest.mark.parametrize("args, words", [
    ({"base_url": "htps://docspace.example.com"}, "unsupported scheme 'htps'"),
    ({"api_key": ""}, "api_key is empty"),
    ({"api_key": "sk-d1 d2"}, "api_key contains spaces"),
    ({"timeout": -1}, "timeout must be a positive number of seconds, got -1"),
])
def test_info_options_invalid(args, words, run, portal_session):
    module_run = run(dict(CONNECTION, **args))

    assert module_run.failed is True
    assert words in module_run.result["msg"]
    assert portal_session.requests == []


def test_info_missing_connection(run):
    module_run = run({})

    assert "missing required arguments: api_key, base_url" in module_run.result["msg"]


def test_info_env_fallback(run, portal_session, monkeypatch):
    monkeypatch.setenv("DOCSPACE_BASE_URL", BASE_URL + "/")
    monkeypatch.setenv("DOCSPACE_API_KEY", "Bearer " + ADMIN_KEY)

    module_run = run({})

    assert module_run.result["caller"]["id"] == ADMIN_ID
    assert module_run.result["portal"]["url"] == BASE_URL
    assert portal_session.requests[0].authorization == "Bearer " + ADMIN_KEY
    assert_key_hidden(module_run, ADMIN_KEY)


def test_info_failure_details(run, monkeypatch):
    def fail(client):
        raise DocSpaceError("The owner could not be read", owner={"id": OWNER_ID})

    monkeypatch.setattr(docspace_portal_owner_info, "gather_owner_info", fail)

    module_run = run(CONNECTION)

    assert module_run.result["msg"] == "The owner could not be read"
    assert module_run.result["owner"] == {"id": OWNER_ID}
