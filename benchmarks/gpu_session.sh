#!/usr/bin/env bash
# Every GPU check in one prepared run, for a lent CUDA machine whose time is short (minutes):
#   the CUDA-only test, benchmarks/gpu_paths.py, then issue 14's quality rows trained with
#   --device cuda, several at once on the one GPU (each row's JSON says how many epochs it got).
#
#   OUT=/tmp/gpu_out MINUTES=6 bash benchmarks/gpu_session.sh          # on the GPU machine
#   SMOKE=1 OUT=/tmp/gpu_smoke bash benchmarks/gpu_session.sh           # here: checks the script
#
# Env: OUT (results folder), MINUTES (training budget per quality row), ROWS (quality rows,
# space-separated SET:RECIPE), TUXPAINT (folder of tuxpaint_props; its rows are skipped without
# it), CHECKS (0 skips the CUDA test and gpu_paths), PYTHON. Results: OUT/log.txt,
# OUT/gpu_paths.json, OUT/results.tar.gz (every JSON and log), OUT/sheet_<row>.png: at most
# 8 files, which is what the device tool brings back.
set -u
OUT=${OUT:?set OUT to a results folder}
MINUTES=${MINUTES:-6}
ROWS=${ROWS:-"tuxpaint:default plants:default pixel:default tuxpaint:res"}
TUXPAINT=${TUXPAINT:-data/tuxpaint_props}
PY=${PYTHON:-python3}
SMOKE=${SMOKE:-}
mkdir -p "$OUT"
LOG="$OUT/log.txt"
WORK=$(mktemp -d /tmp/gpu_session.XXXX)
export PYTHONUNBUFFERED=1
say() { echo "[$(date +%T)] $*" | tee -a "$LOG"; }

say "machine: $(nproc) cores; $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo 'no nvidia-smi')"
$PY - <<'EOF' 2>&1 | tee -a "$LOG"
import onnx, onnxruntime as ort, torch
print("torch", torch.__version__, "cuda", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-")
print("onnx", onnx.__version__, "onnxruntime", ort.__version__, ort.get_available_providers())
EOF
# the project itself, against the image's torch/onnx/onnxruntime (nothing can be downloaded)
if ! $PY -m pip install -q --no-deps --no-build-isolation --no-index -e . >>"$LOG" 2>&1; then
    # the same package layout as pyproject's package-dir, by links
    say "pip install -e . failed (see above): linking the packages instead"
    mkdir -p "$WORK/site/assetvae"
    ln -s "$PWD"/assetvae/* "$WORK/site/assetvae/"
    for d in datasets export plugin_api; do ln -s "$PWD/$d" "$WORK/site/assetvae/$d"; done
    export PYTHONPATH="$WORK/site${PYTHONPATH:+:$PYTHONPATH}"
fi

DEVICE=cuda
if [ -n "$SMOKE" ]; then DEVICE=cpu; fi
if [ -z "$SMOKE" ] && [ "${CHECKS:-1}" = 1 ]; then
    say "CUDA test"
    timeout 120 $PY -m pytest -q -p no:cacheprovider tests/test_gpu_paths.py \
        -k cuda_training -rA 2>&1 | tail -5 | tee -a "$LOG"
    say "gpu_paths"
    timeout 150 $PY benchmarks/gpu_paths.py --sizes 64 --batches 32,256,1024 --seconds 2 \
        --json "$OUT/gpu_paths.json" >"$WORK/gpu_paths.log" 2>&1
    grep -E "img/s|runtime|not measured|Error" "$WORK/gpu_paths.log" | tee -a "$LOG"
fi

say "quality rows ($ROWS), $MINUTES min each, device $DEVICE, all at once"
pids=()
nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv,noheader -l 30 \
    >"$WORK/gpu_util.log" 2>/dev/null &
smi=$!
for row in $ROWS; do
    set_name=${row%%:*}
    tag=${row/:/_}
    args=(--row "$row@$MINUTES" --device "$DEVICE" --out "$WORK/q_$tag" \
          --data-dir "$WORK/data_$tag" --json "$WORK/q_$tag.json")
    if [ "$set_name" = tuxpaint ]; then
        if [ ! -d "$TUXPAINT" ]; then say "skip $row: no $TUXPAINT"; continue; fi
        args+=(--tuxpaint "$TUXPAINT")
    fi
    if [ -n "$SMOKE" ]; then args+=(--smoke); fi
    OMP_NUM_THREADS=3 $PY benchmarks/quality.py "${args[@]}" >"$WORK/q_$tag.log" 2>&1 &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
kill "$smi" 2>/dev/null

for row in $ROWS; do
    tag=${row/:/_}
    [ -f "$WORK/q_$tag.log" ] || continue
    grep -E "^$row|reference:|Error|Traceback" "$WORK/q_$tag.log" | tail -4 \
        | sed "s/^/[$tag] /" | tee -a "$LOG"
    sheet=$(ls "$WORK/q_$tag"/sheet_*.png 2>/dev/null | head -1)
    [ -n "$sheet" ] && cp "$sheet" "$OUT/sheet_$tag.png"
done
(cd "$WORK" && tar czf "$OUT/results.tar.gz" ./*.json ./*.log 2>/dev/null)
say "done"
