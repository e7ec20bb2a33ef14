"""evaluate.py: Eq. (1), the bootstrap, the paper's numbers and a sweep over tiny networks."""
import shutil

import keras
import numpy as np
import pandas as pd
import pytest

import evaluate
from degraded_cnn import paths
from degraded_cnn.evaluation import figures
from degraded_cnn.evaluation import paper
from degraded_cnn.evaluation import reports
from degraded_cnn.evaluation import statistics
from degraded_cnn.evaluation import sweeps
from degraded_cnn.evaluation import tables
from degraded_cnn.models import classifier as classifier_network
from degraded_cnn.models import estimator as estimator_network
from degraded_cnn.predict import classification
from degraded_cnn.predict import estimation
from degraded_cnn.training import classifier as classifier_training
from degraded_cnn.training import loop
from degraded_cnn.vocabulary import degradations
from degraded_cnn.vocabulary import modes


def test_interval_mean_by_hand():
    params = np.arange(1, 11)
    accuracy = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    assert statistics.interval_mean(params, accuracy, 1, 10) == pytest.approx(0.55)
    assert (statistics.interval_mean(params, accuracy, 3, 5)
            == pytest.approx((0.3 + 0.4 + 0.5) / 3))
    assert statistics.interval_mean(params, accuracy, 10, 10) == pytest.approx(1.0)
    assert np.isnan(statistics.interval_mean(params, accuracy, 11, 20))


def test_intervals_cover_every_value_once():
    for degradation, intervals in tables.INTERVALS.items():
        covered = [v for low, high in intervals for v in range(low, high + 1)]
        expected = degradations.all_params(degradation).astype(int).tolist()
        assert covered == expected


def test_paired_bootstrap():
    rng = np.random.default_rng(0)
    same = rng.random((5, 200)) < 0.7
    assert statistics.paired_bootstrap(same, same, rng) == (0.0, 0.0)
    right, wrong = np.ones((3, 50), bool), np.zeros((3, 50), bool)
    assert statistics.paired_bootstrap(right, wrong, rng) == (1.0, 1.0)
    better = same | (rng.random((5, 200)) < 0.2)
    low, high = statistics.paired_bootstrap(better, same, rng)
    gain = better.mean() - same.mean()
    assert 0 < low < gain < high


# The paper's tables as printed (Endo, Tanaka & Okutomi, EI 2020), transcribed separately.
PAPER_TEXT = {
    ("cifar10", "jpeg"): "0.431 0.724 0.744 | 0.700 0.844 0.849 | 0.763 0.857 0.864 | "
                         "0.799 0.866 0.872 | 0.861 0.874 0.880",
    ("cifar100", "jpeg"): "0.202 0.448 0.454 | 0.407 0.561 0.563 | 0.465 0.577 0.581 | "
                          "0.504 0.583 0.588 | 0.582 0.591 0.596",
    ("cifar10", "noise"): "0.796 0.851 0.882 | 0.328 0.844 0.872 | 0.138 0.829 0.856 | "
                          "0.106 0.809 0.834 | 0.101 0.785 0.810",
}


@pytest.mark.parametrize("key", list(PAPER_TEXT))
def test_paper_interval_tables(key):
    rows = [[float(v) for v in row.split()] for row in PAPER_TEXT[key].split("|")]
    networks = list(paper.PAPER_INTERVALS[key])
    assert len(networks) == 3
    for column, name in enumerate(networks):
        assert list(paper.PAPER_INTERVALS[key][name]) == [row[column] for row in rows]


def test_paper_estimator_tables():
    assert paper.PAPER_ESTIMATES["jpeg"] == {
        20: (20.84, 2.28), 40: (40.93, 3.91), 60: (58.58, 4.07), 80: (79.53, 3.07),
        100: (94.91, 1.91)}
    assert paper.PAPER_ESTIMATES["noise"] == {
        10: (10.03, 0.42), 20: (20.11, 0.54), 30: (30.16, 0.69), 40: (40.11, 0.89),
        50: (49.26, 0.70)}


def test_paper_key():
    assert tables.paper_key("cifar10", "jpeg") == ("cifar10", "jpeg")
    assert tables.paper_key("cifar10-subset", "noise") == ("cifar10", "noise")
    assert tables.paper_key("cifar100", "jpeg") == ("cifar100", "jpeg")
    assert tables.paper_key("cifar100", "noise") is None
    assert tables.paper_key("mnist", "jpeg") is None


# ---------------------------------------------------------------------------------------------
# A sweep over tiny networks
# ---------------------------------------------------------------------------------------------
# The networks of the tiny setup: every mode's but the aux_* ones, which have their own tests
# (test_level_target.py).
BUILT = [mode for mode, spec in modes.MODES.items() if not spec.target]


@pytest.fixture(scope="module")
def tiny_networks(tmp_path_factory):
    """A tiny dataset, an untrained network of every mode and both estimators: built once for
    the module, since building and saving them costs more than most tests here."""
    folder = tmp_path_factory.mktemp("tiny")
    rng = np.random.default_rng(0)
    np.savez(folder / "tiny.npz", x_train=rng.integers(0, 256, (4, 16, 16, 3), dtype=np.uint8),
             y_train=np.array([0, 1, 2, 0]),
             x_test=rng.integers(0, 256, (12, 16, 16, 3), dtype=np.uint8),
             y_test=np.arange(12) % 3)
    weights = folder / "weights"
    weights.mkdir()
    for mode, spec in modes.MODES.items():
        if mode not in BUILT:
            continue
        model = classifier_network.build_classifier((16, 16, 3), 3, width=2,
                                                    with_parameter=spec.has_parameter)
        model.save(paths.classifier_path("tiny", mode, weights))
    for degradation in ("jpeg", "noise"):
        estimator_network.build_estimator(3, features=4).save(
            paths.estimator_path(degradation, weights))
    return folder


@pytest.fixture
def tiny_setup(tiny_networks, tmp_path):
    """Each test's own copy of tiny_networks: tests add sweep records, plots and networks."""
    shutil.copytree(tiny_networks, tmp_path, dirs_exist_ok=True)
    return tmp_path


def run_evaluate(setup, *extra):
    return evaluate.main(["--dataset", str(setup / "tiny.npz"), "--weights",
                          str(setup / "weights"), "--out", str(setup / "plots"), *extra])


@pytest.mark.parametrize("degradation,params", [("jpeg", "5,50,95"), ("noise", "0,12.5,50")])
def test_sweep_writes_every_file(tiny_setup, degradation, params):
    assert run_evaluate(tiny_setup, "--degradation", degradation, "--params", params) == 0
    plots = tiny_setup / "plots"
    networks = [mode for mode in tables.NETWORKS[degradation] if mode in BUILT]
    accuracy = pd.read_csv(plots / f"tiny_{degradation}_accuracy.csv")
    assert list(accuracy.columns) == ["param", *networks]
    assert accuracy["param"].tolist() == [float(p) for p in params.split(",")]
    assert accuracy[networks].apply(lambda c: c.between(0, 1)).all().all()
    intervals = pd.read_csv(plots / f"tiny_{degradation}_intervals.csv")
    assert len(intervals) == 5 and "values" in intervals
    twin = networks[1]
    for aware in networks[2:]:
        assert {f"{aware}-{twin}", f"{aware}-{twin} ci_low", f"{aware}-{twin} ci_high"} <= \
            set(intervals.columns)
    estimates = pd.read_csv(plots / f"tiny_{degradation}_estimator.csv")
    assert list(estimates.columns) == ["param", "mean", "sd"]
    for suffix in ("accuracy.png", "estimator.png", "intervals.md", "estimator.md"):
        assert (plots / f"tiny_{degradation}_{suffix}").stat().st_size > 0
    clean = pd.read_csv(plots / f"tiny_{degradation}_clean.csv").set_index("network")["accuracy"]
    assert list(clean.index) == [n for n in networks if n != "known_qf"]  # clean has no q
    if degradation == "noise":  # sigma = 0 is the clean image, for every network
        assert np.allclose(clean.values, accuracy.loc[accuracy["param"] == 0, networks].values)


def test_intervals_without_values_are_marked_not_nan(tiny_setup):
    assert run_evaluate(tiny_setup, "--degradation", "jpeg", "--params", "10,50") == 0
    rows = [line for line in (tiny_setup / "plots/tiny_jpeg_intervals.md").read_text().splitlines()
            if line.startswith("| ") and line[2].isdigit()]
    assert [row.split(" | ")[0] for row in rows] == ["| 1-20", "| 21-40", "| 41-60", "| 61-80",
                                                     "| 81-100"]
    assert "nan" not in "".join(rows)
    for row, swept in zip(rows, (True, False, True, False, False)):
        cells = row.strip("| ").split(" | ")[1:]
        assert all((cell == tables.NO_VALUE) != swept for cell in cells), row


def test_two_runs_give_identical_tables(tiny_setup):
    tables = []
    for _ in range(2):
        assert run_evaluate(tiny_setup, "--degradation", "noise", "--params", "3,30") == 0
        tables.append([(tiny_setup / "plots" / f"tiny_noise_{s}").read_bytes()
                       for s in ("accuracy.csv", "intervals.csv", "estimator.csv", "clean.csv")])
    assert tables[0] == tables[1]


def test_a_second_evaluation_reads_the_sweep_record(tiny_setup, monkeypatch):
    """One weights folder keeps a record too, so that an evaluation interrupted, or extended by
    a network trained later, classifies only what it has not seen."""
    names = ("accuracy.csv", "intervals.csv", "estimator.csv", "clean.csv")
    assert run_evaluate(tiny_setup, "--degradation", "noise", "--params", "3,30") == 0
    first = [(tiny_setup / "plots" / f"tiny_noise_{n}").read_bytes() for n in names]
    swept = []
    monkeypatch.setattr(sweeps, "sweep", lambda *args, **kwargs: swept.append(args))
    monkeypatch.setattr(sweeps, "clean_accuracy", lambda *args, **kwargs: {})
    assert run_evaluate(tiny_setup, "--degradation", "noise", "--params", "3,30") == 0
    assert swept == []
    assert [(tiny_setup / "plots" / f"tiny_noise_{n}").read_bytes() for n in names] == first
    # A retrained network alone is classified again, and the estimator does not run for it.
    monkeypatch.undo()
    classifier_network.build_classifier((16, 16, 3), 3, width=2).save(
        paths.classifier_path("tiny", "noisy", tiny_setup / "weights"))
    sweep = sweeps.sweep
    monkeypatch.setattr(sweeps, "sweep", lambda *args, **kwargs: swept.append(args) or sweep(
        *args, **kwargs))
    assert run_evaluate(tiny_setup, "--degradation", "noise", "--params", "3,30") == 0
    networks, estimator_model = swept[0][4], swept[0][5]
    assert list(networks) == [(0, "noisy")] and estimator_model is None
    assert (tiny_setup / "plots/tiny_noise_estimator.csv").read_bytes() == first[2]


def test_subset_of_values_reproduces_the_full_sweep(tiny_setup):
    assert run_evaluate(tiny_setup, "--degradation", "noise", "--params", "10,20") == 0
    both = pd.read_csv(tiny_setup / "plots/tiny_noise_accuracy.csv")
    assert run_evaluate(tiny_setup, "--degradation", "noise", "--params", "20") == 0
    one = pd.read_csv(tiny_setup / "plots/tiny_noise_accuracy.csv")
    pd.testing.assert_frame_equal(both.iloc[[1]].reset_index(drop=True), one)


def test_missing_network_is_skipped(tiny_setup):
    """A network of the paper's with a warning; a control (shuffled_*) silently."""
    for mode in ("known_qf", "shuffled_qf"):
        paths.classifier_path("tiny", mode, tiny_setup / "weights").unlink()
    with pytest.warns(UserWarning, match="no known_qf network") as caught:
        assert run_evaluate(tiny_setup, "--degradation", "jpeg", "--params", "50") == 0
    assert not any("shuffled" in str(warning.message) for warning in caught)
    accuracy = pd.read_csv(tiny_setup / "plots/tiny_jpeg_accuracy.csv")
    assert list(accuracy.columns) == ["param", "org", "jpg", "est_qf"]


def test_a_network_still_in_training_is_skipped(tiny_setup):
    path = paths.classifier_path("tiny", "known_qf", tiny_setup / "weights")
    backup, log = loop.run_paths(path)
    loop.record_budget(backup, 3)
    log.write_text("epoch,accuracy\n0,0.5\n")
    with pytest.warns(UserWarning, match=r"known_qf .* still in training .*\(epoch 1 of 3\)"):
        assert run_evaluate(tiny_setup, "--degradation", "jpeg", "--params", "50") == 0
    accuracy = pd.read_csv(tiny_setup / "plots/tiny_jpeg_accuracy.csv")
    assert list(accuracy.columns) == ["param", "org", "jpg", "est_qf", "shuffled_qf"]


def test_no_networks_is_an_error(tiny_setup, capsys):
    for mode in [mode for mode in tables.NETWORKS["jpeg"] if mode in BUILT]:
        paths.classifier_path("tiny", mode, tiny_setup / "weights").unlink()
    with pytest.warns(UserWarning):
        assert run_evaluate(tiny_setup, "--degradation", "jpeg", "--params", "50") == 2
    assert "no classifier weights" in capsys.readouterr().err


def test_estimator_only(tiny_setup):
    assert run_evaluate(tiny_setup, "--degradation", "jpeg", "--estimator-only", "--params",
                        "20,40") == 0
    table = (tiny_setup / "plots/tiny_jpeg_estimator.md").read_text()
    assert "| 20 |" in table and "20.84 +- 2.28" in table and "| 60 | not run |" in table
    assert not (tiny_setup / "plots/tiny_jpeg_accuracy.csv").exists()


def test_bad_params_are_an_error(tiny_setup, capsys):
    assert run_evaluate(tiny_setup, "--degradation", "noise", "--params", "10,60") == 2
    assert "60 is out of range" in capsys.readouterr().err


def test_fixed_parameter_goes_to_every_parameter_aware_network(tiny_setup, monkeypatch):
    given = {}
    predict = classification.predict_probabilities

    def record(model, images, params=None, degradation=None, batch_size=256):
        given.setdefault(model.name + str(len(model.inputs)), []).append(params)
        return predict(model, images, params, degradation, batch_size)
    monkeypatch.setattr(classification, "predict_probabilities", record)
    assert run_evaluate(tiny_setup, "--degradation", "jpeg", "--params", "10,90",
                        "--fixed-parameter", "55") == 0
    aware = [p for key, calls in given.items() if key.endswith("2") for p in calls]
    assert aware and all(np.array_equal(p, np.full(12, 55.0)) for p in aware)
    assert all(p is None for key, calls in given.items() if key.endswith("1") for p in calls)
    assert "given 55" in (tiny_setup / "plots/tiny_jpeg_intervals.md").read_text()


def test_fixed_parameter_ablation_reuses_the_image_only_networks_results(tiny_setup,
                                                                         monkeypatch):
    assert run_evaluate(tiny_setup, "--degradation", "jpeg", "--params", "10,90") == 0
    plain = pd.read_csv(tiny_setup / "plots/tiny_jpeg_accuracy.csv")
    swept = []
    sweep = sweeps.sweep
    monkeypatch.setattr(sweeps, "sweep", lambda *args, **kwargs: swept.append(
        (list(args[4]), args[5])) or sweep(*args, **kwargs))
    assert run_evaluate(tiny_setup, "--degradation", "jpeg", "--params", "10,90",
                        "--fixed-parameter", "55", "--out", str(tiny_setup / "fixed")) == 0
    # est_qf is given 55 too, so the estimator does not run (its table is in the record).
    assert swept == [([(0, "est_qf"), (0, "known_qf"), (0, "shuffled_qf")], None)]
    fixed = pd.read_csv(tiny_setup / "fixed/tiny_jpeg_accuracy.csv")
    pd.testing.assert_frame_equal(fixed[["param", "org", "jpg"]], plain[["param", "org", "jpg"]])


def test_fixed_parameter_out_of_range_is_an_error(tiny_setup, capsys):
    assert run_evaluate(tiny_setup, "--degradation", "noise", "--params", "10",
                        "--fixed-parameter", "80") == 2
    assert "80 is out of range" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# A seed study
# ---------------------------------------------------------------------------------------------
def test_gain_interval_by_hand():
    aware = [[1, 1, 0], [1, 0, 0]]  # 2 seeds x 3 images
    twin = [[1, 0, 0], [0, 0, 0]]
    # Paired: the gain table [[0, 1, 0], [1, 0, 0]] has seed means 1/3, 1/3 (MS_seed 0), image
    # means 1/2, 1/2, 0 (MS_image 1/6) and residuals +-1/2, +-1/2, 0 (MS_interaction 1/2 on 2
    # degrees of freedom). The seed mean square is floored at MS_interaction and the image part
    # held at 0, so the variance of the mean is MS_interaction / (2 x 3) = 1/12, with t on the
    # seeds' 1 degree of freedom: the floor stands in for a mean square of 2 seeds.
    gain, low, high = statistics.gain_interval(aware, twin, paired=True)
    assert gain == pytest.approx(1 / 3)
    assert high - gain == pytest.approx(12.706 / np.sqrt(12)) and gain - low == pytest.approx(
        12.706 / np.sqrt(12))
    # Unpaired: each network's seed component, (MS_seed - MS_interaction) / 3 of its own table,
    # is (1/6 - 1/6) / 3 = 0 for aware ([1,1,0] / [1,0,0]: MS_seed 1/6, MS_interaction 1/6) and
    # (1/6 - 1/6) / 3 = 0 for twin; the image term var(1/2, 1/2, 0) / 3 = 1/36; t on 1 df.
    gain, low, high = statistics.gain_interval(aware, twin, paired=False)
    assert high - gain == pytest.approx(12.706 * np.sqrt(1 / 36))
    # One seed: no spread between trainings to measure, so no interval.
    assert np.isnan(statistics.gain_interval([[1, 0]], [[0, 0]], paired=True)[1])
    # A Satterthwaite df below 1, for which the t table has no row: the interval uses 1 df
    # instead of vanishing.
    table = [[-1, 1], [-1, 0], [-1, 1]]
    assert statistics.mean_variance(np.array(table, float))[1] == 1.0
    assert np.isfinite(statistics.gain_interval(table, np.zeros((3, 2)), paired=True)[1])
    assert statistics.t_quantile(4) == 2.776 and statistics.t_quantile(13) == 2.179
    assert statistics.t_quantile(1000) == statistics.Z_975


def test_a_seed_component_estimated_at_zero_keeps_the_seeds_degrees_of_freedom():
    """Three seeds whose mean gains happen to agree (MS_seed 0, below the interaction's): the
    seed component is estimated at zero, but the interval keeps about the seeds' 2 degrees of
    freedom, not the images' 2,000 (t 4.3, not 1.96), and it varies smoothly as the seeds'
    means move apart."""
    rng = np.random.default_rng(1)
    table = rng.normal(0, 0.3, (3, 1017))
    table -= table.mean(axis=1, keepdims=True)  # every seed's mean gain exactly 0
    assert statistics.variance_components(table)["seed"] == 0.0
    variance, df = statistics.mean_variance(table)
    assert 2 <= df < 3
    assert variance == pytest.approx(statistics.mean_squares(table)["interaction"][0] / 3051,
                                     rel=0.05)
    spread = table + np.array([[-0.004], [0.0], [0.004]])  # the seeds' means a little apart
    assert 2 <= statistics.mean_variance(spread)[1] < 3
    assert statistics.mean_variance(spread)[0] >= variance


def test_variance_components_recover_a_known_model():
    """Tables drawn from d = a_s + b_i + e_si with SDs 0.02, 0.1, 0.3: the ANOVA estimates come
    back, and the two-way variance of the mean is below the main-effects one, which counts the
    interaction twice."""
    rng = np.random.default_rng(0)
    seeds, images = 100, 2000
    table = (rng.normal(0, 0.02, (seeds, 1)) + rng.normal(0, 0.1, (1, images))
             + rng.normal(0, 0.3, (seeds, images)))
    components = statistics.variance_components(table)
    assert np.sqrt(components["seed"]) == pytest.approx(0.02, rel=0.3)
    assert np.sqrt(components["image"]) == pytest.approx(0.1, rel=0.05)
    assert np.sqrt(components["interaction"]) == pytest.approx(0.3, rel=0.02)
    variance, df = statistics.mean_variance(table)
    expected = 0.02 ** 2 / seeds + 0.1 ** 2 / images + 0.3 ** 2 / (seeds * images)
    assert variance == pytest.approx(expected, rel=0.5)
    main_effects = table.mean(axis=1).var(ddof=1) / seeds + table.mean(axis=0).var(ddof=1) / images
    assert main_effects > variance and seeds - 1 <= df


def test_seed_table_by_hand():
    values = np.array([0.0, 5.0, 12.0])  # two values in 0-10, one in 11-20
    correct = {(0, "noisy"): [[1, 0], [1, 1], [0, 0]], (1, "noisy"): [[0, 0], [1, 0], [1, 0]],
               (0, "known_nl"): [[1, 1], [1, 1], [0, 1]],
               (1, "known_nl"): [[1, 0], [1, 0], [1, 1]]}
    correct = {key: np.array(rows, bool) for key, rows in correct.items()}
    clean = {(0, "noisy"): 0.5, (1, "noisy"): 0.7, (0, "known_nl"): 0.6, (1, "known_nl"): 0.8}
    groups = {tables.NetworkGroup("noisy"): [0, 1], tables.NetworkGroup("known_nl"): [0, 1]}
    table = tables.seed_table(values, correct, clean, groups, "noise", ("cifar10", "noise"))
    row = table.set_index(["interval", "network"]).loc
    # 0-10: noisy gets 0.75 and 0.25 over its two seeds, known_nl 1.0 and 0.5.
    assert row[("0-10", "noisy"), ["mean", "sd", "seeds"]].tolist() == pytest.approx(
        [0.5, np.sqrt(0.125), 2])
    assert row[("0-10", "noisy"), "paper"] == 0.851
    assert row[("0-10", "known_nl"), "mean"] == pytest.approx(0.75)
    # Gains [[0, 0.5], [0.5, 0]]: the same mean for every seed and image, all of the spread in
    # the interaction (MS 1/4 on 1 df), so the variance of the mean is (1/4) / 4.
    assert row[("0-10", "known_nl"), ["gain", "gain_ci_low", "gain_ci_high"]].tolist() == \
        pytest.approx([0.25, 0.25 - 12.706 * 0.25, 0.25 + 12.706 * 0.25])
    assert row[("0-10", "known_nl"), "twin"] == "noisy" and row[("0-10", "known_nl"), "paired"]
    # 11-20: gains 0 and 1 on the two images, 0.5 on both seeds: MS_image 1 alone, on 1 df.
    assert row[("11-20", "known_nl"), ["gain", "gain_ci_high"]].tolist() == pytest.approx(
        [0.5, 0.5 + 12.706 * 0.5])
    assert np.isnan(row[("21-30", "noisy"), "mean"]) and row[("21-30", "noisy"), "values"] == 0
    assert row[("clean", "noisy"), ["mean", "sd", "seeds"]].tolist() == pytest.approx(
        [0.6, np.sqrt(0.02), 2])


def test_seed_table_gain_over_the_placebo():
    values = np.array([0.0, 5.0])
    # Per-image accuracies at 0-10: noisy [0.5, 0.5] on both seeds; the placebo [0, 0.5] and
    # [0.5, 0]; known_nl [1, 0.5] and [1, 1]; the film known_nl has no film placebo.
    correct = {(0, "noisy"): [[1, 0], [0, 1]], (1, "noisy"): [[0, 1], [1, 0]],
               (0, "shuffled_nl"): [[0, 1], [0, 0]], (1, "shuffled_nl"): [[1, 0], [0, 0]],
               (0, "known_nl"): [[1, 1], [1, 0]], (1, "known_nl"): [[1, 1], [1, 1]],
               (2, "known_nl"): [[1, 1], [1, 1]]}
    correct = {key: np.array(rows, bool) for key, rows in correct.items()}
    groups = {tables.NetworkGroup("noisy"): [0, 1], tables.NetworkGroup("known_nl"): [0, 1],
              tables.NetworkGroup("shuffled_nl"): [0, 1],
              tables.NetworkGroup("known_nl", "film"): [2]}
    table = tables.seed_table(values, correct, {}, groups, "noise", None)
    row = table.set_index(["interval", "network"]).loc
    # Gains over the placebo [[1, 0], [0.5, 1]]: mean 0.625; seed means 0.5, 0.75; image means
    # 0.75, 0.5; the interaction residuals +-0.375, so MS_interaction 0.5625 on 1 df and the
    # variance of the mean is MS_interaction / 4 (the seed and image MS, 0.0625 each, are below
    # it, so their components are 0).
    half = 12.706 * np.sqrt(0.5625 / 4)
    assert row[("0-10", "known_nl"), ["over_placebo", "over_placebo_ci_low",
                                      "over_placebo_ci_high"]].tolist() == pytest.approx(
        [0.625, 0.625 - half, 0.625 + half], rel=1e-3)
    assert row[("0-10", "known_nl"), "placebo"] == "shuffled_nl"
    assert row[("0-10", "known_nl"), "placebo_paired"]
    assert row[("0-10", "known_nl"), "gain"] == pytest.approx(0.375)  # over noisy, unchanged
    for network in ("noisy", "shuffled_nl", "known_nl:film"):
        assert np.isnan(row[("0-10", network), "over_placebo"])
    markdown = tables.seed_markdown(table, "tiny", "noise", None, 2)
    assert "| interval | Noisy+Known.NL - Noisy+Shuffled.NL |" in markdown
    assert "| 0-10 | +0.625 [" in markdown.split("Gain over the placebo")[1]


def test_placebo_of_each_mode():
    assert [modes.placebo_of(m) for m in ("est_nl", "known_nl", "est_qf", "known_qf",
                                          "est_pair", "known_pair")] == \
        ["shuffled_nl", "shuffled_nl", "shuffled_qf", "shuffled_qf", "shuffled_pair",
         "shuffled_pair"]
    assert [modes.placebo_of(m) for m in ("org", "noisy", "jpg", "shuffled_nl")] == \
        [None] * 4


def test_seed_study_over_weights_folders(tiny_setup):
    first = tiny_setup / "weights"
    second, third = tiny_setup / "seed1", tiny_setup / "film"
    second.mkdir()
    third.mkdir()
    keras.utils.set_random_seed(1)
    for mode in [mode for mode in tables.NETWORKS["noise"] if mode in BUILT]:
        classifier_network.build_classifier(
            (16, 16, 3), 3, width=2, with_parameter=mode not in ("org", "noisy")).save(
            paths.classifier_path("tiny", mode, second))
    classifier_network.build_classifier((16, 16, 3), 3, width=2, with_parameter=True,
                                        parameter_join="film").save(
        paths.classifier_path("tiny", "known_nl", third))
    assert evaluate.main(["--dataset", str(tiny_setup / "tiny.npz"), "--degradation", "noise",
                          "--params", "0,12.5,50", "--out", str(tiny_setup / "plots"),
                          "--weights", str(first), str(second), str(third)]) == 0
    plots = tiny_setup / "plots"
    table = pd.read_csv(plots / "tiny_noise_seeds.csv")
    swept = table[table["values"] > 0]
    assert set(swept["interval"]) == {"0-10", "11-20", "41-50"}
    by_network = swept.groupby("network")["seeds"].min().to_dict()
    assert by_network == {"org": 2, "noisy": 2, "est_nl": 2, "known_nl": 2, "shuffled_nl": 2,
                          "known_nl:film": 1}
    gains = swept.dropna(subset=["gain_ci_low"])
    assert set(gains["network"]) == {"est_nl", "known_nl", "shuffled_nl"}  # one film seed: none
    assert (gains["gain_ci_low"] <= gains["gain"]).all() and (
        gains["gain"] <= gains["gain_ci_high"]).all()
    assert not swept.loc[swept["network"] == "known_nl:film", "paired"].any()
    # The film known_nl has no film placebo, so only the dense networks are set against one.
    over_placebo = swept.dropna(subset=["over_placebo_ci_low"])
    assert set(over_placebo["network"]) == {"est_nl", "known_nl"}
    assert over_placebo["placebo_paired"].all()
    markdown = (plots / "tiny_noise_seeds.md").read_text()
    assert "Gain over the placebo" in markdown
    assert "Noisy+Known.NL (film join)" in markdown and "no interval from one seed" in markdown
    assert (plots / "tiny_noise_seeds.png").stat().st_size > 0
    assert not (plots / "tiny_noise_accuracy.csv").exists()  # the shipped networks' files


def test_sweep_records_stand_in_for_weights_that_are_not_here(tiny_setup, monkeypatch):
    first, second = tiny_setup / "weights", tiny_setup / "seed1"
    shutil.copytree(first, second)
    command = ["--dataset", str(tiny_setup / "tiny.npz"), "--degradation", "jpeg", "--params",
               "10,90", "--out", str(tiny_setup / "plots"), "--weights", str(first), str(second)]
    assert evaluate.main(command) == 0
    table = (tiny_setup / "plots/tiny_jpeg_seeds.csv").read_text()
    records = list(second.glob("sweep_tiny_jpeg_*.npz"))
    assert len(records) == 1
    # The second seed's networks are gone (not committed): its record answers for them, and
    # nothing is classified again.
    for network in second.glob("classifier_*.keras"):
        network.unlink()
    classified = []
    monkeypatch.setattr(sweeps, "sweep", lambda *args, **kwargs: classified.append(args))
    monkeypatch.setattr(sweeps, "clean_accuracy", lambda *args, **kwargs: {})
    assert evaluate.main(command) == 0
    assert classified == [] and (tiny_setup / "plots/tiny_jpeg_seeds.csv").read_text() == table
    # A retrained network (another weights file) is classified again, and it alone; another
    # --params keeps its own record.
    classifier_network.build_classifier((16, 16, 3), 3, width=2).save(
        paths.classifier_path("tiny", "jpg", first))
    monkeypatch.undo()
    sweep, swept = sweeps.sweep, []
    monkeypatch.setattr(sweeps, "sweep", lambda *args, **kwargs: swept.append(list(args[4]))
                        or sweep(*args, **kwargs))
    assert evaluate.main(command) == 0
    assert swept == [[(0, "jpg")]]
    assert evaluate.main(command[:5] + ["10,50,90"] + command[6:]) == 0
    assert len(list(first.glob("sweep_tiny_jpeg_*.npz"))) == 2


def test_a_new_seed_reuses_the_estimators_answers(tiny_setup, monkeypatch):
    """The estimator's per-image answers are kept between runs (EstimateCache): a seed study that
    gains an est_* seed classifies it without running the estimator, and finds what a run that
    estimates afresh finds."""
    first, second = tiny_setup / "weights", tiny_setup / "seed1"
    second.mkdir()
    command = ["--dataset", str(tiny_setup / "tiny.npz"), "--degradation", "noise", "--params",
               "3,30", "--out", str(tiny_setup / "plots"), "--weights", str(first)]
    assert evaluate.main(command) == 0
    (record,) = first.glob("sweep_*.npz")
    committed = record.read_bytes()
    keras.utils.set_random_seed(1)
    classifier_network.build_classifier((16, 16, 3), 3, width=2, with_parameter=True).save(
        paths.classifier_path("tiny", "est_nl", second))

    def no_estimator(*args):
        raise AssertionError("the estimator ran again")
    monkeypatch.setattr(estimation, "estimate", no_estimator)
    assert evaluate.main(command + [str(second)]) == 0
    # The first folder's record says nothing new, so it is left as it was, byte for byte.
    assert record.read_bytes() == committed
    kept = (tiny_setup / "plots/tiny_noise_seeds.csv").read_text()
    monkeypatch.undo()
    monkeypatch.setenv("DEGRADED_CNN_CACHE", "off")
    for record in second.glob("sweep_*.npz"):
        record.unlink()
    assert evaluate.main(command + [str(second)]) == 0
    assert (tiny_setup / "plots/tiny_noise_seeds.csv").read_text() == kept


def test_an_interrupted_estimator_sweep_goes_on_where_it_stopped(tiny_setup, monkeypatch):
    """The estimator's answers are kept as the sweep goes (CHECKPOINT_SECONDS): a run stopped
    at the third value estimates only the values after the last one kept, and its table is the
    one an uninterrupted run writes."""
    command = ["--dataset", str(tiny_setup / "tiny.npz"), "--degradation", "noise", "--params",
               "3,30,40", "--out", str(tiny_setup / "plots"), "--weights",
               str(tiny_setup / "weights"), "--estimator-only"]
    estimate, calls = estimation.estimate, []

    def counted(model, images, degradation, stop_at=None):
        calls.append(len(images))
        if len(calls) == stop_at:
            raise KeyboardInterrupt
        return estimate(model, images, degradation)
    monkeypatch.setattr(sweeps, "CHECKPOINT_SECONDS", 0)
    monkeypatch.setattr(estimation, "estimate",
                        lambda *args: counted(*args, stop_at=3))
    assert evaluate.main(command) == 130  # interrupted (Ctrl-C)
    monkeypatch.setattr(estimation, "estimate", counted)
    calls.clear()
    assert evaluate.main(command) == 0
    assert calls == [12, 12]  # the third value, then the clean images
    resumed = (tiny_setup / "plots/tiny_noise_estimator.csv").read_text()
    monkeypatch.setenv("DEGRADED_CNN_CACHE", "off")
    assert evaluate.main(command) == 0
    assert (tiny_setup / "plots/tiny_noise_estimator.csv").read_text() == resumed


@pytest.fixture
def drawn_figures(monkeypatch):
    """The figures the plotting functions draw, kept instead of saved."""
    drawn = []
    monkeypatch.setattr(figures, "save_figure", lambda figure, path: drawn.append(figure))
    return drawn


def paper_artists(figure):
    axis = figure.axes[0]
    return [a for a in [*axis.collections, *axis.lines] if a.get_gid() == "paper"]


@pytest.mark.parametrize("dataset,degradation,networks", [
    ("cifar10-subset", "jpeg", ("org", "jpg", "est_qf", "known_qf")),
    ("cifar100", "jpeg", ("org", "jpg", "est_qf")),
    ("cifar10", "noise", ("org", "noisy", "est_nl", "known_nl"))])
def test_accuracy_figure_draws_the_papers_interval_means(drawn_figures, dataset, degradation,
                                                         networks):
    values = degradations.all_params(degradation)
    table = pd.DataFrame({"param": values, **{n: np.full(len(values), 0.5) for n in networks}})
    figures.accuracy_figure(table, dataset, degradation, "unused.png")
    segments = paper_artists(drawn_figures[0])
    # One set of dashed segments per network the paper reports (not known_*), one per interval.
    assert len(segments) == 3
    reference = paper.PAPER_INTERVALS[tables.paper_key(dataset, degradation)]
    for collection, name in zip(segments, reference):
        ys = [segment[0][1] for segment in collection.get_segments()]
        assert ys == pytest.approx(reference[name])
    assert drawn_figures[0].axes[0].get_xlabel() == figures.axis_name(degradation)


def test_no_paper_segments_for_a_dataset_the_paper_did_not_use(drawn_figures):
    table = pd.DataFrame({"param": [1.0, 50.0], "org": [0.1, 0.2]})
    figures.accuracy_figure(table, "mnist", "jpeg", "unused.png")
    assert paper_artists(drawn_figures[0]) == []


@pytest.mark.parametrize("degradation", ["jpeg", "noise"])
def test_estimator_figure_draws_the_papers_table(drawn_figures, degradation):
    table = pd.DataFrame({"param": [10.0, 20.0], "mean": [11.0, 19.0], "sd": [1.0, 2.0]})
    figures.estimator_figure(table, degradation, "unused.png")
    (points,) = [c for c in drawn_figures[0].axes[0].containers if c.lines[0].get_gid() == "paper"]
    reference = paper.PAPER_ESTIMATES[degradation]
    x, y = points.lines[0].get_data()
    assert list(x) == list(reference) and list(y) == [mean for mean, _ in reference.values()]
    assert "true " in drawn_figures[0].axes[0].get_xlabel()


def test_compare_sets_estimators_side_by_side_with_their_bias(tmp_path, drawn_figures):
    values = np.arange(1.0, 101.0)
    for name, shift in (("old", -2.0), ("new", 0.5)):
        table = pd.DataFrame({"param": values, "mean": values + shift, "sd": np.full(100, 3.0)})
        reports.write_csv(table, tmp_path / f"{name}_estimator.csv")
    assert evaluate.main(["--dataset", "cifar10", "--degradation", "jpeg", "--out", str(tmp_path),
                          "--compare", f"shipped={tmp_path / 'old_estimator.csv'}",
                          f"three sets={tmp_path / 'new_estimator.csv'}"]) == 0
    markdown = (tmp_path / "cifar10_jpeg_estimators.md").read_text()
    assert "| true | shipped | three sets | paper |" in markdown
    assert "| 40 | 38.00 +- 3.00 (-2.00) | 40.50 +- 3.00 (+0.50) | 40.93 +- 3.91 (+0.93) |" in \
        markdown
    assert len(pd.read_csv(tmp_path / "cifar10_jpeg_estimators.csv")) == 200
    assert [line.get_label() for line in drawn_figures[0].axes[0].get_lines()][1:3] == [
        "shipped (mean +- SD)", "three sets (mean +- SD)"]
    # Estimator and classifier tables do not mix.
    assert evaluate.main(["--degradation", "jpeg", "--out", str(tmp_path), "--compare",
                          f"a={tmp_path / 'old_estimator.csv'}", "b=x_seeds.csv"]) == 2


def test_replot_redraws_the_figures_from_the_tables(tiny_setup, drawn_figures):
    assert run_evaluate(tiny_setup, "--degradation", "noise", "--params", "0,25") == 0
    drawn = len(drawn_figures)
    for figure in (tiny_setup / "plots").glob("*.png"):
        figure.unlink()
    assert run_evaluate(tiny_setup, "--degradation", "noise", "--replot") == 0
    assert len(drawn_figures) == drawn + 2  # accuracy and estimator, from their CSVs
    assert run_evaluate(tiny_setup, "--degradation", "jpeg", "--replot") == 2  # no JPEG tables


def test_networks_trained_on_another_dataset_with_the_same_classes(tiny_setup):
    rng = np.random.default_rng(5)
    other = tiny_setup / "other.npz"
    np.savez(other, x_train=rng.integers(0, 256, (4, 16, 16, 3), dtype=np.uint8),
             y_train=np.array([0, 1, 2, 0]),
             x_test=rng.integers(0, 256, (9, 16, 16, 3), dtype=np.uint8), y_test=np.arange(9) % 3)
    assert evaluate.main(["--dataset", str(other), "--trained-on", "tiny", "--degradation",
                          "noise", "--params", "0,30", "--weights", str(tiny_setup / "weights"),
                          "--out", str(tiny_setup / "plots")]) == 0
    written = sorted(p.name for p in (tiny_setup / "plots").iterdir())
    assert "other_trained-on-tiny_noise_intervals.md" in written
    assert not any(name.startswith(("tiny_", "other_noise")) for name in written)
    # Networks that know other classes are refused, not silently misread.
    classifier_training.write_class_names(paths.class_names_path("tiny", tiny_setup / "weights"),
                                          ["ant", "bee", "cat"])
    assert evaluate.main(["--dataset", str(other), "--trained-on", "tiny", "--degradation",
                          "noise", "--params", "0", "--weights", str(tiny_setup / "weights"),
                          "--out", str(tiny_setup / "plots")]) == 2


# ---------------------------------------------------------------------------------------------
# Settings side by side
# ---------------------------------------------------------------------------------------------
def write_interval_tables(folder, noisy, est_nl, clean):
    """An _intervals.csv and _clean.csv as a sweep writes them, with one accuracy per network
    for every noise interval and a gain interval of +-0.01."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [{"interval": f"{low}-{high}", "values": high - low + 1, "noisy": noisy,
             "est_nl": est_nl, "est_nl-noisy": est_nl - noisy,
             "est_nl-noisy ci_low": est_nl - noisy - 0.01,
             "est_nl-noisy ci_high": est_nl - noisy + 0.01}
            for low, high in tables.INTERVALS["noise"]]
    pd.DataFrame(rows).to_csv(folder / "set_noise_intervals.csv", index=False)
    pd.DataFrame({"network": ["noisy", "est_nl"], "accuracy": clean}).to_csv(
        folder / "set_noise_clean.csv", index=False)
    return folder / "set_noise_intervals.csv"


def test_compare_puts_settings_side_by_side(tmp_path):
    small = write_interval_tables(tmp_path / "small", 0.5, 0.6, [0.55, 0.65])
    fixed = write_interval_tables(tmp_path / "fixed", 0.5, 0.45, [0.55, 0.6])
    seeds = tmp_path / "seeds_noise_seeds.csv"
    pd.DataFrame([{"interval": "0-10", "network": "est_nl", "mean": 0.7, "sd": 0.01, "seeds": 3,
                   "twin": "noisy", "gain": 0.02, "gain_ci_low": -0.01, "gain_ci_high": 0.05},
                  {"interval": "clean", "network": "noisy", "mean": 0.8, "sd": 0.02,
                   "seeds": 3}]).to_csv(seeds, index=False)
    out = tmp_path / "plots"
    assert evaluate.main(["--dataset", "cifar10", "--degradation", "noise", "--out", str(out),
                          "--compare", f"small, w16={small},{fixed}", f"three seeds={seeds}"]) == 0
    table = pd.read_csv(out / "cifar10_noise_settings.csv")
    small_rows = table[table["setting"] == "small, w16"].set_index(["interval", "network"])
    assert small_rows.loc[("clean", "est_nl"), "accuracy"] == pytest.approx(0.65)
    assert small_rows.loc[("0-10", "est_nl"), "gain"] == pytest.approx(0.1)
    # What the parameter is worth: 0.6 with it, 0.45 with the fixed value; nothing for noisy.
    assert small_rows.loc[("21-30", "est_nl"), "worth"] == pytest.approx(0.15)
    assert small_rows.loc[("clean", "est_nl"), "worth"] == pytest.approx(0.05)
    assert small_rows.loc[("21-30", "noisy"), "worth"] == pytest.approx(0.0)
    text = (out / "cifar10_noise_settings.md").read_text()
    assert "| small, w16 | +0.100 [+0.090, +0.110] |" in text
    assert "| three seeds | +0.020 [-0.010, +0.050] (3) | - |" in text
    assert "| paper (Table 6) | +0.031 |" in text   # Table 6: 0.882 - 0.851
    assert "| small, w16 | Noisy+Est.NL | +0.150 |" in text


def test_compare_names_a_missing_or_foreign_table(tmp_path, capsys):
    arguments = ["--degradation", "noise", "--out", str(tmp_path)]
    assert evaluate.main([*arguments, "--compare", f"a={tmp_path / 'none_intervals.csv'}"]) == 2
    assert "none_intervals.csv does not exist" in capsys.readouterr().err
    (tmp_path / "x_accuracy.csv").write_text("param,org\n1,0.5\n")
    assert evaluate.main([*arguments, "--compare", f"a={tmp_path / 'x_accuracy.csv'}"]) == 2
    assert "_intervals.csv or _seeds.csv" in capsys.readouterr().err
    assert evaluate.main([*arguments, "--compare", "no label"]) == 2
    assert "LABEL=TABLE" in capsys.readouterr().err


def test_the_two_way_interval_holds_the_true_gain_at_least_94_percent_of_the_time():
    """tools/interval_coverage.py's simulation on models like the subset's (interaction SD
    0.3, image SD 0.03; 3 and 5 seeds, seed SD 0.006 and 0.02): the two-way interval covers
    the mean at least 94% of the time, and is narrower than the main-effects one, which counts
    the interaction twice."""
    import interval_coverage
    for seeds, seed_sd in ((3, 0.006), (5, 0.006), (3, 0.02), (5, 0.02)):
        components = {"seed": seed_sd ** 2, "image": 0.03 ** 2, "interaction": 0.3 ** 2}
        coverage = interval_coverage.simulate(components, seeds, 300, 400,
                                              np.random.default_rng(0))
        assert coverage["two-way"][0] >= 0.94
        assert coverage["main effects"][1] > coverage["two-way"][1]


def test_one_set_of_networks_across_folders(tiny_setup):
    """--one-set: a network from each folder, compared as if in one (paired by test image)."""
    here, elsewhere = tiny_setup / "weights", tiny_setup / "elsewhere"
    elsewhere.mkdir()
    for mode in ("est_nl", "known_nl"):
        shutil.move(paths.classifier_path("tiny", mode, here),
                    paths.classifier_path("tiny", mode, elsewhere))
    common = ["--dataset", str(tiny_setup / "tiny.npz"), "--degradation", "noise", "--params",
              "0,12.5,50"]
    assert evaluate.main([*common, "--weights", str(here), str(elsewhere), "--one-set",
                          "--out", str(tiny_setup / "split")]) == 0
    for network in ("est_nl", "known_nl"):
        shutil.move(paths.classifier_path("tiny", network, elsewhere),
                    paths.classifier_path("tiny", network, here))
    assert evaluate.main([*common, "--weights", str(here), "--out",
                          str(tiny_setup / "together")]) == 0
    split, together = (pd.read_csv(tiny_setup / out / "tiny_noise_intervals.csv")
                       for out in ("split", "together"))
    assert "Noisy+Est.NL - Noisy" in (tiny_setup / "split" / "tiny_noise_intervals.md").read_text()
    pd.testing.assert_frame_equal(split, together)
    assert not (tiny_setup / "split" / "tiny_noise_seeds.csv").exists()


def test_one_set_takes_each_network_from_the_first_folder_that_has_it():
    found = {tables.NetworkKey(1, "noisy"): "second", tables.NetworkKey(0, "noisy"): "first",
             tables.NetworkKey(1, "est_nl"): "only", tables.NetworkKey(0, "org"): "unasked"}
    assert list(evaluate.first_of_each(found, ("noisy", "est_nl")).items()) == [
        ("noisy", "first"), ("est_nl", "only")]


def test_one_set_reads_the_estimators_table_from_any_folders_record(tiny_setup, monkeypatch):
    monkeypatch.setenv("DEGRADED_CNN_CACHE", "off")  # no kept answers: only the records
    here, elsewhere = tiny_setup / "weights", tiny_setup / "elsewhere"
    elsewhere.mkdir()
    shutil.move(paths.classifier_path("tiny", "est_nl", here),
                paths.classifier_path("tiny", "est_nl", elsewhere))
    common = ["--dataset", str(tiny_setup / "tiny.npz"), "--degradation", "noise", "--params",
              "0,50", "--estimator-dir", str(here), "--out", str(tiny_setup / "plots")]
    assert evaluate.main([*common, "--weights", str(elsewhere)]) == 0

    def no_estimator(*args):
        raise AssertionError("the estimator ran again")
    monkeypatch.setattr(estimation, "estimate", no_estimator)
    assert evaluate.main([*common, "--weights", str(here), str(elsewhere), "--one-set"]) == 0
    assert (tiny_setup / "plots" / "tiny_noise_estimator.md").is_file()
