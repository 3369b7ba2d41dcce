#!/bin/sh
# Run pytrace's tests: set up what is missing, then the host test suite
# (end-to-end tests load real programs into this kernel, so run as root).
set -eu
cd "$(dirname "$0")/.."
./scripts/setup.sh >/dev/null
exec .venv/bin/python -m pytest -q tests "$@"
