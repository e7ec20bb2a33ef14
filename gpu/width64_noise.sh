#!/usr/bin/env bash
# The paper's width: noisy, known_nl and est_nl at --width 64, otherwise the CPU recipe of each
# training set, all at once on one GPU, then each trio evaluated on the 1017 lossless test images
# of the subset, plainly and with --fixed-parameter 0 (does the network use its parameter?).
#   cifar10-q75:    the 45,000 training images of all 50,000 (classifier.RECIPE_CPU_FULL)
#   cifar10-subset: the subset's 4,577 (classifier.RECIPE_CPU)
# Made for the lent GPU machine, where Keras runs on JAX (gpu/carry.py says what travels); any
# machine with Keras and a backend can run it.
#
#   bash gpu/width64_noise.sh             # there: device run with carry [".carry"]
#   WIDTH=4 EPOCHS=1 LIMIT=256 PARAMS=0,25,50 bash gpu/width64_noise.sh   # a try on a CPU
#
# Environment: SETS (the training sets, "cifar10-q75 cifar10-subset"), EPOCHS (each recipe's),
# TRAIN_SECONDS (a training still going then is stopped and evaluated at its best epoch, 330),
# WIDTH (64), WORKERS (loading threads per training, 4), LIMIT (training images, all), PARAMS
# (sigma values, all), DATA (where the data are rebuilt, /tmp/degraded-cnn-data), OUT (where the
# results' archive goes, runs/gpu). Networks go to weights/width64, tables to plots/width64, as
# here; the archive holds all but the networks (a width-64 network is about 78 MB).
set -euo pipefail
cd "$(dirname "$0")/.."
SETS=${SETS:-cifar10-q75 cifar10-subset} TRAIN_SECONDS=${TRAIN_SECONDS:-330} WIDTH=${WIDTH:-64}
WORKERS=${WORKERS:-4} DATA=${DATA:-/tmp/degraded-cnn-data} OUT=${OUT:-runs/gpu}
WEIGHTS=weights/width64 PLOTS=plots/width64 MODES="noisy known_nl est_nl"
if [ -d .carry/wheels ] && ! python3 -c "import keras" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target /tmp/site .carry/wheels/*.whl
  export PYTHONPATH=/tmp/site
fi
export KERAS_BACKEND=${KERAS_BACKEND:-jax} XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
export TF_CPP_MIN_LOG_LEVEL=2
mkdir -p "$DATA" "$WEIGHTS" "$PLOTS" "$OUT"
python3 -c "import keras; print('keras', keras.__version__, 'on', keras.backend.backend())"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo "no GPU"
[ -f "$DATA/cifar10-subset.npz" ] || python3 gpu/carry.py unpack --to "$DATA"
jit=$([ "$KERAS_BACKEND" = tensorflow ] || echo --jit)  # JAX without jit runs op by op

dataset() { [ "$1" = cifar10-q75 ] && echo "$DATA/cifar10-q75" || echo "$DATA/$1.npz"; }
mapfile -t recipes < <(python3 -c "import classifier
print(classifier.RECIPE_CPU_FULL); print(classifier.RECIPE_CPU)")
recipe() { [ "$1" = cifar10-q75 ] && echo "${recipes[0]}" || echo "${recipes[1]}"; }

start=$(date +%s)
for set in $SETS; do
  for mode in $MODES; do
    (  # each training's own wall time, for its images/s
      begun=$(date +%s)
      timeout "$TRAIN_SECONDS" python3 classifier.py --mode "$mode" --dataset "$(dataset "$set")" \
          --weights-dir "$WEIGHTS" --estimator-dir weights --seed 0 $(recipe "$set") \
          --width "$WIDTH" ${EPOCHS:+--epochs $EPOCHS} --workers "$WORKERS" $jit \
          ${LIMIT:+--limit $LIMIT} > "$WEIGHTS/${set}_$mode.out" 2>&1 || true
      echo $(( $(date +%s) - begun )) > "$WEIGHTS/${set}_$mode.seconds"
    ) &
  done
done
wait
echo "trainings: $(( $(date +%s) - start )) s for all at once (start-up included)"

for set in $SETS; do
  # Epochs and images/s of each network; one cut short by the timeout is ended at its best epoch.
  python3 gpu/report.py "$WEIGHTS" "$(dataset "$set")" --modes $MODES ${LIMIT:+--limit $LIMIT}
  # The lossless test images are the subset's; --trained-on keeps the outputs' names apart.
  sweep="python3 evaluate.py --dataset $DATA/cifar10-subset.npz --trained-on $set
         --degradation noise --weights $WEIGHTS --estimator-dir weights ${PARAMS:+--params $PARAMS}"
  $sweep --out "$PLOTS"
  $sweep --out "$PLOTS/fixed-clean" --fixed-parameter 0
done
tar czf "$OUT/width64.tar.gz" --exclude='*.keras' --exclude='*.backup' "$WEIGHTS" "$PLOTS"
echo "results: $OUT/width64.tar.gz ($(du -h "$OUT/width64.tar.gz" | cut -f1)), " \
     "$(( $(date +%s) - start )) s in all"
