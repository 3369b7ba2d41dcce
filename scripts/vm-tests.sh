#!/bin/sh
# The VM test tier: tests/kernel (kprobe, kretprobe, fentry, fexit) in one
# pytest session inside a Debian 6.1 kernel booted by run-in-vm, which this
# host's kernel cannot do itself. run-in-vm lives next to the repository
# (../shared/kernel-vm/run-in-vm); without it the tier is skipped, saying so.
# Extra arguments go to pytest.
set -eu
cd "$(dirname "$0")/.."
RUN_IN_VM="${PYTRACE_RUN_IN_VM:-$(pwd)/../shared/kernel-vm/run-in-vm}"
if [ ! -x "$RUN_IN_VM" ]; then
    echo "vm-tests: skipped: $RUN_IN_VM not found (the kernel-vm runner is not next to this repository)"
    exit 0
fi
need=""
for pkg in qemu-system-x86 busybox-static xz-utils; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
done
if [ -n "$need" ]; then
    echo "vm-tests: installing$need"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq $need >/dev/null
fi
# The real interpreter, not a shim (a pyenv shim costs seconds per call under TCG).
if [ -x .venv/bin/python ]; then
    PY="$(.venv/bin/python -c 'import sys; print(sys.executable)')"
else
    PY="$(python3 -c 'import sys; print(sys.executable)')"
fi
start=$(date +%s)
status=0
PYTRACE_VM_TIER=1 "$RUN_IN_VM" --timeout "${PYTRACE_VM_TIMEOUT:-2400}" -- env PYTRACE_VM_TIER=1 "$PY" -m pytest -q -p no:cacheprovider tests/kernel "$@" || status=$?
echo "vm-tests: $(( $(date +%s) - start ))s in the VM (exit $status)"
exit $status
