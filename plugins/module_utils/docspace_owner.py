# -*- coding: utf-8 -*-

# Copyright (c) onlyoffice.docspace contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""DocSpace portal ownership: reading owners and users, confirmation links, the transfer flow.

This is an internal module_utils file: its interface may change without notice.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import time

from ansible.module_utils.six.moves.urllib.parse import parse_qsl, urlsplit

from ansible_collections.onlyoffice.docspace.plugins.module_utils.docspace_api import (
    POLICY_WRITE,
    DocSpaceAPIError,
    DocSpaceError,
    clean_server_message,
)

ZERO_GUID = "00000000-0000-0000-0000-000000000000"

# EmployeeStatus and EmployeeActivationStatus values in DocSpace user profiles.
STATUS_ACTIVE = 1
STATUS_TERMINATED = 2
STATUS_PENDING = 4
ACTIVATION_NOT_ACTIVATED = 0
ACTIVATION_ACTIVATED = 1

# ValidationResult values of POST /api/2.0/authentication/confirm.
LINK_OK = 0
LINK_INVALID = 1
LINK_EXPIRED = 2

CONFIRM_TYPE = "PortalOwnerChange"
LINK_VALIDITY = "7 days"

# Seconds between the extra read-backs after a PUT whose outcome is unknown.
# DocSpace may still be applying it when the client has given up waiting.
SETTLE_DELAYS = (1, 2, 4)

# Poll backoff after rate limiting while waiting for the owner to confirm.
MAX_POLL_INTERVAL = 300

_GUID_RE = re.compile(r"^[0-9a-f]{32}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")


# Users ---------------------------------------------------------------------


def normalize_guid(value, option="owner_id"):
    """Return a GUID in DocSpace's lower-case hyphenated form, or raise DocSpaceError.

    Accepts the spellings .NET's Guid.Parse accepts: with or without hyphens,
    braces or parentheses, in any case.
    """
    text = (value or "").strip()
    compact = text.strip("{}()").replace("-", "").lower()
    if not _GUID_RE.match(compact):
        raise DocSpaceError("%s '%s' is not a user id; DocSpace user ids are GUIDs such as "
                            "5b3b6f3e-8b1f-4f8e-9d3c-2a7e5c1d9f00" % (option, text))
    guid = "%s-%s-%s-%s-%s" % (compact[:8], compact[8:12], compact[12:16], compact[16:20], compact[20:])
    if guid == ZERO_GUID:
        raise DocSpaceError("%s is the zero GUID, which is no user; set the new owner's user id" % option)
    return guid


def normalize_email(value):
    text = (value or "").strip()
    if not _EMAIL_RE.match(text):
        raise DocSpaceError("owner_email '%s' is not an email address" % text)
    return text


def same_id(left, right):
    return bool(left) and bool(right) and str(left).lower() == str(right).lower()


def display_name(profile):
    name = profile.get("displayName")
    if not name:
        name = " ".join(part for part in (profile.get("firstName"), profile.get("lastName")) if part)
    return name or profile.get("userName") or profile.get("email") or profile.get("id")


def user_summary(profile):
    """Return the id, email and display name that results and diffs show for a user."""
    return {
        "id": profile.get("id"),
        "email": profile.get("email"),
        "display_name": display_name(profile),
    }


def user_facts(profile, owner_id):
    """Return user_summary plus the status fields the info module reports."""
    facts = user_summary(profile)
    facts.update({
        "is_owner": same_id(profile.get("id"), owner_id),
        "is_admin": bool(profile.get("isAdmin")),
        "is_room_admin": bool(profile.get("isRoomAdmin")),
        "is_guest": bool(profile.get("isVisitor")),
        "status": profile.get("status"),
        "activation_status": profile.get("activationStatus"),
        "is_ldap": bool(profile.get("isLDAP")),
        "is_sso": bool(profile.get("isSSO")),
    })
    return facts


def describe(profile):
    """Return 'Display Name <email>' for messages."""
    email = profile.get("email")
    name = display_name(profile)
    if email and email != name:
        return "%s <%s>" % (name, email)
    return str(name)


class Portal:
    """Read-only DocSpace requests about the owner and users."""

    def __init__(self, client):
        self.client = client

    def read_owner_id(self):
        """Read the portal owner's id from GET /api/2.0/settings.

        Any authenticated caller sees it there; anonymous requests get the zero
        GUID, which is what an API key that DocSpace did not accept produces.
        """
        settings = self.client.get("/api/2.0/settings")
        owner_id = settings.get("ownerId") if isinstance(settings, dict) else None
        if not owner_id:
            raise DocSpaceError("GET %s returned no ownerId; check base_url: it must be a DocSpace portal"
                                % self.client.url("/api/2.0/settings"))
        if same_id(owner_id, ZERO_GUID):
            raise DocSpaceError("DocSpace did not accept api_key: GET %s answered as for an anonymous visitor. "
                                "Use a valid API key (sk-...) or session token of the current owner"
                                % self.client.url("/api/2.0/settings"))
        return owner_id.lower()

    def read_user(self, user_id):
        """Return a user profile by id, or None when DocSpace has no such user."""
        try:
            profile = self.client.get("/api/2.0/people/%s" % user_id)
        except DocSpaceAPIError as exc:
            if exc.status == 404:
                return None
            raise
        return self._checked_profile(profile, "/api/2.0/people/%s" % user_id)

    def read_user_by_email(self, email):
        try:
            profile = self.client.get("/api/2.0/people/email", params={"email": email})
        except DocSpaceAPIError as exc:
            if exc.status == 404:
                return None
            if exc.status == 400:
                raise exc.with_hint("DocSpace rejected owner_email '%s'; set it to the new owner's email address" % email)
            raise
        return self._checked_profile(profile, "/api/2.0/people/email")

    def read_caller(self):
        try:
            profile = self.client.get("/api/2.0/people/@self")
        except DocSpaceAPIError as exc:
            if exc.status == 401:
                raise exc.with_hint("DocSpace did not accept api_key; use a valid API key (sk-...) or session token "
                                    "of the current owner")
            raise
        return self._checked_profile(profile, "/api/2.0/people/@self")

    def read_portal(self):
        portal = self.client.get("/api/2.0/portal")
        return portal if isinstance(portal, dict) else {}

    def _checked_profile(self, profile, path):
        if not isinstance(profile, dict) or not profile.get("id"):
            raise DocSpaceError("GET %s returned no user profile; check base_url: it must be a DocSpace portal"
                                % self.client.url(path))
        profile["id"] = str(profile["id"]).lower()
        return profile


# Confirmation links --------------------------------------------------------


class ConfirmationLink:
    """The query string of an owner-change confirmation link and its parameters.

    ``query`` is forwarded unchanged as the ``confirm`` header: DocSpace
    percent-decodes it itself, so re-encoding could turn a ``+`` in an email
    into a space.
    """

    def __init__(self, query):
        self.query = query
        params = {}
        for name, value in parse_qsl(query, keep_blank_values=True):
            params.setdefault(name.lower(), value)
        self.type = params.get("type")
        self.key = params.get("key")
        self.uid = params.get("uid")
        self.email = params.get("email")
        self.encemail = params.get("encemail")

    def check(self, new_owner, current_owner):
        """Compare the link with the requested transfer, or raise DocSpaceError naming the field."""
        missing = ["'%s'" % name for name, value in (("type", self.type), ("key", self.key), ("uid", self.uid)) if not value]
        if not (self.email or self.encemail):
            missing.append("'email' or 'encemail'")
        if missing:
            raise DocSpaceError("confirmation is not a complete owner-change link; these parameters are missing: %s. Copy the "
                                "whole link from the email, or pass its query string" % ", ".join(missing))

        if self.type.lower() != CONFIRM_TYPE.lower():
            raise DocSpaceError("confirmation link has type '%s', not '%s': it is not an owner-change link. Use the link "
                                "from the owner-change email" % (self.type, CONFIRM_TYPE))

        try:
            uid = normalize_guid(self.uid, "the confirmation link's uid")
        except DocSpaceError:
            raise DocSpaceError("confirmation link has an invalid uid '%s'; copy the whole link from the email" % self.uid)
        if uid != new_owner["id"]:
            raise DocSpaceError("confirmation link's uid %s does not match the requested new owner %s (id %s): the link "
                                "was sent for another transfer. Use the link sent for this new owner, or run without "
                                "confirmation to send new instructions" % (uid, describe(new_owner), new_owner["id"]),
                                new_owner=user_summary(new_owner))

        owner_email = current_owner.get("email") or ""
        if self.email is not None and self.email.strip().lower() != owner_email.lower():
            raise DocSpaceError("confirmation link's email %s is not the current owner's (%s): the link was sent by "
                                "another owner or for another portal. Use the link from the latest owner-change email"
                                % (self.email, describe(current_owner)),
                                owner=user_summary(current_owner))
        return uid

    def validation_body(self):
        """Return the EmailValidationKeyModel body for POST /api/2.0/authentication/confirm."""
        body = {"type": CONFIRM_TYPE, "key": self.key, "uiD": self.uid}
        if self.encemail is not None:
            body["encEmail"] = self.encemail
        else:
            body["email"] = self.email
        return body


def split_confirmation(value):
    """Split the confirmation option into a query string or a short link to resolve.

    Returns ``(query, short_code, other_url)`` with exactly one of them set:
    the query string of a full link or a bare query string, the code of a
    DocSpace ``/s/CODE`` short link, or the address of another URL shortener.
    The value is a secret, so no message here repeats it.
    """
    text = (value or "").strip().replace("&amp;", "&")
    if not text:
        raise DocSpaceError("confirmation is empty; pass the link from the owner-change email, or leave it out to send "
                            "the instructions")

    if "://" in text or text.startswith("/"):
        parts = urlsplit(text)
        if parts.query:
            return parts.query, None, None
        segments = [segment for segment in parts.path.split("/") if segment]
        if len(segments) >= 2 and segments[-2] == "s":
            return None, segments[-1], None
        if "://" in text and parts.scheme.lower() in ("http", "https") and parts.hostname and segments:
            return None, None, text
        raise DocSpaceError("confirmation is a URL without a query string and is no short link; pass the whole link "
                            "from the owner-change email")

    query = text.lstrip("?")
    if "=" not in query:
        raise DocSpaceError("confirmation is neither a link nor a query string; pass the whole link from the "
                            "owner-change email")
    return query, None, None


# The transfer ---------------------------------------------------------------


def _is_target_refusal(message):
    """Tell whether a PUT's 500 message is DocSpace refusing the target user."""
    text = (message or "").lower()
    return "could not be found" in text or "no permissions" in text


class OwnerTransfer:
    """The docspace_portal_owner flow: read, decide, diff, stop in check mode, write, read back."""

    def __init__(self, client, params, check_mode=False, warn=None, sleep=None, monotonic=None):
        self.client = client
        self.portal = Portal(client)
        self.params = params
        self.check_mode = check_mode
        self.warn = warn or (lambda message: None)
        self.sleep = sleep or time.sleep
        self.monotonic = monotonic or time.monotonic

    def run(self):
        params = self.params
        owner_id_option = normalize_guid(params["owner_id"]) if params.get("owner_id") else None
        owner_email_option = normalize_email(params["owner_email"]) if params.get("owner_email") else None
        if params.get("confirmation") is not None:
            split_confirmation(params["confirmation"])

        # Step 1: the owner id and the requested user settle a no-op in two requests.
        owner_id = self.portal.read_owner_id()
        if owner_id_option:
            new_owner = self.portal.read_user(owner_id_option)
            if new_owner is None:
                raise DocSpaceError("owner_id %s: no such user on %s. Check the id, or name the new owner by "
                                    "owner_email instead" % (owner_id_option, self.client.base_url))
        else:
            new_owner = self.portal.read_user_by_email(owner_email_option)
            if new_owner is None:
                raise DocSpaceError("owner_email %s: no user with this email on %s. Invite the user first, or check "
                                    "the address" % (owner_email_option, self.client.base_url))

        # Step 2: nothing to do.
        if new_owner["id"] == owner_id:
            return self.result(False, new_owner, new_owner, new_owner,
                               msg="%s already owns the portal" % describe(new_owner))

        # Step 3: every refusal comes before any write.
        self.check_new_owner(new_owner)
        caller = self.portal.read_caller()
        if caller["id"] == owner_id:
            current = caller
        else:
            try:
                current = self.portal.read_user(owner_id)
            except DocSpaceAPIError as exc:
                # Guests may not read other profiles; the owner id is enough to name the owner.
                if exc.status != 403:
                    raise
                current = None
            current = current or {"id": owner_id, "displayName": "user %s" % owner_id}
        self.check_caller(caller, current)

        # Steps 4 to 6.
        if params.get("confirmation") is not None:
            return self.complete(current, new_owner)
        return self.start(current, new_owner)

    def check_new_owner(self, new_owner):
        who = describe(new_owner)
        if new_owner.get("isVisitor"):
            raise DocSpaceError("%s is a guest, and DocSpace does not let a guest own the portal. Change the user's type "
                                "to User or DocSpace admin first" % who, new_owner=user_summary(new_owner))
        status = new_owner.get("status")
        if status == STATUS_PENDING:
            raise DocSpaceError("%s has not accepted the invitation yet, so DocSpace cannot make them the owner. Ask them "
                                "to accept it, then run again" % who, new_owner=user_summary(new_owner))
        if status == STATUS_TERMINATED:
            raise DocSpaceError("%s is disabled, so DocSpace cannot make them the owner. Enable the user first, or choose "
                                "another new owner" % who, new_owner=user_summary(new_owner))
        if status != STATUS_ACTIVE:
            raise DocSpaceError("%s is not active (status %s), so DocSpace cannot make them the owner" % (who, status),
                                new_owner=user_summary(new_owner))
        if new_owner.get("activationStatus") == ACTIVATION_NOT_ACTIVATED:
            self.warn("%s has not confirmed their email address yet; DocSpace allows the transfer, but they may not "
                      "receive portal emails" % who)

    def check_caller(self, caller, current):
        if caller["id"] != current["id"]:
            raise DocSpaceError("api_key belongs to %s, but only the portal owner %s can transfer ownership. Use the "
                                "current owner's API key" % (describe(caller), describe(current)),
                                owner=user_summary(current))
        if current.get("activationStatus") not in (None, ACTIVATION_ACTIVATED):
            raise DocSpaceError("The current owner's email %s is not activated, and DocSpace 3.5 and later refuse to send "
                                "the confirmation to it. Activate the owner's email in their profile, then run again"
                                % current.get("email"), owner=user_summary(current))

    # Step 4 ---------------------------------------------------------------

    def confirmation_query(self):
        """Return the confirmation link's query string, resolving a short link."""
        query, short_code, other_url = split_confirmation(self.params["confirmation"])
        if query is not None:
            return query

        if short_code is not None:
            url = "%s/s/%s" % (self.client.base_url, short_code)
            shown = "%s/s/<code>" % self.client.base_url
        else:
            url = other_url
            parts = urlsplit(other_url)
            shown = "%s://%s/<code>" % (parts.scheme, parts.netloc)
        response = self.client.send("GET", url, authenticated=False, display_url=shown)
        location = response.headers.get("Location") if 300 <= response.status_code < 400 else None
        if not location:
            raise DocSpaceError("GET %s returned HTTP %d instead of a redirect to the confirmation page; pass the full "
                                "link from the email" % (shown, response.status_code))
        target = urlsplit(location)
        target_params = dict((name.lower(), value) for name, value in parse_qsl(target.query, keep_blank_values=True))
        if "type" in target_params and "key" in target_params:
            return target.query

        base_path = urlsplit(self.client.base_url).path.rstrip("/")
        if not target.query and target.path.rstrip("/") == base_path:
            raise DocSpaceError("The short link in confirmation is unknown or no longer valid on this portal: GET %s "
                                "redirected to the portal start page. Check that the email was about the portal at "
                                "%s, then pass the full link from it, or run without confirmation to send new "
                                "instructions" % (shown, self.client.base_url))
        where = "%s://%s" % (target.scheme, target.netloc) if target.netloc else "another page of the portal"
        raise DocSpaceError("GET %s redirected to %s instead of an owner-change confirmation link. Pass the full link "
                            "from the email, or check base_url (for example https:// rather than http://)" % (shown, where))

    def validate_link(self, link, current):
        """Ask DocSpace whether the link is still valid; this changes nothing."""
        path = "/api/2.0/authentication/confirm"
        response = self.client.call("POST", path, body=link.validation_body(), authenticated=False)
        result = response.get("result") if isinstance(response, dict) else response
        if isinstance(result, bool) or not isinstance(result, int):
            raise DocSpaceError("POST %s returned no validation result, so the link could not be checked and was not "
                                "used. Check base_url and any proxy in front of the portal, then run again with the same "
                                "link" % self.client.url(path), owner=user_summary(current))
        if result == LINK_OK:
            return
        if result == LINK_EXPIRED:
            raise DocSpaceError("The confirmation link has expired (DocSpace keeps them valid for %s). Run again without "
                                "confirmation to send new instructions to %s" % (LINK_VALIDITY, describe(current)),
                                owner=user_summary(current))
        if result == LINK_INVALID:
            raise DocSpaceError("DocSpace rejected the confirmation link as invalid: it is incomplete, altered, from "
                                "another portal, or the owner's email changed since it was sent. Copy the whole link "
                                "from the latest email, or run without confirmation to send new instructions",
                                owner=user_summary(current))
        raise DocSpaceError("POST %s rejected the confirmation link (result %r). Run without confirmation to send new "
                            "instructions" % (self.client.url(path), result), owner=user_summary(current))

    def complete(self, current, new_owner):
        query = self.confirmation_query()
        link = ConfirmationLink(query)
        uid = link.check(new_owner, current)
        try:
            self.validate_link(link, current)
        except DocSpaceAPIError:
            raise
        except DocSpaceError:
            # A link used after step 1 read the owner fails validation, so read the owner again before failing.
            if self.read_back_owner_id() != new_owner["id"]:
                raise
            return self.confirmed_elsewhere(current, new_owner)

        if self.check_mode:
            return self.result(True, new_owner, new_owner, current,
                               msg="Would complete the transfer from %s to %s with the confirmation link"
                                   % (describe(current), describe(new_owner)))

        path = "/api/2.0/settings/owner"
        try:
            self.client.call("PUT", path, body={"ownerId": uid}, headers={"confirm": query}, policy=POLICY_WRITE,
                             expect_response=False)
        except DocSpaceAPIError as exc:
            return self.settle_refused_put(exc, current, new_owner)

        owner_id = self.portal.read_owner_id()
        if owner_id != new_owner["id"]:
            raise DocSpaceError("DocSpace accepted PUT %s, but the owner is still user %s, not %s. Check the portal's "
                                "audit trail, then run again" % (self.client.url(path), owner_id, describe(new_owner)),
                                new_owner=user_summary(new_owner))
        return self.result(True, new_owner, new_owner, current,
                           msg="Transferred ownership from %s to %s" % (describe(current), describe(new_owner)))

    def read_back_owner_id(self):
        try:
            return self.portal.read_owner_id()
        except DocSpaceError:
            return None

    def confirmed_elsewhere(self, current, new_owner):
        """Return the result for a transfer that a browser or another run completed after step 1."""
        return self.result(False, new_owner, new_owner, current, confirmed_elsewhere=True,
                           msg="%s already owns the portal: the transfer was completed meanwhile, in a browser or by "
                               "another run" % describe(new_owner))

    def settle_refused_put(self, exc, current, new_owner):
        """Read the owner back after a failed PUT and report what really happened."""
        owner_id = self.read_back_owner_id()
        if exc.uncertain:
            for delay in SETTLE_DELAYS:
                if owner_id == new_owner["id"]:
                    break
                self.sleep(delay)
                owner_id = self.read_back_owner_id()

        if owner_id == new_owner["id"]:
            if exc.uncertain:
                # The PUT was processed even though its response was lost.
                return self.result(True, new_owner, new_owner, current,
                                   msg="Transferred ownership from %s to %s (the response to PUT was lost; the owner "
                                       "was read back)" % (describe(current), describe(new_owner)))
            return self.confirmed_elsewhere(current, new_owner)

        if owner_id is None:
            exc.with_hint("The owner could not be read back, so the outcome is unknown; run the module again to check")
        elif exc.status == 401:
            exc.with_hint("DocSpace rejected the confirmation link or the API key; the owner is still %s. Run without "
                          "confirmation to send new instructions" % describe(current))
        elif exc.status == 402:
            exc.with_hint("%s must become a DocSpace admin to own the portal, and the plan has no free admin seat. Free "
                          "a seat or upgrade, then run again with the same link" % describe(new_owner))
        elif exc.status == 403:
            exc.with_hint("DocSpace could not make %s a DocSpace admin: that needs the current owner's API key together "
                          "with the link. The owner is still %s" % (describe(new_owner), describe(current)))
        elif exc.status == 500 and _is_target_refusal(exc.server_message):
            exc.with_hint("DocSpace refused %s as the new owner; the user may have been disabled, removed or made a guest "
                          "since the link was sent. Check the user, then send new instructions" % describe(new_owner))
        else:
            exc.with_hint("The owner is still %s; run again with the same link once the portal is reachable"
                          % describe(current))
        exc.details.update(owner=user_summary(current), new_owner=user_summary(new_owner))
        raise exc

    # Steps 5 and 6 --------------------------------------------------------

    def start(self, current, new_owner):
        params = self.params
        sent = False

        if params.get("send_instructions", True):
            if self.check_mode:
                return self.result(True, current, new_owner, None, pending=True,
                                   msg="Would send the owner-change instructions for %s to the current owner %s"
                                       % (describe(new_owner), describe(current)))
            self.send_instructions(current, new_owner)
            sent = True

        if params.get("wait") and not self.check_mode:
            self.wait_for_confirmation(current, new_owner, sent)
            return self.result(True, new_owner, new_owner, current, instructions_sent=sent, sent_to=current if sent else None,
                               msg="%s confirmed the transfer; %s now owns the portal" % (describe(current), describe(new_owner)))

        if sent:
            return self.result(True, current, new_owner, None, pending=True, instructions_sent=True, sent_to=current,
                               msg="Sent the owner-change instructions to the current owner %s. The transfer to %s takes "
                                   "effect when they open the link in the email (valid %s), or when this module runs "
                                   "again with that link as confirmation"
                                   % (describe(current), describe(new_owner), LINK_VALIDITY))
        return self.result(False, current, new_owner, None, pending=True,
                           msg="The transfer to %s is not confirmed, and send_instructions is false, so nothing was sent"
                               % describe(new_owner))

    def send_instructions(self, current, new_owner):
        path = "/api/2.0/settings/owner"
        try:
            response = self.client.call("POST", path, body={"ownerId": new_owner["id"]}, policy=POLICY_WRITE)
        except DocSpaceAPIError as exc:
            if exc.uncertain:
                exc.with_hint("DocSpace may have sent the email anyway. Ask %s to check their mailbox before running "
                              "again, because every run sends a new email" % describe(current))
            elif exc.status == 400 and exc.server_message:
                exc.with_hint("Fix what DocSpace reports (the owner's email must be activated), then run again")
            elif exc.status == 403:
                exc.with_hint("DocSpace denied sending the instructions: the API key may lack the write scope, or %s may "
                              "have become a guest" % describe(new_owner))
            exc.details.update(owner=user_summary(current), new_owner=user_summary(new_owner))
            raise

        status = response.get("status") if isinstance(response, dict) else None
        message = clean_server_message(response.get("message")) if isinstance(response, dict) else None
        if isinstance(status, bool) or not isinstance(status, int):
            raise DocSpaceError("POST %s answered without a status, so it is unknown whether DocSpace sent the email. "
                                "Ask %s to check their mailbox before running again, because every run sends a new email"
                                % (self.client.url(path), describe(current)),
                                owner=user_summary(current), new_owner=user_summary(new_owner))
        if status != 1:
            raise DocSpaceError("DocSpace refused to send the owner-change instructions (POST %s answered status %r: %s). "
                                "Check that the API key belongs to the current owner and that %s is active"
                                % (self.client.url(path), status, message or "no message", describe(new_owner)),
                                owner=user_summary(current), new_owner=user_summary(new_owner))

    def wait_for_confirmation(self, current, new_owner, sent):
        """Poll the owner until it is the new owner, or raise DocSpaceError at wait_timeout."""
        params = self.params
        base_interval = max(1, int(params.get("poll_interval") or 10))
        interval = base_interval
        deadline = self.monotonic() + max(0, int(params.get("wait_timeout") or 0))
        last_error = None

        while True:
            throttled_before = self.client.throttled
            try:
                if self.portal.read_owner_id() == new_owner["id"]:
                    return
                last_error = None
            except DocSpaceAPIError as exc:
                # Transport failures and 5xx may pass while the owner decides; a
                # rejected key or a missing endpoint will not.
                if exc.status is not None and exc.status < 500 and exc.status != 429:
                    raise
                last_error = exc
            # Double the interval after a throttled poll and halve it again after each poll that was not throttled.
            if self.client.throttled > throttled_before or (last_error is not None and last_error.status == 429):
                interval = min(interval * 2, MAX_POLL_INTERVAL)
            else:
                interval = max(base_interval, interval // 2)

            remaining = deadline - self.monotonic()
            if remaining <= 0:
                break
            self.sleep(min(interval, remaining))

        where = ("the email sent to %s" % current.get("email")) if sent else "the owner-change email"
        message = ("Timed out after %s s waiting for %s to confirm the transfer to %s. The transfer is still pending: "
                   "ask them to open the link in %s (valid %s), or run again with that link as confirmation"
                   % (params.get("wait_timeout"), describe(current), describe(new_owner), where, LINK_VALIDITY))
        if last_error is not None:
            message += ". The last poll failed: %s" % last_error.msg
        # changed=True shows AWX and later runs that this run sent an email.
        raise DocSpaceError(message, owner=user_summary(current), new_owner=user_summary(new_owner),
                            pending_confirmation=True, instructions_sent=sent, changed=sent)

    # Result ---------------------------------------------------------------

    def result(self, changed, owner, new_owner, previous_owner, msg, pending=False, instructions_sent=False, sent_to=None,
               confirmed_elsewhere=False):
        result = {
            "changed": changed,
            "msg": msg,
            "owner": user_summary(owner),
            "new_owner": user_summary(new_owner),
            "pending_confirmation": pending,
            "instructions_sent": instructions_sent,
        }
        if previous_owner is not None and changed:
            result["previous_owner"] = user_summary(previous_owner)
        if sent_to is not None:
            result["instructions_sent_to"] = sent_to.get("email")
        if confirmed_elsewhere:
            result["confirmed_elsewhere"] = True

        # Diff: the owner before and after; "after" is the requested owner
        # whenever the run reports a change, pending or not.
        before = user_summary(previous_owner if previous_owner is not None and changed else owner)
        after = user_summary(new_owner) if changed else before
        result["diff"] = {"before": before, "after": after}
        return result


def gather_owner_info(client):
    """Return the docspace_portal_owner_info result: owner, caller and portal facts."""
    portal = Portal(client)
    owner_id = portal.read_owner_id()
    caller = portal.read_caller()
    if caller["id"] == owner_id:
        owner = caller
    else:
        try:
            owner = portal.read_user(owner_id) or {"id": owner_id}
        except DocSpaceAPIError as exc:
            if exc.status != 403:
                raise
            # Guests may not read other profiles; the owner id is still known.
            owner = {"id": owner_id}

    tenant = portal.read_portal()
    # Non-admin callers get a TenantDto with defaults, whose ownerId is the zero GUID.
    full = not same_id(tenant.get("ownerId"), ZERO_GUID) and bool(tenant.get("ownerId"))
    return {
        "owner": user_facts(owner, owner_id),
        "caller": user_facts(caller, owner_id),
        "portal": {
            "url": client.base_url,
            "id": tenant.get("tenantId") if full else None,
            "alias": tenant.get("tenantAlias") if full else None,
            "name": tenant.get("name") if full else None,
            "status": tenant.get("status") if full else None,
            "version": tenant.get("version") if full else None,
            "details_visible": full,
        },
    }
