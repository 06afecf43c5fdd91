"""Count the requests that docspace_portal_owner makes while it waits for the owner to confirm.

Two ways. The simulated clock runs the module's own flow (OwnerTransfer and
DocSpaceClient from the installed collection) in this process against the
simulator over HTTP, with sleep() and monotonic() replaced by a clock that
jumps instead of waiting. The simulated portal's clock jumps with it, so its
rate limiter uses the same time as the module. A ten-minute wait then takes
milliseconds. The shortened run goes through ansible-playbook in real time,
with a short wait_timeout, and checks that a real poll costs what the simulated
one does.
"""

import sys

from runner import PlaybookFailed

# The module's defaults.
POLL_INTERVAL = 10
TEN_MINUTES = 600

# The shortened real run.
SHORT_WAIT_TIMEOUT = 30

SETTINGS_READ = "GET /api/2.0/settings"


class SimulatedClock:
    """A monotonic() and sleep() pair for the module's flow. Sleeping moves this clock and the portal's clock at once."""

    def __init__(self, portal):
        self.portal = portal
        self.now = 0.0
        self.sleeps = []
        self.on_sleep = None

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds
        self.portal.advance_clock(seconds)
        if self.on_sleep is not None:
            self.on_sleep(self)


def import_owner_flow(collections_path):
    """Import the collection's client and flow from the installed copy under `collections_path`."""
    if str(collections_path) not in sys.path:
        sys.path.insert(0, str(collections_path))
    from ansible_collections.onlyoffice.docspace.plugins.module_utils import docspace_api, docspace_owner

    return docspace_api, docspace_owner


def simulated_wait(collections_path, portal, wait_timeout=TEN_MINUTES, poll_interval=POLL_INTERVAL, on_sleep=None):
    """Send the instructions and wait `wait_timeout` simulated seconds for a confirmation that never comes.

    Returns the counts for the report. `on_sleep` is called after each sleep
    with the clock, to inject faults at a given time.
    """
    docspace_api, docspace_owner = import_owner_flow(collections_path)
    clock = SimulatedClock(portal)
    clock.on_sleep = on_sleep
    logged = []
    client = docspace_api.DocSpaceClient(portal.base_url, portal.users["owner"].api_key, log=logged.append, sleep=clock.sleep)
    params = {
        "owner_email": portal.users["successor"].email,
        "owner_id": None,
        "confirmation": None,
        "send_instructions": True,
        "wait": True,
        "wait_timeout": wait_timeout,
        "poll_interval": poll_interval,
    }
    flow = docspace_owner.OwnerTransfer(client, params, sleep=clock.sleep, monotonic=clock.monotonic)
    try:
        flow.run()
        outcome = "confirmed"
    except docspace_api.DocSpaceError as exc:
        outcome = "timed out" if exc.msg.startswith("Timed out") else "failed: %s" % exc.msg

    records = portal.requests
    sent_at = next(index for index, record in enumerate(records) if record.method == "POST")
    polls = [record for record in records[sent_at + 1:] if record.endpoint == SETTINGS_READ]
    throttled = [record for record in records if record.status == 429]
    return {
        "wait_timeout_s": wait_timeout,
        "poll_interval_s": poll_interval,
        "outcome": outcome,
        "simulated_s": clock.now,
        "requests": len(records),
        "requests_before_waiting": sent_at + 1,
        "poll_requests": len(polls),
        "http_429": len(throttled),
        "longest_sleep_s": max(clock.sleeps) if clock.sleeps else 0,
        "retries_logged": len(logged),
    }


def burst_of_429(portal, start_after_s, count, retry_after):
    """Return an on_sleep hook that makes the next `count` reads of the settings return 429 once the clock passes `start_after_s`."""
    state = {"added": False}

    def hook(clock):
        if not state["added"] and clock.now >= start_after_s:
            portal.add_fault("status", path="/api/2.0/settings", method="GET", status=429, retry_after=retry_after,
                             body="empty", times=count)
            state["added"] = True

    return hook


def shortened_real_wait(runner, portal, wait_timeout=SHORT_WAIT_TIMEOUT, poll_interval=POLL_INTERVAL):
    """Wait `wait_timeout` real seconds through ansible-playbook, and return the polls counted and the extrapolation to ten minutes."""
    task = {
        "name": "Send the instructions and wait",
        "onlyoffice.docspace.docspace_portal_owner": {
            "base_url": "{{ lookup('ansible.builtin.env', 'BENCH_BASE_URL') }}",
            "api_key": "{{ lookup('ansible.builtin.env', 'BENCH_API_KEY') }}",
            "owner_email": portal.users["successor"].email,
            "wait": True,
            "wait_timeout": wait_timeout,
            "poll_interval": poll_interval,
        },
        "register": "waited",
        "ignore_errors": True,
    }
    check = {"name": "Check that the wait timed out", "ansible.builtin.assert": {"that": ["waited is failed", "'Timed out' in waited.msg"]}}
    plays = [{"name": "Shortened wait", "hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": [task, check]}]
    env = {"BENCH_BASE_URL": portal.base_url, "BENCH_API_KEY": portal.users["owner"].api_key}
    try:
        measurement = runner.run_playbook("shortened-wait", plays, env=env)
    except PlaybookFailed as exc:
        raise PlaybookFailed("the shortened wait did not time out as expected: %s" % exc)

    records = portal.requests
    sent_at = next(index for index, record in enumerate(records) if record.method == "POST")
    polls = [record for record in records[sent_at + 1:] if record.endpoint == SETTINGS_READ]
    return {
        "wait_timeout_s": wait_timeout,
        "poll_interval_s": poll_interval,
        "wall_s": measurement.wall_seconds,
        "requests": len(records),
        "poll_requests": len(polls),
        # A poll at the start and one after each interval. This is an extrapolation, not a measurement.
        "extrapolated_polls_10_min": TEN_MINUTES // poll_interval + 1,
        "extrapolated_requests_10_min": sent_at + 1 + TEN_MINUTES // poll_interval + 1,
    }


def measure_waiting(collections_path, simulator, runner, rate_limit_per_minute=5):
    """Run the wait scenarios on fresh portals of `simulator` and return a dict for the report."""
    scenarios = {}

    portal = simulator.add_portal("wait-plain")
    scenarios["10 min, no throttling"] = simulated_wait(collections_path, portal)

    portal = simulator.add_portal("wait-rate-limited", rate_limit=rate_limit_per_minute)
    scenarios["10 min, rate limit %d requests/min" % rate_limit_per_minute] = simulated_wait(collections_path, portal)

    portal = simulator.add_portal("wait-burst")
    hook = burst_of_429(portal, start_after_s=60, count=6, retry_after=20)
    scenarios["10 min, 6 x 429 (Retry-After 20 s) after 1 min"] = simulated_wait(collections_path, portal, on_sleep=hook)

    portal = simulator.add_portal("wait-real")
    shortened = shortened_real_wait(runner, portal)
    return {"simulated": scenarios, "shortened_real": shortened}


def format_waiting(report):
    """Return the wait measurements as Markdown."""
    lines = [
        "Simulated clock (the collection's own flow in-process, poll_interval %d s, the owner never confirms):" % POLL_INTERVAL,
        "",
        "| scenario | outcome | requests in all | before waiting | polls (GET settings) | HTTP 429 | longest sleep |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, result in report["simulated"].items():
        lines.append("| %s | %s after %.0f s | %d | %d | %d | %d | %.0f s |" % (
            name, result["outcome"], result["simulated_s"], result["requests"], result["requests_before_waiting"],
            result["poll_requests"], result["http_429"], result["longest_sleep_s"]))
    real = report["shortened_real"]
    lines += [
        "",
        "Shortened real run through ansible-playbook: wait_timeout %d s, poll_interval %d s, %.1f s wall: %d requests,"
        " %d of them polls. Extrapolated to a 10-minute wait (an extrapolation, not a measurement): %d polls, %d requests."
        % (real["wait_timeout_s"], real["poll_interval_s"], real["wall_s"], real["requests"], real["poll_requests"],
           real["extrapolated_polls_10_min"], real["extrapolated_requests_10_min"]),
    ]
    return "\n".join(lines)
