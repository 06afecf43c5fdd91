"""Run ansible-playbook for the benchmark with the installed collection, and measure each run."""

import os
import shutil
import sys
from pathlib import Path

import yaml

from measure import run_measured

# A run that takes longer than this is stuck, because the largest default run takes a few minutes.
PLAYBOOK_TIMEOUT = 1800


def find_ansible_playbook():
    """Return the ansible-playbook next to this Python (the pinned one in .venv), else the one on PATH."""
    candidate = Path(sys.executable).with_name("ansible-playbook")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("ansible-playbook")
    if not found:
        raise SystemExit("ansible-playbook is not installed; run the benchmark through `make bench`, which installs it")
    return found


class PlaybookFailed(Exception):
    """ansible-playbook exited with an error; the message names its output file."""


class BenchmarkRunner:
    """Run playbooks in a scratch directory with settings that are the same for every variant.

    Module tasks run with this Python, which has requests, so no run spends
    time on interpreter discovery. Every run writes its output to a file of
    its own under `work_dir`.
    """

    def __init__(self, collections_path, work_dir, python=sys.executable):
        self.collections_path = Path(collections_path)
        self.work_dir = Path(work_dir)
        self.python = python
        self.ansible_playbook = find_ansible_playbook()
        self.runs = 0

    def environment(self, extra=None):
        env = {key: value for key, value in os.environ.items() if not key.startswith(("ANSIBLE_", "DOCSPACE_"))}
        env.update({
            "ANSIBLE_COLLECTIONS_PATH": str(self.collections_path),
            "ANSIBLE_PYTHON_INTERPRETER": self.python,
            "ANSIBLE_HOME": str(self.work_dir / "ansible-home"),
            "ANSIBLE_LOCAL_TEMP": str(self.work_dir / "ansible-local-tmp"),
            "ANSIBLE_REMOTE_TMP": str(self.work_dir / "ansible-remote-tmp"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_LOCALHOST_WARNING": "0",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
        })
        env.update(extra or {})
        return env

    def run_playbook(self, label, playbook, inventory=None, forks=None, env=None):
        """Run a playbook (a path, or plays as a list) and return its Measurement, or raise PlaybookFailed."""
        self.runs += 1
        run_dir = self.work_dir / ("%03d-%s" % (self.runs, label))
        run_dir.mkdir(parents=True)

        if not isinstance(playbook, Path):
            path = run_dir / "playbook.yml"
            path.write_text(yaml.safe_dump(playbook, sort_keys=False))
            playbook = path
        command = [self.ansible_playbook, str(playbook)]
        if inventory is None:
            command += ["-i", "localhost,"]
        else:
            inventory_path = run_dir / "inventory.yml"
            inventory_path.write_text(yaml.safe_dump(inventory, sort_keys=False))
            command += ["-i", str(inventory_path)]
        if forks:
            command += ["--forks", str(forks)]

        output_path = run_dir / "output.txt"
        measurement = run_measured(command, self.environment(env), str(run_dir), str(output_path), PLAYBOOK_TIMEOUT)
        if measurement.returncode != 0:
            raise PlaybookFailed("ansible-playbook %s exited with %d; see %s" % (playbook.name, measurement.returncode, output_path))
        return measurement
