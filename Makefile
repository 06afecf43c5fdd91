# Single entry point for building, testing and demonstrating the
# onlyoffice.docspace collection. Needs only Python 3 with venv and pip:
# every other tool is installed into .venv (and .venv-lowest) from the pinned
# requirements files. `make help` lists the targets.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

PYTHON ?= python3
# Interpreter for the lowest supported ansible-core (2.16 runs on 3.10 to 3.12).
LOWEST_PYTHON ?= python3.11
# Interpreter for the newest ansible-core (2.21 needs Python 3.12 or newer): the
# first Python 3.13 or 3.12 that pyenv or PATH offers. Without one, the leg is
# left out with a notice.
NEXT_PYTHON ?= $(shell for candidate in $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.13*/bin/python3.13 \
	$${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.12*/bin/python3.12 python3.13 python3.12; do \
	"$$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null \
	&& { command -v "$$candidate"; break; }; done)
# Python version ansible-test runs its tests with; it must match .venv.
ANSIBLE_TEST_PYTHON ?= 3.11
# pytest-xdist workers for the pytest suites; 0 runs them in one process.
PYTEST_WORKERS ?= 2

VENV := .venv
VENV_LOWEST := .venv-lowest
VENV_NEXT := .venv-next
BIN := $(CURDIR)/$(VENV)/bin
BIN_LOWEST := $(CURDIR)/$(VENV_LOWEST)/bin
BIN_NEXT := $(CURDIR)/$(VENV_NEXT)/bin
BUILD_DIR := build

# The collection built from this tree is installed here, and the pytest
# integration tests and the demo run the playbook against this copy.
COLLECTIONS_ROOT := $(CURDIR)/.cache/collections
export DOCSPACE_TEST_COLLECTIONS_PATH := $(COLLECTIONS_ROOT)
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS_ROOT)

# Tools from .venv come first, so `ansible-playbook` in a test is the pinned one.
export PATH := $(BIN):$(PATH)

SIMULATOR_REQUIREMENTS := $(wildcard tests/simulator-requirements.txt)
VENV_STAMP := $(VENV)/.requirements-installed
VENV_LOWEST_STAMP := $(VENV_LOWEST)/.requirements-installed
VENV_NEXT_STAMP := $(VENV_NEXT)/.requirements-installed

ANSIBLE_TEST := $(BIN)/python tools/ansible_test.py
ANSIBLE_TEST_OPTIONS := --local --requirements --python $(ANSIBLE_TEST_PYTHON) --color no
# loadscope keeps each test module on one worker, so the module-scoped
# simulators and batched playbooks run once instead of once per worker.
PYTEST_OPTIONS := $(if $(filter-out 0,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS) --dist loadscope)

.PHONY: help demo test bench lint sanity units integration clean distclean \
	venv venv-lowest venv-next ruff collection doc pytest pytest-lowest pytest-next \
	pytest-units pytest-integration ansible-test-sanity ansible-test-units \
	ansible-test-integration ansible-lint changelog-lint changelog build-check

help:
	@echo 'make demo         build the collection and hand over the simulator'\''s demo portal'
	@echo 'make test         the whole test suite, in order, stopping at the first failure'
	@echo 'make lint         ruff, ansible-lint (production profile) and the changelog lint'
	@echo 'make sanity       ansible-test sanity, all tests'
	@echo 'make units        pytest unit tests, then ansible-test units'
	@echo 'make integration  pytest integration tests (2.19, lowest and newest ansible-core), then ansible-test integration'
	@echo 'make bench        time the handover for 1, 10 and 100 portals against an ansible.builtin.uri baseline'
	@echo 'make changelog    regenerate CHANGELOG.rst from changelogs/'
	@echo 'make clean        remove build output, caches and test output (make distclean: the virtual environments too)'

# Virtual environments. The stamp files reinstall when a requirements file changes.

venv: $(VENV_STAMP)

$(VENV_STAMP): requirements.txt requirements-dev.txt $(SIMULATOR_REQUIREMENTS)
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "$(PYTHON) is older than 3.11, which ansible-core 2.19 needs; run make with PYTHON=python3.11 (or newer)." >&2; exit 1; }
	@# A virtual environment left by an older Python cannot install the pins; start it again.
	test -x $(VENV)/bin/python && $(VENV)/bin/python -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { rm -rf $(VENV); $(PYTHON) -m venv $(VENV); }
	$(VENV)/bin/python -m pip install --quiet --requirement requirements-dev.txt
	touch $@

venv-lowest: $(VENV_LOWEST_STAMP)

$(VENV_LOWEST_STAMP): requirements.txt requirements-lowest.txt $(SIMULATOR_REQUIREMENTS)
	test -x $(VENV_LOWEST)/bin/python || $(LOWEST_PYTHON) -m venv $(VENV_LOWEST)
	$(VENV_LOWEST)/bin/python -m pip install --quiet --requirement requirements-lowest.txt
	touch $@

venv-next: $(VENV_NEXT_STAMP)

$(VENV_NEXT_STAMP): requirements.txt requirements-next.txt $(SIMULATOR_REQUIREMENTS)
	@test -n "$(NEXT_PYTHON)" || { echo "No Python 3.12 or newer found for the newest ansible-core; set NEXT_PYTHON." >&2; exit 1; }
	test -x $(VENV_NEXT)/bin/python || $(NEXT_PYTHON) -m venv $(VENV_NEXT)
	$(VENV_NEXT)/bin/python -m pip install --quiet --requirement requirements-next.txt
	touch $@

# Build the collection, failing on any warning, and install the tarball into
# a clean collections root.

define build_collection
	rm -rf $(BUILD_DIR)
	output=$$($(BIN)/ansible-galaxy collection build --output-path $(BUILD_DIR) 2>&1) \
		|| { echo "$$output"; exit 1; }; \
	echo "$$output"; \
	if grep -qiE 'warning|deprecat' <<< "$$output"; then \
		echo 'ansible-galaxy collection build printed a warning (see above).' >&2; exit 1; fi
endef

collection: $(VENV_STAMP)
	$(build_collection)
	rm -rf $(COLLECTIONS_ROOT)
	mkdir -p $(COLLECTIONS_ROOT)
	$(BIN)/ansible-galaxy collection install --offline --collections-path $(COLLECTIONS_ROOT) $(BUILD_DIR)/*.tar.gz

build-check: $(VENV_STAMP)
	$(build_collection)

# ansible-doc must render every module from the installed collection.
doc: $(VENV_STAMP)
	for module in docspace_portal_owner docspace_portal_owner_info; do \
		output=$$($(BIN)/ansible-doc --type module onlyoffice.docspace.$$module 2>&1) \
			|| { echo "$$output"; exit 1; }; \
		if grep -qE '^\[(WARNING|ERROR)\]|^ERROR' <<< "$$output"; then \
			echo "$$output"; exit 1; fi; \
		head -n 3 <<< "$$output"; \
	done

ruff: $(VENV_STAMP)
	$(BIN)/ruff check plugins tests tools

# pytest exits with 5 when it collects no test; make treats that as a failure.
pytest: $(VENV_STAMP)
	$(BIN)/python -m pytest $(PYTEST_OPTIONS) tests/unit tests/integration

pytest-units: $(VENV_STAMP)
	$(BIN)/python -m pytest $(PYTEST_OPTIONS) tests/unit

pytest-integration: $(VENV_STAMP)
	$(BIN)/python -m pytest $(PYTEST_OPTIONS) tests/integration

# The same integration tests with the lowest ansible-core: its bin directory
# comes first on PATH, so the tests run its ansible-playbook.
# The 200-portal load test (marker "slow") runs on the newest ansible-core only.
pytest-lowest: $(VENV_LOWEST_STAMP)
	PATH="$(BIN_LOWEST):$$PATH" $(BIN_LOWEST)/python -m pytest $(PYTEST_OPTIONS) -m "not slow" tests/integration

# The same integration tests with the newest ansible-core, on NEXT_PYTHON. A
# machine without Python 3.12 or newer leaves this leg out and says so.
pytest-next:
ifeq ($(strip $(NEXT_PYTHON)),)
	@echo "NOTE: no Python 3.12 or newer found, so the integration tests do not run on the newest ansible-core (set NEXT_PYTHON)." >&2
else
	$(MAKE) $(VENV_NEXT_STAMP)
	PATH="$(BIN_NEXT):$$PATH" $(BIN_NEXT)/python -m pytest $(PYTEST_OPTIONS) -m "not slow" tests/integration
endif

# ansible-test runs on a temporary ansible_collections/onlyoffice/docspace copy
# of this tree and uses its own collection path, so ours is unset for it.
ansible-test-sanity: $(VENV_STAMP)
	env -u ANSIBLE_COLLECTIONS_PATH $(ANSIBLE_TEST) sanity $(ANSIBLE_TEST_OPTIONS)

ansible-test-units: $(VENV_STAMP)
	env -u ANSIBLE_COLLECTIONS_PATH $(ANSIBLE_TEST) units $(ANSIBLE_TEST_OPTIONS)

ansible-test-integration: $(VENV_STAMP)
	env -u ANSIBLE_COLLECTIONS_PATH $(ANSIBLE_TEST) integration $(ANSIBLE_TEST_OPTIONS)

# ansible-lint installs this tree as a collection into .ansible/collections
# itself. Limiting the collections path to that directory keeps it from
# linting against another installed copy, such as ours in .cache or one in
# ~/.ansible/collections.
ansible-lint: $(VENV_STAMP)
	ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/.ansible/collections $(BIN)/ansible-lint --profile production

changelog-lint: $(VENV_STAMP)
	$(BIN)/antsibull-changelog lint

changelog: $(VENV_STAMP)
	$(BIN)/antsibull-changelog generate

# Sub-steps of `make test`.

lint: ruff ansible-lint changelog-lint

sanity: ansible-test-sanity

units: pytest-units ansible-test-units

integration: collection pytest-integration pytest-lowest pytest-next ansible-test-integration

# The whole suite. Each step runs in its own make so the order is fixed even
# under `make -j`, and the first failure stops the run.
test:
	$(MAKE) ruff
	$(MAKE) collection
	$(MAKE) doc
	$(MAKE) pytest
	$(MAKE) pytest-lowest
	$(MAKE) pytest-next
	$(MAKE) ansible-test-sanity
	$(MAKE) ansible-test-units
	$(MAKE) ansible-test-integration
	$(MAKE) ansible-lint
	$(MAKE) changelog-lint
	$(MAKE) build-check

demo: collection
	$(BIN)/python tools/demo.py --collections-path $(COLLECTIONS_ROOT)

# 7 to 9 minutes on 2 CPUs busy with other jobs. docs/benchmarks.md has the
# results and the options.
bench: collection
	$(BIN)/python tests/benchmark/run.py

clean:
	rm -rf $(BUILD_DIR) .cache .ansible tests/output .pytest_cache .ruff_cache
	find . -path ./$(VENV) -prune -o -path ./$(VENV_LOWEST) -prune -o -path ./$(VENV_NEXT) -prune \
		-o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) $(VENV_LOWEST) $(VENV_NEXT)
