"""Beyond the paper: the level as a training target (aux_* modes). The classifier has a second
head that regresses the level while it trains, against a training-only input; the network that
is saved, swept and used is image-only. Its placebo twin regresses a level drawn independently
of the image."""
import numpy as np
import pytest
from PIL import Image

import evaluate
from degraded_cnn import paths
from degraded_cnn.models import classifier as classifier_network
from degraded_cnn.models import inference
from degraded_cnn.training import batches
from degraded_cnn.vocabulary import modes
from test_classifier import CLASSES, TINY, run, synthetic_dataset


def test_the_vocabulary_of_the_training_target():
    assert modes.placebo_of("aux_nl") == "aux_shuffled_nl"
    assert modes.placebo_of("aux_qf") == "aux_shuffled_qf"
    assert modes.placebo_of("aux_shuffled_nl") is None
    assert modes.MODES["aux_nl"].twin == "noisy" and not modes.MODES["aux_nl"].has_parameter
    assert modes.parameter_count("aux_qf") == 0 and modes.level_count("aux_qf") == 1
    assert modes.image_only_modes("noise") == ("org", "noisy")  # the gate's pair, as before
    # Trained on request only, like the other controls: reproduce.py's pipeline is unchanged.
    assert "aux_nl" not in modes.compared_modes("noise")
    assert "aux_nl" in modes.compared_modes("noise", controls=True)


@pytest.mark.parametrize("mode", ["aux_nl", "aux_shuffled_qf"])
def test_the_batches_carry_the_level_to_regress(mode):
    images = np.random.default_rng(0).integers(0, 256, (6, 16, 16, 3), np.uint8)
    inputs = batches.degraded_inputs(images, mode, np.random.default_rng(1))
    target = inputs[classifier_network.LEVEL_TARGET]
    assert set(inputs) == {"image", classifier_network.LEVEL_TARGET}
    assert target.shape == (6, 1) and ((0 <= target) & (target <= 1)).all()
    if mode == "aux_nl":  # the true sigma: the same draws give the same images and levels
        again = batches.degraded_inputs(images, "noisy", np.random.default_rng(1))
        np.testing.assert_array_equal(inputs["image"], again["image"])


def test_an_aux_network_trains_resumes_saves_image_only_and_predicts(tmp_path, capsys):
    dataset = synthetic_dataset(tmp_path / "toy.npz", (16, 16, 3))
    common = ["--mode", "aux_nl", "--dataset", dataset, "--weights-dir", tmp_path]
    status, out, err = run(capsys, *common, *TINY)
    assert status == 0, err
    saved = inference.load_model(paths.classifier_path("toy", "aux_nl", tmp_path))
    assert [tensor.name for tensor in saved.inputs] == ["image"]
    assert "level" not in [layer.name for layer in saved.layers]
    # The same flags continue the run (the saved network is the training model's image part).
    status, out, err = run(capsys, *common, *TINY, "--epochs", "2")
    assert status == 0 and "Epoch 2/2" in out, err
    # Another level weight is another run: refused, as other flags are.
    status, _, err = run(capsys, *common, *TINY, "--epochs", "3", "--level-weight", "0.5")
    assert status == 2 and "--level-weight" in err
    photo = tmp_path / "photo.png"
    Image.fromarray(np.full((16, 16, 3), 99, np.uint8)).save(photo)
    status, out, err = run(capsys, *common, "--predict", photo)
    assert status == 0, err
    assert out.splitlines()[0] == str(photo) and out.splitlines()[1].split()[1] in CLASSES


def test_the_seed_table_sets_the_target_against_its_twin_and_placebo(tmp_path):
    """Untrained networks of two seeds, saved as training saves them (the aux_* ones as their
    image-only inference network): the seed table gives each aux_* network its gain over the
    twin and over its placebo."""
    dataset = synthetic_dataset(tmp_path / "toy.npz", (16, 16, 3))
    folders = [tmp_path / f"seed{seed}" for seed in (0, 1)]
    for folder in folders:
        for mode in ("noisy", "aux_nl", "aux_shuffled_nl"):
            model = classifier_network.build_classifier((16, 16, 3), len(CLASSES), width=2,
                                                        levels=modes.level_count(mode))
            inference.save_model(model, paths.classifier_path("toy", mode, folder))
    assert evaluate.main(["seeds", "--dataset", str(dataset), "--degradation", "noise",
                          "--params", "0,25", "--weights", *map(str, folders),
                          "--estimator-dir", str(tmp_path), "--out", str(tmp_path)]) == 0
    table = (tmp_path / "toy_noise_seeds.md").read_text()
    assert "Noisy+Aux.NL - Noisy" in table and "Noisy+Aux.NL - Noisy+Aux.Shuffled.NL" in table
