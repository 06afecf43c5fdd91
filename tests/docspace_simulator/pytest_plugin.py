"""pytest fixtures that run the DocSpace simulator in-process.

Load them with `pytest_plugins = ["docspace_simulator.pytest_plugin"]` in a
top-level conftest.py, or import the fixtures into a conftest.py. Both
simulators serve HTTP and HTTPS on 127.0.0.1 with one portal, "acme", at /acme.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .portal import Portal
from .server import Simulator

DEFAULT_PORTAL = "acme"


def _started_simulator() -> Simulator:
    simulator = Simulator(https=True)
    simulator.add_portal(DEFAULT_PORTAL)
    return simulator.start()


@pytest.fixture
def docspace_simulator() -> Iterator[Simulator]:
    """A simulator of its own for one test, stopped afterwards."""
    simulator = _started_simulator()
    try:
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture
def docspace_portal(docspace_simulator: Simulator) -> Portal:
    """The "acme" portal of the per-test simulator."""
    return docspace_simulator.portal(DEFAULT_PORTAL)


@pytest.fixture(scope="session")
def docspace_simulator_session() -> Iterator[Simulator]:
    """One simulator for the whole session; call reset() for a clean state.

    reset() restores every portal's seeded state and removes portals added
    after the start.
    """
    simulator = _started_simulator()
    try:
        yield simulator
    finally:
        simulator.stop()
