#!/usr/bin/env bash
# Every seed table of REPORT.md again, from the committed sweep records (no network is run or
# needed): the width-16 subset studies (five seeds; the joins' three), the width-64 subset study
# (three seeds), each with its --fixed-parameter ablation, the mixed grid (three seeds), and
# the settings tables that set them side by side. About 20 s a table on 2 cores.
#   bash tools/seed_tables.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
SUBSET=${DATA:-../shared/data}/cifar10-subset.npz
DENSE=(weights/seed0 weights/seed1 weights/seed2 weights/seed3 weights/seed4)
JOINS=(weights/join-film/seed0 weights/join-film/seed1 weights/join-film/seed2
       weights/join-input/seed0 weights/join-input/seed1 weights/join-input/seed2)
WIDE=(weights/width64/seed0 weights/width64/seed1 weights/width64/seed2)
seeds() { $PY evaluate.py seeds --dataset "$SUBSET" --estimator-dir weights "$@"; }

seeds --degradation noise --weights "${DENSE[@]}" --out plots
seeds --degradation jpeg --weights "${DENSE[@]}" --out plots
seeds --degradation noise --weights "${DENSE[@]}" --fixed-parameter 0 --out plots/fixed-clean
seeds --degradation jpeg --weights "${DENSE[@]}" --fixed-parameter 100 --out plots/fixed-clean
seeds --degradation noise --weights "${DENSE[@]}" "${JOINS[@]}" --out plots/joins
seeds --degradation noise --weights "${DENSE[@]}" "${JOINS[@]}" --fixed-parameter 0 \
  --out plots/joins/fixed-clean
seeds --degradation noise --weights "${WIDE[@]}" --out plots/width64
seeds --degradation noise --weights "${WIDE[@]}" --fixed-parameter 0 --out plots/width64/fixed-clean
$PY evaluate.py grid --dataset "$SUBSET" --degradation mixed --weights weights weights/seed1 \
  weights/seed2 --estimator-dir weights --out plots
# The settings tables: each study beside its --fixed-parameter ablation and the other settings.
SMALL="CIFAR-10 subset (4,577 images)"
FULL="cifar10-q75 (45,000 images), width 16"
$PY evaluate.py compare --dataset "$SUBSET" --degradation jpeg --out plots --compare \
  "$SMALL, width 16, over seeds=plots/cifar10-subset_jpeg_seeds.csv,plots/fixed-clean/cifar10-subset_jpeg_seeds.csv" \
  "$FULL=plots/cifar10-subset_trained-on-cifar10-q75_jpeg_intervals.csv,plots/fixed-clean/cifar10-subset_trained-on-cifar10-q75_jpeg_intervals.csv"
$PY evaluate.py compare --dataset "$SUBSET" --degradation noise --out plots --compare \
  "$SMALL, width 16, over seeds=plots/cifar10-subset_noise_seeds.csv,plots/fixed-clean/cifar10-subset_noise_seeds.csv" \
  "$SMALL, width 64, no warm-up=plots/width64-nowarmup/cifar10-subset_noise_intervals.csv,plots/width64-nowarmup/fixed-clean/cifar10-subset_noise_intervals.csv" \
  "$FULL=plots/cifar10-subset_trained-on-cifar10-q75_noise_intervals.csv,plots/fixed-clean/cifar10-subset_trained-on-cifar10-q75_noise_intervals.csv"
$PY evaluate.py compare --dataset "$SUBSET" --degradation noise --out plots/joins --compare \
  "CIFAR-10 subset, width 16, joins=plots/joins/cifar10-subset_noise_seeds.csv,plots/joins/fixed-clean/cifar10-subset_noise_seeds.csv"
