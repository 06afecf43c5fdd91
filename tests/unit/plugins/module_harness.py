# -*- coding: utf-8 -*-

# Copyright (c) onlyoffice.docspace contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Run a module's main() in-process, the way Ansible would, and capture its JSON result."""

import contextlib
import json
from unittest import mock

from ansible.module_utils import basic
from ansible.module_utils.common import warnings as ansible_warnings

try:
    # ansible-core 2.19 and later: module args also carry a serialization profile.
    from ansible.module_utils.testing import patch_module_args
except ImportError:

    @contextlib.contextmanager
    def patch_module_args(args=None):
        serialized = json.dumps({"ANSIBLE_MODULE_ARGS": args or {}}).encode("utf-8")
        with mock.patch.object(basic, "_ANSIBLE_ARGS", serialized):
            yield


class ModuleRun:
    """What one main() call produced: the exit code, the parsed result, the raw output and the log lines."""

    def __init__(self, exit_code, output, logs):
        self.exit_code = exit_code
        self.output = output
        self.logs = logs
        lines = [line for line in output.splitlines() if line.strip()]
        self.result = json.loads(lines[-1]) if lines else None

    @property
    def failed(self):
        return bool(self.result.get("failed"))

    def warning_texts(self):
        """Return the warnings as strings; ansible-core 2.19 may emit them as objects."""
        texts = []
        for warning in self.result.get("warnings", []):
            if isinstance(warning, dict):
                warning = warning.get("msg") or (warning.get("event") or {}).get("msg") or json.dumps(warning)
            texts.append(warning)
        return texts


def _clear_global_messages():
    # Warnings and deprecations are module-global in ansible-core, and every
    # main() call in one test process would otherwise report the earlier ones.
    for name in ("_global_warnings", "_global_deprecations"):
        collected = getattr(ansible_warnings, name, None)
        if collected is not None:
            collected.clear()


def run_module(main, args, capsys, check_mode=False, diff=False):
    """Call ``main`` with ``args`` as module options and return a ModuleRun."""
    module_args = dict(args)
    module_args["_ansible_check_mode"] = check_mode
    module_args["_ansible_diff"] = diff
    logs = []

    _clear_global_messages()
    capsys.readouterr()
    exits = []
    with patch_module_args(module_args):
        with mock.patch.object(basic.AnsibleModule, "log", lambda module, message, log_args=None: logs.append(message)):
            try:
                main()
            except SystemExit as exit_:
                exits.append(exit_.code)
    if not exits:
        raise AssertionError("main() returned without calling exit_json or fail_json")
    return ModuleRun(exits[0], capsys.readouterr().out, logs)
