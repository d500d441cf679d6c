#!/usr/bin/env bash
# The backend check (`npm run check:backends`): the backend-agreement suites (every method, tiny ResNet-20 task)
# on --backend webgpu and on wasm, a report of each, and benchmarks/checks/backend-agreement.ts comparing them.
# Needs a WebGPU adapter (a software one does: npm run setup installs Mesa's lavapipe) and the data of `npm run smoke`.
# Outputs: reports/runs-agreement-<backend>/ (stores), reports/backend-agreement-<backend>/ (reports),
# reports/backend-agreement.md (the comparison). Exit 1 when the backends disagree.
set -euo pipefail
cd "$(dirname "$0")/../.."
pb() { node --import tsx packages/cli/src/main.ts "$@"; }
for backend in webgpu wasm; do
  store="reports/runs-agreement-$backend"
  for suite in backend-agreement backend-agreement-structured; do
    pb run "benchmarks/suites/$suite.json" --backend "$backend" --store "$store"
  done
  pb report --store "$store" --out "reports/backend-agreement-$backend"
done
node --import tsx benchmarks/checks/backend-agreement.ts reports/runs-agreement-webgpu reports/runs-agreement-wasm --out reports/backend-agreement.md
