"""playbooks/infrastructure_handover.yml against simulated portals.

The inventory has the shape of playbooks/inventory.example.yml, with its host
names and variables, and only the addresses replaced by simulator portals. The
API keys come, as in group_vars/docspace_portals.example, from a dict keyed by
inventory hostname, passed here as an extra var instead of a vault file.
"""

import copy
import re
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
import yaml
from docspace_simulator import Simulator
from harness import assert_no_secrets, assert_no_traceback, link_secrets, runner_for

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"
PLAYBOOK = PLAYBOOKS / "infrastructure_handover.yml"
EXAMPLE_INVENTORY = PLAYBOOKS / "inventory.example.yml"
EXAMPLE_GROUP_VARS = PLAYBOOKS / "group_vars" / "docspace_portals.example" / "vars.yml"

GROUP = "docspace_portals"
TRANSFER_TASK = "Transfer ownership to the new owner"
SUMMARY_TASK = "Summarise the handover"

SEND = "POST /api/2.0/settings/owner"
APPLY = "PUT /api/2.0/settings/owner"

NEW_OWNER = {"first_name": "Nadia", "last_name": "Admin"}


def load_example():
    return yaml.safe_load(EXAMPLE_INVENTORY.read_text())


def alias_for(host):
    """Return the simulator portal alias for an example host name such as docspace-eu."""
    return host.replace("docspace-", "")


def inventory_like_example(portals, ca_path, hosts=None):
    """Return the example inventory with the simulator's addresses and the example's API key lookup.

    A host with docspace_ca_path in the example is a portal with a private
    CA, so it gets the portal's HTTPS address and the simulator's CA.
    """
    inventory = copy.deepcopy(load_example())
    group = inventory[GROUP]
    group["vars"]["docspace_api_key"] = yaml.safe_load(EXAMPLE_GROUP_VARS.read_text())["docspace_api_key"]
    for host in list(group["hosts"]):
        if hosts is not None and host not in hosts:
            del group["hosts"][host]
            continue
        variables = group["hosts"][host]
        portal = portals[alias_for(host)]
        if "docspace_ca_path" in variables:
            variables["docspace_base_url"] = portal.https_base_url
            variables["docspace_ca_path"] = ca_path
        else:
            variables["docspace_base_url"] = portal.base_url
    return inventory


def add_handover_portals(simulator, hosts):
    """Add one portal per example host, each with the example's new owner as a member of the type User."""
    email = load_example()[GROUP]["vars"]["docspace_new_owner_email"]
    portals = {}
    for host in hosts:
        portal = simulator.add_portal(alias_for(host))
        portal.add_user(email, role="new_owner", user_type="user", **NEW_OWNER)
        portals[alias_for(host)] = portal
    return portals


def summary_lines(run, host):
    return run.result(SUMMARY_TASK, host=host)["msg"]


def failure_message(run, host):
    """Return the message of the last task that failed on `host`."""
    failed = [record for record in run.records if record["host"] == host and record["status"] == "failed"]
    assert failed, "no task failed on %s\n%s" % (host, run.describe())
    return failed[-1]["result"]["msg"]


def api_keys_for(portals, hosts):
    return {host: portals[alias_for(host)].users["owner"].api_key for host in hosts}


def test_example_inventory_shape():
    inventory = load_example()
    group = inventory[GROUP]

    assert list(inventory) == [GROUP]
    assert group["vars"]["ansible_connection"] == "local"
    assert "docspace_new_owner_email" in group["vars"]
    assert all("docspace_base_url" in variables for variables in group["hosts"].values())
    # The example shows one portal with a private CA, which the handover runs below cover over HTTPS.
    assert [host for host, variables in group["hosts"].items() if "docspace_ca_path" in variables] == ["docspace-internal"]


# The whole handover of every example host: check, send, complete, run again -----


@pytest.fixture(scope="module")
def handover(collections_path, tmp_path_factory):
    ansible = runner_for(collections_path, tmp_path_factory.mktemp("handover"))
    hosts = list(load_example()[GROUP]["hosts"])

    with Simulator(https=True) as simulator:
        portals = add_handover_portals(simulator, hosts)
        inventory = inventory_like_example(portals, simulator.ca_path)
        api_keys = {host: portals[alias_for(host)].users["owner"].api_key for host in hosts}
        phases = {}

        def run_phase(name, **options):
            for portal in portals.values():
                portal.clear_requests()
            extra_vars = dict({"vault_docspace_api_keys": api_keys}, **options.pop("extra_vars", {}))
            run = ansible.run(PLAYBOOK, inventory=inventory, extra_vars=extra_vars, **options)
            phases[name] = SimpleNamespace(
                run=run,
                counts={host: portals[alias_for(host)].request_counts() for host in hosts},
                outbox={host: len(portals[alias_for(host)].outbox) for host in hosts},
                owner_ids={host: portals[alias_for(host)].owner_id for host in hosts},
            )

        run_phase("check", check=True, diff=True)
        run_phase("send")

        # Each portal completes with another form of the link from its email.
        emails = {host: portals[alias_for(host)].last_email for host in hosts}
        forms = [lambda email: email.short_link, lambda email: email.link, lambda email: urlsplit(email.link).query]
        confirmations = {host: forms[index % len(forms)](emails[host]) for index, host in enumerate(hosts)}
        run_phase("complete", extra_vars={"docspace_confirmations": confirmations}, verbosity=4)

        run_phase("again")

        secrets = list(api_keys.values())
        for email in emails.values():
            secrets += link_secrets(email.link) + link_secrets(email.short_link)
        yield SimpleNamespace(hosts=hosts, portals=portals, phases=phases, secrets=secrets)


HOSTS = list(load_example()[GROUP]["hosts"])
PHASES = ("check", "send", "complete", "again")


@pytest.mark.parametrize("phase", PHASES)
def test_handover_run_succeeds(handover, phase):
    run = handover.phases[phase].run

    assert run.rc == 0, run.describe()
    assert_no_traceback(run)


@pytest.mark.parametrize("phase", PHASES)
def test_handover_keeps_secrets(handover, phase):
    assert_no_secrets(handover.phases[phase].run, *handover.secrets)


@pytest.mark.parametrize("host", HOSTS)
def test_handover_check_mode_writes_nothing(handover, host):
    phase = handover.phases["check"]
    portal = handover.portals[alias_for(host)]

    assert phase.counts[host].get(SEND) is None
    assert phase.counts[host].get(APPLY) is None
    assert phase.outbox[host] == 0
    assert phase.owner_ids[host] == portal.users["owner"].id


@pytest.mark.parametrize("host", HOSTS)
def test_handover_check_mode_summary(handover, host):
    run = handover.phases["check"].run

    assert run.task(TRANSFER_TASK, host=host)["status"] == "changed"
    assert "Outcome: would change in check mode" in summary_lines(run, host)


def test_handover_check_mode_diff(handover):
    stdout = handover.phases["check"].run.stdout

    assert '+    "email": "new.admin@example.com"' in stdout
    assert '-    "email": "Owner@eu.docspace.test"' in stdout


@pytest.mark.parametrize("host", HOSTS)
def test_handover_send_emails_current_owner(handover, host):
    phase = handover.phases["send"]
    owner = handover.portals[alias_for(host)].users["owner"]
    lines = summary_lines(phase.run, host)

    assert "Outcome: instructions sent, pending" in lines
    assert any(line.startswith("The confirmation email went to the CURRENT owner, Olivia Owner <%s>" % owner.email)
               for line in lines), lines
    assert phase.counts[host].get(SEND) == 1
    assert phase.outbox[host] == 1
    assert handover.portals[alias_for(host)].outbox[0].to == owner.email


@pytest.mark.parametrize("host", HOSTS)
def test_handover_send_leaves_owner(handover, host):
    phase = handover.phases["send"]

    assert phase.owner_ids[host] == handover.portals[alias_for(host)].users["owner"].id
    assert phase.counts[host].get(APPLY) is None


@pytest.mark.parametrize("host", HOSTS)
def test_handover_complete_transfers(handover, host):
    phase = handover.phases["complete"]
    portal = handover.portals[alias_for(host)]
    lines = summary_lines(phase.run, host)

    assert "Outcome: ownership transferred" in lines
    assert "The portal owner is now Nadia Admin <new.admin@example.com>" in " ".join(lines)
    assert phase.owner_ids[host] == portal.users["new_owner"].id
    assert phase.counts[host].get(APPLY) == 1
    assert phase.counts[host].get(SEND) is None
    assert phase.outbox[host] == 1


@pytest.mark.parametrize("host", HOSTS)
def test_handover_complete_promotes_new_owner(handover, host):
    assert handover.portals[alias_for(host)].users["new_owner"].user_type == "admin"


@pytest.mark.parametrize("host", HOSTS)
def test_handover_again_unchanged(handover, host):
    phase = handover.phases["again"]

    assert phase.run.task(TRANSFER_TASK, host=host)["status"] == "ok"
    assert "Outcome: already owner" in summary_lines(phase.run, host)
    assert re.search(r"^%s\s*:\s*ok=\d+\s+changed=0\s" % re.escape(host), phase.run.stdout, re.MULTILINE), phase.run.stdout


@pytest.mark.parametrize("host", HOSTS)
def test_handover_again_requests(handover, host):
    counts = handover.phases["again"].counts[host]

    # docs/handover.md: 4 requests for each of the two owner reads, 2 for the no-op transfer.
    assert sum(counts.values()) <= 10, counts
    assert SEND not in counts
    assert APPLY not in counts
    assert handover.phases["again"].outbox[host] == 1


# One portal completed with -e docspace_confirmation and --limit -------------------


def test_handover_single_confirmation(ansible, docspace_simulator):
    hosts = ["docspace-eu", "docspace-us"]
    portals = add_handover_portals(docspace_simulator, hosts)
    inventory = inventory_like_example(portals, docspace_simulator.ca_path, hosts=hosts)
    eu, us = portals["eu"], portals["us"]
    link = eu.make_confirmation_link(eu.users["new_owner"].id)
    extra_vars = {"vault_docspace_api_keys": {host: portals[alias_for(host)].users["owner"].api_key for host in hosts},
                  "docspace_confirmation": link}

    run = ansible.run(PLAYBOOK, inventory=inventory, extra_vars=extra_vars, limit="docspace-eu")

    assert run.rc == 0, run.describe()
    assert "Outcome: ownership transferred" in summary_lines(run, "docspace-eu")
    assert eu.owner_id == eu.users["new_owner"].id
    assert us.owner_id == us.users["owner"].id
    assert us.request_count() == 0
    assert eu.outbox == []
    assert_no_traceback(run)
    assert_no_secrets(run, eu.users["owner"].api_key, us.users["owner"].api_key, *link_secrets(link))


# Advice and messages a newcomer follows literally ---------------------------------


def test_handover_pending_advice_completes(ansible, docspace_simulator):
    hosts = ["docspace-eu", "docspace-us"]
    portals = add_handover_portals(docspace_simulator, hosts)
    inventory = inventory_like_example(portals, docspace_simulator.ca_path, hosts=hosts)
    keys = {"vault_docspace_api_keys": api_keys_for(portals, hosts)}
    eu, us = portals["eu"], portals["us"]

    sent = ansible.run(PLAYBOOK, inventory=inventory, extra_vars=keys)
    assert sent.rc == 0, sent.describe()
    pending = ansible.run(PLAYBOOK, inventory=inventory, extra_vars=dict(keys, docspace_send_instructions=False))
    assert pending.rc == 0, pending.describe()

    # Each portal's advice names that portal, so that it can be followed on a run of several portals.
    for host in hosts:
        advice = " ".join(summary_lines(pending, host))
        assert "Outcome: pending" in summary_lines(pending, host)
        assert "run the playbook again with --limit %s -e @FILE, where FILE sets docspace_confirmation" % host in advice
        assert "--limit %s -e docspace_send_instructions=true" % host in advice

    link = eu.last_email.short_link
    completed = ansible.run(PLAYBOOK, inventory=inventory, extra_vars=dict(keys, docspace_confirmation=link),
                            limit="docspace-eu")

    assert completed.rc == 0, completed.describe()
    assert "Outcome: ownership transferred" in summary_lines(completed, "docspace-eu")
    assert eu.owner_id == eu.users["new_owner"].id
    assert us.owner_id == us.users["owner"].id
    assert len(eu.outbox) == 1
    assert len(us.outbox) == 1
    assert_no_secrets(completed, *keys["vault_docspace_api_keys"].values(), *link_secrets(link))


@pytest.mark.parametrize("text, expected", [
    # A closing brace lost in an AWX survey answer.
    ('{"docspace-eu": "%(eu)s", "docspace-us": "%(us)s"',
     "docspace_confirmations is not valid JSON or YAML"),
    # YAML text whose second line is indented.
    ("docspace-eu: %(eu)s\n  docspace-us: %(us)s",
     "docspace_confirmations is not valid JSON or YAML"),
    # -e docspace_confirmations={"docspace-eu": "..."} after the shell removed the quotes.
    ("{docspace-eu:%(eu)s}",
     "docspace_confirmations must map each inventory hostname to its link as text"),
], ids=["json_without_brace", "yaml_indented", "quotes_removed"])
def test_handover_malformed_confirmations(ansible, docspace_simulator, text, expected):
    hosts = ["docspace-eu", "docspace-us"]
    portals = add_handover_portals(docspace_simulator, hosts)
    inventory = inventory_like_example(portals, docspace_simulator.ca_path, hosts=hosts)
    links = {alias: portal.make_confirmation_link(portal.users["new_owner"].id) for alias, portal in portals.items()}
    extra_vars = {"vault_docspace_api_keys": api_keys_for(portals, hosts), "docspace_confirmations": text % links}

    run = ansible.run(PLAYBOOK, inventory=inventory, extra_vars=extra_vars)

    assert run.rc != 0, run.describe()
    for host in hosts:
        message = failure_message(run, host)
        assert expected in message
        assert "-e @FILE" in message
        assert "inventory hostname" in message
        assert "output has been hidden" not in message
    for portal in portals.values():
        assert portal.request_count() == 0
        assert portal.outbox == []
    assert_no_traceback(run)
    assert_no_secrets(run, *extra_vars["vault_docspace_api_keys"].values(),
                      *link_secrets(links["eu"]), *link_secrets(links["us"]))


def test_handover_unknown_host_link_hidden(ansible, docspace_simulator):
    hosts = ["docspace-eu"]
    portals = add_handover_portals(docspace_simulator, hosts)
    inventory = inventory_like_example(portals, docspace_simulator.ca_path, hosts=hosts)
    link = portals["eu"].make_confirmation_link(portals["eu"].users["new_owner"].id)
    # Key and value swapped for one entry, and a typo in a hostname.
    confirmations = {link: "docspace-eu", "docspace-ue": link}
    extra_vars = {"vault_docspace_api_keys": api_keys_for(portals, hosts), "docspace_confirmations": confirmations}

    run = ansible.run(PLAYBOOK, inventory=inventory, extra_vars=extra_vars)

    assert run.rc != 0, run.describe()
    message = failure_message(run, "docspace-eu")
    assert "not in the group docspace_portals: docspace-ue, 1 more that look like links (not shown)." in message
    assert portals["eu"].request_count() == 0
    assert_no_secrets(run, *link_secrets(link))


def test_handover_new_owner_override(ansible, docspace_simulator):
    hosts = ["docspace-eu"]
    portals = add_handover_portals(docspace_simulator, hosts)
    inventory = inventory_like_example(portals, docspace_simulator.ca_path, hosts=hosts)
    keys = {"vault_docspace_api_keys": api_keys_for(portals, hosts)}
    eu = portals["eu"]
    successor = eu.users["successor"]

    # The example inventory sets docspace_new_owner_email for the group.
    both = ansible.run(None, inventory=inventory, extra_vars=keys,
                       arguments=["-e", "docspace_new_owner_id=%s" % successor.id, str(PLAYBOOK)])

    assert both.rc != 0, both.describe()
    message = failure_message(both, "docspace-eu")
    assert "Both docspace_new_owner_email and docspace_new_owner_id are set" in message
    assert "-e docspace_new_owner_email= -e docspace_new_owner_id=GUID" in message
    assert eu.request_count() == 0

    # The override the message suggests, typed the same way.
    override = ansible.run(None, inventory=inventory, extra_vars=keys, arguments=[
        "-e", "docspace_new_owner_email=", "-e", "docspace_new_owner_id=%s" % successor.id, str(PLAYBOOK)])

    assert override.rc == 0, override.describe()
    assert override.result(TRANSFER_TASK, host="docspace-eu")["new_owner"]["id"] == successor.id
    assert "Outcome: instructions sent, pending" in summary_lines(override, "docspace-eu")
    assert eu.last_email.new_owner_id == successor.id
    assert_no_secrets(override, *keys["vault_docspace_api_keys"].values())


def test_handover_playbook_by_fqcn(ansible, docspace_simulator):
    hosts = ["docspace-eu"]
    portals = add_handover_portals(docspace_simulator, hosts)
    inventory = inventory_like_example(portals, docspace_simulator.ca_path, hosts=hosts)
    keys = {"vault_docspace_api_keys": api_keys_for(portals, hosts)}

    # Users who install from Galaxy have no playbooks/ directory, only the installed collection.
    run = ansible.run(None, inventory=inventory, extra_vars=keys,
                      arguments=["onlyoffice.docspace.infrastructure_handover", "--check"])

    assert run.rc == 0, run.describe()
    assert "Outcome: would change in check mode" in summary_lines(run, "docspace-eu")
    assert portals["eu"].outbox == []
    assert_no_traceback(run)


# A boolean false from a vars file or the inventory counts; only an empty value is unset --


def test_handover_send_instructions_false_boolean(ansible, docspace_simulator):
    hosts = ["docspace-eu"]
    portals = add_handover_portals(docspace_simulator, hosts)
    inventory = inventory_like_example(portals, docspace_simulator.ca_path, hosts=hosts)
    extra_vars = {"vault_docspace_api_keys": api_keys_for(portals, hosts), "docspace_send_instructions": False}

    run = ansible.run(PLAYBOOK, inventory=inventory, extra_vars=extra_vars)

    assert run.rc == 0, run.describe()
    assert "Outcome: pending" in summary_lines(run, "docspace-eu")
    assert portals["eu"].request_count(SEND) == 0
    assert portals["eu"].outbox == []


def test_handover_validate_certs_false_boolean(ansible, docspace_simulator):
    hosts = ["docspace-eu"]
    portals = add_handover_portals(docspace_simulator, hosts)
    inventory = inventory_like_example(portals, docspace_simulator.ca_path, hosts=hosts)
    # The simulator's test CA is not trusted without docspace_ca_path, so only
    # docspace_validate_certs: false lets this HTTPS run through.
    variables = inventory[GROUP]["hosts"]["docspace-eu"]
    variables["docspace_base_url"] = portals["eu"].https_base_url
    variables["docspace_validate_certs"] = False
    extra_vars = {"vault_docspace_api_keys": api_keys_for(portals, hosts)}

    run = ansible.run(PLAYBOOK, inventory=inventory, extra_vars=extra_vars, check=True)

    assert run.rc == 0, run.describe()
    assert "Outcome: would change in check mode" in summary_lines(run, "docspace-eu")
