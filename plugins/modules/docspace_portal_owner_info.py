#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) onlyoffice.docspace contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: docspace_portal_owner_info
short_description: Read the owner of an ONLYOFFICE DocSpace portal and who the API key belongs to
version_added: 1.0.0
description:
  - Returns the current portal owner, the user that O(api_key) belongs to, and portal facts where the key may
    see them.
  - Use it as a pre-flight check before M(onlyoffice.docspace.docspace_portal_owner), which needs the current
    owner's API key, and to verify a transfer afterwards.
author:
  - ONLYOFFICE DocSpace collection maintainers (@onlyoffice)
extends_documentation_fragment:
  - onlyoffice.docspace.docspace
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details:
      - The module only reads, so it runs the same in check mode.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: all
    description: Runs wherever Python and the requests library are; use C(connection=local) or delegate to the controller.
notes:
  - >-
    Makes 3 requests when the key belongs to the owner, 4 otherwise: the owner id, the caller's profile, the
    owner's profile when the caller is someone else, and the portal.
  - DocSpace shows portal details (id, alias, name, status, version) only to the owner and DocSpace admins; for
    other callers they are null and RV(portal.details_visible) is false.
seealso:
  - module: onlyoffice.docspace.docspace_portal_owner
"""

EXAMPLES = r"""
- name: Check who owns the portal before a handover
  onlyoffice.docspace.docspace_portal_owner_info:
    base_url: https://docspace.example.com
    api_key: "{{ vault_docspace_owner_api_key }}"
  register: portal_owner

- name: Stop unless the API key belongs to the current owner
  ansible.builtin.assert:
    that: portal_owner.caller.is_owner
    fail_msg: >-
      The API key belongs to {{ portal_owner.caller.email }}, but the portal owner is
      {{ portal_owner.owner.email }}; only the owner can start a transfer.
"""

RETURN = r"""
owner:
  description: The current portal owner.
  returned: success
  type: dict
  contains:
    id:
      description: User id.
      type: str
      sample: 4a515a15-d4d6-4b8e-828e-e0586f18f3a3
    email:
      description: Email address. Null when the caller may not read the owner's profile.
      type: str
      sample: olivia.owner@example.com
    display_name:
      description: Display name.
      type: str
      sample: Olivia Owner
    is_owner:
      description: Always true here.
      type: bool
      sample: true
    is_admin:
      description: The profile's C(isAdmin) flag. DocSpace 3.7.1 and later report false for the owner.
      type: bool
      sample: false
    is_room_admin:
      description: Whether the user is a room admin.
      type: bool
      sample: false
    is_guest:
      description: Whether the user is a guest (C(isVisitor)).
      type: bool
      sample: false
    status:
      description: DocSpace user status; 1 active, 2 disabled, 4 invited and not yet joined.
      type: int
      sample: 1
    activation_status:
      description: Email activation; 0 not activated, 1 activated, 2 pending.
      type: int
      sample: 1
    is_ldap:
      description: Whether the user comes from LDAP.
      type: bool
      sample: false
    is_sso:
      description: Whether the user signs in with SSO.
      type: bool
      sample: false
  sample:
    id: 4a515a15-d4d6-4b8e-828e-e0586f18f3a3
    email: olivia.owner@example.com
    display_name: Olivia Owner
    is_owner: true
    is_admin: false
    is_room_admin: false
    is_guest: false
    status: 1
    activation_status: 1
    is_ldap: false
    is_sso: false
caller:
  description: The user O(api_key) belongs to, with the keys of RV(owner).
  returned: success
  type: dict
  sample:
    id: 0c4c4e6c-7a5d-4d0b-9f1a-3e2d1c0b9a87
    email: nadia.admin@example.com
    display_name: Nadia Admin
    is_owner: false
    is_admin: true
    is_room_admin: false
    is_guest: false
    status: 1
    activation_status: 1
    is_ldap: false
    is_sso: false
portal:
  description: Portal facts. All but RV(portal.url) and RV(portal.details_visible) are null unless the caller is
    the owner or a DocSpace admin.
  returned: success
  type: dict
  contains:
    url:
      description: The normalized O(base_url).
      type: str
      sample: https://docspace.example.com
    id:
      description: Tenant id.
      type: int
      sample: 1
    alias:
      description: Tenant alias.
      type: str
      sample: docspace
    name:
      description: Portal name.
      type: str
      sample: Example DocSpace
    status:
      description: Tenant status; 0 active, 1 suspended, 3 transferring.
      type: int
      sample: 0
    version:
      description: Tenant version number.
      type: int
      sample: 2
    details_visible:
      description: Whether DocSpace showed the caller the full portal object.
      type: bool
      sample: true
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.onlyoffice.docspace.plugins.module_utils.docspace_api import (
    docspace_argument_spec,
    protect_base_url_password,
    run_with_client,
)
from ansible_collections.onlyoffice.docspace.plugins.module_utils.docspace_owner import gather_owner_info


def main():
    module = AnsibleModule(argument_spec=docspace_argument_spec(), supports_check_mode=True)
    protect_base_url_password(module)

    result = run_with_client(module, gather_owner_info)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
