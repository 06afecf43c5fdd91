"""Fixtures that run the collection through ansible-playbook against the simulator.

The collection under test is the one installed from the built tarball, as users
install it: `make test` exports DOCSPACE_TEST_COLLECTIONS_PATH. Without it, the
first test builds and installs the working tree into a temporary directory.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from docspace_simulator.pytest_plugin import (  # noqa: F401 (pytest fixtures)  # pylint: disable=unused-import
    docspace_portal,
    docspace_simulator,
    docspace_simulator_session,
)
from harness import PlaybookRunner

REPOSITORY = Path(__file__).resolve().parents[2]


def _ansible_command(name):
    """Find an Ansible command next to this Python, then on PATH."""
    candidate = Path(sys.executable).with_name(name)
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        pytest.fail("%s is not installed; run the tests through `make test`, which installs it" % name)
    return found


@pytest.fixture(scope="session")
def collections_path(tmp_path_factory):
    """The collections root that contains the installed onlyoffice.docspace."""
    configured = os.environ.get("DOCSPACE_TEST_COLLECTIONS_PATH")
    if configured:
        installed = Path(configured) / "ansible_collections" / "onlyoffice" / "docspace"
        if not installed.is_dir():
            pytest.fail("DOCSPACE_TEST_COLLECTIONS_PATH=%s holds no onlyoffice.docspace; run `make collection`" % configured)
        return Path(configured)

    galaxy = _ansible_command("ansible-galaxy")
    build_dir = tmp_path_factory.mktemp("build")
    root = tmp_path_factory.mktemp("collections")
    subprocess.run([galaxy, "collection", "build", "--output-path", str(build_dir), str(REPOSITORY)],
                   check=True, capture_output=True)
    tarball = next(build_dir.glob("onlyoffice-docspace-*.tar.gz"))
    subprocess.run([galaxy, "collection", "install", "--force", "-p", str(root), str(tarball)],
                   check=True, capture_output=True)
    return root


@pytest.fixture
def ansible(collections_path, tmp_path):
    """A PlaybookRunner bound to the installed collection and a scratch directory."""
    return PlaybookRunner(
        ansible_playbook=_ansible_command("ansible-playbook"),
        collections_path=collections_path,
        work_dir=tmp_path,
        callback_dir=Path(__file__).resolve().parent / "callback_plugins",
    )
