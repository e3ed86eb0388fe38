#!/bin/bash
# GPU checks: unit tests, quick claims with --device cuda, the training benchmark, and a
# batched sweep of 16 paper-MLP runs. Every log goes to $OUT (the logs beside this script came from
# it, on one H100). Packages the GPU machine lacked travelled as wheels in .whl/ (mlxtend, dask,
# distributed and their pure-Python needs).
set -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee $OUT/gpu.txt
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())" | tee -a $OUT/gpu.txt
t=$(date +%s)
timeout 150 python3 -m pytest -q -p no:cacheprovider tests --ignore=tests/test_cluster.py --ignore=tests/test_widgets.py --ignore=tests/test_results.py --ignore=tests/test_book_pages.py -x -q 2>&1 | tee $OUT/unit.log | tail -25
echo "unit tests: exit $? in $(( $(date +%s) - t )) s" | tee -a $OUT/gpu.txt
t=$(date +%s)
timeout 90 python3 benchmarks/bench_training.py --device cuda --repeats 5 --batch 16 2>&1 | tee $OUT/bench.log
echo "bench: exit $? in $(( $(date +%s) - t )) s" | tee -a $OUT/gpu.txt
t=$(date +%s)
timeout 150 python3 benchmarks/bench_sweep.py --device cuda --runs 16 2>&1 | tee $OUT/sweep.log
echo "sweep: exit $? in $(( $(date +%s) - t )) s" | tee -a $OUT/gpu.txt
t=$(date +%s); mkdir -p /tmp/empty
GTLIB_STORE=/tmp/store GTLIB_RESULTS=/tmp/empty timeout 200 python3 -m gtlib claims --scale quick --device cuda 2>&1 | tee $OUT/claims.log | tail -60
echo "claims: exit $? in $(( $(date +%s) - t )) s" | tee -a $OUT/gpu.txt
