#!/bin/bash
# One prepared GPU session: GPU tests, CPU-vs-GPU check, IMDB LM-transfer run. Logs and JSON to $OUT.
# Made for a lent device machine with CUDA, CuPy and Python 3.12 but no network and no spaCy:
# copy it to .gpu/run.sh and prepare (all under .gpu/, git-ignored, carried to the machine):
#   .gpu/site.tar.xz  spaCy 3.8.18, Thinc 8.3.14 and their compiled dependencies: `pip download
#                     --only-binary=:all: --python-version 3.12 --platform manylinux...` wheels,
#                     unzipped together, .so files stripped, tarred (12 MB)
#   .gpu/src.tar.gz   `git archive HEAD` plus spacy-lm's dist-info (its entry points) from `pip wheel .`
#   .gpu/data/        wikitext-2/train.txt.gz and imdb/{train,test}.csv.gz from ../shared/data
# On a machine with network, `bash benchmarks/gpu_check.sh` does the first two steps instead.
export PYTHONUNBUFFERED=1 SPACY_LM_RESULTS=$OUT
ROOT=$PWD
mkdir -p /tmp/site /tmp/src && tar xJf .gpu/site.tar.xz -C /tmp/site && tar xzf .gpu/src.tar.gz -C /tmp/src
export PYTHONPATH=/tmp/src:/tmp/site
cd /tmp/src
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; nproc;
  python3 -c "import spacy, thinc, cupy, numpy, spacy_lm; print('spacy', spacy.__version__, 'thinc', thinc.__version__, 'cupy', cupy.__version__, 'numpy', numpy.__version__)"; } 2>&1 | tee $OUT/env.log
echo "== gpu tests"; timeout 150 python3 -m pytest tests/test_gpu.py -q --gpu -m gpu -p no:cacheprovider -x 2>&1 | tail -25 | tee $OUT/gpu_tests.log
echo "== gpu_check"; timeout 130 python3 benchmarks/gpu_check.py --steps 200 --cpu-steps 20 --data-dir $ROOT/.gpu/data/wikitext-2 2>&1 | tail -40 | tee $OUT/gpu_check.log
IMDB_S=$((570 - SECONDS)); PHASE_S=$(( (IMDB_S - 110) / 2 )); echo "== imdb transfer: ${IMDB_S} s, phases ${PHASE_S} s"; timeout $IMDB_S python3 benchmarks/textcat_lm_transfer.py --dataset imdb --data-dir $ROOT/.gpu/data --gpu-id 0 --n-process 12 --lm-epochs 3 --lm-time $PHASE_S --lm-dev-docs 500 --cls-epochs 4 --cls-batch-size 64 --cls-time $PHASE_S --test-time 40 --name textcat_lm_transfer_imdb_gpu 2>&1 | grep -v "^wrote" | tee $OUT/imdb.log
echo "== done"
