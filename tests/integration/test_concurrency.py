"""Races: runs at the same time, and the portal changing under a run.

Each test ends with the owner read back, through the info module in the
same playbook or a later one, and checks that the run's result agrees with it.
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness import PlaybookRunner, assert_no_secrets, assert_no_traceback

OWNER_MODULE = "onlyoffice.docspace.docspace_portal_owner"
INFO_MODULE = "onlyoffice.docspace.docspace_portal_owner_info"

CHECK_LINK = "POST /api/2.0/authentication/confirm"
APPLY = "PUT /api/2.0/settings/owner"

# How long a slow fault keeps a request on the server, which is the window
# in which the test changes the portal.
HOLD = 2


def transfer_tasks(**options):
    """Run the owner module (errors ignored), then read the owner back."""
    return [
        {"name": "Transfer", "ignore_errors": True, OWNER_MODULE: options},
        {"name": "Read the owner", INFO_MODULE: {}},
    ]


def second_runner(ansible, tmp_path):
    """A runner with its own scratch directory, so two runs can go at once."""
    return PlaybookRunner(ansible.ansible_playbook, ansible.collections_path, tmp_path / "second", ansible.callback_dir)


def wait_for(condition, limit=30):
    """Poll `condition` until it is true; fail after `limit` seconds."""
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "condition not met within %d s" % limit
        time.sleep(0.05)


@pytest.fixture
def env(docspace_portal):
    return {"DOCSPACE_BASE_URL": docspace_portal.base_url, "DOCSPACE_API_KEY": docspace_portal.users["owner"].api_key}


def test_two_runs_send_together(ansible, docspace_portal, env, tmp_path):
    successor = docspace_portal.users["successor"]
    runners = [ansible, second_runner(ansible, tmp_path)]
    start = threading.Barrier(len(runners))

    def run(runner):
        start.wait()
        return runner.run_tasks(transfer_tasks(owner_email=successor.email), env=env)

    with ThreadPoolExecutor(len(runners)) as pool:
        runs = list(pool.map(run, runners))

    # Both runs saw the old owner and sent, so two emails are expected.
    assert len(docspace_portal.outbox) == 2
    for done in runs:
        assert done.rc == 0, done.describe()
        result = done.result("Transfer")
        assert result["changed"] is True
        assert result["pending_confirmation"] is True
        assert result["instructions_sent_to"] == docspace_portal.users["owner"].email
        assert done.result("Read the owner")["owner"]["id"] == docspace_portal.users["owner"].id
        assert_no_traceback(done)


def test_two_runs_complete_together(ansible, docspace_portal, env, tmp_path):
    successor = docspace_portal.users["successor"]
    link = docspace_portal.shorten(docspace_portal.make_confirmation_link(successor.id), docspace_portal.base_url)
    runners = [ansible, second_runner(ansible, tmp_path)]
    start = threading.Barrier(len(runners))

    def run(runner):
        start.wait()
        tasks = transfer_tasks(owner_email=successor.email, confirmation="{{ link }}")
        return runner.run_tasks(tasks, env=env, extra_vars={"link": link})

    with ThreadPoolExecutor(len(runners)) as pool:
        runs = list(pool.map(run, runners))

    # Whichever run comes second finds the owner changed, by its first read, its
    # link check or its PUT being rejected, and reports no change.
    results = [done.result("Transfer") for done in runs]
    outcomes = [(done.task("Transfer")["status"], result.get("msg")) for done, result in zip(runs, results)]
    assert sorted(result["changed"] for result in results) == [False, True], outcomes
    assert docspace_portal.owner_id == successor.id
    for done, result in zip(runs, results):
        assert done.rc == 0, done.describe()
        assert done.task("Transfer")["status"] != "failed", outcomes
        assert result["owner"]["id"] == successor.id, outcomes
        assert done.result("Read the owner")["owner"]["id"] == successor.id
        assert_no_secrets(done, env["DOCSPACE_API_KEY"], link.rsplit("/", 1)[1])


def test_browser_confirm_while_waiting(ansible, docspace_portal, env):
    successor = docspace_portal.users["successor"]
    tasks = transfer_tasks(owner_email=successor.email, wait=True, poll_interval=1, wait_timeout=60)

    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(ansible.run_tasks, tasks, env=env)
        wait_for(lambda: docspace_portal.last_email is not None)
        confirmation = docspace_portal.browser_confirm(docspace_portal.last_email.short_link)
        done = future.result()

    assert confirmation.owner_changed is True
    assert done.rc == 0, done.describe()
    result = done.result("Transfer")
    assert result["changed"] is True
    assert result["pending_confirmation"] is False
    assert result["instructions_sent"] is True
    assert result["owner"]["id"] == successor.id
    assert done.result("Read the owner")["owner"]["id"] == successor.id
    assert len(docspace_portal.outbox) == 1


@pytest.mark.parametrize("moment", ["during_check", "after_check", "during_put"])
def test_browser_confirm_before_put(ansible, docspace_portal, env, moment):
    """The owner confirms in a browser after the module read the owner but before its PUT is applied."""
    successor = docspace_portal.users["successor"]
    link = docspace_portal.make_confirmation_link(successor.id)
    if moment == "during_check":
        # The server delays the link check before processing it, so the check runs after the browser used the link.
        docspace_portal.add_fault("slow", path="/api/2.0/authentication/confirm", method="POST", delay=HOLD)
        endpoint = CHECK_LINK
    elif moment == "after_check":
        # The link check is processed, then its response is held back.
        docspace_portal.add_fault("slow", path="/api/2.0/authentication/confirm", method="POST", delay=HOLD,
                                  after_processing=True)
        endpoint = CHECK_LINK
    else:
        # The PUT waits on the server before it is processed.
        docspace_portal.add_fault("slow", path="/api/2.0/settings/owner", method="PUT", delay=HOLD)
        endpoint = APPLY
    tasks = transfer_tasks(owner_email=successor.email, confirmation="{{ link }}")

    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(ansible.run_tasks, tasks, env=env, extra_vars={"link": link})
        wait_for(lambda: docspace_portal.request_count(endpoint) == 1)
        confirmation = docspace_portal.browser_confirm(link)
        done = future.result()

    assert confirmation.owner_changed is True
    assert done.rc == 0, done.describe()
    result = done.result("Transfer")
    assert done.task("Transfer")["status"] == "ok", result["msg"]
    assert result["changed"] is False
    assert result["confirmed_elsewhere"] is True
    assert "completed meanwhile" in result["msg"]
    assert result["owner"]["id"] == successor.id
    assert done.result("Read the owner")["owner"]["id"] == successor.id
    assert docspace_portal.request_count(APPLY) == (0 if moment == "during_check" else 1)


def test_new_owner_disabled_after_send(ansible, docspace_portal, env):
    successor = docspace_portal.users["successor"]
    sent = ansible.run_tasks(transfer_tasks(owner_email=successor.email), env=env)
    assert sent.rc == 0, sent.describe()
    assert sent.result("Transfer")["pending_confirmation"] is True

    docspace_portal.update_user(successor.id, status=2)
    link = docspace_portal.last_email.short_link
    done = ansible.run_tasks(transfer_tasks(owner_email=successor.email, confirmation="{{ link }}"), env=env,
                             extra_vars={"link": link})

    assert done.rc == 0, done.describe()
    assert done.task("Transfer")["status"] == "failed"
    assert "is disabled" in done.result("Transfer")["msg"]
    assert docspace_portal.request_count(APPLY) == 0
    assert done.result("Read the owner")["owner"]["id"] == docspace_portal.users["owner"].id


def test_new_owner_disabled_before_put(ansible, docspace_portal, env):
    """The new owner is disabled after the module checked them and the link, just before the PUT."""
    successor = docspace_portal.users["successor"]
    link = docspace_portal.make_confirmation_link(successor.id)
    docspace_portal.add_fault("slow", path="/api/2.0/authentication/confirm", method="POST", delay=HOLD,
                              after_processing=True)
    tasks = transfer_tasks(owner_email=successor.email, confirmation="{{ link }}")

    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(ansible.run_tasks, tasks, env=env, extra_vars={"link": link})
        wait_for(lambda: docspace_portal.request_count(CHECK_LINK) == 1)
        docspace_portal.update_user(successor.id, status=2)
        done = future.result()

    assert done.rc == 0, done.describe()
    assert done.task("Transfer")["status"] == "failed"
    message = done.result("Transfer")["msg"]
    assert "PUT %s/api/2.0/settings/owner" % docspace_portal.base_url in message
    assert "the owner is still Olivia Owner" in message
    assert docspace_portal.request_count(APPLY) == 1
    assert done.result("Read the owner")["owner"]["id"] == docspace_portal.users["owner"].id


def test_put_applied_after_timeout(ansible, docspace_portal, env):
    """DocSpace applies a PUT after the client gave up waiting; the read-backs after the timeout find it."""
    successor = docspace_portal.users["successor"]
    link = docspace_portal.make_confirmation_link(successor.id)
    docspace_portal.add_fault("slow", path="/api/2.0/settings/owner", method="PUT", delay=HOLD)
    options = {"owner_email": successor.email, "confirmation": "{{ link }}", "timeout": 1}
    tasks = [{"name": "Transfer", "ignore_errors": True, OWNER_MODULE: options}]

    first = ansible.run_tasks(tasks, env=env, extra_vars={"link": link})
    assert first.rc == 0, first.describe()
    assert first.task("Transfer")["status"] == "changed"
    assert "the response to PUT was lost" in first.result("Transfer")["msg"]
    assert first.result("Transfer")["owner"]["id"] == successor.id
    assert docspace_portal.owner_id == successor.id

    second = ansible.run_tasks(transfer_tasks(owner_email=successor.email, confirmation="{{ link }}"), env=env,
                               extra_vars={"link": link})
    assert second.rc == 0, second.describe()
    result = second.result("Transfer")
    assert result["changed"] is False
    assert "already owns the portal" in result["msg"]
    assert second.result("Read the owner")["owner"]["id"] == successor.id
    assert docspace_portal.request_count(APPLY) == 1
