#!/usr/bin/env bash
# Installs what eplb needs on a fresh Debian machine: the C++ toolchain and libraries from apt,
# the Python build and test tools from PyPI. Safe to run again.
set -euo pipefail
sudo_cmd=""
if [ "$(id -u)" != 0 ]; then sudo_cmd=sudo; fi
packages="cmake ninja-build g++ libsimdjson-dev libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev python3-venv python3-pip"
missing=""
for package in $packages; do
  dpkg -s "$package" >/dev/null 2>&1 || missing="$missing $package"
done
if [ -n "$missing" ]; then
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq $missing >/dev/null
fi
