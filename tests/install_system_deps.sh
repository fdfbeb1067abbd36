#!/usr/bin/env bash
# System packages the test suite needs beyond Python: Debian's dovecot IMAP server
# (tests/imap_server.py starts a private instance on loopback for the IMAP polling tests).
# Idempotent: does nothing when dovecot is already installed.
set -euo pipefail

have_dovecot() {
    command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ]
}

if have_dovecot; then
    echo "install_system_deps: dovecot already installed ($(command -v dovecot || echo /usr/sbin/dovecot))"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install_system_deps: dovecot is missing; install it as root: apt-get install dovecot-imapd" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_system_deps: dovecot is missing and apt-get is not available; install dovecot (IMAP) by hand" >&2
    exit 1
fi

echo "install_system_deps: installing dovecot-imapd with apt-get"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dovecot-imapd >/dev/null
# The package enables and starts a system-wide dovecot on ports 143/993; the tests run their own
# private instance, so stop the system one when there is a service manager (ignore errors in containers).
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now dovecot >/dev/null 2>&1 || true
fi
have_dovecot || { echo "install_system_deps: dovecot still missing after apt-get" >&2; exit 1; }
echo "install_system_deps: installed $(dovecot --version 2>/dev/null || echo dovecot)"
