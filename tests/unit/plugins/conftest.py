# -*- coding: utf-8 -*-

# Copyright (c) onlyoffice.docspace contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fixtures shared by the module_utils and module unit tests: a scripted portal and a fake clock."""

import pytest

from ansible_collections.onlyoffice.docspace.plugins.module_utils.docspace_api import DocSpaceClient
from ansible_collections.onlyoffice.docspace.tests.unit.plugins.docspace_fakes import (
    BASE_URL,
    OWNER_KEY,
    ClockSleeper,
    FakeClock,
    FakePortal,
)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def retry_sleep(clock):
    """The sleep function the client waits with between retries."""
    return ClockSleeper(clock)


@pytest.fixture
def poll_sleep(clock):
    """The sleep function the owner flow waits with between polls."""
    return ClockSleeper(clock)


@pytest.fixture
def portal():
    return FakePortal()


@pytest.fixture
def make_client(portal, retry_sleep):
    """Return a factory for real DocSpaceClient objects whose requests go to the scripted portal."""

    def build(api_key=OWNER_KEY, base_url=BASE_URL, **options):
        options.setdefault("sleep", retry_sleep)
        client = DocSpaceClient(base_url, api_key, **options)
        client.session = portal
        return client

    return build
