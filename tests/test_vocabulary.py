"""The vocabulary, defined once: degradations, modes and recipes (degraded_cnn/vocabulary/)."""
import numpy as np
import pytest

import classifier
import estimator
from degraded_cnn.vocabulary import degradations, modes, recipes


def test_every_mode_knows_its_twin_and_placebo():
    for name, mode in modes.MODES.items():
        assert mode.source in modes.SOURCES
        if mode.twin:  # a twin is an image-only network of the same degradation
            twin = modes.MODES[mode.twin]
            assert not twin.has_parameter and twin.target is None
            assert twin.degradation == mode.degradation
        placebo = modes.placebo_of(name)
        if placebo:
            assert modes.MODES[placebo].degradation == mode.degradation
            assert "shuffled" in (modes.MODES[placebo].source, modes.MODES[placebo].target)
    assert modes.placebo_of("est_qf") == modes.placebo_of("known_qf") == "shuffled_qf"
    assert modes.placebo_of("est_pair") == "shuffled_pair" and modes.placebo_of("jpg") is None


def test_the_compared_networks_and_their_parameters():
    assert modes.compared_modes("jpeg") == ("org", "jpg", "est_qf", "known_qf")
    assert modes.compared_modes("noise") == ("org", "noisy", "est_nl", "known_nl")
    assert modes.image_only_modes("jpeg") == ("org", "jpg")
    assert modes.parameter_count("est_pair") == 2 and modes.parameter_count("noisy") == 0
    assert modes.level_count("aux_nl") == 1 and modes.level_count("est_nl") == 0
    with pytest.raises(ValueError, match="unknown mode 'blurry'"):
        modes.get_mode("blurry")


def test_parameters_scale_to_the_networks_units_and_back():
    for name in degradations.DEGRADATIONS:
        values = degradations.random_params(name, 50, np.random.default_rng(0))
        units = degradations.normalize(name, values)
        assert ((0 <= units) & (units <= 1)).all()
        np.testing.assert_allclose(degradations.denormalize(name, units), values)
    assert degradations.value_text("mixed", (10, 30)) == "sigma 10, q 30"
    assert degradations.parts("mixed") == degradations.MIXED_PARTS


def test_every_recipe_is_flags_the_scripts_take():
    """A recipe turned into flags is accepted by the script it is for, and gives the recipe's
    values back: nothing parses flags out of text but argparse itself."""
    for name, recipe in recipes.RECIPES.items():
        _, args = classifier.parse_args(["--recipe", "paper", *recipe.flags()])
        assert {key: getattr(args, key) for key in recipe.arguments()} == recipe.arguments()
    for runs in (*recipes.ESTIMATOR_CPU.values(), recipes.ESTIMATOR_JPEG_THREE_SETS):
        for run in runs:
            args = estimator.build_parser().parse_args(run.flags())
            assert {key: getattr(args, key) for key in run.arguments()} == run.arguments()
    for pipeline in recipes.PIPELINES.values():
        assert pipeline["classifier"] in recipes.RECIPES
        assert set(pipeline["estimator"]) >= set(recipes.TRAIN_DIRS)
