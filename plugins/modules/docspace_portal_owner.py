#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) onlyoffice.docspace contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: docspace_portal_owner
short_description: Transfer ownership of an ONLYOFFICE DocSpace portal
version_added: 1.0.0
description:
  - Makes a given user the owner of a DocSpace portal.
  - DocSpace changes the owner in two steps. First the current owner asks for the change, and DocSpace
    emails the current owner a confirmation link. Then the change is applied with that link. This module
    does either step, depending on whether O(confirmation) is given.
  - Without O(confirmation), the module sends the instructions email (see O(send_instructions)) and
    reports the transfer as pending. The current owner can then open the link in a browser, or the module
    can run again with the link as O(confirmation) to complete the transfer. With O(wait), it polls until
    the owner has confirmed.
  - Before any write, the module checks that the new owner exists, is not a guest, is active, that
    O(api_key) belongs to the current owner, and that the current owner's email is activated. DocSpace
    itself answers "sent" for an unknown user id.
  - If the requested user already owns the portal, the module changes nothing and sends no email.
author:
  - ONLYOFFICE DocSpace collection maintainers (@onlyoffice)
extends_documentation_fragment:
  - onlyoffice.docspace.docspace
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads run for real. A confirmation link is resolved and checked with DocSpace, which changes
        nothing, so a dry run tells an expired link from a valid one. No email is sent and the owner is not
        changed.
  diff_mode:
    support: full
    details:
      - Shows the owner (id, email, display name) before and after. After is the requested owner whenever
        the module reports a change, even while the transfer waits for confirmation.
  platform:
    support: full
    platforms: all
    description: Runs wherever Python and the requests library are; use C(connection=local) or delegate to the controller.
options:
  owner_id:
    description:
      - User id (GUID, in any case, with or without hyphens or braces) of the new owner.
      - Exactly one of O(owner_id) and O(owner_email) is required.
    type: str
  owner_email:
    description:
      - Email address of the new owner, compared without regard to case.
      - Exactly one of O(owner_id) and O(owner_email) is required.
    type: str
  confirmation:
    description:
      - The confirmation link from the owner-change email that DocSpace sent to the current owner. When
        given, the module completes the transfer.
      - Accepts the short link (V(https://portal/s/CODE)), the full link
        (V(https://portal/confirm/PortalOwnerChange?type=...)), or just its query string. Only the query
        string counts, so a link whose host is an internal one works too. A DocSpace short link is resolved
        against O(base_url) without credentials.
      - The link must be for the requested new owner and, when it carries the owner's email in clear, for the
        current owner. DocSpace keeps it valid for 7 days.
    type: str
  send_instructions:
    description:
      - When the transfer is not confirmed yet and no O(confirmation) is given, whether to send the
        instructions email to the current owner.
      - With V(false), the module only reports that the transfer is pending.
      - Every run that sends the instructions sends a new email.
    type: bool
    default: true
  wait:
    description:
      - After sending the instructions (or finding the transfer pending), poll the portal owner until the
        current owner has confirmed in a browser, or O(wait_timeout) passes.
    type: bool
    default: false
  wait_timeout:
    description:
      - How long to wait for the confirmation with O(wait), in seconds.
    type: int
    default: 900
  poll_interval:
    description:
      - Seconds between two polls with O(wait). Each poll is one request. After a poll that got HTTP 429 the
        interval doubles, up to 300 seconds, and each poll without HTTP 429 halves it again, down to this value.
    type: int
    default: 10
notes:
  - The confirmation email goes to the B(current) owner, never to the new owner.
  - >-
    Writes are never repeated blindly. The request that sends the instructions email is retried only on
    HTTP 429 and on failures to connect, when DocSpace certainly did not process it. The request that
    applies the change is retried on the same conditions, and any other doubt is settled by reading the
    owner back.
  - >-
    Requests per run, as measured against the simulator. Already the owner: 2. Sending the instructions: 4
    (the owner's settings, the new owner, the caller's profile, the send), 3 in check mode. Completing with a
    full link: 6, including the read-back, 4 in check mode; 7 with a short link, 5 in check mode. A refusal
    before any write: 2 to 4. When DocSpace rejects the link, add one to resolve a short link and one to read
    the owner again. Each O(wait) poll: 1.
  - >-
    Tested against a simulator that follows DocSpace server releases 2.6.3 to 3.7.2 for the endpoints this
    module calls, including what changed between them; it is not a live portal.
  - >-
    If DocSpace refuses the link or the change but the requested user owns the portal already (the transfer was
    completed meanwhile, in a browser or by another run), the run succeeds with C(changed=false).
seealso:
  - module: onlyoffice.docspace.docspace_portal_owner_info
  - name: DocSpace API, send the owner change instructions
    description: The request that starts the transfer and emails the current owner.
    link: https://api.onlyoffice.com/docspace/api-backend/usage-api/settings/owner/send-the-owner-change-instructions
  - name: DocSpace API, owner settings
    description: Both owner endpoints, sending the instructions and updating the portal owner.
    link: https://api.onlyoffice.com/docspace/section/settings/owner
"""

EXAMPLES = r"""
- name: Ask the current owner to hand the portal over to the new administrator
  onlyoffice.docspace.docspace_portal_owner:
    base_url: https://docspace.example.com
    api_key: "{{ vault_docspace_owner_api_key }}"
    owner_email: new.admin@example.com
  register: handover

- name: Complete the transfer with the link from the owner-change email
  onlyoffice.docspace.docspace_portal_owner:
    base_url: https://docspace.example.com
    api_key: "{{ vault_docspace_owner_api_key }}"
    owner_email: new.admin@example.com
    confirmation: "{{ docspace_confirmation }}"

- name: Send the instructions and wait up to 30 minutes for the owner to confirm in a browser
  onlyoffice.docspace.docspace_portal_owner:
    owner_id: 2b7c5a9e-4f31-4c8d-9a6b-0d1e2f3a4b5c
    wait: true
    wait_timeout: 1800
  environment:
    DOCSPACE_BASE_URL: https://docspace.example.com
    DOCSPACE_API_KEY: "{{ vault_docspace_owner_api_key }}"

- name: Only report whether the transfer is still pending
  onlyoffice.docspace.docspace_portal_owner:
    base_url: https://docspace.internal.example.com
    api_key: "{{ vault_docspace_owner_api_key }}"
    ca_path: /etc/pki/tls/certs/internal-ca.pem
    owner_email: new.admin@example.com
    send_instructions: false
"""

RETURN = r"""
owner:
  description:
    - The portal owner after the run. In check mode, the owner the run would leave.
  returned: success
  type: dict
  contains:
    id:
      description: User id.
      type: str
      sample: 4a515a15-d4d6-4b8e-828e-e0586f18f3a3
    email:
      description: Email address.
      type: str
      sample: olivia.owner@example.com
    display_name:
      description: Display name.
      type: str
      sample: Olivia Owner
  sample:
    id: 4a515a15-d4d6-4b8e-828e-e0586f18f3a3
    email: olivia.owner@example.com
    display_name: Olivia Owner
previous_owner:
  description: The owner before the run, same keys as RV(owner).
  returned: when the owner changed, or would change in check mode with O(confirmation)
  type: dict
  sample:
    id: 4a515a15-d4d6-4b8e-828e-e0586f18f3a3
    email: olivia.owner@example.com
    display_name: Olivia Owner
new_owner:
  description: The requested owner, same keys as RV(owner).
  returned: success
  type: dict
  sample:
    id: 0c4c4e6c-7a5d-4d0b-9f1a-3e2d1c0b9a87
    email: new.admin@example.com
    display_name: Nadia Admin
pending_confirmation:
  description: Whether the transfer still waits for the current owner to confirm it.
  returned: success
  type: bool
  sample: true
instructions_sent:
  description: Whether this run sent the instructions email.
  returned: success
  type: bool
  sample: true
instructions_sent_to:
  description: Email address the instructions went to, which is always the current owner's.
  returned: when RV(instructions_sent) is true
  type: str
  sample: olivia.owner@example.com
confirmed_elsewhere:
  description: Set when the transfer was completed after this run read the owner, in a browser or by another run.
  returned: when it happened
  type: bool
  sample: true
msg:
  description: What the run did or would do, naming the users involved.
  returned: always
  type: str
  sample: Sent the owner-change instructions to the current owner Olivia Owner <olivia.owner@example.com>.
diff:
  description: The owner before and after, with the keys of RV(owner).
  returned: in diff mode
  type: dict
  sample:
    before:
      id: 4a515a15-d4d6-4b8e-828e-e0586f18f3a3
      email: olivia.owner@example.com
      display_name: Olivia Owner
    after:
      id: 0c4c4e6c-7a5d-4d0b-9f1a-3e2d1c0b9a87
      email: new.admin@example.com
      display_name: Nadia Admin
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.onlyoffice.docspace.plugins.module_utils.docspace_api import (
    docspace_argument_spec,
    protect_base_url_password,
    run_with_client,
)
from ansible_collections.onlyoffice.docspace.plugins.module_utils.docspace_owner import OwnerTransfer


def main():
    argument_spec = docspace_argument_spec()
    argument_spec.update(
        owner_id=dict(type="str"),
        owner_email=dict(type="str"),
        confirmation=dict(type="str", no_log=True),
        send_instructions=dict(type="bool", default=True),
        wait=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=900),
        poll_interval=dict(type="int", default=10),
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        mutually_exclusive=[("owner_id", "owner_email")],
        required_one_of=[("owner_id", "owner_email")],
        supports_check_mode=True,
    )
    protect_base_url_password(module)

    for option in ("wait_timeout", "poll_interval"):
        if module.params[option] < (1 if option == "poll_interval" else 0):
            module.fail_json(msg="%s must be a positive number of seconds, got %d" % (option, module.params[option]))

    result = run_with_client(
        module, lambda client: OwnerTransfer(client, module.params, check_mode=module.check_mode, warn=module.warn).run()
    )

    if not module._diff:
        result.pop("diff")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
