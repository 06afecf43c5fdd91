"""Listeners, mounting, TLS, rate limiting, the control API, the CLI and load."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import aiohttp
import pytest
import requests
from simulator_test_helpers import TIMEOUT, get, send_instructions

from docspace_simulator import Simulator

TESTS_DIR = Path(__file__).resolve().parents[2]
SETTINGS = "/api/2.0/settings"


def ipv6_loopback_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


# Listeners and TLS


def test_https_with_ca(docspace_simulator, docspace_portal):
    response = requests.get(docspace_portal.https_base_url + SETTINGS, verify=docspace_simulator.ca_path, timeout=TIMEOUT)

    assert docspace_simulator.https_url.startswith("https://127.0.0.1:")
    assert response.status_code == 200
    assert Path(docspace_simulator.ca_path).read_text().startswith("-----BEGIN CERTIFICATE-----")


def test_https_localhost_name_valid(docspace_simulator):
    port = docspace_simulator.https_url.rsplit(":", 1)[1]
    response = requests.get(f"https://localhost:{port}/acme{SETTINGS}", verify=docspace_simulator.ca_path, timeout=TIMEOUT)

    assert response.status_code == 200


def test_https_without_ca_fails(docspace_portal):
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(docspace_portal.https_base_url + SETTINGS, timeout=TIMEOUT)


def test_https_links_carry_https_base(docspace_simulator, docspace_portal):
    owner = docspace_portal.users["owner"]
    requests.post(
        docspace_portal.https_base_url + "/api/2.0/settings/owner",
        json={"ownerId": docspace_portal.users["successor"].id},
        headers={"Authorization": f"Bearer {owner.api_key}"},
        verify=docspace_simulator.ca_path,
        timeout=TIMEOUT,
    )

    assert docspace_portal.last_email.link.startswith(docspace_portal.https_base_url + "/confirm/")


def test_ca_removed_on_stop():
    simulator = Simulator(https=True).start()
    ca_path = simulator.ca_path
    simulator.stop()

    assert not os.path.exists(ca_path)


@pytest.mark.skipif(not ipv6_loopback_available(), reason="this machine has no IPv6 loopback")
def test_ipv6_listener():
    with Simulator(host="::1", https=True) as simulator:
        portal = simulator.add_portal("six")
        response = requests.get(portal.base_url + SETTINGS, timeout=TIMEOUT)
        secure = requests.get(portal.https_base_url + SETTINGS, verify=simulator.ca_path, timeout=TIMEOUT)

    assert simulator.http_url.startswith("http://[::1]:")
    assert response.status_code == 200
    assert secure.status_code == 200


def test_port_in_use_fails_at_start(docspace_simulator):
    port = int(docspace_simulator.http_url.rsplit(":", 1)[1])

    with pytest.raises(OSError):
        Simulator(port=port).start()


def test_stop_twice_and_context_manager():
    with Simulator() as simulator:
        portal = simulator.add_portal("ctx")
        assert get(portal, SETTINGS).status_code == 200
    simulator.stop()

    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(simulator.http_url + "/ctx" + SETTINGS, timeout=TIMEOUT)


def test_start_logs_and_request_debug(caplog):
    caplog.set_level(logging.DEBUG, logger="docspace_simulator")
    with Simulator() as simulator:
        portal = simulator.add_portal("logged")
        get(portal, SETTINGS, portal.users["owner"])
    messages = [record.getMessage() for record in caplog.records]
    api_key = portal.users["owner"].api_key

    assert any("listening on" in message for message in messages)
    assert any("stopped" in message for message in messages)
    assert any("GET /logged/api/2.0/settings on portal logged -> 200" in message for message in messages)
    assert not any(api_key in message for message in messages)


# Mounting


def test_root_and_longest_prefix(docspace_simulator):
    root = docspace_simulator.add_portal("rootportal", prefix="")
    deep = docspace_simulator.add_portal("deep", prefix="/acme/eu")
    acme = docspace_simulator.portal("acme")
    url = docspace_simulator.http_url

    def alias_at(prefix):
        return requests.get(url + prefix + SETTINGS, timeout=TIMEOUT).json()["response"]["tenantAlias"]

    assert root.base_url == url
    assert deep.base_url == url + "/acme/eu"
    assert alias_at("") == "rootportal"
    assert alias_at("/acme") == "acme"
    assert alias_at("/acme/eu") == "deep"
    assert acme.request_count() == 1


def test_short_links_under_prefix(docspace_simulator):
    root = docspace_simulator.add_portal("rootportal", prefix="")
    send_instructions(root, root.users["owner"], root.users["successor"].id)
    code = root.last_email.short_link.rsplit("/", 1)[1]

    assert root.last_email.short_link == f"{docspace_simulator.http_url}/s/{code}"
    assert requests.get(root.last_email.short_link, allow_redirects=False, timeout=TIMEOUT).status_code == 302


@pytest.mark.parametrize(
    "alias, prefix, message",
    [
        ("acme", None, "already exists"),
        ("second", "/acme", "already used"),
        ("Bad_Alias", None, "invalid portal alias"),
        ("control", "/_simulator", "reserved"),
    ],
)
def test_add_portal_rejected(docspace_simulator, alias, prefix, message):
    with pytest.raises(ValueError, match=message):
        docspace_simulator.add_portal(alias, prefix=prefix)


def test_second_root_portal_rejected(docspace_simulator):
    docspace_simulator.add_portal("one", prefix="")

    with pytest.raises(ValueError, match="the root"):
        docspace_simulator.add_portal("two", prefix="/")


def test_invalid_version_rejected(docspace_simulator):
    with pytest.raises(ValueError, match="invalid DocSpace version"):
        docspace_simulator.add_portal("odd", version="latest")


def test_base_url_before_start_raises():
    portal = Simulator().add_portal("early")

    with pytest.raises(RuntimeError, match="no address yet"):
        _unused = portal.base_url


def test_reset_restores_seed_and_drops_added(docspace_simulator):
    acme = docspace_simulator.portal("acme")
    docspace_simulator.add_portal("extra")
    acme.set_owner(acme.users["admin"].id)
    acme.add_user("new@acme.docspace.test")
    acme.add_fault("status", SETTINGS, status=500)
    get(acme, "/api/2.0/portal")
    acme.advance_clock(3600)

    docspace_simulator.reset()

    assert set(docspace_simulator.portals) == {"acme"}
    assert acme.owner_id == acme.users["owner"].id
    assert "new" not in acme.users
    assert acme.faults == []
    assert acme.request_count() == 0
    assert abs((acme.now() - datetime.now(timezone.utc)).total_seconds()) < 5


def test_session_fixture_shared(docspace_simulator_session):
    portal = docspace_simulator_session.portal("acme")
    docspace_simulator_session.reset()

    assert get(portal, SETTINGS).status_code == 200
    assert portal.request_count() == 1
    docspace_simulator_session.reset()


# Rate limiting


def test_rate_limit_off_by_default(docspace_portal):
    statuses = {get(docspace_portal, SETTINGS).status_code for _unused in range(30)}

    assert statuses == {200}


def test_rate_limit_429_per_user(docspace_simulator):
    portal = docspace_simulator.add_portal("limited", rate_limit=5)
    owner, admin = portal.users["owner"], portal.users["admin"]
    statuses = [get(portal, SETTINGS, owner).status_code for _unused in range(5)]
    rejected = get(portal, SETTINGS, owner)

    assert statuses == [200] * 5
    assert rejected.status_code == 429
    assert rejected.content == b""
    assert 1 <= int(rejected.headers["Retry-After"]) <= 60
    assert rejected.headers["X-RateLimit-Limit"] == "5"
    assert rejected.headers["X-RateLimit-Remaining"] == "0"
    assert "X-RateLimit-Reset" in rejected.headers
    assert get(portal, SETTINGS, admin).status_code == 200

    portal.advance_clock(61)
    assert get(portal, SETTINGS, owner).status_code == 200


def test_rate_limit_headers_on_success(docspace_simulator):
    portal = docspace_simulator.add_portal("limited", rate_limit=True)
    response = get(portal, SETTINGS, portal.users["owner"])

    assert response.headers["X-RateLimit-Limit"] == "1500"
    assert response.headers["X-RateLimit-Remaining"] == "1499"


def test_rate_limit_daily_writes(docspace_simulator):
    portal = docspace_simulator.add_portal("limited", rate_limit={"per_minute": 100, "writes_per_day": 2})
    owner, successor = portal.users["owner"], portal.users["successor"]
    statuses = [send_instructions(portal, owner, successor.id).status_code for _unused in range(3)]

    assert statuses == [200, 200, 429]
    assert len(portal.outbox) == 2


# Control API


def control(simulator, method, path, body=None):
    response = requests.request(method, simulator.http_url + "/_simulator" + path, json=body, timeout=TIMEOUT)
    return response.status_code, response.json()


def test_control_state_manifest(docspace_simulator):
    status, state = control(docspace_simulator, "GET", "/state")
    acme = state["portals"]["acme"]

    assert status == 200
    assert state["http_url"] == docspace_simulator.http_url
    assert state["https_url"] == docspace_simulator.https_url
    assert state["ca_path"] == docspace_simulator.ca_path
    assert acme["base_url"] == docspace_simulator.http_url + "/acme"
    assert acme["https_base_url"] == docspace_simulator.https_url + "/acme"
    assert acme["version"] == "3.7.2"
    assert set(acme["users"]) >= {"owner", "admin", "room_admin", "user", "successor", "guest", "disabled", "invited", "unactivated", "unicode"}
    assert set(acme["users"]["owner"]) >= {"id", "email", "display_name", "user_name", "api_key", "password"}


def test_control_requests_not_counted(docspace_simulator):
    control(docspace_simulator, "GET", "/state")
    control(docspace_simulator, "GET", "/portals/acme/requests")

    assert docspace_simulator.portal("acme").request_count() == 0


def test_control_create_portal(docspace_simulator):
    status, created = control(
        docspace_simulator,
        "POST",
        "/portals",
        {"alias": "beta", "version": "3.2.1", "link_base": "http://beta.invalid", "prefix": "/b"},
    )

    assert status == 201
    assert created["base_url"] == docspace_simulator.http_url + "/b"
    assert created["version"] == "3.2.1"
    assert requests.get(created["base_url"] + SETTINGS, timeout=TIMEOUT).status_code == 200


@pytest.mark.parametrize(
    "body, message",
    [({}, "missing portal option: alias"), ({"alias": "acme"}, "already exists"), ({"alias": "x", "colour": 1}, "unknown portal options")],
)
def test_control_create_portal_rejected(docspace_simulator, body, message):
    status, reply = control(docspace_simulator, "POST", "/portals", body)

    assert status == 400
    assert message in reply["error"]


def test_control_outbox_and_browser_confirm(docspace_simulator, docspace_portal):
    send_instructions(docspace_portal, docspace_portal.users["owner"], docspace_portal.users["successor"].id)
    status, outbox = control(docspace_simulator, "GET", "/portals/acme/outbox")

    assert status == 200
    assert len(outbox) == 1
    assert set(outbox[0]) >= {"to", "subject", "body", "short_link", "link", "sent_at"}

    status, outcome = control(docspace_simulator, "POST", "/portals/acme/browser-confirm", {"link": outbox[0]["short_link"]})
    assert status == 200
    assert outcome["result"] == "Ok"
    assert outcome["owner_changed"] is True

    status, owner = control(docspace_simulator, "GET", "/portals/acme/owner")
    assert owner["id"] == docspace_portal.users["successor"].id

    assert control(docspace_simulator, "DELETE", "/portals/acme/outbox") == (200, [])
    assert docspace_portal.outbox == []


def test_control_requests_log(docspace_simulator, docspace_portal):
    get(docspace_portal, SETTINGS, docspace_portal.users["owner"])
    status, log = control(docspace_simulator, "GET", "/portals/acme/requests")

    assert status == 200
    assert log["total"] == 1
    assert log["counts"] == {"GET /api/2.0/settings": 1}
    assert log["log"][0]["has_authorization"] is True
    assert docspace_portal.users["owner"].api_key not in json.dumps(log)

    control(docspace_simulator, "DELETE", "/portals/acme/requests")
    assert docspace_portal.request_count() == 0


def test_control_faults(docspace_simulator, docspace_portal):
    status, fault = control(
        docspace_simulator, "POST", "/portals/acme/faults", {"kind": "status", "path": SETTINGS, "status": 429, "retry_after": 3, "times": 2}
    )

    assert status == 201
    assert control(docspace_simulator, "GET", "/portals/acme/faults")[1][0]["id"] == fault["id"]
    assert get(docspace_portal, SETTINGS).status_code == 429

    assert control(docspace_simulator, "DELETE", f"/portals/acme/faults/{fault['id']}")[0] == 200
    assert get(docspace_portal, SETTINGS).status_code == 200

    control(docspace_simulator, "POST", "/portals/acme/faults", {"kind": "html", "path": SETTINGS, "probability": 1.0})
    assert get(docspace_portal, SETTINGS).status_code == 502
    assert get(docspace_portal, SETTINGS).status_code == 502
    assert control(docspace_simulator, "DELETE", "/portals/acme/faults") == (200, [])
    assert get(docspace_portal, SETTINGS).status_code == 200


def test_control_fault_rejected(docspace_simulator):
    status, reply = control(docspace_simulator, "POST", "/portals/acme/faults", {"kind": "nope"})

    assert status == 400
    assert "invalid fault kind" in reply["error"]


def test_control_clock(docspace_simulator, docspace_portal):
    before = docspace_portal.now()
    status, reply = control(docspace_simulator, "POST", "/portals/acme/clock", {"advance": 86400})

    assert status == 200
    assert (docspace_portal.now() - before).total_seconds() >= 86400
    assert control(docspace_simulator, "POST", "/portals/acme/clock", {"advance": "soon"})[0] == 400


def test_control_users(docspace_simulator, docspace_portal):
    status, user = control(
        docspace_simulator,
        "POST",
        "/portals/acme/users",
        {"email": "carol@acme.docspace.test", "first_name": "Carol", "last_name": "Chen", "role": "carol"},
    )
    owner = docspace_portal.users["owner"]

    assert status == 201
    assert user["api_key"].startswith("sk-")
    assert get(docspace_portal, "/api/2.0/people/email", owner, params={"email": "carol@acme.docspace.test"}).status_code == 200

    status, changed = control(docspace_simulator, "PATCH", f"/portals/acme/users/{user['id']}", {"status": 2})
    assert status == 200
    assert changed["status"] == 2
    assert docspace_portal.users["carol"].status == 2

    assert control(docspace_simulator, "PATCH", f"/portals/acme/users/{user['id']}", {"shoe_size": 9})[0] == 400
    assert control(docspace_simulator, "PATCH", "/portals/acme/users/00000000-0000-0000-0000-000000000001", {"status": 1})[0] == 404
    assert len(control(docspace_simulator, "GET", "/portals/acme/users")[1]) == 11


def test_control_set_owner(docspace_simulator, docspace_portal):
    admin = docspace_portal.users["admin"]
    status, owner = control(docspace_simulator, "PUT", "/portals/acme/owner", {"id": admin.id})

    assert status == 200
    assert owner["id"] == admin.id
    assert docspace_portal.owner_id == admin.id


def test_control_reset(docspace_simulator, docspace_portal):
    docspace_portal.set_owner(docspace_portal.users["admin"].id)
    status, _unused = control(docspace_simulator, "POST", "/portals/acme/reset")

    assert status == 200
    assert docspace_portal.owner_id == docspace_portal.users["owner"].id


@pytest.mark.parametrize(
    "method, path, expected",
    [
        ("GET", "/portals/nope/outbox", 404),
        ("GET", "/nothing", 404),
        ("PATCH", "/state", 405),
        ("POST", "/portals/acme/clock", 400),
    ],
)
def test_control_errors(docspace_simulator, method, path, expected):
    status, reply = control(docspace_simulator, method, path)

    assert status == expected
    assert reply["error"]


def test_control_invalid_json_400(docspace_simulator):
    response = requests.post(docspace_simulator.http_url + "/_simulator/portals", data=b"{", timeout=TIMEOUT)

    assert response.status_code == 400


def test_control_on_https_listener(docspace_simulator):
    response = requests.get(docspace_simulator.https_url + "/_simulator/state", verify=docspace_simulator.ca_path, timeout=TIMEOUT)

    assert response.status_code == 200


# CLI


def run_cli(tmp_path, *arguments):
    manifest = tmp_path / "manifest.json"
    environment = {**os.environ, "PYTHONPATH": str(TESTS_DIR)}
    process = subprocess.Popen(
        [sys.executable, "-m", "docspace_simulator", "--port", "0", "--manifest", str(manifest), *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment,
        text=True,
    )
    deadline = time.monotonic() + 20
    while not manifest.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"the CLI did not write its manifest: {process.communicate()}")
        time.sleep(0.05)
    return process, json.loads(manifest.read_text())


def stop_cli(process, signum=signal.SIGTERM):
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=20)
    return process.returncode, stdout, stderr


def test_cli_default_demo_at_root(tmp_path):
    process, manifest = run_cli(tmp_path)
    try:
        demo = manifest["portals"]["demo"]
        owner = demo["users"]["owner"]
        response = requests.get(demo["base_url"] + "/api/2.0/people/@self", headers={"Authorization": f"Bearer {owner['api_key']}"}, timeout=TIMEOUT)
    finally:
        returncode, stdout, _unused = stop_cli(process)

    assert demo["base_url"] == manifest["http_url"]
    assert manifest["https_url"] is None
    assert response.json()["response"]["email"] == owner["email"]
    assert returncode == 0
    assert f"listening on {manifest['http_url']}" in stdout
    assert "stopped" in stdout


def test_cli_portals_https_and_sigint(tmp_path):
    process, manifest = run_cli(tmp_path, "--https-port", "0", "--portal", "acme", "--portal", "beta=/b", "--portals", "3", "--docspace-version", "3.2.1")
    try:
        portals = manifest["portals"]
        response = requests.get(portals["beta"]["https_base_url"] + SETTINGS, verify=manifest["ca_path"], timeout=TIMEOUT)
    finally:
        returncode, stdout, _unused = stop_cli(process, signal.SIGINT)

    assert set(portals) == {"acme", "beta", "portal001", "portal002", "portal003"}
    assert portals["acme"]["base_url"] == manifest["http_url"] + "/acme"
    assert portals["beta"]["base_url"] == manifest["http_url"] + "/b"
    assert portals["portal002"]["version"] == "3.2.1"
    assert response.status_code == 200
    assert returncode == 0


def test_cli_invalid_portal_exit_2(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "docspace_simulator", "--port", "0", "--portal", "Not Valid"],
        env={**os.environ, "PYTHONPATH": str(TESTS_DIR)},
        capture_output=True,
        text=True,
        check=False,
        timeout=20,
    )

    assert result.returncode == 2
    assert "invalid portal alias" in result.stderr


# Load


def test_many_portals_concurrent_requests():
    with Simulator() as simulator:
        portals = [simulator.add_portal(f"load{number:03d}") for number in range(200)]

        async def hammer():
            connector = aiohttp.TCPConnector(limit=300)
            async with aiohttp.ClientSession(connector=connector) as session:

                async def one(index):
                    portal = portals[index % len(portals)]
                    headers = {"Authorization": f"Bearer {portal.users['owner'].api_key}"}
                    async with session.get(portal.base_url + "/api/2.0/people/@self", headers=headers) as response:
                        await response.read()
                        return response.status

                return await asyncio.gather(*(one(index) for index in range(600)))

        started = time.monotonic()
        statuses = asyncio.run(hammer())
        elapsed = time.monotonic() - started

    assert statuses.count(200) == 600
    assert sum(portal.request_count() for portal in portals) == 600
    assert elapsed < 20


def test_short_link_code_not_logged(caplog, docspace_portal):
    send_instructions(docspace_portal, docspace_portal.users["owner"], docspace_portal.users["successor"].id)
    short_link = docspace_portal.last_email.short_link
    caplog.set_level(logging.DEBUG, logger="docspace_simulator")
    requests.get(short_link, allow_redirects=False, timeout=TIMEOUT)
    messages = [record.getMessage() for record in caplog.records]

    assert any("GET /acme/s/{code} on portal acme -> 302" in message for message in messages)
    assert not any(short_link.rsplit("/", 1)[1] in message for message in messages)
