"""docspace_portal_owner through ansible-playbook, against the DocSpace simulator.

Independent cases share one playbook run. Each case gets a portal of its own,
named after the case, so a portal's request counters and outbox belong to one
case alone. API keys and confirmation links reach the playbooks as extra vars,
never in their text, so the secret scans can search every other file of a run.
"""

import threading
import time
import uuid
from datetime import timedelta
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from docspace_simulator import Simulator
from harness import assert_no_secrets, assert_no_traceback, link_secrets, runner_for

OWNER_MODULE = "onlyoffice.docspace.docspace_portal_owner"
INFO_MODULE = "onlyoffice.docspace.docspace_portal_owner_info"

# Request counter keys of the simulator.
READ_OWNER_ID = "GET /api/2.0/settings"
SEND = "POST /api/2.0/settings/owner"
APPLY = "PUT /api/2.0/settings/owner"
VALIDATE = "POST /api/2.0/authentication/confirm"
RESOLVE = "GET /s/{code}"
CONFIRM_PAGE = "GET /confirm/PortalOwnerChange"

# A host that a portal behind a proxy may put into its emailed links. No DNS name under .invalid resolves.
INTERNAL_LINK_BASE = "http://docspace-internal.invalid:8092"

# DocSpace keeps a confirmation link valid for 7 days.
EXPIRED_AGE = timedelta(days=8)

UNKNOWN_ID = str(uuid.UUID("0f0e0d0c-0b0a-4908-8706-050403020100"))


def summary(user):
    """Return the id, email and display name the module reports for a simulator user."""
    return {"id": user.id, "email": user.email, "display_name": user.display_name}


def owner_task(portal, **options):
    """Return a docspace_portal_owner task for the case that `portal` belongs to.

    The API key comes from the extra var api_keys, keyed by the portal alias.
    """
    arguments = {"base_url": portal.base_url, "api_key": "{{ api_keys[%r] }}" % portal.alias}
    arguments.update(options)
    return {"name": portal.alias, "ignore_errors": True, OWNER_MODULE: arguments}


def link_variable(portal):
    """Return the task value that reads the confirmation link of this case from the extra var links."""
    return "{{ links[%r] }}" % portal.alias


def write_counts(portal):
    return {endpoint: portal.request_count(endpoint) for endpoint in (SEND, APPLY)}


@pytest.fixture(scope="module")
def batch_ansible(collections_path, tmp_path_factory):
    return runner_for(collections_path, tmp_path_factory.mktemp("owner-batches"))


# Sending the instructions ---------------------------------------------------

# case: (role of the new owner, option that names them, how the value is spelled)
SEND_CASES = {
    "email": ("successor", "owner_email", lambda user: user.email),
    "email-upper": ("successor", "owner_email", lambda user: user.email.upper()),
    "id": ("successor", "owner_id", lambda user: user.id),
    "id-upper": ("successor", "owner_id", lambda user: user.id.upper()),
    "id-compact": ("successor", "owner_id", lambda user: user.id.replace("-", "")),
    "id-braces": ("successor", "owner_id", lambda user: "{%s}" % user.id),
    "id-parentheses": ("successor", "owner_id", lambda user: "(%s)" % user.id),
    "id-upper-braces": ("successor", "owner_id", lambda user: "{%s}" % user.id.upper()),
    "unactivated": ("unactivated", "owner_email", lambda user: user.email),
}


@pytest.fixture(scope="module")
def send_batch(batch_ansible):
    with Simulator() as simulator:
        portals = {case: simulator.add_portal(case) for case in SEND_CASES}
        tasks = []
        for case, (role, option, spell) in SEND_CASES.items():
            tasks.append(owner_task(portals[case], **{option: spell(portals[case].users[role])}))
        api_keys = {case: portal.users["owner"].api_key for case, portal in portals.items()}

        run = batch_ansible.run_tasks(tasks, extra_vars={"api_keys": api_keys})
        yield SimpleNamespace(run=run, portals=portals, api_keys=api_keys)


@pytest.mark.parametrize("case", SEND_CASES)
def test_send_reports_pending(send_batch, case):
    result = send_batch.run.result(case)

    assert send_batch.run.task(case)["status"] == "changed", send_batch.run.describe()
    assert result["pending_confirmation"] is True
    assert result["instructions_sent"] is True


@pytest.mark.parametrize("case", SEND_CASES)
def test_send_names_users(send_batch, case):
    portal = send_batch.portals[case]
    new_owner = portal.users[SEND_CASES[case][0]]
    result = send_batch.run.result(case)

    assert result["instructions_sent_to"] == portal.users["owner"].email
    assert result["owner"] == summary(portal.users["owner"])
    assert result["new_owner"] == summary(new_owner)
    assert "Sent the owner-change instructions to the current owner" in result["msg"]
    assert portal.users["owner"].email in result["msg"]


@pytest.mark.parametrize("case", SEND_CASES)
def test_send_emails_current_owner_once(send_batch, case):
    portal = send_batch.portals[case]
    new_owner = portal.users[SEND_CASES[case][0]]

    assert len(portal.outbox) == 1
    assert portal.last_email.to == portal.users["owner"].email
    assert portal.last_email.new_owner_id == new_owner.id


@pytest.mark.parametrize("case", SEND_CASES)
def test_send_requests(send_batch, case):
    portal = send_batch.portals[case]

    assert write_counts(portal) == {SEND: 1, APPLY: 0}
    # The module documents 4 requests for a send: the owner id, the new owner, the caller, the send.
    assert portal.request_count() == 4
    assert portal.owner_id == portal.users["owner"].id


def test_send_warns_unactivated_new_owner(send_batch):
    email = send_batch.portals["unactivated"].users["unactivated"].email

    assert "%s> has not confirmed their email address yet" % email in send_batch.run.screen_text


def test_send_output_clean(send_batch):
    assert send_batch.run.rc == 0, send_batch.run.describe()
    assert_no_traceback(send_batch.run)
    assert_no_secrets(send_batch.run, *send_batch.api_keys.values())


def test_send_instructions_false(ansible, docspace_portal):
    owner = docspace_portal.users["owner"]
    env = {"DOCSPACE_BASE_URL": docspace_portal.base_url, "DOCSPACE_API_KEY": owner.api_key}
    task = {"name": "Report", OWNER_MODULE: {"owner_email": docspace_portal.users["successor"].email, "send_instructions": False}}

    run = ansible.run_tasks([task], env=env)
    result = run.result("Report")

    assert run.rc == 0, run.describe()
    assert result["changed"] is False
    assert result["pending_confirmation"] is True
    assert result["instructions_sent"] is False
    assert "instructions_sent_to" not in result
    assert "nothing was sent" in result["msg"]
    assert docspace_portal.outbox == []
    assert write_counts(docspace_portal) == {SEND: 0, APPLY: 0}
    assert_no_secrets(run, owner.api_key)


# Completing with the confirmation link --------------------------------------

# case: (portal options, option that names the new owner, form of the confirmation)
COMPLETE_CASES = {
    "short": ({}, "owner_email", "short"),
    "full": ({}, "owner_email", "full"),
    "query": ({}, "owner_email", "query"),
    "query-mark": ({}, "owner_email", "query-mark"),
    "by-id": ({}, "owner_id", "short"),
    "internal-short": ({"link_base": INTERNAL_LINK_BASE}, "owner_email", "short"),
    "internal-full": ({"link_base": INTERNAL_LINK_BASE}, "owner_email", "full"),
    # DocSpace before 3.5.0 puts the owner's email into the link in clear.
    "email-param": ({"version": "3.4.2"}, "owner_email", "full"),
    "root": ({"prefix": "/"}, "owner_email", "short"),
}
SHORT_CASES = [case for case, (_unused, _unused, form) in COMPLETE_CASES.items() if form == "short"]


def confirmation_form(email, form):
    """Return the confirmation value a user would paste, in one of the accepted forms."""
    query = urlsplit(email.link).query
    return {"short": email.short_link, "full": email.link, "query": query, "query-mark": "?" + query}[form]


def new_owner_option(portal, option):
    successor = portal.users["successor"]
    return {option: successor.email if option == "owner_email" else successor.id.upper()}


@pytest.fixture(scope="module")
def complete_batch(batch_ansible):
    with Simulator() as simulator:
        portals = {case: simulator.add_portal(case, **options) for case, (options, _unused, _unused) in COMPLETE_CASES.items()}
        api_keys = {case: portal.users["owner"].api_key for case, portal in portals.items()}
        send_tasks = [owner_task(portals[case], **new_owner_option(portals[case], option))
                      for case, (_unused, option, _unused) in COMPLETE_CASES.items()]

        sent = batch_ansible.run_tasks(send_tasks, extra_vars={"api_keys": api_keys})
        assert [record["status"] for record in sent.records] == ["changed"] * len(COMPLETE_CASES), sent.describe()

        links = {case: confirmation_form(portals[case].last_email, form) for case, (_unused, _unused, form) in COMPLETE_CASES.items()}
        complete_tasks = [dict(task, **{OWNER_MODULE: dict(task[OWNER_MODULE], confirmation=link_variable(portals[task["name"]]))})
                          for task in send_tasks]
        extra_vars = {"api_keys": api_keys, "links": links}

        def run_and_count(tasks, **options):
            for portal in portals.values():
                portal.clear_requests()
            run = batch_ansible.run_tasks(tasks, extra_vars=extra_vars, **options)
            return run, {case: portal.request_counts() for case, portal in portals.items()}, \
                {case: portal.requests for case, portal in portals.items()}

        completed, counts, requests = run_and_count(complete_tasks)
        # The same input again, then the send without a link again in check mode.
        again, again_counts, _unused = run_and_count(complete_tasks)
        again_check, again_check_counts, _unused = run_and_count(send_tasks, check=True, diff=True)

        yield SimpleNamespace(
            portals=portals, api_keys=api_keys, links=links, emails={case: portal.outbox for case, portal in portals.items()},
            completed=completed, counts=counts, requests=requests,
            again=again, again_counts=again_counts, again_check=again_check, again_check_counts=again_check_counts,
        )


def test_complete_link_forms_are_distinct(complete_batch):
    links = complete_batch.links

    assert links["short"].startswith(complete_batch.portals["short"].base_url + "/s/")
    assert links["full"].startswith(complete_batch.portals["full"].base_url + "/confirm/PortalOwnerChange?")
    assert links["query"].startswith("type=PortalOwnerChange&")
    assert links["query-mark"].startswith("?type=PortalOwnerChange&")
    assert links["internal-short"].startswith(INTERNAL_LINK_BASE + "/s/")
    assert links["internal-full"].startswith(INTERNAL_LINK_BASE + "/confirm/")
    assert "&email=" in links["email-param"]
    assert "encemail=" not in links["email-param"]
    assert urlsplit(links["root"]).path.startswith("/s/")


@pytest.mark.parametrize("case", COMPLETE_CASES)
def test_complete_transfers_ownership(complete_batch, case):
    successor = complete_batch.portals[case].users["successor"]
    result = complete_batch.completed.result(case)

    assert complete_batch.completed.task(case)["status"] == "changed", complete_batch.completed.describe()
    assert result["owner"] == summary(successor)
    assert result["new_owner"] == summary(successor)
    assert result["pending_confirmation"] is False
    assert result["instructions_sent"] is False
    assert result["msg"].startswith("Transferred ownership from Olivia Owner")


@pytest.mark.parametrize("case", COMPLETE_CASES)
def test_complete_previous_owner(complete_batch, case):
    owner = complete_batch.portals[case].users["owner"]

    assert complete_batch.completed.result(case)["previous_owner"] == summary(owner)


@pytest.mark.parametrize("case", COMPLETE_CASES)
def test_complete_owner_read_back(complete_batch, case):
    portal = complete_batch.portals[case]

    assert portal.owner_id == portal.users["successor"].id
    # One read before the transfer and one after the PUT.
    assert complete_batch.counts[case][READ_OWNER_ID] == 2


@pytest.mark.parametrize("case", COMPLETE_CASES)
def test_complete_promotes_successor(complete_batch, case):
    # The seeded successor is of the type User. Owning the portal makes them a DocSpace admin.
    assert complete_batch.portals[case].users["successor"].user_type == "admin"


@pytest.mark.parametrize("case", COMPLETE_CASES)
def test_complete_put_has_link_and_key(complete_batch, case):
    puts = [record for record in complete_batch.requests[case] if record.endpoint == APPLY]

    assert len(puts) == 1
    assert puts[0].has_confirm is True
    assert puts[0].has_authorization is True
    assert puts[0].status == 200


@pytest.mark.parametrize("case", COMPLETE_CASES)
def test_complete_validates_link_once(complete_batch, case):
    assert complete_batch.counts[case].get(VALIDATE) == 1
    assert complete_batch.counts[case].get(SEND) is None


@pytest.mark.parametrize("case", COMPLETE_CASES)
def test_complete_short_link_resolution(complete_batch, case):
    resolutions = [record for record in complete_batch.requests[case] if record.endpoint == RESOLVE]

    assert len(resolutions) == (1 if case in SHORT_CASES else 0)
    assert not any(record.has_authorization for record in resolutions)
    # The redirect is read, not followed.
    assert complete_batch.counts[case].get(CONFIRM_PAGE) is None


@pytest.mark.parametrize("case", COMPLETE_CASES)
def test_complete_sends_no_email(complete_batch, case):
    assert len(complete_batch.emails[case]) == 1


def test_complete_output_clean(complete_batch):
    secrets = list(complete_batch.api_keys.values())
    for email in complete_batch.emails.values():
        secrets += link_secrets(email[0].link) + link_secrets(email[0].short_link)

    assert complete_batch.completed.rc == 0, complete_batch.completed.describe()
    assert_no_traceback(complete_batch.completed)
    for run in (complete_batch.completed, complete_batch.again, complete_batch.again_check):
        assert_no_secrets(run, *secrets)


@pytest.mark.parametrize("case", COMPLETE_CASES)
def test_rerun_unchanged(complete_batch, case):
    result = complete_batch.again.result(case)

    assert complete_batch.again.task(case)["status"] == "ok", complete_batch.again.describe()
    assert result["owner"] == summary(complete_batch.portals[case].users["successor"])
    assert "previous_owner" not in result
    assert "already owns the portal" in result["msg"]


@pytest.mark.parametrize("case", COMPLETE_CASES)
def test_rerun_requests(complete_batch, case):
    counts = complete_batch.again_counts[case]

    assert sum(counts.values()) <= 2, counts
    assert SEND not in counts
    assert APPLY not in counts


@pytest.mark.parametrize("case", COMPLETE_CASES)
def test_rerun_check_mode_unchanged(complete_batch, case):
    successor = summary(complete_batch.portals[case].users["successor"])
    result = complete_batch.again_check.result(case)

    assert complete_batch.again_check.task(case)["status"] == "ok", complete_batch.again_check.describe()
    assert result["diff"] == {"before": successor, "after": successor}
    assert sum(complete_batch.again_check_counts[case].values()) <= 2


# Check mode -----------------------------------------------------------------

CHECK_CASES = ("check-send", "check-full", "check-short", "check-expired")


@pytest.fixture(scope="module")
def check_batch(batch_ansible):
    with Simulator() as simulator:
        portals = {case: simulator.add_portal(case) for case in CHECK_CASES}
        api_keys = {case: portal.users["owner"].api_key for case, portal in portals.items()}

        # A short link exists only once an email was sent, so one real send comes first.
        short = portals["check-short"]
        sent = batch_ansible.run_tasks([owner_task(short, owner_email=short.users["successor"].email)],
                                       extra_vars={"api_keys": api_keys})
        assert sent.task("check-short")["status"] == "changed", sent.describe()
        emailed = short.last_email
        short.clear_outbox()
        short.clear_requests()

        expired = portals["check-expired"]
        links = {
            "check-full": portals["check-full"].make_confirmation_link(portals["check-full"].users["successor"].id),
            "check-short": emailed.short_link,
            "check-expired": expired.make_confirmation_link(expired.users["successor"].id, issued_at=expired.now() - EXPIRED_AGE),
        }
        tasks = [owner_task(portal, owner_email=portal.users["successor"].email,
                            **({"confirmation": link_variable(portal)} if case in links else {}))
                 for case, portal in portals.items()]

        run = batch_ansible.run_tasks(tasks, extra_vars={"api_keys": api_keys, "links": links}, check=True, diff=True)
        yield SimpleNamespace(run=run, portals=portals, api_keys=api_keys, links=links)


@pytest.mark.parametrize("case", ["check-send", "check-full", "check-short"])
def test_check_mode_reports_change(check_batch, case):
    assert check_batch.run.task(case)["status"] == "changed", check_batch.run.describe()


@pytest.mark.parametrize("case", CHECK_CASES)
def test_check_mode_writes_nothing(check_batch, case):
    portal = check_batch.portals[case]

    assert write_counts(portal) == {SEND: 0, APPLY: 0}
    assert portal.outbox == []
    assert portal.owner_id == portal.users["owner"].id


def test_check_mode_send_result(check_batch):
    result = check_batch.run.result("check-send")

    assert result["pending_confirmation"] is True
    assert result["instructions_sent"] is False
    assert result["msg"].startswith("Would send the owner-change instructions")


@pytest.mark.parametrize("case", ["check-full", "check-short"])
def test_check_mode_confirm_result(check_batch, case):
    result = check_batch.run.result(case)

    assert result["pending_confirmation"] is False
    assert result["msg"].startswith("Would complete the transfer from Olivia Owner")


@pytest.mark.parametrize("case", ["check-full", "check-short", "check-expired"])
def test_check_mode_validates_link(check_batch, case):
    assert check_batch.portals[case].request_count(VALIDATE) == 1


def test_check_mode_resolves_short_link(check_batch):
    assert check_batch.portals["check-short"].request_count(RESOLVE) == 1


def test_check_mode_expired_link_fails(check_batch):
    result = check_batch.run.result("check-expired")

    assert check_batch.run.task("check-expired")["status"] == "failed"
    assert "The confirmation link has expired" in result["msg"]
    assert "Run again without confirmation to send new instructions" in result["msg"]


@pytest.mark.parametrize("case", ["check-send", "check-full", "check-short"])
def test_check_mode_diff(check_batch, case):
    portal = check_batch.portals[case]
    diff = check_batch.run.result(case)["diff"]

    assert diff == {"before": summary(portal.users["owner"]), "after": summary(portal.users["successor"])}
    assert '-    "email": "%s"' % portal.users["owner"].email in check_batch.run.stdout
    assert '+    "email": "%s"' % portal.users["successor"].email in check_batch.run.stdout


def test_check_mode_output_clean(check_batch):
    secrets = list(check_batch.api_keys.values())
    for link in check_batch.links.values():
        secrets += link_secrets(link)

    assert_no_traceback(check_batch.run)
    assert_no_secrets(check_batch.run, *secrets)


# Rejections before any write -------------------------------------------------


def successor_link(portal, **options):
    return portal.make_confirmation_link(portal.users["successor"].id, **options)


def tampered_key(link):
    """Return the link with the last character of its key's hash changed."""
    head, _unused, rest = link.partition("key=")
    key, _unused, tail = rest.partition("&")
    changed = key[:-1] + ("A" if key[-1] != "A" else "B")
    return "%skey=%s&%s" % (head, changed, tail)


def without_key(link):
    return "&".join(part for part in link.split("&") if not part.startswith("key="))


# case: portal options, the role whose API key the task uses, the new owner
# option, the confirmation link (or None), and words the message must contain.
REJECTION_CASES = {
    "unknown-id": dict(new_owner=lambda p: {"owner_id": UNKNOWN_ID}, words=["owner_id %s: no such user" % UNKNOWN_ID]),
    "unknown-email": dict(new_owner=lambda p: {"owner_email": "nobody@example.invalid"},
                          words=["owner_email nobody@example.invalid: no user with this email"]),
    "guest": dict(role="guest", words=["Greta Guest", "is a guest"]),
    "invited": dict(role="invited", words=["Ivan Invited", "has not accepted the invitation"]),
    "disabled": dict(role="disabled", words=["Dora Disabled", "is disabled"]),
    "not-owner": dict(key="admin", words=["api_key belongs to Adam Admin", "only the portal owner Olivia Owner"]),
    "owner-unactivated": dict(portal={"owner_email_activated": False},
                              words=["The current owner's email Owner@owner-unactivated.docspace.test is not activated"]),
    "link-uid": dict(link=lambda p: p.make_confirmation_link(p.users["admin"].id),
                     words=["confirmation link's uid", "does not match the requested new owner Sam Successor"]),
    "link-type": dict(link=lambda p: successor_link(p).replace("type=PortalOwnerChange", "type=EmailChange"),
                      words=["confirmation link has type 'EmailChange', not 'PortalOwnerChange'"]),
    "link-email": dict(portal={"version": "3.4.2"}, link=lambda p: successor_link(p, owner_email=p.users["admin"].email),
                       words=["confirmation link's email admin@link-email.docspace.test is not the current owner's"]),
    "link-other-owner": dict(link=lambda p: successor_link(p, owner_email=p.users["admin"].email),
                             words=["DocSpace rejected the confirmation link as invalid"]),
    "link-expired": dict(link=lambda p: successor_link(p, issued_at=p.now() - EXPIRED_AGE),
                         words=["The confirmation link has expired"]),
    "link-invalid": dict(link=lambda p: tampered_key(successor_link(p)), words=["DocSpace rejected the confirmation link as invalid"]),
    "link-incomplete": dict(link=lambda p: without_key(successor_link(p)), words=["these parameters are missing: 'key'"]),
    "short-link-unknown": dict(link=lambda p: p.base_url + "/s/ZZZZZZZZZZZZZZZ", words=["short link", "is unknown or no longer valid"]),
}
# A link that contradicts the requested transfer is rejected without asking DocSpace.
LOCAL_LINK_CASES = ["link-uid", "link-type", "link-email", "link-incomplete"]


@pytest.fixture(scope="module")
def rejection_batch(batch_ansible):
    with Simulator() as simulator:
        portals = {case: simulator.add_portal(case, **spec.get("portal", {})) for case, spec in REJECTION_CASES.items()}
        api_keys = {case: portals[case].users[spec.get("key", "owner")].api_key for case, spec in REJECTION_CASES.items()}
        links = {case: spec["link"](portals[case]) for case, spec in REJECTION_CASES.items() if "link" in spec}

        tasks = []
        for case, spec in REJECTION_CASES.items():
            portal = portals[case]
            options = spec["new_owner"](portal) if "new_owner" in spec else {"owner_email": portal.users[spec.get("role", "successor")].email}
            if case in links:
                options["confirmation"] = link_variable(portal)
            tasks.append(owner_task(portal, **options))

        run = batch_ansible.run_tasks(tasks, extra_vars={"api_keys": api_keys, "links": links})
        yield SimpleNamespace(run=run, portals=portals, api_keys=api_keys, links=links)


@pytest.mark.parametrize("case", REJECTION_CASES)
def test_rejection_fails(rejection_batch, case):
    assert rejection_batch.run.task(case)["status"] == "failed", rejection_batch.run.describe()


@pytest.mark.parametrize("case", REJECTION_CASES)
def test_rejection_message(rejection_batch, case):
    message = rejection_batch.run.result(case)["msg"]

    for words in REJECTION_CASES[case]["words"]:
        assert words in message


@pytest.mark.parametrize("case", REJECTION_CASES)
def test_rejection_writes_nothing(rejection_batch, case):
    portal = rejection_batch.portals[case]

    assert write_counts(portal) == {SEND: 0, APPLY: 0}
    assert portal.outbox == []
    assert portal.owner_id == portal.users["owner"].id


@pytest.mark.parametrize("case", LOCAL_LINK_CASES)
def test_rejection_link_checked_locally(rejection_batch, case):
    assert rejection_batch.portals[case].request_count(VALIDATE) == 0


def test_rejection_output_clean(rejection_batch):
    secrets = list(rejection_batch.api_keys.values())
    for link in rejection_batch.links.values():
        secrets += link_secrets(link)

    assert_no_traceback(rejection_batch.run)
    assert_no_secrets(rejection_batch.run, *secrets)


# Waiting for the browser confirmation ----------------------------------------


def confirm_in_browser_when(portal, condition, link_of, outcomes, timeout=30):
    """Open a confirmation link as the owner's browser does once `condition` holds; runs in a thread."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            outcomes.append(portal.browser_confirm(link_of()))
            return
        time.sleep(0.02)


def test_wait_ends_on_browser_confirmation(ansible, docspace_portal):
    owner = docspace_portal.users["owner"]
    successor = docspace_portal.users["successor"]
    env = {"DOCSPACE_BASE_URL": docspace_portal.base_url, "DOCSPACE_API_KEY": owner.api_key}
    task = {"name": "Wait", OWNER_MODULE: {"owner_email": successor.email, "wait": True, "poll_interval": 1, "wait_timeout": 60}}

    # The module reads the owner id once before sending and once per poll, so a
    # second read means the first poll has happened.
    outcomes = []
    browser = threading.Thread(target=confirm_in_browser_when, args=(
        docspace_portal,
        lambda: docspace_portal.last_email is not None and docspace_portal.request_count(READ_OWNER_ID) >= 2,
        lambda: docspace_portal.last_email.short_link,
        outcomes,
    ), daemon=True)
    browser.start()
    run = ansible.run_tasks([task], env=env)
    browser.join(timeout=5)
    result = run.result("Wait")

    assert outcomes, "the owner never confirmed in the browser"
    assert outcomes[0].result == "Ok"
    assert run.task("Wait")["status"] == "changed", run.describe()
    assert result["pending_confirmation"] is False
    assert result["instructions_sent"] is True
    assert result["instructions_sent_to"] == owner.email
    assert result["owner"] == summary(successor)
    assert result["previous_owner"] == summary(owner)
    assert docspace_portal.owner_id == successor.id
    assert docspace_portal.request_count(READ_OWNER_ID) >= 3
    assert_no_secrets(run, owner.api_key, *link_secrets(docspace_portal.last_email.short_link))


def test_wait_timeout_fails_pending(ansible, docspace_portal):
    owner = docspace_portal.users["owner"]
    successor = docspace_portal.users["successor"]
    env = {"DOCSPACE_BASE_URL": docspace_portal.base_url, "DOCSPACE_API_KEY": owner.api_key}
    task = {"name": "Wait", OWNER_MODULE: {"owner_email": successor.email, "wait": True, "poll_interval": 1, "wait_timeout": 1}}

    run = ansible.run_tasks([task], env=env)
    result = run.result("Wait")

    assert run.rc != 0
    assert "Timed out after 1 s waiting for Olivia Owner <%s> to confirm the transfer to Sam Successor" % owner.email in result["msg"]
    assert "The transfer is still pending" in result["msg"]
    assert "run again with that link as confirmation" in result["msg"]
    assert result["pending_confirmation"] is True
    assert result["instructions_sent"] is True
    # The run sent an email, so it reports a change although it failed.
    assert result["changed"] is True
    assert len(docspace_portal.outbox) == 1
    assert docspace_portal.owner_id == owner.id
    assert_no_traceback(run)
    assert_no_secrets(run, owner.api_key, *link_secrets(docspace_portal.last_email.short_link))


def test_put_rejected_after_browser_confirmation(ansible, docspace_portal):
    owner = docspace_portal.users["owner"]
    successor = docspace_portal.users["successor"]
    link = successor_link(docspace_portal)
    env = {"DOCSPACE_BASE_URL": docspace_portal.base_url, "DOCSPACE_API_KEY": owner.api_key}
    task = {"name": "Complete", OWNER_MODULE: {"owner_id": successor.id, "confirmation": "{{ link }}"}}

    # The simulator delays the module's PUT by 2 seconds, and the owner confirms
    # in the browser meanwhile, so the PUT meets a link that no longer works.
    docspace_portal.add_fault("slow", path="/api/2.0/settings/owner", method="PUT", delay=2)
    outcomes = []
    browser = threading.Thread(target=confirm_in_browser_when, args=(
        docspace_portal, lambda: docspace_portal.request_count(APPLY) >= 1, lambda: link, outcomes,
    ), daemon=True)
    browser.start()
    run = ansible.run_tasks([task], env=env, extra_vars={"link": link})
    browser.join(timeout=5)
    result = run.result("Complete")
    puts = [record for record in docspace_portal.requests if record.endpoint == APPLY]

    assert outcomes, "the owner never confirmed in the browser"
    assert outcomes[0].owner_changed is True
    assert puts[0].status == 401
    assert run.task("Complete")["status"] == "ok", run.describe()
    assert result["confirmed_elsewhere"] is True
    assert result["owner"] == summary(successor)
    assert "completed meanwhile, in a browser or by another run" in result["msg"]
    assert docspace_portal.owner_id == successor.id
    assert_no_secrets(run, owner.api_key, *link_secrets(link))


# Connection options set once -------------------------------------------------

# How a play hands base_url and api_key to both modules.
OPTION_SOURCES = ("module-defaults", "environment-keyword", "controller-environment")


@pytest.fixture(scope="module")
def option_sources_batch(batch_ansible):
    with Simulator() as simulator:
        portals = {source: simulator.add_portal(source) for source in OPTION_SOURCES}
        api_keys = {source: portal.users["owner"].api_key for source, portal in portals.items()}

        def play(source, **keywords):
            email = portals[source].users["successor"].email
            tasks = [
                {"name": "%s info" % source, INFO_MODULE: {}},
                {"name": "%s transfer" % source, OWNER_MODULE: {"owner_email": email}},
            ]
            return dict({"name": source, "hosts": "localhost", "connection": "local", "gather_facts": False}, tasks=tasks, **keywords)

        plays = [
            play("module-defaults", module_defaults={"group/onlyoffice.docspace.docspace": {
                "base_url": portals["module-defaults"].base_url, "api_key": "{{ api_keys['module-defaults'] }}"}}),
            play("environment-keyword", environment={
                "DOCSPACE_BASE_URL": portals["environment-keyword"].base_url,
                "DOCSPACE_API_KEY": "{{ api_keys['environment-keyword'] }}"}),
            play("controller-environment"),
        ]
        env = {"DOCSPACE_BASE_URL": portals["controller-environment"].base_url,
               "DOCSPACE_API_KEY": api_keys["controller-environment"]}

        run = batch_ansible.run(plays, extra_vars={"api_keys": api_keys}, env=env)
        yield SimpleNamespace(run=run, portals=portals, api_keys=api_keys)


@pytest.mark.parametrize("source", OPTION_SOURCES)
def test_options_reach_info_module(option_sources_batch, source):
    portal = option_sources_batch.portals[source]
    result = option_sources_batch.run.result("%s info" % source)

    assert result["portal"]["url"] == portal.base_url
    assert result["caller"]["is_owner"] is True


@pytest.mark.parametrize("source", OPTION_SOURCES)
def test_options_reach_owner_module(option_sources_batch, source):
    portal = option_sources_batch.portals[source]

    assert option_sources_batch.run.task("%s transfer" % source)["status"] == "changed", option_sources_batch.run.describe()
    assert len(portal.outbox) == 1


def test_options_output_clean(option_sources_batch):
    assert option_sources_batch.run.rc == 0, option_sources_batch.run.describe()
    assert_no_traceback(option_sources_batch.run)
    assert_no_secrets(option_sources_batch.run, *option_sources_batch.api_keys.values())
