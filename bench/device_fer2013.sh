#!/bin/bash
# FER2013 CNN runs side by side on one GPU through Keras' JAX backend, for a lent GPU machine that
# has JAX and no TensorFlow, whose working-tree transfer is capped (64 MiB).
#
# Prepared here (both folders git-ignored through .git/info/exclude):
#   .gpu/fer.npz.xz  the Training and PublicTest rows as arrays x (uint8), y, val (bool): xz -9e of
#                    an .npz, 58 MB; the machine rebuilds data/fer2013.csv from it and checks its hash
#   .whl/            keras==3.15.1, namex, optree wheels for its Python 3.12 (pip download --no-deps)
# Run there from the repository root: DEADLINE=515 bash bench/device_fer2013.sh, carrying .gpu and .whl.
# Each run is train_cnn.py as a user runs it; at DEADLINE seconds the unfinished ones are stopped
# and their partial histories kept. Records and slimmed models come back as tars in $OUT.
# TEST=1 PY=python: a tiny CPU rehearsal of the same steps (run it in a copy of the repository).
T0=$(date +%s)
DEADLINE=${DEADLINE:-530}
PY=${PY:-python3}
SCRATCH=$(mktemp -d)   # installed wheels, the unpacked arrays, compile cache, figures
OUT=${OUT:-$SCRATCH/out}; mkdir -p $OUT
if [ -d .whl ] && [ -z "$TEST" ]; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target $SCRATCH/site .whl/*.whl || exit 1
  export PYTHONPATH=$SCRATCH/site
fi
export KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1 JAX_COMPILATION_CACHE_DIR=$SCRATCH/jaxcache
nvidia-smi -L 2>/dev/null; nproc
$PY -c "import jax, keras; print(jax.__version__, keras.__version__, jax.devices())" || exit 1
xz -dc .gpu/fer.npz.xz > $SCRATCH/fer.npz || exit 1
export FER_ARRAYS=$SCRATCH/fer.npz
$PY - <<'PYEOF' || exit 1
import hashlib, sys, numpy as np
from ferlib.data import write_csv, read_csv
import os
d = np.load(os.environ["FER_ARRAYS"])
usage = np.where(d["val"], "PublicTest", "Training")
write_csv("data/fer2013.csv", d["x"], d["y"].astype(np.int64), usage=usage)
x, y, u, ids = read_csv("data/fer2013.csv")   # parses and writes the cache every run then reads
h = hashlib.sha256(); h.update(x.tobytes()); h.update(y.astype(np.int64).tobytes()); h.update("|".join(u.tolist()).encode())
ok = h.hexdigest() == "6d5f7b2e5a49be2344298714bd16c881bae5e731517db53223412e830be60ed7"
print("data", x.shape, "sha256 matches" if ok else "SHA256 DIFFERS"); sys.exit(0 if ok else 1)
PYEOF
echo "data ready at $(( $(date +%s) - T0 )) s"
if [ -n "$TEST" ]; then X="--limit 256 --dropout-warmup 1"; E1=1; E2=2; E3=1; E5=2; E100=2; else X=""; E1=10; E2=20; E3=30; E5=50; E100=100; fi
declare -A RUNS=(
  [cnn_seed4]="--seed 4 --epochs $E100"
  [cnn_seed5]="--seed 5 --epochs $E100"
  [cnn_seed6]="--seed 6 --epochs $E100"
  [cnn_seed4_e10]="--seed 4 --epochs $E1"
  [cnn_seed4_e20]="--seed 4 --epochs $E2"
  [cnn_seed4_e30]="--seed 4 --epochs $E3"
  [cnn_seed4_e50]="--seed 4 --epochs $E5"
  [cnn_seed4_e30_ema]="--seed 4 --epochs $E3 --ema 0.999"
)
[ -n "$TEST" ] && for n in cnn_seed5 cnn_seed6 cnn_seed4_e10 cnn_seed4_e20 cnn_seed4_e50 cnn_seed4_e30_ema; do unset "RUNS[$n]"; done
mkdir -p models logs
for name in "${!RUNS[@]}"; do
  $PY train_cnn.py --data data/fer2013.csv ${RUNS[$name]} $X --name $name --figures-dir $SCRATCH/figs > logs/$name.log 2>&1 &
done
while [ -n "$(jobs -r)" ] && [ $(( $(date +%s) - T0 )) -lt $DEADLINE ]; do
  sleep 10
  [ $(( ($(date +%s) - T0) % 60 )) -lt 10 ] && { echo "t=$(( $(date +%s) - T0 )) s"; for f in logs/*.log; do echo "  $f: $(grep -o 'Epoch [0-9]*/[0-9]*' $f | tail -1)"; done; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader 2>/dev/null; }
done
kill $(jobs -p) 2>/dev/null; sleep 2
echo "stopped at $(( $(date +%s) - T0 )) s"
for f in logs/*.log; do echo "== $f"; grep -v '^$' $f | tail -2; done
for d in models/*.resume; do [ -d "$d" ] && cp "$d/history.csv" "logs/$(basename $d .resume).partial.csv" 2>/dev/null; done
tar czf $OUT/records.tgz models/*.json models/*.history.csv logs
mkdir -p slim
$PY - <<'PYEOF'
import glob, os, keras
from ferlib import fused_bn  # noqa: F401  (registers the kit's layer, should a file name it)
for p in sorted(glob.glob("models/*.keras")):   # the model alone: optimizer state triples the file
    keras.saving.load_model(p, compile=False).save(os.path.join("slim", os.path.basename(p)))
print("slimmed", os.listdir("slim"))
PYEOF
cd slim
tar cf $OUT/seeds45.tar cnn_seed4.keras cnn_seed5.keras 2>/dev/null
tar cf $OUT/seed6_ema.tar cnn_seed6.keras cnn_seed4_e30_ema.keras 2>/dev/null
tar cf $OUT/e30_e50.tar cnn_seed4_e30.keras cnn_seed4_e50.keras 2>/dev/null
cd ..
ls -la $OUT
