#!/bin/sh
# Set up pytrace on a fresh Debian 12 machine (run as root from the repo root):
# Debian's bcc (python3-bpfcc), bpftool and bpftrace (the reference the tests
# compare with), systemtap-sdt-dev (<sys/sdt.h> for the USDT test fixtures),
# linux-libc-dev/libc6-dev (the system headers whose constants `#include` brings),
# gcc/g++/binutils/zip (test programs of the fixtures and of bpftrace's own
# runtime suite), iputils-ping (a workload of that suite), prometheus (the server the exporter's end-to-end test
# scrapes with), chromium (renders the flame graph SVG in its test), tmux (the
# REPL's terminal test), a
# virtualenv in .venv with pytrace installed editable with its test extra
# (pytest, hypothesis, and pandas, the optional DataFrame dependency: pyproject.toml).
set -eu
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
need=""
for pkg in python3-bpfcc bpftool bpftrace python3-venv systemtap-sdt-dev linux-libc-dev libc6-dev gcc g++ binutils procps util-linux zip git iputils-ping prometheus chromium tmux; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
done
if [ -n "$need" ]; then
    apt-get update -qq
    apt-get install -y -qq $need >/dev/null
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'
# Kernel filesystems pytrace needs (it also mounts them itself when missing).
[ -d /sys/kernel/tracing/events ] || mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || true
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf 2>/dev/null || true
echo "pytrace is installed: .venv/bin/pytrace"
