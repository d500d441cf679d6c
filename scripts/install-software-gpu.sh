#!/usr/bin/env bash
# Installs a software WebGPU adapter for tests: Mesa 25's lavapipe (a Vulkan driver that runs on the CPU),
# which Dawn (the `webgpu` package) accepts. It is for correctness tests and host-side costs only, never a
# GPU speed figure. Debian 12's own lavapipe (Mesa 22.3) is refused by Dawn, so on Debian 12 this takes
# mesa-vulkan-drivers from bookworm-backports; elsewhere (Debian 13+, Ubuntu 24.04+) the distribution's
# own package is new enough.
#
# Does nothing when a Vulkan driver is already installed. Needs root (apt-get); prints what to run
# otherwise. Exit 0 when a driver is present afterwards, 1 when not.
set -euo pipefail

has_driver() {
  local f
  for f in /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json; do [ -e "$f" ] && return 0; done
  return 1
}
mesa_version() {
  dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true
}
# Dawn needs Mesa >= 24 (22.3 lacks shaderUniform*ArrayDynamicIndexing).
mesa_new_enough() {
  local v; v="$(mesa_version)"
  [ -n "$v" ] || return 1
  local major="${v%%.*}"; major="${major#*:}"
  [ "$major" -ge 24 ] 2>/dev/null
}

if has_driver && { ! command -v dpkg-query >/dev/null 2>&1 || mesa_new_enough || [ -z "$(mesa_version)" ]; }; then
  echo "software-gpu: a Vulkan driver is already installed ($(mesa_version || true))"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "software-gpu: no apt-get here; install Mesa >= 24's lavapipe (Vulkan) with your package manager" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo"; else
    echo "software-gpu: needs root; run: sudo bash scripts/install-software-gpu.sh" >&2
    exit 1
  fi
fi

codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
if [ "$codename" = "bookworm" ]; then
  uri="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
  uri="${uri:-http://deb.debian.org/debian}"
  list=/etc/apt/sources.list.d/bookworm-backports.sources
  if [ ! -f "$list" ]; then
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" \
      | $sudo tee "$list" >/dev/null
  fi
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers >/dev/null
else
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mesa-vulkan-drivers >/dev/null
fi

if has_driver; then
  echo "software-gpu: installed mesa-vulkan-drivers $(mesa_version)"
else
  echo "software-gpu: mesa-vulkan-drivers installed but no Vulkan driver file found" >&2
  exit 1
fi
