#!/usr/bin/env bash
# Every GPU measurement of issue 16 in one command, for the GPU machine. Prepare here:
#   npm ci && node benchmarks/device/build.mjs && bash ../shared/device/pack.sh
# then run there with the device tool (carry .device):
#   source .device/bootstrap.sh && bash benchmarks/device/run.sh
# Writes everything under $OUT (default benchmarks/perf/results/device): the compiled steps against tfjs's
# op-by-op step and PyTorch eager on CUDA (ResNet-20/56 at batch 128, BERT-mini at batch 32 × 128 tokens), and the
# op-by-op throughput cases with PyTorch beside them. Each part's log goes to $OUT/<part>.log; a failed part does not
# stop the others, and the exit status says whether any failed. Test it on the software GPU first with
# QUICK=1 (small batches, one step: a correctness run of the script, not a measurement).
set -u
OUT=${OUT:-benchmarks/perf/results/device}
mkdir -p "$OUT"
node=${NODE:-node}
if [ "${QUICK:-0}" = 1 ]; then
  resnet=(--depths 20 --batch 2 --steps 1 --host-steps 2 --no-wasm --no-tfjs-full)
  bert=(--depths none --bert --seq 16 --bert-batch 2 --steps 1 --host-steps 2 --no-wasm --no-tfjs-full)
  throughput=(--cases resnet20-eval --steps 1 --reps 1 --no-torch)
else
  resnet=(--depths 20,56 --batch 128 --steps 5 --no-wasm --torch)
  bert=(--depths none --bert --seq 128 --bert-batch 32 --steps 5 --no-wasm --torch)
  throughput=(--cases resnet20-train,resnet56-train,resnet20-eval,resnet56-eval,bert-mini-train --steps 5 --reps 3)
fi
failed=0
part() {
  local name=$1; shift
  echo "device run: $name: $*"
  if ! "$@" > "$OUT/$name.log" 2>&1; then echo "device run: $name FAILED (see $OUT/$name.log)"; failed=1; fi
  tail -n 25 "$OUT/$name.log"
}
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1 || true
part compiled-resnet "$node" benchmarks/perf/dist/compiled-step.mjs "${resnet[@]}" --out "$OUT/compiled-step-resnet.json"
part compiled-bert "$node" benchmarks/perf/dist/compiled-step.mjs "${bert[@]}" --out "$OUT/compiled-step-bert.json"
part throughput "$node" benchmarks/perf/dist/throughput.mjs --backend webgpu "${throughput[@]}" --out "$OUT/throughput-webgpu.json"
exit $failed
