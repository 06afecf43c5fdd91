# -*- coding: utf-8 -*-

# Copyright (c) onlyoffice.docspace contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Test-only callback: write every task result to a JSON file for the pytest harness."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: docspace_results
type: aggregate
short_description: Write task results to the file named by DOCSPACE_RESULTS_FILE
description:
  - Used by the integration tests of onlyoffice.docspace to read results without parsing screen output.
requirements:
  - enabled in ANSIBLE_CALLBACKS_ENABLED
"""

import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "docspace_results"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self._records = []

    def _record(self, result, status):
        payload = dict(result._result)
        if status == "ok" and payload.get("changed"):
            status = "changed"
        self._records.append({
            "task": result._task.get_name(),
            "host": result._host.get_name(),
            "status": status,
            "result": payload,
        })

    def v2_runner_on_ok(self, result):
        self._record(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._record(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get("DOCSPACE_RESULTS_FILE")
        if not path:
            return
        with open(path, "w") as handle:
            json.dump(self._records, handle, default=str, indent=1)
