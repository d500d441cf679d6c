#!/usr/bin/env bash
# `npm run setup`: installs, or checks, what the tests need beyond npm on Debian/Ubuntu:
#   chromium            the HTML report's browser test (packages/report/src/html-report.browser.test.ts)
#   a software Vulkan   WebGPU tests on machines without a GPU (scripts/install-software-gpu.sh: Mesa's lavapipe)
# System packages are installed where this runs as root or with password-less sudo; elsewhere it prints the
# exact commands. Tests whose requirement is missing are skipped with a SKIPPED: line, except with CI=true,
# where they fail; so outside CI a missing piece is reported and setup exits 0, and in CI it exits 1.
#
# Opt-in native extras (dependencies' install scripts never run on `npm ci`, see README "Install scripts"):
#   --cuda         onnxruntime-node's CUDA 12 / TensorRT execution providers (a download from NuGet)
#   --tensorflow   libtensorflow for @tensorflow/tfjs-node (the `tensorflow` backend, CPU)
#   --tensorflow-gpu  the same for @tensorflow/tfjs-node-gpu (CUDA)
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; echo "usage: npm run setup [-- --cuda] [-- --tensorflow] [-- --tensorflow-gpu]"; }
extras=()
for arg in "$@"; do
  case "$arg" in
    --cuda | --tensorflow | --tensorflow-gpu) extras+=("$arg") ;;
    -h | --help) usage; exit 0 ;;
    *) echo "setup: unknown option '$arg'" >&2; usage >&2; exit 2 ;;
  esac
done

missing=()
note() { echo "setup: $*"; }

if [ ! -d node_modules ]; then
  echo "setup: node_modules/ is missing; run npm ci first" >&2
  exit 1
fi

root_command=""
can_install=false
if command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then can_install=true
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then can_install=true; root_command="sudo"
  fi
fi
os_id="$( (. /etc/os-release && echo "${ID:-}") 2>/dev/null || true)"

# chromium: the browser test uses PRUNEBENCH_CHROMIUM, else /usr/bin/chromium.
chromium="${PRUNEBENCH_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium" ] && [ -z "${PRUNEBENCH_CHROMIUM:-}" ] && [ "$os_id" = "debian" ] && $can_install; then
  note "installing chromium (apt-get install chromium)"
  $root_command apt-get update -qq
  $root_command env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
if [ -x "$chromium" ]; then
  note "chromium: $chromium ($("$chromium" --version 2>/dev/null | head -n 1 || echo 'version unknown'))"
else
  if [ "$os_id" = "ubuntu" ]; then
    how="sudo snap install chromium && export PRUNEBENCH_CHROMIUM=/snap/bin/chromium"
  else
    how="sudo apt-get install chromium (or export PRUNEBENCH_CHROMIUM=/path/to/chromium)"
  fi
  missing+=("chromium ($chromium not found): $how")
fi

# A Vulkan driver for WebGPU: the installer checks first and prints what to run when it cannot install.
if bash scripts/install-software-gpu.sh; then :; else
  missing+=("a software Vulkan driver for the WebGPU tests: sudo bash scripts/install-software-gpu.sh")
fi

for extra in "${extras[@]}"; do
  case "$extra" in
    --cuda)
      note "onnxruntime-node: downloading the CUDA 12 execution providers"
      (cd node_modules/onnxruntime-node && ONNXRUNTIME_NODE_INSTALL=cuda12 npm run --silent postinstall) ;;
    --tensorflow | --tensorflow-gpu)
      package="@tensorflow/tfjs-node${extra#--tensorflow}"
      if [ ! -d "node_modules/$package" ]; then
        missing+=("$package is not installed (npm ci installs it where its platform is supported)")
        continue
      fi
      note "$package: fetching libtensorflow"
      (cd "node_modules/$package" && npm run --silent install) ;;
  esac
done

if [ ${#missing[@]} -eq 0 ]; then
  note "everything the tests need is here"
  exit 0
fi
for item in "${missing[@]}"; do echo "setup: MISSING: $item" >&2; done
case "${CI:-}" in
  true | 1) echo "setup: CI=${CI} requires these; failing" >&2; exit 1 ;;
  *) echo "setup: the tests that need them are skipped (a SKIPPED: line each) until they are installed" >&2; exit 0 ;;
esac
