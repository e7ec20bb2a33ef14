"""grid.py and evaluate.py --degradation mixed: the two-dimensional sweep on tiny data, its
tables and heat maps, its records, and the estimators' grid table."""
import numpy as np
import pandas as pd
import pytest

import evaluate
from conftest import random_npz
from degraded_cnn import image_ops
from degraded_cnn import paths
from degraded_cnn.evaluation import grid
from degraded_cnn.evaluation import sweeps
from degraded_cnn.evaluation import tables
from degraded_cnn.models import classifier as classifier_network
from degraded_cnn.models import estimator as estimator_network
from degraded_cnn.predict import classification
from degraded_cnn.vocabulary import degradations
from degraded_cnn.vocabulary import modes

SHAPE, CLASSES = (16, 16, 3), 3
MODES = ("org", "mixed", "est_pair", "known_pair", "shuffled_pair")
PAIRS = "0:10,0:90,30:10,30:90"  # sigma:q


@pytest.fixture
def two_seeds(tmp_path):
    """Untrained width-2 networks of every mixed mode in two seed folders, and tiny mixed,
    noise and JPEG estimators beside them."""
    random_npz(tmp_path / "tiny.npz", 8, 12, SHAPE, CLASSES)
    for seed in (0, 1):
        folder = tmp_path / f"seed{seed}"
        folder.mkdir()
        for mode in MODES:
            classifier_network.build_classifier(
                SHAPE, CLASSES, width=2, with_parameter=modes.MODES[mode].has_parameter,
                parameters=modes.parameter_count(mode)).save(
                paths.classifier_path("tiny", mode, folder))
    for name in ("mixed", "noise", "jpeg"):
        estimator_network.build_estimator(
            3, features=4, outputs=degradations.parameter_count(name)).save(
            paths.estimator_path(name, tmp_path))
    return tmp_path


def run_grid(setup, *extra, folders=("seed0", "seed1")):
    return evaluate.main(["--dataset", str(setup / "tiny.npz"), "--degradation", "mixed",
                          "--weights", *[str(setup / f) for f in folders], "--estimator-dir",
                          str(setup), "--out", str(setup / "plots"), "--params", PAIRS, *extra])


def test_the_two_dimensional_sweep_writes_a_table_per_pair_and_heat_maps(two_seeds, capsys):
    assert run_grid(two_seeds) == 0
    table = pd.read_csv(two_seeds / "plots" / "tiny_mixed_grid.csv")
    swept = table[~table["interval"].isin(["clean", tables.ALL_PAIRS])]
    assert set(map(tuple, swept[["noise", "jpeg"]].to_numpy())) == {
        (0, 10), (0, 90), (30, 10), (30, 90)}
    assert sorted(swept["network"].unique()) == sorted(MODES)
    assert (swept["seeds"] == 2).all() and (swept["values"] == 1).all()
    aware = swept[swept["network"].isin(["est_pair", "known_pair", "shuffled_pair"])]
    assert (aware["twin"] == "mixed").all() and aware["paired"].all()
    assert aware[["gain", "gain_ci_low", "gain_ci_high"]].notna().all().all()
    # Each gain is the network's accuracy less its twin's, pair by pair (the CSV keeps 6
    # decimals).
    means = swept.set_index(["interval", "network"])["mean"]
    for row in aware.itertuples():
        assert row.gain == pytest.approx(means[(row.interval, row.network)]
                                         - means[(row.interval, "mixed")], abs=2e-6)
    markdown = (two_seeds / "plots" / "tiny_mixed_grid.md").read_text()
    assert "| sigma \\ q | 10 | 90 |" in markdown and "Mixed+Shuffled.pair - Mixed" in markdown
    # The estimated and the known pair, and they only, against the placebo, pair by pair.
    over = swept.dropna(subset=["over_placebo"])
    assert set(over["network"]) == {"est_pair", "known_pair"} and over["placebo_paired"].all()
    for row in over.itertuples():
        assert row.over_placebo == pytest.approx(means[(row.interval, row.network)]
                                                 - means[(row.interval, "shuffled_pair")],
                                                 abs=2e-6)
    assert "Mixed+Est.pair - Mixed+Shuffled.pair" in markdown
    # The summary row: Eq. (1) over the four pairs, so its mean is that of the pairs' means,
    # and each of its gains has an interval.
    summary = table[table["interval"] == tables.ALL_PAIRS].set_index("network")
    assert (summary["values"] == 4).all() and sorted(summary.index) == sorted(MODES)
    for network in MODES:
        assert summary.loc[network, "mean"] == pytest.approx(
            swept.loc[swept["network"] == network, "mean"].mean(), abs=1e-5)
    assert summary.loc[["est_pair", "known_pair", "shuffled_pair"],
                       ["gain", "gain_ci_low", "gain_ci_high"]].notna().all().all()
    assert summary.loc[["est_pair", "known_pair"], "over_placebo"].notna().all()
    assert "**Over all 4 pairs**" in markdown and "| Mixed+Est.pair | " in markdown
    for name in ("accuracy", "gain"):
        assert (two_seeds / "plots" / f"tiny_mixed_grid_{name}.png").stat().st_size > 0
    # Known.pair has no clean row: a clean image has no q.
    clean = table[table["interval"] == "clean"]
    assert "known_pair" not in set(clean["network"]) and "mixed" in set(clean["network"])


def test_a_rerun_reads_the_records_and_classifies_nothing(two_seeds, capsys):
    assert run_grid(two_seeds) == 0
    first = (two_seeds / "plots" / "tiny_mixed_grid.csv").read_text()
    capsys.readouterr()
    assert run_grid(two_seeds) == 0
    assert "10 network(s) from sweep records, 0 to classify" in capsys.readouterr().out
    assert (two_seeds / "plots" / "tiny_mixed_grid.csv").read_text() == first


def test_the_sweep_sees_each_pair_once_and_feeds_the_truth_as_a_pair(two_seeds, monkeypatch):
    told = []
    predict = classification.predict_probabilities
    monkeypatch.setattr(classification, "predict_probabilities", lambda model, images, params=None,
                        *rest: told.append(params) or predict(model, images, params, *rest))
    assert run_grid(two_seeds, folders=("seed0",)) == 0
    pairs = [p for p in told if p is not None and p.ndim == 2 and np.all(p == p[0])
             and tuple(p[0]) in {(0, 10), (0, 90), (30, 10), (30, 90)}]
    assert {tuple(p[0]) for p in pairs} == {(0, 10), (0, 90), (30, 10), (30, 90)}
    # The test images at a pair are the same images whatever else the sweep holds.
    images = np.load(two_seeds / "tiny.npz")["x_test"]
    np.testing.assert_array_equal(sweeps.degraded_test_set(images, "mixed", [30, 10], 0),
                                  image_ops.degrade(images, "mixed", [30, 10],
                                                    np.random.default_rng([0, 3000, 1000])))


def test_the_estimator_grid_puts_the_mixed_estimates_beside_the_single_ones(two_seeds):
    assert run_grid(two_seeds, "--estimator-only", folders=(".",)) == 0
    table = pd.read_csv(two_seeds / "plots" / "tiny_mixed_estimator.csv")
    assert list(table.columns) == ["param_noise", "param_jpeg", "mean_noise", "sd_noise",
                                   "mean_jpeg", "sd_jpeg", "noise_alone_mean", "noise_alone_sd",
                                   "jpeg_alone_mean", "jpeg_alone_sd"]
    assert len(table) == 4 and table["mean_noise"].between(0, 50).all()
    assert table["mean_jpeg"].between(1, 100).all()
    assert "| sigma | q | mixed: sigma | alone: sigma | mixed: q | alone: q |" in (
        two_seeds / "plots" / "tiny_mixed_estimator.md").read_text()


@pytest.mark.parametrize("extra, message", [
    (["--params", "10,20"], "sigma:q pairs"),
    (["--params", "60:10"], "noise: parameter 60 is out of range"),
    (["--fixed-parameter", "10"], "--fixed-parameter and --gate take a single degradation"),
])
def test_bad_requests_are_one_line_errors(two_seeds, capsys, extra, message):
    assert run_grid(two_seeds, *extra) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_grid_markdown_lays_pairs_out_as_sigma_rows_and_q_columns():
    values = degradations.all_params("mixed")[[0, 1, 10, 11]]  # sigma 0 and 10, q 10 and 20
    correct = {(0, "mixed"): np.array([[1, 0], [1, 1], [0, 0], [0, 1]], bool)}
    groups = {tables.network_groups({(0, "mixed"): None}).popitem()[0]: [0]}
    table = grid.grid_table(values, correct, {}, groups)
    frame = grid.grid_of(table, "mixed", "mean")
    assert list(frame.index) == [0, 10] and list(frame.columns) == [10, 20]
    assert frame.to_numpy().tolist() == [[0.5, 1.0], [0.0, 0.5]]
