#!/usr/bin/env bash
# Run playbooks/infrastructure_handover.yml against two simulated portals the way an
# operator would: a dry run, the run that sends the instructions, a dry run and a real
# run of the completion with docspace_confirmations, and a re-run that changes
# nothing. portal_state.yml checks the emails and owners in between, and each run's
# summary must report the expected outcome for both portals.

set -euxo pipefail

# shellcheck source-path=SCRIPTDIR
source ../setup_docspace_simulator/simulator.sh
start_docspace_simulator --portal acme --portal globex --https-port 0

# Options for every ansible-playbook run, with the verbosity (such as -v) that
# ansible-test passes to this script.
playbook_options=(-i inventory.yml -e @"$DOCSPACE_SIMULATOR_MANIFEST" "$@")

# ansible-test copies the playbook (needs/file in aliases) to the same path, relative
# to this target, as in the collection.
handover_playbook=../../../../playbooks/infrastructure_handover.yml
handover_log="$OUTPUT_DIR/handover.log"
all_handover_logs="$OUTPUT_DIR/handover-all.log"
confirmations_file="$OUTPUT_DIR/confirmations.json"
secrets_file="$OUTPUT_DIR/secrets.txt"
: >"$all_handover_logs"

run_handover() {
    ansible-playbook "${playbook_options[@]}" "$@" "$handover_playbook" | tee "$handover_log"
    cat "$handover_log" >>"$all_handover_logs"
}

check_portals() {
    ansible-playbook "${playbook_options[@]}" "$@" portal_state.yml
}

# Both portals must report OUTCOME in the summary of the last handover run.
expect_outcome() {
    local count
    count=$(grep -c "\"Outcome: $1\"" "$handover_log" || true)

    if [ "$count" -ne 2 ]; then
        echo "Expected the outcome '$1' for both portals, found it $count times." >&2
        return 1
    fi
}

run_handover --check --diff
expect_outcome 'would change in check mode'

# The dry run sent nothing, so the outbox contains exactly the email of this run.
run_handover
expect_outcome 'instructions sent, pending'
check_portals -e expected_emails=1 -e expected_owner=owner -e confirmations_file="$confirmations_file"

run_handover --check -e @"$confirmations_file"
expect_outcome 'would change in check mode'

# The dry run changed nothing, so this run is the one that transfers ownership. It
# runs with -vvv because the key and the links must stay hidden at every verbosity.
run_handover -vvv -e @"$confirmations_file"
expect_outcome 'ownership transferred'

run_handover
expect_outcome 'already owner'
check_portals -e expected_emails=1 -e expected_owner=successor

# No run may print an owner's API key, a short-link code or a link's key.
python - "$DOCSPACE_SIMULATOR_MANIFEST" "$confirmations_file" >"$secrets_file" <<'PYTHON'
import json
import sys
from urllib.parse import parse_qs, urlsplit

with open(sys.argv[1], encoding="utf-8") as manifest_file:
    manifest = json.load(manifest_file)
with open(sys.argv[2], encoding="utf-8") as confirmations:
    links = json.load(confirmations)["docspace_confirmations"]

for portal in manifest["portals"].values():
    print(portal["users"]["owner"]["api_key"])
print(urlsplit(links["acme"]).path.rsplit("/", 1)[-1])
print(parse_qs(urlsplit(links["globex"]).query)["key"][0])
PYTHON

if grep -F -n -f "$secrets_file" "$all_handover_logs"; then
    echo "A handover run printed an API key or a confirmation link (lines above)." >&2
    exit 1
fi
