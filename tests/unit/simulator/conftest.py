"""Put tests/ on sys.path so the simulator package imports when this folder runs alone."""

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[2]
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from docspace_simulator.pytest_plugin import docspace_portal, docspace_simulator, docspace_simulator_session  # noqa: E402, F401  # pylint: disable=unused-import
