#!/usr/bin/env bash
# Installs what `make test` needs and a fresh Debian machine with Go lacks:
# Kamailio with its WebSocket and ephemeral-auth modules, SIPp (sip-tester),
# Chromium (the browser tests of the bar) and Node.js (the runner for
# GOOS=js GOARCH=wasm tests). Skips what is present.
set -euo pipefail

need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for pkg in kamailio kamailio-websocket-modules kamailio-autheph-modules sip-tester chromium; do
	have_pkg "$pkg" || need+=("$pkg")
done
command -v node >/dev/null 2>&1 || need+=(nodejs)

if [ ${#need[@]} -eq 0 ]; then
	exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
	SUDO="sudo -n"
else
	echo "setup: missing packages: ${need[*]}" >&2
	echo "setup: run as root (or with sudo): apt-get update && apt-get install -y ${need[*]}" >&2
	exit 1
fi

echo "setup: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
# The Debian package starts a system Kamailio on 5060; tests run their own.
if command -v systemctl >/dev/null 2>&1; then
	$SUDO systemctl disable --now kamailio >/dev/null 2>&1 || true
fi
