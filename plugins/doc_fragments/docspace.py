# -*- coding: utf-8 -*-

# Copyright (c) onlyoffice.docspace contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    # Connection options shared by every onlyoffice.docspace module.
    DOCUMENTATION = r"""
options:
  base_url:
    description:
      - Address of the DocSpace portal, for example V(https://docspace.example.com).
      - A path prefix is kept, for portals served below a path by a reverse proxy. Trailing slashes and
        surrounding whitespace are ignored. The scheme (V(https://) or V(http://)) is required.
      - If not set, the value of the E(DOCSPACE_BASE_URL) environment variable is used.
    type: str
    required: true
  api_key:
    description:
      - API key (V(sk-...)) or session token. M(onlyoffice.docspace.docspace_portal_owner) needs one of the
        current portal owner; M(onlyoffice.docspace.docspace_portal_owner_info) takes any user's.
      - Sent in the C(Authorization) header with the C(Bearer) scheme. A value that already starts with V(Bearer )
        is sent as it is.
      - If not set, the value of the E(DOCSPACE_API_KEY) environment variable is used.
      - Transfers need a key with write scope.
    type: str
    required: true
  validate_certs:
    description:
      - Whether to check the portal's TLS certificate.
      - Set to V(false) only for test portals. The module warns when it is off.
    type: bool
    default: true
  ca_path:
    description:
      - Path to a PEM file with the CA certificates that signed the portal's certificate, for self-hosted
        portals with a private CA.
      - When set, this bundle is used instead of the default one. The E(REQUESTS_CA_BUNDLE) and
        E(CURL_CA_BUNDLE) environment variables never override O(validate_certs) or O(ca_path).
      - With an C(https://) O(base_url), a path that does not exist fails the run before any request.
    type: path
  timeout:
    description:
      - Timeout in seconds for each HTTP request, for connecting and for waiting for the response.
    type: int
    default: 30
requirements:
  - requests >= 2.25
notes:
  - >-
    Retries: read requests, C(POST /api/2.0/authentication/confirm) and short-link resolution are retried
    on HTTP 429 (honouring C(Retry-After) up to 30 seconds), 502, 503, 504 and connection failures, at most
    4 attempts with 1, 2 and 4 seconds between them and at most 60 seconds of waiting in all. So one read
    takes at most 4 times O(timeout) plus 60 seconds.
  - Redirects are never followed, so the C(Authorization) header never reaches another host.
"""
