"""Secret hygiene: the API key and the confirmation link never show up where they do not belong.

The secrets are the API key and every part of the confirmation link: the
full link, its query string, its `key` value and the short link's code. They
must stay out of ansible-playbook's output at -vvvv, the returned values
(`invocation` included), warnings and failure messages. In the simulator's
request log they may appear only where the API requires them: the short-link
code in the path of GET /s/{code}, and the link's parameters in the body of
POST /api/2.0/authentication/confirm, which validates them. The log keeps
header names only, so Authorization and confirm are checked by name.
"""

import json
import socket
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import unquote, urlsplit

import pytest

from docspace_simulator import Simulator
from harness import assert_no_secrets, assert_no_traceback, per_host_task

OWNER_MODULE = "onlyoffice.docspace.docspace_portal_owner"
INFO_MODULE = "onlyoffice.docspace.docspace_portal_owner_info"
CONNECTION_OPTIONS = ("base_url", "api_key", "timeout")
OWNER_OPTIONS = CONNECTION_OPTIONS + ("owner_email", "confirmation", "send_instructions")

# What Ansible puts in `invocation` in place of a no_log option.
MASKED = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"

CHECK_LINK = "POST /api/2.0/authentication/confirm"
SHORT_LINK = "GET /s/{code}"
APPLY = "PUT /api/2.0/settings/owner"

# A host name that is not loopback. Requests for it reach the simulator as an
# HTTP proxy, so the name is never resolved and nothing leaves the machine.
REMOTE_HOST = "docspace-lan.invalid"


def link_parts(link):
    """Return the full link and its query string, then its key and encrypted email, as sent and percent-decoded."""
    query = urlsplit(link).query
    parameters = dict(part.split("=", 1) for part in query.split("&"))
    values = [parameters["key"]] + ([parameters["encemail"]] if "encemail" in parameters else [])
    decoded = [unquote(value) for value in values]
    return [link, query] + list(dict.fromkeys(values + decoded))


def email_secrets(email):
    return [email.short_link, email.short_link.rsplit("/", 1)[1]] + link_parts(email.link)


def owner_task(name, **options):
    return {"name": name, OWNER_MODULE: options}


TASKS = [
    per_host_task("Run the owner module", OWNER_MODULE, OWNER_OPTIONS),
    per_host_task("Run the info module", INFO_MODULE, CONNECTION_OPTIONS),
]


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# Output at -vvvv -------------------------------------------------------------


@pytest.mark.parametrize("form", ["short", "full", "query"])
def test_secrets_verbose_transfer(ansible, docspace_portal, form):
    owner = docspace_portal.users["owner"]
    successor = docspace_portal.users["successor"]
    env = {"DOCSPACE_BASE_URL": docspace_portal.base_url, "DOCSPACE_API_KEY": owner.api_key}

    sent = ansible.run_tasks([owner_task("Send", owner_email=successor.email)], env=env, verbosity=4, diff=True)
    assert sent.rc == 0, sent.describe()
    email = docspace_portal.last_email
    confirmation = {"short": email.short_link, "full": email.link, "query": urlsplit(email.link).query}[form]

    # This time the key comes in as an option rather than from the environment.
    tasks = [
        owner_task("Complete", owner_email=successor.email, confirmation="{{ link }}", api_key="{{ key }}"),
        {"name": "Read the owner", INFO_MODULE: {"api_key": "{{ key }}"}},
    ]
    done = ansible.run_tasks(tasks, env={"DOCSPACE_BASE_URL": docspace_portal.base_url}, verbosity=4, diff=True,
                             extra_vars={"link": confirmation, "key": owner.api_key})
    assert done.rc == 0, done.describe()
    assert docspace_portal.owner_id == successor.id

    secrets = [owner.api_key] + email_secrets(email)
    for run in (sent, done):
        assert_no_traceback(run)
        assert_no_secrets(run, *secrets)

    complete = done.result("Complete")
    assert complete["invocation"]["module_args"]["api_key"] == MASKED
    assert complete["invocation"]["module_args"]["confirmation"] == MASKED
    assert done.result("Read the owner")["invocation"]["module_args"]["api_key"] == MASKED
    assert sent.result("Send")["invocation"]["module_args"]["api_key"] == MASKED


def test_secrets_verbose_failures(ansible, docspace_simulator, subtests):
    """Fail with a wrong key or a defective link at -vvvv; the messages name the problem, never the secret."""
    cases = {}

    def add(name, make_options, message):
        portal = docspace_simulator.add_portal(name)
        options = {"module": OWNER_MODULE, "base_url": portal.base_url, "api_key": portal.users["owner"].api_key,
                   "owner_email": portal.users["successor"].email, "timeout": 5}
        options.update(make_options(portal))
        cases[name] = (portal, options, message)

    def link(portal, role="successor", **options):
        return portal.make_confirmation_link(portal.users[role].id, **options)

    def short(portal, target=None):
        return portal.shorten(target or link(portal), portal.base_url)

    add("wrong-key", lambda p: {"api_key": "sk-" + "5a" * 32}, "did not accept api_key")
    add("key-typo", lambda p: {"api_key": p.users["owner"].api_key[:-1] + "x"}, "did not accept api_key")
    add("info-wrong-key", lambda p: {"module": INFO_MODULE, "api_key": "sk-" + "7b" * 32}, "did not accept api_key")
    add("admin-key", lambda p: {"api_key": p.users["admin"].api_key, "confirmation": link(p)}, "api_key belongs to Adam Admin")
    add("expired-link", lambda p: {"confirmation": link(p, issued_at=p.now() - timedelta(days=30))}, "has expired")
    add("other-uid-link", lambda p: {"confirmation": link(p, "admin")}, "does not match the requested new owner")
    add("other-type-link", lambda p: {"confirmation": link(p).replace("type=PortalOwnerChange", "type=EmailActivation")},
        "has type")
    add("tampered-link", lambda p: {"confirmation": link(p).replace("key=", "key=9", 1)}, "rejected the confirmation link")
    add("truncated-link", lambda p: {"confirmation": link(p).rsplit("&", 1)[0]}, "parameters are missing")
    add("unknown-short", lambda p: {"confirmation": p.base_url + "/s/Zz9Zz9Zz9Zz9Zz9"}, "unknown or no longer valid")
    add("expired-short", lambda p: {"confirmation": short(p, link(p, issued_at=p.now() - timedelta(days=30)))}, "has expired")
    add("short-error", lambda p: {"confirmation": short(p)}, "HTTP 500")
    # The fault matrix checks the message of this one. Here only the code in the redirect matters.
    add("short-to-login", lambda p: {"confirmation": short(p)}, None)
    add("shortener-down", lambda p: {"confirmation": "http://127.0.0.1:%d/go/Qq8Qq8Qq8Qq8" % free_port()}, "could not connect")

    cases["short-error"][0].add_fault("status", path="/s/{code}", status=500)
    login_portal = cases["short-to-login"][0]
    code = cases["short-to-login"][1]["confirmation"].rsplit("/", 1)[1]
    login_portal.add_fault("redirect", path="/s/{code}", location="%s/login?returnUrl=%%2Fs%%2F%s" % (login_portal.prefix, code))

    hosts = {name: case[1] for name, case in cases.items()}
    run = ansible.run_per_host(hosts, TASKS, verbosity=4)
    assert run.rc == 0, run.describe()
    # No assert_no_traceback here: at -vvv, ansible-core 2.16 adds the traceback
    # of the handled error to every fail_json result. The scans below cover it.
    assert "MODULE FAILURE" not in run.output

    for name, (portal, options, message) in cases.items():
        with subtests.test(case=name):
            record = run.host_record(name)
            secrets = [options["api_key"]] + [user.api_key for user in portal.all_users]
            if "confirmation" in options:
                secrets.append(options["confirmation"])
                if "?" in options["confirmation"]:
                    secrets += link_parts(options["confirmation"])
                else:
                    secrets.append(options["confirmation"].rsplit("/", 1)[1])
            for secret in secrets:
                assert secret not in run.stdout
                assert secret not in run.stderr
                assert secret not in json.dumps(record)
            assert record["status"] == "failed"
            if message is not None:
                assert message in record["result"]["msg"]
            assert record["result"]["invocation"]["module_args"]["api_key"] == MASKED
            assert portal.request_count(APPLY) == 0


# The simulator's request log -------------------------------------------------


def test_secrets_request_log(ansible, docspace_portal):
    owner = docspace_portal.users["owner"]
    successor = docspace_portal.users["successor"]
    env = {"DOCSPACE_BASE_URL": docspace_portal.base_url, "DOCSPACE_API_KEY": owner.api_key}
    task = owner_task("Transfer", owner_email=successor.email)

    sent = ansible.run_tasks([task], env=env)
    assert sent.rc == 0, sent.describe()
    email = docspace_portal.last_email
    confirm = owner_task("Transfer", owner_email=successor.email, confirmation="{{ link }}")
    done = ansible.run_tasks([confirm], env=env, extra_vars={"link": email.short_link})
    assert done.rc == 0, done.describe()

    code = email.short_link.rsplit("/", 1)[1]
    link_secrets = link_parts(email.link)
    records = docspace_portal.requests
    endpoints = {record.endpoint for record in records}
    assert {SHORT_LINK, CHECK_LINK, APPLY} <= endpoints

    for record in records:
        logged = (record.path, record.query, record.body)
        assert not any(owner.api_key in text for text in logged), record.endpoint
        if record.endpoint != SHORT_LINK:
            assert not any(code in text for text in logged), record.endpoint
        for secret in link_secrets[:2]:
            assert not any(secret in text for text in logged), record.endpoint
        if record.endpoint != CHECK_LINK:
            assert not any(secret in text for secret in link_secrets[2:] for text in logged), record.endpoint


def test_secrets_headers_by_endpoint(ansible, docspace_portal):
    """The short link and the link check go out without credentials, and the PUT sends both the key and the link."""
    owner = docspace_portal.users["owner"]
    successor = docspace_portal.users["successor"]
    env = {"DOCSPACE_BASE_URL": docspace_portal.base_url, "DOCSPACE_API_KEY": owner.api_key}
    link = docspace_portal.shorten(docspace_portal.make_confirmation_link(successor.id), docspace_portal.base_url)

    run = ansible.run_tasks([owner_task("Complete", owner_email=successor.email, confirmation="{{ link }}")], env=env,
                            extra_vars={"link": link})
    assert run.rc == 0, run.describe()

    by_endpoint = {}
    for record in docspace_portal.requests:
        by_endpoint.setdefault(record.endpoint, []).append(record)
    assert [record.has_authorization for record in by_endpoint[SHORT_LINK]] == [False]
    assert [record.has_authorization for record in by_endpoint[CHECK_LINK]] == [False]
    assert [(record.has_authorization, record.has_confirm) for record in by_endpoint[APPLY]] == [(True, True)]
    assert not any(record.has_confirm for endpoint, records in by_endpoint.items() if endpoint != APPLY for record in records)


# Redirects to another host -----------------------------------------------------


@pytest.fixture
def other_host():
    """A second simulator on its own port, standing for another host, with one portal at its root."""
    simulator = Simulator()
    simulator.add_portal("elsewhere", prefix="/")
    with simulator:
        yield simulator


@dataclass(frozen=True)
class Redirect:
    """A redirect to the other host in place of one endpoint's response."""

    case: str
    method: str
    path: str
    status: int
    module: str
    with_link: bool = False


REDIRECTS = [
    Redirect("settings-302", "GET", "/api/2.0/settings", 302, INFO_MODULE),
    Redirect("self-301", "GET", "/api/2.0/people/@self", 301, OWNER_MODULE),
    Redirect("email-308", "GET", "/api/2.0/people/email", 308, OWNER_MODULE),
    Redirect("send-307", "POST", "/api/2.0/settings/owner", 307, OWNER_MODULE),
    Redirect("apply-308", "PUT", "/api/2.0/settings/owner", 308, OWNER_MODULE, with_link=True),
    Redirect("check-307", "POST", "/api/2.0/authentication/confirm", 307, OWNER_MODULE, with_link=True),
]


def test_redirect_elsewhere_gets_no_key(ansible, docspace_simulator, other_host, subtests):
    elsewhere = other_host.portal("elsewhere")
    hosts, portals = {}, {}
    for redirect in REDIRECTS:
        portal = docspace_simulator.add_portal(redirect.case)
        portal.add_fault("redirect", path=redirect.path, method=redirect.method, status=redirect.status,
                         location=elsewhere.base_url + redirect.path)
        options = {"module": redirect.module, "base_url": portal.base_url, "api_key": portal.users["owner"].api_key,
                   "timeout": 5}
        if redirect.module == OWNER_MODULE:
            options["owner_email"] = portal.users["successor"].email
        if redirect.with_link:
            options["confirmation"] = portal.make_confirmation_link(portal.users["successor"].id)
        hosts[redirect.case] = options
        portals[redirect.case] = portal

    # A link from another URL shortener is fetched from its own host, never with credentials.
    shortened = docspace_simulator.add_portal("other-shortener")
    full_link = shortened.make_confirmation_link(shortened.users["successor"].id)
    elsewhere.add_fault("redirect", path="/go/Xy7Xy7Xy7", location=full_link, times=None)
    hosts["other-shortener"] = {"module": OWNER_MODULE, "base_url": shortened.base_url, "timeout": 5,
                                "api_key": shortened.users["owner"].api_key, "owner_email": shortened.users["successor"].email,
                                "confirmation": elsewhere.base_url + "/go/Xy7Xy7Xy7"}

    run = ansible.run_per_host(hosts, TASKS)
    assert run.rc == 0, run.describe()
    assert_no_traceback(run)

    with subtests.test(case="other host"):
        logged = elsewhere.requests
        assert [record.path for record in logged] == ["/go/Xy7Xy7Xy7"]
        assert not any(record.has_authorization for record in logged)
        assert not any("Cookie" in record.header_names for record in logged)

    with subtests.test(case="other-shortener"):
        assert run.host_record("other-shortener")["status"] == "changed"
        assert shortened.owner_id == shortened.users["successor"].id

    for redirect in REDIRECTS:
        with subtests.test(case=redirect.case):
            record = run.host_record(redirect.case)
            portal = portals[redirect.case]
            assert record["status"] == "failed"
            assert "HTTP %d redirect to %s" % (redirect.status, elsewhere.base_url) in record["result"]["msg"]
            assert portal.owner_id == portal.users["owner"].id


# Plain http:// -------------------------------------------------------------------


def test_plain_http_warns_for_remote_host(ansible, docspace_simulator, docspace_portal):
    owner = docspace_portal.users["owner"]
    port = urlsplit(docspace_simulator.http_url).port
    bases = {
        "remote": "http://%s/acme" % REMOTE_HOST,
        "loopback": docspace_portal.base_url,
        "localhost": "http://localhost:%d/acme" % port,
        "ipv6-loopback": "http://[::1]:%d/acme" % port,
    }
    tasks = []
    for name, base_url in bases.items():
        tasks.append({"name": "Info " + name, INFO_MODULE: {"base_url": base_url}})
        tasks.append({"name": "Owner " + name, OWNER_MODULE: {"base_url": base_url, "send_instructions": False,
                                                              "owner_email": docspace_portal.users["successor"].email}})

    # Every request goes through the simulator as an HTTP proxy, so the
    # remote host name is never resolved.
    env = {"DOCSPACE_API_KEY": owner.api_key, "HTTP_PROXY": docspace_simulator.http_url,
           "http_proxy": docspace_simulator.http_url, "NO_PROXY": "", "no_proxy": ""}
    run = ansible.run_tasks(tasks, env=env)
    assert run.rc == 0, run.describe()
    assert_no_secrets(run, owner.api_key)

    for module in ("Info", "Owner"):
        warnings = run.result("%s remote" % module).get("warnings", [])
        assert any("plain http://" in warning and REMOTE_HOST in warning for warning in warnings), warnings
        for name in ("loopback", "localhost", "ipv6-loopback"):
            assert not run.result("%s %s" % (module, name)).get("warnings"), name
