"""The training recipes of the classifier and of the estimator, defined once as data.

A classifier recipe is the set of classifier.py flags that one experiment shares across modes
and seeds, so that a parameter-aware network and its image-only twin see the same training.
classifier.py takes one as its defaults (`--recipe cpu`), and any flag given beside it wins.
An estimator recipe is a sequence of estimator.py runs, each starting from the model of the one
before. A pipeline (PIPELINES, reproduce.py --recipe) names the estimator's recipe and the
classifier's recipe of one budget of time together. reproduce.py, the benchmark and the GPU
recipe read the same objects; nothing parses flags back out of text.
"""
from dataclasses import asdict, dataclass, fields, replace
from typing import NamedTuple

FULL_WIDTH = 64         # features of the classifier's first block: the paper's network
DENSE_PER_WIDTH = 16    # its dense units = 16 x width: 1024 at full width
# Where a parameter-aware classifier takes its parameter (models/classifier.py). dense:
# concatenated to the flattened image features before the dense layers (the paper's and the
# authors' train1000 layout); input: a constant extra image channel; film: a per-feature gain
# and bias of the first dense layer's features, set by the parameter.
JOINS = ("dense", "input", "film")
ESTIMATOR_FEATURES = 64  # features per layer of the estimator: the paper's network


@dataclass(frozen=True)
class Recipe:
    """Network size and training schedule (classifier.py's flags of the same names)."""
    width: int = FULL_WIDTH       # features of the first block
    batch_size: int = 128
    learning_rate: float = 0.002  # Adamax, before the cosine decay
    warmup_epochs: float = 0.0    # linear rise from 0 to learning_rate at the start
    dropout: float = 0.5
    spatial_dropout: float = 0.2
    rotation: float = 15.0
    epochs: int = 100
    # aux_* modes: the weight of the level's squared error (in [0, 1] units) beside the
    # cross-entropy. Not yet chosen on held-out images: 1.0 puts the two on a similar scale at
    # the start (a level's variance is 1/12, a ten-class cross-entropy 2.3).
    level_weight: float = 1.0

    def arguments(self):
        """The recipe as argparse destinations: value, for parser.set_defaults."""
        return asdict(self)

    def flags(self):
        """The recipe as command-line flags, e.g. for a command printed to run by hand."""
        return as_flags(asdict(self))


# paper: the scripts' defaults, the paper's full-size network (for a GPU).
PAPER = Recipe()
# cpu: a network a 2-core CPU trains on the CIFAR-10 subset in about 20 minutes (width 16:
# features 16/32/64, dense 256); the shipped subset networks.
CPU = Recipe(width=16, batch_size=64, learning_rate=0.004, dropout=0.3, spatial_dropout=0.1,
             rotation=10)
# cpu-full: the same network on all 50,000 CIFAR-10 training images, with less dropout: with
# cpu's it underfits ten times the data (RESULTS.md). 40 epochs, 40-50 minutes on 2 cores.
CPU_FULL = replace(CPU, dropout=0.1, spatial_dropout=0.05, epochs=40)
# quick: cpu cut to 40 epochs, for the whole pipeline from scratch in well under an hour.
QUICK = replace(CPU, epochs=40)
# width64: the paper's width with cpu's schedule. Adamax's first steps move every weight by
# about the full rate whatever its gradient, which at this width blows up the logits and
# kills the dense layers in some seeds (tools/start_probe.py, RESULTS.md): a 2-epoch warm-up
# keeps the first steps small while the optimizer's gradient estimates build up.
WIDTH64 = replace(CPU, width=64, warmup_epochs=2)
# width64-full: width64 on all 50,000 images, with cpu-full's dropout and epochs.
WIDTH64_FULL = replace(CPU_FULL, width=64, warmup_epochs=2)

RECIPES = {"paper": PAPER, "cpu": CPU, "cpu-full": CPU_FULL, "quick": QUICK,
           "width64": WIDTH64, "width64-full": WIDTH64_FULL}


@dataclass(frozen=True)
class EstimatorRun:
    """One run of the estimator's training (estimator.py's flags of the same names); the
    defaults are estimator.py's, the paper's (64x64 patches, plain Adamax, per-pixel MSE)."""
    features: int = ESTIMATOR_FEATURES
    patch_size: int = 64
    batch_size: int = 32
    steps_per_epoch: int = 500
    epochs: int = 100
    learning_rate: float = 0.001
    lr_decay: str = "none"
    loss: str = "pixel"

    def arguments(self):
        """The run as argparse destinations: value, for parser.set_defaults."""
        return asdict(self)

    def flags(self):
        """The flags that differ from estimator.py's defaults."""
        return as_flags({field.name: getattr(self, field.name) for field in fields(self)
                         if getattr(self, field.name) != field.default})


def as_flags(values):
    """{"batch_size": 64, "lr_decay": "cosine"} -> ["--batch-size", "64", "--lr-decay",
    "cosine"]: argparse destinations and values as command-line flags."""
    return [item for key, value in values.items()
            for item in (f"--{key.replace('_', '-')}",
                         f"{value:g}" if isinstance(value, (int, float)) else str(value))]


# The runs that trained the shipped estimators on a 2-core CPU, on the first 50 Urban100 images
# (README, RESULTS.md). JPEG: a constant rate breaks the plateau, then cosine-decayed runs settle
# the estimates (the third, a longer cycle from half the rate, narrowed every SD further), then
# slow runs with the image loss take out most of the pull toward mid-range q (each further run a
# little more). Noise needs only the second kind; blur (not trained yet) follows JPEG.
_PATCHES_CPU = EstimatorRun(patch_size=32, batch_size=16, steps_per_epoch=100)
_IMAGE_LOSS_CPU = replace(_PATCHES_CPU, lr_decay="cosine", learning_rate=0.0001, loss="image")
_JPEG_CPU = (replace(_PATCHES_CPU, epochs=80),
             replace(_PATCHES_CPU, epochs=100, lr_decay="cosine"),
             replace(_PATCHES_CPU, epochs=200, lr_decay="cosine", learning_rate=0.0005),
             replace(_IMAGE_LOSS_CPU, epochs=60),
             replace(_IMAGE_LOSS_CPU, epochs=150),
             replace(_IMAGE_LOSS_CPU, epochs=150))
# Mixed (noise, then JPEG; beyond the paper): the two runs of the three-sets JPEG recipe below
# on 32x32 patches, a quarter of its pixels (CIFAR's images are 32x32), on THREE_SETS.
_MIXED_CPU = (replace(_PATCHES_CPU, epochs=150, lr_decay="cosine"),
              replace(_IMAGE_LOSS_CPU, epochs=100))
ESTIMATOR_CPU = {"jpeg": _JPEG_CPU,
                 "noise": (replace(_PATCHES_CPU, epochs=40, lr_decay="cosine"),),
                 "blur": _JPEG_CPU, "mixed": _MIXED_CPU}
# The JPEG estimator on the paper's three training sets (THREE_SETS: 241 images, the folders of
# ../shared/data) with the paper's 64x64 patches, from scratch in two runs: the per-pixel loss
# learns the features, then the image loss takes out the pull toward mid-range q that the
# per-pixel loss leaves (RESULTS.md). 25,000 steps of 16 patches, four times the pixels of a
# step of _PATCHES_CPU. The first run took about 7 hours of one core beside another training;
# not shipped, as it is no better on CIFAR-10 (RESULTS.md): reproduce.py --estimator-recipe.
THREE_SETS = ("urban100", "yang91", "general100")
_PATCHES_64 = EstimatorRun(patch_size=64, batch_size=16, steps_per_epoch=100)
ESTIMATOR_JPEG_THREE_SETS = (
    replace(_PATCHES_64, epochs=150, lr_decay="cosine"),
    replace(_PATCHES_64, epochs=100, lr_decay="cosine", learning_rate=0.0001, loss="image"))
# The paper's: one run with estimator.py's defaults.
ESTIMATOR_PAPER = {degradation: (EstimatorRun(),) for degradation in ESTIMATOR_CPU}
# quick: one cosine-decayed run instead of the JPEG chain (the noise recipe is one run already).
_QUICK_RUN = replace(_PATCHES_CPU, epochs=60, lr_decay="cosine")
ESTIMATOR_QUICK = {"jpeg": (_QUICK_RUN,), "blur": (_QUICK_RUN,), "mixed": (_QUICK_RUN,),
                   "noise": ESTIMATOR_CPU["noise"]}


# The estimators' clean images: Urban100 for the paper's degradations (the shipped estimators'),
# the three sets of THREE_SETS for mixed.
TRAIN_DIRS = {"jpeg": ("urban100",), "noise": ("urban100",), "mixed": THREE_SETS}


class EstimatorRecipe(NamedTuple):
    """An estimator recipe that replaces a pipeline's (reproduce.py --estimator-recipe), for one
    degradation: its runs and default training folders (in ../shared/data)."""
    degradation: str
    runs: tuple
    train_dirs: tuple


# three-sets: the paper's training images and patch size (not shipped: RESULTS.md).
ESTIMATOR_RECIPES = {"three-sets": EstimatorRecipe("jpeg", ESTIMATOR_JPEG_THREE_SETS,
                                                   THREE_SETS)}


# What reproduce.py --recipe trains: the estimator's recipe (a sequence of runs, each starting
# from the model of the one before) and the classifier's recipe of the same name, for every
# network the paper compares ("known": with the known_* ones). "paper": the scripts' own
# defaults, which follow the paper (for a GPU). "cpu": the recipes of the shipped weights, for 2
# cores. "cpu-full": for all 50,000 CIFAR-10 training images. "width64", "width64-full": the same at
# the paper's width. "quick": the whole JPEG pipeline from scratch in well under an hour on 2
# cores (timed in the README): one cosine-decayed estimator run instead of the chain.
PIPELINES = {
    "paper": {"estimator": ESTIMATOR_PAPER, "classifier": "paper", "known": True},
    "cpu": {"estimator": ESTIMATOR_CPU, "classifier": "cpu", "known": True},
    "cpu-full": {"estimator": ESTIMATOR_CPU, "classifier": "cpu-full", "known": True},
    "width64": {"estimator": ESTIMATOR_CPU, "classifier": "width64", "known": True},
    "width64-full": {"estimator": ESTIMATOR_CPU, "classifier": "width64-full",
                     "known": True},
    "quick": {"estimator": ESTIMATOR_QUICK, "classifier": "quick", "known": False},
}
