"""Load: the handover playbook across 200 portals of one simulator, with throttling and transient failures.

Half of the portals get their confirmation link (as docspace_confirmations)
and must end transferred. The other half must end with the instructions
sent and the transfer pending. About 10% of all requests fail on purpose:
5% with 429 (Retry-After 0 or 1 s) and 5% with 503. Reads survive these by
retrying. The POST and the PUT are not retried on 503, so a few portals fail,
each with a message that names the request, the status and the next step.
No portal may be skipped or left without an outcome.

The fault generator of each portal is seeded from its alias, and each
portal's requests come one after another, so the same portals fail on every
run. Run with `-s` to see the figures.
"""

import resource
import statistics
import time
from collections import Counter
from pathlib import Path

import pytest

from harness import assert_no_secrets, assert_no_traceback

PLAYBOOK = Path(__file__).resolve().parents[2] / "playbooks" / "infrastructure_handover.yml"

PORTALS = 200
FORKS = 20

# Probabilities per request. The 503 fault applies only to the requests that
# the 429 fault let through, hence 0.05 / 0.95 for 5% of all requests.
THROTTLE_PROBABILITY = 0.05
UNAVAILABLE_PROBABILITY = 0.05 / 0.95

SUMMARY_TASK = "Summarise the handover"
OUTCOME_TRANSFERRED = "Outcome: ownership transferred"
OUTCOME_PENDING = "Outcome: instructions sent, pending"

SEND = "POST /api/2.0/settings/owner"
APPLY = "PUT /api/2.0/settings/owner"


def inventory_for(portals):
    hosts = {alias: {"docspace_base_url": portal.base_url} for alias, portal in portals.items()}
    group_vars = {
        "ansible_connection": "local",
        # The keys come in as extra vars, so the inventory file contains no secret.
        "docspace_api_key": "{{ load_api_keys[inventory_hostname] }}",
        "docspace_new_owner_email": "successor@{{ inventory_hostname }}.docspace.test",
    }
    return {"docspace_portals": {"hosts": hosts, "vars": group_vars}}


def outcome_of(records):
    """Return "failed", "transferred", "pending" or "no outcome" for one portal's task results."""
    if any(record["status"] in ("failed", "unreachable") for record in records):
        return "failed"
    summaries = [record for record in records if record["task"] == SUMMARY_TASK and record["status"] == "ok"]
    if not summaries:
        return "no outcome"
    lines = summaries[0]["result"]["msg"]
    if OUTCOME_TRANSFERRED in lines:
        return "transferred"
    if OUTCOME_PENDING in lines:
        return "pending"
    return "unexpected summary: %s" % lines


@pytest.mark.slow
def test_handover_load(ansible, docspace_simulator):
    portals, links, keys = {}, {}, {}
    for number in range(1, PORTALS + 1):
        alias = "p%03d" % number
        portal = docspace_simulator.add_portal(alias)
        portal.add_fault("status", status=429, retry_after=number % 2, probability=THROTTLE_PROBABILITY)
        portal.add_fault("status", status=503, retry_after=0, probability=UNAVAILABLE_PROBABILITY)
        portals[alias] = portal
        keys[alias] = portal.users["owner"].api_key
        if number % 2 == 0:
            link = portal.make_confirmation_link(portal.users["successor"].id)
            links[alias] = portal.shorten(link, portal.base_url)

    started = time.monotonic()
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    run = ansible.run(PLAYBOOK, inventory=inventory_for(portals), forks=FORKS, env={"ANSIBLE_PIPELINING": "1"},
                      extra_vars={"load_api_keys": keys, "docspace_confirmations": links, "docspace_send_instructions": True})
    wall = time.monotonic() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)

    outcome = {alias: outcome_of([record for record in run.records if record["host"] == alias]) for alias in portals}
    outcomes = Counter(outcome.values())
    failures = {alias: next(record for record in run.records if record["host"] == alias and record["status"] == "failed")
                for alias, result in outcome.items() if result == "failed"}

    requests = [portal.request_count() for portal in portals.values()]
    faults = Counter(record.fault for portal in portals.values() for record in portal.requests if record.fault)
    print("\nhandover of %d portals with --forks %d: %.1f s wall, %.1f s CPU in ansible-playbook and its modules"
          % (PORTALS, FORKS, wall, cpu))
    print("requests per portal: mean %.1f, max %d, total %d" % (statistics.mean(requests), max(requests), sum(requests)))
    print("injected faults: %d of %d requests (%s)" % (sum(faults.values()), sum(requests), dict(faults)))
    print("outcomes: %s" % dict(outcomes))
    for alias, record in sorted(failures.items()):
        print("  %s failed at %r: %s" % (alias, record["task"], record["result"].get("msg")))

    assert_no_traceback(run)
    assert_no_secrets(run, *keys.values())
    assert_no_secrets(run, *(link.rsplit("/", 1)[1] for link in links.values()))
    assert len(outcome) == PORTALS
    assert outcomes["no outcome"] == 0
    assert outcomes["failed"] <= PORTALS // 10
    assert run.rc == (2 if failures else 0), run.describe()

    for alias, portal in portals.items():
        users = portal.users
        if alias in failures:
            check_failed_portal(alias, portal, failures[alias])
        elif alias in links:
            assert outcome[alias] == "transferred", alias
            assert portal.owner_id == users["successor"].id, alias
            assert portal.outbox == [], alias
        else:
            assert outcome[alias] == "pending", alias
            assert portal.owner_id == users["owner"].id, alias
            assert len(portal.outbox) == 1, alias


def check_failed_portal(alias, portal, record):
    """Check that a failed portal's message names the request and the status, and matches the portal's state."""
    message = record["result"].get("msg", "")
    assert record["task"] == "Transfer ownership to the new owner", (alias, message)
    assert "HTTP 503" in message, (alias, message)
    assert portal.owner_id == portal.users["owner"].id, alias
    if message.startswith("POST "):
        assert "may have sent the email" in message, (alias, message)
        assert portal.request_count(SEND) == 1, alias
        assert portal.outbox == [], alias
    else:
        assert message.startswith("PUT "), (alias, message)
        assert "still" in message, (alias, message)
        assert portal.request_count(APPLY) == 1, alias
