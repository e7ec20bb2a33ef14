#!/usr/bin/env bash
# The paper's width on one GPU machine: every training of the grid at once (they share the GPU),
# then each training set's networks evaluated on the 1017 lossless test images of the CIFAR-10
# subset, plainly and with --fixed-parameter 0 (100 for JPEG: does a network use its
# parameter?), and on their own test images (the 10,000 of cifar10-q75 for the networks
# trained on it).
#
# On the GPU machine, from the repository root (Python 3.11+, a GPU build of TensorFlow or JAX):
#   pip install -r requirements.txt            # or: requirements-jax.txt and keras, for JAX
#   bash tools/gpu/run.sh                      # the width-64 noise study, both training sets
# The data: ../shared/data as here (cifar10-q75/ and cifar10-subset.npz), or, where that is
# absent, `python tools/gpu/pack.py pack` here and the work tree with .carry/ copied there.
# A try on a CPU, in a minute or two:
#   SETS=cifar10-subset EXTRA="--width 2 --epochs 1 --limit 128" PARAMS=0,25,50 \
#     WEIGHTS=/tmp/try/weights PLOTS=/tmp/try/plots bash tools/gpu/run.sh
#
# Environment (defaults in brackets):
#   SETS       the training sets [cifar10-q75 cifar10-subset]: all 45,000 + 5,000 CIFAR-10
#              training images (recipe width64-full), and the subset's 5085 (width64)
#   MODES      [noisy,est_nl,shuffled_nl,known_nl]; SEEDS [0]; DEGRADATION [noise]
#   TRAIN_SECONDS  a training still going then is stopped and evaluated at its best epoch [none];
#              with a limit, tools/gpu/triage.py stops the trainings of lowest priority (the
#              last of SETS x SEEDS x MODES) while those running would not finish in time
#   EXTRA      flags added to every training, after the recipe's (they win) [none]
#   PARAMS     the sigma values swept [all]; DATA where the data are [../shared/data]
#   WEIGHTS, PLOTS  [weights/width64, plots/width64]; KERAS_BACKEND [jax]
# Every training resumes when the script is run again; a finished one is skipped.
set -euo pipefail
cd "$(dirname "$0")/../.."
SETS=${SETS:-cifar10-q75 cifar10-subset} MODES=${MODES:-noisy,est_nl,shuffled_nl,known_nl}
SEEDS=${SEEDS:-0} DEGRADATION=${DEGRADATION:-noise} DATA=${DATA:-../shared/data}
WEIGHTS=${WEIGHTS:-weights/width64} PLOTS=${PLOTS:-plots/width64} EXTRA=${EXTRA:-}
if [ -d .carry/wheels ] && ! python3 -c "import keras" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target /tmp/site .carry/wheels/*.whl
  export PYTHONPATH=/tmp/site
fi
export KERAS_BACKEND=${KERAS_BACKEND:-jax} XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
export TF_CPP_MIN_LOG_LEVEL=2
python3 -c "import keras; print('keras', keras.__version__, 'on', keras.backend.backend())"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo "no GPU"
if [ ! -f "$DATA/cifar10-subset.npz" ]; then
  DATA=/tmp/degraded-cnn-data
  [ -f "$DATA/cifar10-subset.npz" ] || python3 tools/gpu/pack.py unpack --to "$DATA"
fi
jit=$([ "$KERAS_BACKEND" = tensorflow ] || echo --jit)  # JAX without jit runs op by op
dataset() { [ "$1" = cifar10-q75 ] && echo "$DATA/cifar10-q75" || echo "$DATA/$1.npz"; }
recipe() { [ "$1" = cifar10-q75 ] && echo width64-full || echo width64; }
grid() {  # reproduce.py's grid for one training set: its flags, then any extra ones
  echo --dataset "$(dataset "$1")" --degradation "$DEGRADATION" --recipe "$(recipe "$1")" \
       --seeds "$SEEDS" --modes "$MODES" --weights "$WEIGHTS" --estimator-dir weights
}
limit=$(echo "$EXTRA" | sed -n 's/.*--limit \([0-9]*\).*/\1/p')
mkdir -p "$WEIGHTS" "$PLOTS"

start=$(date +%s)
models=()  # in the order started: the priority of tools/gpu/triage.py
for set in $SETS; do
  # shellcheck disable=SC2046
  while read -r command; do
    mode=$(echo "$command" | sed 's/.*--mode \([a-z_]*\).*/\1/')
    folder=$(echo "$command" | sed 's/.*--weights-dir \([^ ]*\).*/\1/')
    mkdir -p "$folder"
    models+=("$folder/classifier_${set}_$mode.keras")
    (  # each training's own wall time, for its images/s
      begun=$(date +%s)
      timeout "${TRAIN_SECONDS:-0}" $command $EXTRA --workers 4 $jit \
          > "$folder/${set}_$mode.out" 2>&1 || true
      echo $(( $(date +%s) - begun )) > "$folder/${set}_$mode.seconds"
    ) &
  done < <(python3 reproduce.py $(grid "$set") --dry-run | grep classifier.py)
done
if [ -n "${TRAIN_SECONDS:-}" ]; then  # 20 s for the last epoch's validation and saving
  python3 tools/gpu/triage.py --finish-by $(( start + TRAIN_SECONDS - 20 )) "${models[@]}" &
fi
wait
echo "trainings: $(( $(date +%s) - start )) s for all at once (start-up included)"

# The ablation tells every parameter-aware network "clean": sigma 0, or for JPEG q 100.
told=$([ "$DEGRADATION" = jpeg ] && echo 100 || echo 0)
for set in $SETS; do
  for seed in ${SEEDS//,/ }; do
    python3 tools/gpu/report.py "$WEIGHTS/seed$seed" "$(dataset "$set")" --modes ${MODES//,/ } \
        ${limit:+--limit $limit}
  done
  folders=$(for seed in ${SEEDS//,/ }; do echo "$WEIGHTS/seed$seed"; done)
  evaluate="python3 evaluate.py --degradation $DEGRADATION --weights $folders
            --estimator-dir weights ${PARAMS:+--params $PARAMS}"
  # The lossless test images are the subset's; --trained-on keeps the outputs' names apart.
  sweep="$evaluate --dataset $DATA/cifar10-subset.npz --trained-on $set"
  $sweep --out "$PLOTS"
  $sweep --out "$PLOTS/fixed-clean" --fixed-parameter "$told"
  if [ "$set" != cifar10-subset ]; then
    $evaluate --dataset "$(dataset "$set")" --out "$PLOTS"
  fi
done
echo "all done in $(( $(date +%s) - start )) s: networks in $WEIGHTS, tables in $PLOTS"
