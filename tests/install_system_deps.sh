#!/usr/bin/env bash
# System packages the test suite needs beyond Python, from Debian's packages:
# - dovecot-imapd: tests/imap_server.py starts a private IMAP server on loopback for the polling tests;
# - chromium: the browser the end-to-end tests drive through Playwright (Playwright's own browser
#   download is not reachable here, so tests use /usr/bin/chromium);
# - xmlsec1: pysaml2 checks SAML signatures with it (lumiodesk/sso; tests/sso_idp.py signs with it too).
# - poppler-utils: the invoice tests turn the PDF into an image and text (pdftoppm, pdftotext, pdffonts).
# Idempotent: installs only what is missing.
set -euo pipefail

missing=()
if ! command -v dovecot >/dev/null 2>&1 && [ ! -x /usr/sbin/dovecot ]; then
    missing+=(dovecot-imapd)
fi
if [ ! -x /usr/bin/chromium ]; then
    missing+=(chromium)
fi
if ! command -v xmlsec1 >/dev/null 2>&1; then
    missing+=(xmlsec1)
fi

if ! command -v pdftoppm >/dev/null 2>&1; then
    missing+=(poppler-utils)
fi

if [ ${#missing[@]} -eq 0 ]; then
    echo "install_system_deps: dovecot, chromium, xmlsec1 and poppler-utils already installed"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install_system_deps: missing ${missing[*]}; install as root: apt-get install ${missing[*]}" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_system_deps: missing ${missing[*]} and apt-get is not available; install them by hand" >&2
    exit 1
fi

echo "install_system_deps: installing ${missing[*]} with apt-get"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The dovecot package enables and starts a system-wide server on ports 143/993; the tests run their own
# private instance, so stop the system one when there is a service manager (ignore errors in containers).
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now dovecot >/dev/null 2>&1 || true
fi
if ! command -v dovecot >/dev/null 2>&1 && [ ! -x /usr/sbin/dovecot ]; then
    echo "install_system_deps: dovecot still missing after apt-get" >&2
    exit 1
fi
[ -x /usr/bin/chromium ] || { echo "install_system_deps: chromium still missing after apt-get" >&2; exit 1; }
command -v xmlsec1 >/dev/null 2>&1 || { echo "install_system_deps: xmlsec1 still missing after apt-get" >&2; exit 1; }
echo "install_system_deps: installed ${missing[*]}"
