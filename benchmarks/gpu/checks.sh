#!/bin/bash
# GPU checks: the hand-written steps against autograd on CUDA (tests/test_steps.py), the training
# benchmark at 1, 4 and 16 runs, and a batched sweep of 16 paper-MLP runs through the store, with the
# float64 and the float32 loss gradient. Every log goes to $OUT (the logs beside this script came from
# it). Packages the GPU machine lacks travel as wheels in .whl/ (mlxtend, dask, distributed and their
# pure-Python needs). Run from a tree without results/ (the GPU machine takes at most 64 MiB).
set -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee $OUT/gpu.txt
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())" | tee -a $OUT/gpu.txt
t=$(date +%s)
timeout 120 python3 -m pytest -q -p no:cacheprovider tests/test_steps.py 2>&1 | tee $OUT/unit.log | tail -5
echo "tests/test_steps.py: exit $? in $(( $(date +%s) - t )) s" | tee -a $OUT/gpu.txt
t=$(date +%s)
# (without torch's warning that its sync debug mode is a prototype, which names the machine's paths)
timeout 200 python3 benchmarks/bench_training.py --device cuda --repeats 5 2>&1 | grep -v -e "debug mode is a prototype" -e "_cuda_set_sync_debug_mode" | tee $OUT/bench.log
echo "bench: exit $? in $(( $(date +%s) - t )) s" | tee -a $OUT/gpu.txt
for grad in float64 float32; do
  t=$(date +%s)
  GTLIB_LOSS_GRADIENT=$grad timeout 120 python3 benchmarks/bench_sweep.py --device cuda --runs 16 2>&1 | tee $OUT/sweep-$grad.log
  echo "sweep ($grad loss gradient): exit $? in $(( $(date +%s) - t )) s" | tee -a $OUT/gpu.txt
done
