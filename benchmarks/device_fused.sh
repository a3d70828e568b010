#!/bin/bash
# Issue #19 on a lent GPU machine, in one call (~3-5 minutes): the fused-kernel tests and the GPU
# tests, then benchmarks/fused_speed.py for the LSTM and the GRU LM. Logs and JSON go to $OUT
# (benchmarks/results without it).
#
# The device image has CUDA, CuPy, PyTorch and pytest but no spaCy. Prepare, git-ignored:
#   .gpu/site.tar.xz   spaCy 3.8.18, Thinc 8.3.14 and their compiled dependencies as Python 3.12
#                      manylinux wheels unzipped together and tarred, as benchmarks/device_run.sh
#                      describes (leave numpy out: the image's numpy is the one CuPy and torch use)
#   .gpu/data/wikitext-2/train.txt.gz   optional (else fused_speed.py uses a synthetic stream)
# It runs the working tree itself (not `git archive HEAD`), so uncommitted changes are what is
# tested; spaCy's entry points come from the git-ignored spacy_lm.egg-info, so carry it too:
#   run(command="bash benchmarks/device_fused.sh", carry=[".gpu", "spacy_lm.egg-info"], timeout_s=480)
set -u
export PYTHONUNBUFFERED=1
OUT=${OUT:-$PWD/benchmarks/results}
export SPACY_LM_RESULTS=$OUT
mkdir -p "$OUT"
SITE=""
if [ -f .gpu/site.tar.xz ]; then mkdir -p /tmp/site && tar xJf .gpu/site.tar.xz -C /tmp/site && SITE=/tmp/site; fi
export PYTHONPATH=$PWD${SITE:+:$SITE}${PYTHONPATH:+:$PYTHONPATH}
DATA=.gpu/data/wikitext-2
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; nproc
  python3 -c "import spacy, thinc, cupy, numpy, torch, spacy_lm; print('spacy', spacy.__version__, 'thinc', thinc.__version__, 'cupy', cupy.__version__, 'numpy', numpy.__version__, 'torch', torch.__version__, 'cuda', torch.cuda.is_available())"
} 2>&1 | tee "$OUT/fused_env.log"
echo "== tests (fused kernels switched on per test; off by default)"
SPACY_LM_FUSED_KERNELS=0 timeout 240 python3 -m pytest tests/test_fused_cells.py tests/test_gpu.py --gpu -q \
  -p no:cacheprovider -rfE 2>&1 | tee "$OUT/fused_tests.log"
TESTS=${PIPESTATUS[0]}
echo "== fused_speed lstm"
timeout 150 python3 benchmarks/fused_speed.py --data-dir $DATA 2>&1 | tee "$OUT/fused_speed.log"
echo "== fused_speed gru"
timeout 120 python3 benchmarks/fused_speed.py --data-dir $DATA --cell gru 2>&1 | tee -a "$OUT/fused_speed.log"
echo "== done (tests exit status $TESTS)"
exit "$TESTS"
