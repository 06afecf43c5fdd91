# shellcheck shell=bash
# Start the DocSpace simulator for an integration target. A target's runme.sh sources
# this file, and its aliases list needs/target/setup_docspace_simulator so that
# ansible-test copies it.
#
# start_docspace_simulator [OPTION...] starts the simulator from the tests/ directory of
# the collection under test on a free loopback port, passing OPTIONs on (for example
# --portal acme --https-port 0), and returns once the simulator has written its
# manifest. DOCSPACE_SIMULATOR_MANIFEST then names that JSON file: http_url,
# https_url, ca_path and, under portals, each portal's base URLs and users with their
# ids, emails and API keys. An EXIT trap stops the simulator, and prints its log when
# the script fails.

# Seconds to wait for the manifest. Starting took well under a second on an idle
# machine, test CA included, so this only matters on a busy CI runner.
DOCSPACE_SIMULATOR_START_TIMEOUT=30

start_docspace_simulator() {
    local collections_root tests_dir deadline

    : "${OUTPUT_DIR:?is not set; run this target with ansible-test integration}"
    : "${ANSIBLE_COLLECTIONS_PATH:?is not set; run this target with ansible-test integration}"

    # ansible-test sets ANSIBLE_COLLECTIONS_PATH to the root that contains the
    # collection under test, so the simulator comes from the same copy as the modules.
    collections_root=${ANSIBLE_COLLECTIONS_PATH%%:*}
    tests_dir="$collections_root/ansible_collections/onlyoffice/docspace/tests"

    if [ ! -d "$tests_dir/docspace_simulator" ]; then
        echo "DocSpace simulator not found: $tests_dir/docspace_simulator does not exist. Run the targets on the whole collection, for example with make ansible-test-integration." >&2
        return 1
    fi

    DOCSPACE_SIMULATOR_MANIFEST="$OUTPUT_DIR/docspace-simulator.json"
    DOCSPACE_SIMULATOR_LOG="$OUTPUT_DIR/docspace-simulator.log"
    rm -f "$DOCSPACE_SIMULATOR_MANIFEST"

    PYTHONPATH="$tests_dir${PYTHONPATH:+:$PYTHONPATH}" \
        python -m docspace_simulator --port 0 --manifest "$DOCSPACE_SIMULATOR_MANIFEST" "$@" \
        >"$DOCSPACE_SIMULATOR_LOG" 2>&1 &
    DOCSPACE_SIMULATOR_PID=$!
    trap stop_docspace_simulator EXIT

    # The simulator writes the manifest atomically once it listens, so a file that
    # exists is complete.
    deadline=$((SECONDS + DOCSPACE_SIMULATOR_START_TIMEOUT))
    until [ -s "$DOCSPACE_SIMULATOR_MANIFEST" ]; do
        if ! kill -0 "$DOCSPACE_SIMULATOR_PID" 2>/dev/null; then
            echo "The DocSpace simulator exited before it wrote its manifest. Its log follows." >&2
            return 1
        fi

        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "The DocSpace simulator wrote no manifest within $DOCSPACE_SIMULATOR_START_TIMEOUT seconds. Its log follows." >&2
            return 1
        fi

        sleep 0.1
    done
}

# The EXIT trap: the script's exit status stays what it was, because the trap ends
# without calling exit.
stop_docspace_simulator() {
    local status=$?

    if kill "$DOCSPACE_SIMULATOR_PID" 2>/dev/null; then
        wait "$DOCSPACE_SIMULATOR_PID" || true
    fi

    if [ "$status" -ne 0 ] && [ -f "$DOCSPACE_SIMULATOR_LOG" ]; then
        echo "DocSpace simulator log ($DOCSPACE_SIMULATOR_LOG):" >&2
        cat "$DOCSPACE_SIMULATOR_LOG" >&2
    fi
}
