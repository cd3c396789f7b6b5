#!/usr/bin/env bash
# Installs everything badgewatch needs on a fresh Debian machine (as root): Debian packages,
# then a virtual environment in .venv with the project and its test tools. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(python3-venv chromium fonts-wqy-zenhei nginx)

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})) && [ "$(id -u)" = 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v -i "warning" || true
.venv/bin/python -m pip install -q -e '.[test]' 2>&1 | grep -v -i "warning" || true
.venv/bin/python -c "import badgewatch, scrapy, sqlalchemy" # fail here if the install did
