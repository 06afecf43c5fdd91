"""Connection options through ansible-playbook: TLS, IPv6 and plain http.

One playbook run covers every case. The simulator serves HTTPS with a
certificate from its own test CA, which no system trust store contains.
"""

import socket
from contextlib import ExitStack
from types import SimpleNamespace

import pytest
from docspace_simulator import Simulator
from harness import assert_no_secrets, assert_no_traceback, runner_for

OWNER_MODULE = "onlyoffice.docspace.docspace_portal_owner"
INFO_MODULE = "onlyoffice.docspace.docspace_portal_owner_info"

# No DNS name under .invalid resolves, so this portal cannot be reached.
UNREACHABLE_HTTP_URL = "http://docspace.invalid/acme"

TLS_FAILURE = "TLS certificate verification or handshake failed"

# case: (listener, module options beyond base_url and api_key, environment of the task)
CASES = {
    "https-ca-path": ("https", {"ca_path": "{{ ca_path }}"}, {}),
    "https-no-ca-path": ("https", {}, {}),
    "https-no-validation": ("https", {"validate_certs": False}, {}),
    # The test CA in the environment must not replace the certificate checks.
    "https-requests-ca-bundle": ("https", {}, {"REQUESTS_CA_BUNDLE": "{{ ca_path }}"}),
    "https-curl-ca-bundle": ("https", {}, {"CURL_CA_BUNDLE": "{{ ca_path }}"}),
    "https-ca-path-missing": ("https", {"ca_path": "{{ ca_path }}.missing"}, {}),
    "https-ca-path-not-pem": ("https", {"ca_path": "{{ not_pem_path }}"}, {}),
    "http-loopback": ("http", {}, {}),
    "http-unreachable": ("unreachable", {}, {}),
    "http-ipv6": ("ipv6", {}, {}),
}
SUCCEEDING = ["https-ca-path", "https-no-validation", "http-loopback"]
TLS_FAILING = ["https-no-ca-path", "https-requests-ca-bundle", "https-curl-ca-bundle"]


def ipv6_simulator():
    """Return a simulator listening on ::1, or None where this host has no IPv6 loopback."""
    try:
        probe = socket.create_server(("::1", 0), family=socket.AF_INET6)
    except OSError:
        return None
    probe.close()
    return Simulator(host="::1")


@pytest.fixture(scope="module")
def connection_batch(collections_path, tmp_path_factory):
    ansible = runner_for(collections_path, tmp_path_factory.mktemp("connection-batch"))
    with ExitStack() as stack:
        simulator = stack.enter_context(Simulator(https=True))
        portal = simulator.add_portal("acme")
        base_urls = {"https": portal.https_base_url, "http": portal.base_url, "unreachable": UNREACHABLE_HTTP_URL}
        api_keys = {"acme": portal.users["owner"].api_key}

        ipv6 = ipv6_simulator()
        ipv6_portal = None
        if ipv6 is not None:
            ipv6_portal = stack.enter_context(ipv6).add_portal("acme")
            base_urls["ipv6"] = ipv6_portal.base_url
            api_keys["ipv6"] = ipv6_portal.users["owner"].api_key

        tasks = []
        for case, (listener, options, environment) in CASES.items():
            if listener not in base_urls:
                continue
            key = "ipv6" if listener == "ipv6" else "acme"
            arguments = dict({"base_url": base_urls[listener], "api_key": "{{ api_keys[%r] }}" % key}, **options)
            task = {"name": case, "ignore_errors": True, INFO_MODULE: arguments}
            if environment:
                task["environment"] = environment
            tasks.append(task)
        # A control case: a task's environment reaches the module processes, so the CA
        # bundle cases above do test that the module ignores it.
        tasks.append({"name": "environment-reaches-modules", "environment": {"REQUESTS_CA_BUNDLE": "{{ ca_path }}"},
                      "ansible.builtin.command": {"argv": ["printenv", "REQUESTS_CA_BUNDLE"]}})
        # Both modules build the same client, so the owner module gets one TLS case too.
        tasks.append({"name": "owner-module-ca-path", OWNER_MODULE: {
            "base_url": base_urls["https"], "api_key": "{{ api_keys['acme'] }}", "ca_path": "{{ ca_path }}",
            "owner_email": portal.users["successor"].email, "send_instructions": False}})

        not_pem_path = tmp_path_factory.mktemp("not-pem") / "ca.pem"
        not_pem_path.write_text("not a certificate\n")
        run = ansible.run_tasks(tasks, extra_vars={"api_keys": api_keys, "ca_path": simulator.ca_path,
                                                   "not_pem_path": str(not_pem_path)})
        yield SimpleNamespace(run=run, portal=portal, ipv6_portal=ipv6_portal, api_keys=api_keys, ca_path=simulator.ca_path)


@pytest.mark.parametrize("case", SUCCEEDING)
def test_connection_succeeds(connection_batch, case):
    result = connection_batch.run.result(case)

    assert connection_batch.run.task(case)["status"] == "ok", connection_batch.run.describe()
    assert result["caller"]["is_owner"] is True


@pytest.mark.parametrize("case, words", [
    ("https-ca-path-missing", ["ca_path '", ".missing' does not exist", "leave it unset"]),
    ("https-ca-path-not-pem", [TLS_FAILURE, "Check that ca_path '", "is a PEM file"]),
])
def test_connection_ca_path_unusable(connection_batch, case, words):
    result = connection_batch.run.result(case)

    assert connection_batch.run.task(case)["status"] == "failed"
    for word in words:
        assert word in result["msg"]
    assert_no_traceback(connection_batch.run)


@pytest.mark.parametrize("case", TLS_FAILING)
def test_connection_certificate_rejected(connection_batch, case):
    result = connection_batch.run.result(case)

    assert connection_batch.run.task(case)["status"] == "failed"
    assert TLS_FAILURE in result["msg"]
    assert "Set ca_path to the CA bundle" in result["msg"]


def test_connection_environment_reaches_modules(connection_batch):
    assert connection_batch.run.result("environment-reaches-modules")["stdout"] == connection_batch.ca_path


def test_connection_no_validation_warns(connection_batch):
    assert "validate_certs is false: the portal's TLS certificate is not checked" in connection_batch.run.screen_text


def test_connection_ipv6_portal(connection_batch):
    if connection_batch.ipv6_portal is None:
        pytest.skip("this host cannot listen on the IPv6 loopback ::1")
    result = connection_batch.run.result("http-ipv6")

    assert connection_batch.run.task("http-ipv6")["status"] == "ok", connection_batch.run.describe()
    assert result["portal"]["url"].startswith("http://[::1]:")
    assert result["owner"]["id"] == connection_batch.ipv6_portal.users["owner"].id
    assert connection_batch.ipv6_portal.request_count() == 3


def test_connection_unreachable_fails(connection_batch):
    result = connection_batch.run.result("http-unreachable")

    assert connection_batch.run.task("http-unreachable")["status"] == "failed"
    assert result["msg"].startswith("GET %s/api/2.0/settings failed: could not connect" % UNREACHABLE_HTTP_URL)


def test_connection_plain_http_warns(connection_batch):
    text = connection_batch.run.screen_text

    assert "base_url uses plain http:// to docspace.invalid" in text
    # Loopback addresses never leave the host, so they get no warning.
    assert "plain http:// to 127.0.0.1" not in text
    assert "plain http:// to ::1" not in text


def test_connection_owner_module_tls(connection_batch):
    result = connection_batch.run.result("owner-module-ca-path")

    assert connection_batch.run.task("owner-module-ca-path")["status"] == "ok", connection_batch.run.describe()
    assert result["pending_confirmation"] is True


def test_connection_output_clean(connection_batch):
    assert_no_traceback(connection_batch.run)
    assert_no_secrets(connection_batch.run, *connection_batch.api_keys.values())
