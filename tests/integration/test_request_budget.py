"""Request budgets of docspace_portal_owner, counted by the simulator through ansible-playbook.

The module's notes document how many HTTP requests a run makes. These tests
fail when a run needs more. Every case gets a portal of its own, so one
simulator counts each case apart, and all cases run in one ansible-playbook
run with one inventory host per case.
"""

import threading
import time
from dataclasses import dataclass
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest

from docspace_simulator import Simulator
from harness import assert_no_secrets, assert_no_traceback, link_secrets, per_host_task, runner_for

# Requests per run, as the module's notes document them.
BUDGET_NO_OP = 2
BUDGET_SEND = 4
BUDGET_COMPLETE_FULL_LINK = 6
BUDGET_COMPLETE_SHORT_LINK = 7

# Check mode makes the same reads and leaves out the writes, which are the POST
# when sending, and the PUT and the read-back when completing.
BUDGET_CHECK_SEND = BUDGET_SEND - 1
BUDGET_CHECK_COMPLETE_FULL_LINK = BUDGET_COMPLETE_FULL_LINK - 2
BUDGET_CHECK_COMPLETE_SHORT_LINK = BUDGET_COMPLETE_SHORT_LINK - 2

WRITE_ENDPOINTS = ("POST /api/2.0/settings/owner", "PUT /api/2.0/settings/owner")
SETTINGS_READ = "GET /api/2.0/settings"

# Ways to name the new owner: each must cost the same number of requests.
SPELLINGS = {
    "id": lambda user: user.id,
    "id_upper": lambda user: user.id.upper(),
    "id_no_hyphens": lambda user: user.id.replace("-", ""),
    "id_braces": lambda user: "{%s}" % user.id.upper(),
    "email": lambda user: user.email,
    "email_lower": lambda user: user.email.lower(),
    "email_upper": lambda user: user.email.upper(),
}

# Forms of the confirmation option, from the email the simulator would send.
LINK_FORMS = {
    "full": lambda email: email.link,
    "short": lambda email: email.short_link,
    "query": lambda email: urlsplit(email.link).query,
}


@dataclass(frozen=True)
class Case:
    """One module run: whom to make the owner, how to name them, with whose key, and its budget."""

    name: str
    target: str
    spelling: str
    budget: int
    caller: str = "owner"
    link: str | None = None
    check_mode: bool = False


NO_OP_CASES = [Case("noop_" + spelling, "owner", spelling, BUDGET_NO_OP) for spelling in SPELLINGS] + [
    # A no-op does not look at whose key it is.
    Case("noop_admin_key", "owner", "email", BUDGET_NO_OP, caller="admin"),
    Case("noop_check", "owner", "id_upper", BUDGET_NO_OP, check_mode=True),
]

SEND_CASES = [
    Case("send_id", "successor", "id", BUDGET_SEND),
    Case("send_id_braces", "successor", "id_braces", BUDGET_SEND),
    Case("send_email_upper", "successor", "email_upper", BUDGET_SEND),
    Case("send_check", "successor", "email", BUDGET_CHECK_SEND, check_mode=True),
]

COMPLETE_CASES = [
    Case("complete_full", "successor", "id", BUDGET_COMPLETE_FULL_LINK, link="full"),
    Case("complete_query", "successor", "email", BUDGET_COMPLETE_FULL_LINK, link="query"),
    Case("complete_short", "successor", "email_upper", BUDGET_COMPLETE_SHORT_LINK, link="short"),
    Case("complete_full_check", "successor", "id", BUDGET_CHECK_COMPLETE_FULL_LINK, link="full", check_mode=True),
    Case("complete_short_check", "successor", "email", BUDGET_CHECK_COMPLETE_SHORT_LINK, link="short", check_mode=True),
]

MODULE = "onlyoffice.docspace.docspace_portal_owner"
OPTIONS = ("base_url", "api_key", "owner_id", "owner_email", "confirmation", "wait", "wait_timeout", "poll_interval")

# per_host_task runs the module with each host's options, and check mode is chosen per host too.
TRANSFER_TASK = dict(per_host_task("Transfer", MODULE, OPTIONS), check_mode="{{ per_host[inventory_hostname].check_mode }}")


def summary(user):
    return {"id": user.id, "email": user.email, "display_name": user.display_name}


def endpoints(portal):
    return [record.endpoint for record in portal.requests]


def case_host(portal, case, **extra):
    """Return the per-host options of a case: the module's arguments, secrets included, and check_mode."""
    target = portal.users[case.target]
    name_option = "owner_email" if case.spelling.startswith("email") else "owner_id"
    host = {
        "module": MODULE,
        "check_mode": case.check_mode,
        "base_url": portal.base_url,
        "api_key": portal.users[case.caller].api_key,
        name_option: SPELLINGS[case.spelling](target),
    }
    if case.link:
        # The email goes into the outbox directly, so sending it costs no request.
        email = portal.send_owner_change_email(target, target.id, portal.base_url)
        host["confirmation"] = LINK_FORMS[case.link](email)
        portal.clear_outbox()
    host.update(extra)
    return host


def host_secrets(hosts):
    """Return the API keys and the secret parts of the confirmation links in `hosts`."""
    secrets = [host["api_key"] for host in hosts.values()]
    for host in hosts.values():
        if "confirmation" in host:
            secrets += link_secrets(host["confirmation"])
    return secrets


@pytest.fixture(scope="module")
def budget_run(collections_path, tmp_path_factory):
    """Run every no-op, send and complete case once, in one playbook; the result has run, portals and hosts by case."""
    cases = NO_OP_CASES + SEND_CASES + COMPLETE_CASES
    with Simulator() as simulator:
        portals = {case.name: simulator.add_portal(case.name.replace("_", "-")) for case in cases}
        hosts = {case.name: case_host(portals[case.name], case) for case in cases}

        runner = runner_for(collections_path, tmp_path_factory.mktemp("budget"))
        run = runner.run_per_host(hosts, [TRANSFER_TASK], forks=4)
        yield SimpleNamespace(run=run, portals=portals, hosts=hosts)


@pytest.mark.parametrize("case", NO_OP_CASES, ids=lambda case: case.name)
def test_budget_no_op(budget_run, case):
    run = budget_run.run
    portal = budget_run.portals[case.name]
    record = run.host_record(case.name)
    owner = portal.users["owner"]

    assert record["status"] == "ok", run.describe()
    assert record["result"]["owner"] == summary(owner)
    assert record["result"]["new_owner"] == summary(owner)
    assert not [endpoint for endpoint in endpoints(portal) if endpoint in WRITE_ENDPOINTS]
    assert portal.request_count() <= case.budget, endpoints(portal)


@pytest.mark.parametrize("case", SEND_CASES, ids=lambda case: case.name)
def test_budget_send(budget_run, case):
    run = budget_run.run
    portal = budget_run.portals[case.name]
    record = run.host_record(case.name)

    assert record["status"] == "changed", run.describe()
    assert record["result"]["pending_confirmation"] is True
    assert record["result"]["instructions_sent"] is not case.check_mode
    assert len(portal.outbox) == (0 if case.check_mode else 1)
    assert portal.request_count() <= case.budget, endpoints(portal)


@pytest.mark.parametrize("case", COMPLETE_CASES, ids=lambda case: case.name)
def test_budget_complete(budget_run, case):
    run = budget_run.run
    portal = budget_run.portals[case.name]
    record = run.host_record(case.name)
    expected_owner = portal.users["owner" if case.check_mode else "successor"]

    assert record["status"] == "changed", run.describe()
    assert record["result"]["pending_confirmation"] is False
    assert portal.owner_id == expected_owner.id
    assert portal.request_count() <= case.budget, endpoints(portal)


def test_budget_run_clean(budget_run):
    assert_no_traceback(budget_run.run)
    assert_no_secrets(budget_run.run, *host_secrets(budget_run.hosts))


# Waiting: each poll is one GET /api/2.0/settings, and nothing else.

WAIT_TIMEOUT = 2
POLL_INTERVAL = 1
# The owner confirms in the browser after this many polls.
POLLS_BEFORE_CONFIRMING = 2


def confirm_after_polls(portal, polls, stop):
    """Confirm in the browser once the module has polled `polls` times after sending."""
    while not stop.is_set():
        email = portal.last_email
        if email is not None and portal.request_count(SETTINGS_READ) >= 1 + polls:
            portal.browser_confirm(email.short_link)
            return
        time.sleep(0.01)


def polls_after_send(portal):
    """Return the endpoints requested after the POST that sent the instructions."""
    log = endpoints(portal)
    return log[log.index("POST /api/2.0/settings/owner") + 1:]


@pytest.fixture(scope="module")
def wait_run(collections_path, tmp_path_factory):
    """Run two waits at once: one the owner never confirms, one confirmed after two polls."""
    names = ("wait_timeout", "wait_confirmed")
    wait = {"wait": True, "wait_timeout": WAIT_TIMEOUT, "poll_interval": POLL_INTERVAL}
    with Simulator() as simulator:
        portals = {name: simulator.add_portal(name.replace("_", "-")) for name in names}
        hosts = {name: case_host(portals[name], Case(name, "successor", "email", BUDGET_SEND), **wait) for name in names}

        stop = threading.Event()
        watcher = threading.Thread(target=confirm_after_polls, args=(portals["wait_confirmed"], POLLS_BEFORE_CONFIRMING, stop))
        watcher.start()
        try:
            runner = runner_for(collections_path, tmp_path_factory.mktemp("wait"))
            run = runner.run_per_host(hosts, [TRANSFER_TASK])
        finally:
            stop.set()
            watcher.join()
        yield run, portals


def test_wait_timeout_polls(wait_run):
    run, portals = wait_run
    portal = portals["wait_timeout"]
    record = run.host_record("wait_timeout")
    polls = polls_after_send(portal)
    max_polls = WAIT_TIMEOUT // POLL_INTERVAL + 1

    assert record["status"] == "failed", run.describe()
    assert "Timed out" in record["result"]["msg"]
    assert set(polls) == {SETTINGS_READ}
    assert len(polls) <= max_polls
    assert portal.request_count() <= BUDGET_SEND + max_polls, endpoints(portal)


def test_wait_confirmed_polls(wait_run):
    run, portals = wait_run
    portal = portals["wait_confirmed"]
    record = run.host_record("wait_confirmed")
    polls = polls_after_send(portal)

    assert record["status"] == "changed", run.describe()
    assert record["result"]["owner"]["id"] == portal.users["successor"].id
    assert set(polls) == {SETTINGS_READ}
    assert len(polls) <= POLLS_BEFORE_CONFIRMING + 1
    assert portal.request_count() <= BUDGET_SEND + POLLS_BEFORE_CONFIRMING + 1, endpoints(portal)
