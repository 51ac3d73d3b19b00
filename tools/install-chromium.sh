#!/usr/bin/env bash
# Debian's chromium and chromedriver for the report's browser test (tests/test_report_browser.py):
# the test drives these system binaries, so nothing is downloaded when the tests run.
# Idempotent: installs only what is missing. Needs root or sudo, and apt (Debian/Ubuntu).
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    echo "chromium and chromedriver already installed"
else
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "install-chromium.sh: no apt-get here; install chromium and chromedriver with your package manager" >&2
        exit 1
    fi
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    # Debian names the driver package chromium-driver; Ubuntu's chromium is a snap and is not supported here.
    $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
fi
# The version lines go to the log; Debian's launcher script prints a harmless shell warning on stderr.
chromium --version 2>/dev/null
chromedriver --version
