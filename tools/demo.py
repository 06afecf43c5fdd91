#!/usr/bin/env python
"""Hand over the DocSpace simulator's demo portal with the handover playbook.

`make demo` runs this after installing the built collection. It starts the
simulator on a free loopback port and writes an inventory for its ``demo``
portal. Then it runs playbooks/infrastructure_handover.yml four times:

1. as a dry run (--check --diff);
2. for real, so DocSpace emails the instructions to the current owner;
3. with the confirmation link from that email, to complete the transfer;
4. once more, to show that a finished handover changes nothing.

Last it reads the new owner from the portal. The simulator is stopped
however the run ends.

The owner's API key reaches the playbook only through the DOCSPACE_API_KEY
environment variable, and the confirmation link only through an extra-vars
file, so neither appears on a command line.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

REPOSITORY_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLAYBOOK = os.path.join(REPOSITORY_ROOT, 'playbooks', 'infrastructure_handover.yml')
PORTAL_ALIAS = 'demo'

# Seconds to wait for the simulator to write its manifest, and to exit on SIGTERM.
SIMULATOR_START_TIMEOUT = 30
SIMULATOR_STOP_TIMEOUT = 10


class DemoError(Exception):
    """A demo step failed; the message names the step and the cause."""


def parse_arguments():
    """Return the command line options."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument(
        '--collections-path',
        default=os.environ.get('DOCSPACE_TEST_COLLECTIONS_PATH', os.path.join(REPOSITORY_ROOT, '.cache', 'collections')),
        help='collections root that contains ansible_collections/onlyoffice/docspace (default: %(default)s)',
    )
    return parser.parse_args()


def print_step(title):
    """Print a heading for the next demo step."""
    print('\n=== %s ===' % title, flush=True)


def start_simulator(work_directory):
    """Start the simulator in the background; return (process, manifest, log path)."""
    manifest_path = os.path.join(work_directory, 'manifest.json')
    log_path = os.path.join(work_directory, 'simulator.log')

    environment = dict(os.environ)
    tests_directory = os.path.join(REPOSITORY_ROOT, 'tests')
    environment['PYTHONPATH'] = os.pathsep.join(filter(None, [tests_directory, environment.get('PYTHONPATH')]))

    # Port 0 lets the simulator take a free port; the manifest gives its URLs.
    command = [sys.executable, '-m', 'docspace_simulator', '--host', '127.0.0.1', '--port', '0', '--manifest', manifest_path]

    with open(log_path, 'wb') as log_file:
        process = subprocess.Popen(
            command, cwd=REPOSITORY_ROOT, env=environment, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
        )

    # The simulator writes the manifest, in one rename, once it listens.
    deadline = time.monotonic() + SIMULATOR_START_TIMEOUT

    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DemoError('The simulator exited with code %s before it was ready:\n%s' % (process.returncode, read_log(log_path)))

        try:
            with open(manifest_path, encoding='utf-8') as manifest_file:
                return process, json.load(manifest_file), log_path
        except FileNotFoundError:
            time.sleep(0.2)

    stop_simulator(process)
    raise DemoError('The simulator wrote no manifest within %d s:\n%s' % (SIMULATOR_START_TIMEOUT, read_log(log_path)))


def stop_simulator(process):
    """Stop the simulator process, killing it if SIGTERM does not end it in time."""
    if process.poll() is not None:
        return

    process.send_signal(signal.SIGTERM)

    try:
        process.wait(timeout=SIMULATOR_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def read_log(log_path):
    """Return the simulator's log output, for error messages."""
    with open(log_path, encoding='utf-8', errors='replace') as log_file:
        return log_file.read()


def write_inventory(work_directory, portal):
    """Write an inventory with the demo portal in group docspace_portals; return its path."""
    inventory = {
        'docspace_portals': {
            'hosts': {
                PORTAL_ALIAS: {
                    'ansible_connection': 'local',
                    # Run the modules with this interpreter, which has requests.
                    'ansible_python_interpreter': sys.executable,
                    'docspace_base_url': portal['base_url'],
                    'docspace_new_owner_email': portal['users']['successor']['email'],
                },
            },
        },
    }
    inventory_path = os.path.join(work_directory, 'inventory.json')

    with open(inventory_path, 'w', encoding='utf-8') as inventory_file:
        json.dump(inventory, inventory_file, indent=2)

    return inventory_path


def run_playbook(inventory_path, environment, extra_arguments):
    """Run the handover playbook against the demo inventory; raise DemoError when it fails."""
    ansible_playbook = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')

    if not os.path.exists(ansible_playbook):
        ansible_playbook = shutil.which('ansible-playbook') or 'ansible-playbook'

    command = [ansible_playbook, '--inventory', inventory_path, PLAYBOOK] + extra_arguments
    print('$ %s' % ' '.join(command), flush=True)

    result = subprocess.run(command, cwd=REPOSITORY_ROOT, env=environment, stdin=subprocess.DEVNULL, check=False)

    if result.returncode != 0:
        raise DemoError('ansible-playbook exited with code %d.' % result.returncode)


def request_json(url, api_key=None):
    """GET URL from the simulator and return the decoded JSON body."""
    request = urllib.request.Request(url, headers={'Accept': 'application/json'})

    if api_key:
        request.add_header('Authorization', 'Bearer %s' % api_key)

    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def read_confirmation_link(simulator_url, new_owner_id):
    """Return the short link from the newest email in the demo portal's outbox that names NEW_OWNER_ID."""
    emails = request_json('%s/_simulator/portals/%s/outbox' % (simulator_url, PORTAL_ALIAS))
    links = [email['short_link'] for email in emails if email.get('new_owner_id') == new_owner_id]

    if not links:
        raise DemoError('The demo portal\'s outbox has no owner-change email for user %s.' % new_owner_id)

    return links[-1]


def read_owner(base_url, api_key):
    """Return the portal owner's profile, read the way the modules read it."""
    settings = request_json('%s/api/2.0/settings' % base_url, api_key)
    owner_id = settings['response']['ownerId']
    return request_json('%s/api/2.0/people/%s' % (base_url, owner_id), api_key)['response']


def run_demo(work_directory, collections_path):
    """Run every demo step with the simulator started in WORK_DIRECTORY."""
    print_step('Starting the DocSpace simulator')
    process, manifest, log_path = start_simulator(work_directory)

    try:
        portal = manifest['portals'][PORTAL_ALIAS]
        owner = portal['users']['owner']
        successor = portal['users']['successor']
        print('Portal %s at %s: owner %s, new owner %s' % (PORTAL_ALIAS, portal['base_url'], owner['email'], successor['email']))

        inventory_path = write_inventory(work_directory, portal)
        environment = dict(os.environ)
        environment['ANSIBLE_COLLECTIONS_PATH'] = collections_path
        environment['DOCSPACE_API_KEY'] = owner['api_key']

        print_step('Dry run: what the playbook would change')
        run_playbook(inventory_path, environment, ['--check', '--diff'])

        print_step('Sending the transfer instructions to the current owner')
        run_playbook(inventory_path, environment, ['--diff'])

        print_step('Completing the transfer with the link from the email')
        confirmation = read_confirmation_link(manifest['http_url'], successor['id'])
        extra_vars_path = os.path.join(work_directory, 'confirmation.json')

        with open(extra_vars_path, 'w', encoding='utf-8') as extra_vars_file:
            json.dump({'docspace_confirmation': confirmation}, extra_vars_file)

        run_playbook(inventory_path, environment, ['--diff', '--extra-vars', '@' + extra_vars_path])

        print_step('Running again: the owner is already the new owner, so nothing changes')
        run_playbook(inventory_path, environment, ['--diff'])

        print_step('Result')
        new_owner = read_owner(portal['base_url'], owner['api_key'])
        print('The owner of portal %s is now %s <%s> (id %s).' % (
            PORTAL_ALIAS, new_owner.get('displayName'), new_owner.get('email'), new_owner.get('id')))

        if new_owner.get('id') != successor['id']:
            raise DemoError('The owner is %s, but the demo expected %s.' % (new_owner.get('email'), successor['email']))
    except (DemoError, OSError, KeyError, ValueError) as error:
        print('\nSimulator log:\n%s' % read_log(log_path), file=sys.stderr)

        if isinstance(error, DemoError):
            raise

        # A failed request to the simulator, or a manifest or response
        # without the expected fields.
        raise DemoError('%s: %s' % (type(error).__name__, error)) from error
    finally:
        stop_simulator(process)


def main():
    """Run the demo in a temporary directory and return the exit code."""
    arguments = parse_arguments()

    if not os.path.isdir(os.path.join(arguments.collections_path, 'ansible_collections', 'onlyoffice', 'docspace')):
        print('onlyoffice.docspace is not installed in %s: run `make demo`, which installs it first.' % arguments.collections_path,
              file=sys.stderr)
        return 1

    work_directory = tempfile.mkdtemp(prefix='docspace-demo-')

    try:
        run_demo(work_directory, arguments.collections_path)
    except DemoError as error:
        print('\nThe demo failed: %s' % error, file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work_directory, ignore_errors=True)

    return 0


if __name__ == '__main__':
    sys.exit(main())
