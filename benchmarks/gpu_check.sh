#!/usr/bin/env bash
# The CUDA checks, in one command, in under 8 minutes:
#   bash benchmarks/gpu_check.sh            (from the repository root; PYTHON=... to pick the interpreter)
# Prints, in order: the device; training data path ratio; attribution ratio; FLOPs vs matmul (fp32, bf16);
# bf16 accuracy; start-up; torchrun on all GPUs (NCCL); --compile with bf16; the test suite. Each step has
# its own time limit, so one stuck step cannot eat the budget (the limits add up to 485 s; most steps take
# far less); the exit status is the number of failed steps. Temporary files go under $TMPDIR.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
failed=0
step() {  # step SECONDS TITLE COMMAND...
    local limit=$1 title=$2
    shift 2
    echo
    echo "=== $title (limit ${limit}s) ==="
    local t0=$SECONDS
    if ! timeout "$limit" "$@"; then
        echo "!!! FAILED: $title"
        failed=$((failed + 1))
    fi
    echo "--- $title: $((SECONDS - t0))s"
}
"$PY" - <<'PY' || exit 1
import torch
assert torch.cuda.is_available(), "no CUDA device: run this on a GPU machine"
print(torch.__version__, torch.version.cuda, [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())])
PY
NGPU=$("$PY" -c "import torch; print(torch.cuda.device_count())")
step 45 "training: gfp train vs in-memory" "$PY" benchmarks/data_path.py --device cuda --per-source 2000 --batch-size 64
step 45 "attribution: gfp attribute vs min(decode, model)" "$PY" benchmarks/attribute_path.py --device cuda --files 10000 --batch-size 256
step 20 "FLOPs vs matmul (fp32)" "$PY" benchmarks/flops.py --device cuda --batch-size 1024
step 20 "FLOPs vs matmul (bf16)" "$PY" benchmarks/flops.py --device cuda --batch-size 1024 --precision bf16
step 45 "bf16 accuracy" "$PY" benchmarks/precision.py --device cuda --epochs 3
step 25 "start-up" "$PY" benchmarks/startup.py --device cuda
TMP=$(mktemp -d)
step 45 "torchrun on $NGPU GPU(s), NCCL" bash -c "
  '$PY' -c 'from gfcore.data.synthetic import write_fingerprint_folders as w; w(\"$TMP/src\", 3, 400, 32)' &&
  '$PY' -m gfp prepare '$TMP/src' --out '$TMP/ds' --resolution 32 >/dev/null &&
  '$PY' -m torch.distributed.run --standalone --nproc_per_node $NGPU -m gfp train '$TMP/ds' --out '$TMP/run' \
      --method learned:width=0.25 --epochs 2 --batch-size $((32 * NGPU)) --device cuda --no-progress &&
  '$PY' -m torch.distributed.run --standalone --nproc_per_node $NGPU -m gfp evaluate '$TMP/run' '$TMP/ds' --device cuda --no-progress"
step 60 "--compile --precision bf16 (torch.compile's first compilation included)" \
  "$PY" -m gfp train "$TMP/ds" --out "$TMP/compiled" --method learned:width=0.25 --epochs 1 --device cuda \
  --compile --precision bf16 --no-progress
rm -rf "$TMP"
step 180 "test suite" "$PY" -m pytest -q -x -p no:cacheprovider
echo
echo "gpu_check: $failed step(s) failed"
exit $failed
