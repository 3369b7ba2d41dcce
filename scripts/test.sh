#!/bin/sh
# Run pytrace's tests: set up what is missing, then the host test suite
# (end-to-end tests load real programs into this kernel, so run as root),
# then the VM tier (scripts/vm-tests.sh).
set -eu
cd "$(dirname "$0")/.."
./scripts/setup.sh >/dev/null
.venv/bin/python -m pytest -q tests "$@"
./scripts/vm-tests.sh  # kprobe/fentry tests in a Debian 6.1 VM (skipped when run-in-vm is absent)
