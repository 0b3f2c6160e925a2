#!/usr/bin/env bash
# Installs the Debian packages tfvb's tests and zoo recipes read data from.
# Fashion-MNIST: /usr/share/datasets/fashion-mnist (dataset-fashion-mnist).
set -eu
if [ -d /usr/share/datasets/fashion-mnist ]; then exit 0; fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: apt-get not found; install Fashion-MNIST's IDX files yourself and set TFVB_DATA_DIR" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
$SUDO apt-get install -y -q dataset-fashion-mnist >/dev/null
