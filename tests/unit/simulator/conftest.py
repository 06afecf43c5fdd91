"""Put tests/ and this folder on sys.path, so the simulator package and the test helpers import.

ansible-test units imports test files as packages of the collection, so neither
folder is on sys.path there unless this file adds it.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TESTS = HERE.parents[1]
for folder in (TESTS, HERE):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from docspace_simulator.pytest_plugin import docspace_portal, docspace_simulator, docspace_simulator_session  # noqa: E402, F401  # pylint: disable=unused-import
