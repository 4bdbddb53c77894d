#!/usr/bin/env bash
# Issue 10's (and 25's) GPU measurements in one prepared command, for a lent GPU machine (run by hand).
#
#   Here, once:  echo /.gpu_data/ >> .git/info/exclude
#                mkdir -p .gpu_data && cp -r ../shared/data/fashion-mnist .gpu_data/
#   There:       bash benchmarks/gpu_speed.sh      (device tool: carry [".gpu_data"], timeout_s 600)
#
# The machine's own python3 has torch, torchvision, numpy, pandas, pyarrow and scikit-learn, which
# is all benchmarks/train_speed.py needs (no Snakemake, faiss or cleanlab). Rows are appended to
# $OUT/train_speed_gpu.csv (benchmarks/results/ without the device tool); copy them into
# benchmarks/results/train_speed.csv here. Every step is capped so that the whole run ends in ~8 min
# and a slow step cannot take the rest with it.
#
# 1. PreActResNet-18 on CIFAR-shaped data (50,000 images), batch 512, CE and SOP+: the default
#    execution on CUDA (bf16 autocast + channels-last), then fp32 in the default layout, then compiled.
# 2. The Fashion-MNIST fast preset's CNN at batch 512 (CE) for the same settings' epoch time.
set -uo pipefail
out=${OUT:-benchmarks/results}
mkdir -p "$out"
csv=$out/train_speed_gpu.csv
export PYTHONPATH=src PYTHONUNBUFFERED=1 NOISYPRUNE_FASHION=${NOISYPRUNE_FASHION:-.gpu_data/fashion-mnist}
log=$out/gpu_speed.log
step() {  # step <seconds> <train_speed.py arguments...>
    local limit=$1
    shift
    echo "== $*" | tee -a "$log"
    # BENCH_DEVICE / BENCH_ARGS: a smoke run elsewhere, e.g. BENCH_DEVICE=cpu BENCH_ARGS="--train-images 32 --epochs 1"
    # shellcheck disable=SC2086
    timeout "$limit" python3 benchmarks/train_speed.py --device "${BENCH_DEVICE:-cuda}" --threads 8 --output "$csv" \
        "$@" ${BENCH_ARGS:-} 2>&1 | tee -a "$log"
}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee "$log"
python3 -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__)" | tee -a "$log"
step 150 --cases 8 9 --epochs 3
step 90 --cases 8 --epochs 3 --precision fp32 --channels-last false
step 150 --cases 8 9 --epochs 3 --compile
step 60 --cases 5 --epochs 3
# 3. Issue 25: the torch engine's exact τ-graph (float32 screen, float64 decisions) on the GPU,
#    checked against the CPU graph at n = 50,000, then timed at 200,000 and 1,000,000 (unstructured).
echo "== prune4rel torch engine" | tee -a "$log"
timeout 240 python3 benchmarks/prune4rel_gpu.py --output "$out/prune4rel_gpu.csv" 2>&1 | tee -a "$log"
