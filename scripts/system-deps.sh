#!/usr/bin/env bash
# Installs the Debian packages tfvb's tests and zoo recipes read data from, and, with `browser`,
# the browser the documentation test opens the built site in.
#   scripts/system-deps.sh           Fashion-MNIST: /usr/share/datasets/fashion-mnist (dataset-fashion-mnist)
#   scripts/system-deps.sh browser   headless Chromium and its WebDriver (chromium, chromium-driver)
set -eu
packages=()
if [ ! -d /usr/share/datasets/fashion-mnist ]; then packages+=(dataset-fashion-mnist); fi
if [ "${1:-}" = "browser" ]; then
  command -v chromium >/dev/null 2>&1 || packages+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || packages+=(chromium-driver)
fi
if [ ${#packages[@]} -eq 0 ]; then exit 0; fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: apt-get not found; install ${packages[*]} yourself (Fashion-MNIST's IDX files: set TFVB_DATA_DIR)" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
$SUDO apt-get install -y -q --no-install-recommends "${packages[@]}" >/dev/null
