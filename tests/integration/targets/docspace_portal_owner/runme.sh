#!/usr/bin/env bash
# Start a simulated DocSpace portal "acme" and run runme.yml against it, with the
# simulator's manifest (URLs, users, API keys) as extra vars.

set -eux

# shellcheck source-path=SCRIPTDIR
source ../setup_docspace_simulator/simulator.sh
start_docspace_simulator --portal acme

ansible-playbook -i "$INVENTORY_PATH" runme.yml -e @"$DOCSPACE_SIMULATOR_MANIFEST" "$@"
