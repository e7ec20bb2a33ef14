"""reproduce.py: the stages it runs, and the ones it skips."""
import json
import subprocess
from pathlib import Path

import pytest

import classifier
import estimator
import reproduce
from degraded_cnn import paths
from degraded_cnn.models import estimator as estimator_network
from degraded_cnn.training import estimator as estimator_training
from degraded_cnn.training import loop
from degraded_cnn.vocabulary import recipes

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def commands(monkeypatch):
    ran = []
    monkeypatch.setattr(subprocess, "run", lambda command, **kwargs: ran.append(command[1:]))
    return ran


def fake_trained(path, epochs):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"model")
    log = loop.run_paths(path)[1]
    log.write_text("epoch,loss\n" + "".join(f"{e},1.0\n" for e in range(epochs)))


def run(tmp_path, *extra):
    return reproduce.main(["--dataset", "some/set.npz", "--weights", str(tmp_path / "w"),
                           "--out", str(tmp_path / "p"), "--train-dir", "clean", *extra])


def test_runs_every_stage(tmp_path, commands):
    assert run(tmp_path, "--degradation", "noise") == 0
    scripts = [(c[0], c[c.index("--mode") + 1] if "--mode" in c else None) for c in commands]
    assert scripts == [("estimator.py", None), ("classifier.py", "org"),
                       ("classifier.py", "noisy"), ("classifier.py", "est_nl"),
                       ("classifier.py", "known_nl"), ("evaluate.py", None)]
    assert all(c[c.index("--recipe") + 1] == "cpu" for c in commands[1:5])
    # The parameter-aware networks and their image-only twin get the same recipe.
    twin, *aware = (c[:c.index("--mode")] + c[c.index("--mode") + 2:] for c in commands[2:5])
    assert aware == [twin, twin]


def test_dry_run_prints_the_training_commands_in_dependency_order(tmp_path, commands, capsys):
    """One command a line on standard output, estimators first, then every seed's modes; the
    trained ones left out; nothing run."""
    weights = tmp_path / "w"
    seed1_noisy = paths.classifier_path("set", "noisy", weights / "seed1")
    fake_trained(seed1_noisy, recipes.CPU.epochs)
    assert reproduce.main(["--dataset", "some/set.npz", "--degradation", "noise", "--weights",
                           str(weights), "--seeds", "0,1", "--modes", "noisy,shuffled_nl",
                           "--dry-run"]) == 0
    assert commands == []
    lines = capsys.readouterr().out.splitlines()
    parsed = [line.split() for line in lines]
    assert [p[1] for p in parsed] == ["estimator.py"] + ["classifier.py"] * 3
    assert [(p[p.index("--mode") + 1], p[p.index("--seed") + 1]) for p in parsed[1:]] == \
        [("noisy", "0"), ("shuffled_nl", "0"), ("shuffled_nl", "1")]


def test_estimator_runs_start_from_the_run_before(tmp_path, commands):
    assert run(tmp_path, "--degradation", "jpeg") == 0
    runs = [c for c in commands if c[0] == "estimator.py"]
    assert len(runs) == len(recipes.ESTIMATOR_CPU["jpeg"]) > 1
    folders = [tmp_path / "w" / f"stage{n}" for n in range(1, len(runs))] + [tmp_path / "w"]
    for number, (command, folder) in enumerate(zip(runs, folders)):
        assert command[command.index("--weights-dir") + 1] == str(folder)
        if number:
            assert command[command.index("--init-from") + 1] == str(
                paths.estimator_path("jpeg", folders[number - 1]))
        else:
            assert "--init-from" not in command
    assert "cosine" in runs[-1] and "cosine" not in runs[0]


@pytest.mark.parametrize("degradation", ["jpeg", "noise"])
def test_the_shipped_estimators_come_from_the_cpu_recipe(degradation, monkeypatch):
    """What the README says: every run of recipes.ESTIMATOR_CPU is in weights/, trained for its
    epochs, and (where its backup is kept) with the recipe's settings."""
    monkeypatch.chdir(REPO)
    runs = reproduce.estimator_runs(degradation, recipes.PIPELINES["cpu"]["estimator"][
        degradation], "weights")
    parser = estimator.build_parser()
    for flags, path, epochs in runs:
        args = parser.parse_args(["--degradation", degradation, *flags])
        assert args.epochs == epochs
        assert loop.is_trained(path, args.epochs), path
        settings = path.with_suffix(".backup") / "settings.json"  # committed beside it
        if settings.exists():
            recorded = json.loads(settings.read_text())
            expected = {key: vars(args)[key] for key in estimator_training.RUN_SETTINGS}
            # A run that predates a flag ran with its default.
            assert {key: recorded.get(key, parser.get_default(key)) for key in expected} == \
                expected, path


def test_skips_trained_stages(tmp_path, commands):
    for _, path, epochs in reproduce.estimator_runs(
            "jpeg", recipes.PIPELINES["cpu"]["estimator"]["jpeg"], str(tmp_path / "w")):
        fake_trained(path, epochs)
    fake_trained(paths.classifier_path("set", "jpg", tmp_path / "w"), 99)  # too few epochs
    assert run(tmp_path, "--degradation", "jpeg") == 0
    assert [c[0] for c in commands] == ["classifier.py"] * 4 + ["evaluate.py"]


def test_paper_budget_uses_the_defaults(tmp_path, commands):
    assert run(tmp_path, "--budget", "paper") == 0
    assert "--width" not in commands[1] and "--patch-size" not in commands[0]
    modes = [c[c.index("--mode") + 1] for c in commands if "--mode" in c]
    assert modes == ["org", "jpg", "est_qf", "known_qf"]


def test_failed_stage_stops(tmp_path, monkeypatch, capsys):
    def fail(command, **kwargs):
        raise subprocess.CalledProcessError(2, command)
    monkeypatch.setattr(subprocess, "run", fail)
    assert run(tmp_path) == 2
    assert "stage failed" in capsys.readouterr().err


def test_quick_budget_is_one_estimator_run_and_shorter_classifiers(tmp_path, commands):
    assert run(tmp_path, "--budget", "quick") == 0
    scripts = [c[0] for c in commands]
    assert scripts == ["estimator.py"] + ["classifier.py"] * 3 + ["evaluate.py"]
    assert "--init-from" not in commands[0] and "cosine" in commands[0]
    assert commands[0][commands[0].index("--weights-dir") + 1] == str(tmp_path / "w")
    for command in commands[1:4]:
        assert command[command.index("--recipe") + 1] == "quick"
    assert recipes.QUICK.epochs < recipes.CPU.epochs and recipes.QUICK.width == recipes.CPU.width
    # Every budget names a recipe for every degradation the estimator knows.
    for budget in recipes.PIPELINES.values():
        assert set(budget["estimator"]) == set(recipes.ESTIMATOR_CPU)


def test_full_budget_trains_the_cpu_network_for_fewer_epochs_and_every_network(tmp_path,
                                                                               commands):
    assert run(tmp_path, "--degradation", "noise", "--budget", "cpu-full") == 0
    trainings = [c for c in commands if c[0] == "classifier.py"]
    assert [c[c.index("--mode") + 1] for c in trainings] == ["org", "noisy", "est_nl", "known_nl"]
    for command in trainings:
        assert command[command.index("--recipe") + 1] == "cpu-full"
    cpu, full = recipes.CPU, recipes.CPU_FULL
    assert full.epochs == 40 < cpu.epochs and full.dropout < cpu.dropout
    assert (full.width, full.batch_size, full.learning_rate, full.rotation) == \
        (cpu.width, cpu.batch_size, cpu.learning_rate, cpu.rotation)


def test_seeds_train_every_network_once_per_seed_in_its_own_folder(tmp_path, commands):
    assert run(tmp_path, "--degradation", "noise", "--seeds", "0,3") == 0
    trainings = [c for c in commands if c[0] == "classifier.py"]
    assert len(trainings) == 2 * 4
    for command in trainings:
        seed = command[command.index("--seed") + 1]
        assert command[command.index("--weights-dir") + 1] == str(tmp_path / "w" / f"seed{seed}")
        assert command[command.index("--estimator-dir") + 1] == str(tmp_path / "w")
    assert [c[c.index("--seed") + 1] for c in trainings] == ["0"] * 4 + ["3"] * 4
    evaluation = commands[-1]
    assert evaluation[0] == "evaluate.py"
    folders = evaluation[evaluation.index("--weights") + 1:evaluation.index("--out")]
    assert folders == [str(tmp_path / "w" / "seed0"), str(tmp_path / "w" / "seed3")]


def test_modes_and_parameter_join(tmp_path, commands):
    assert run(tmp_path, "--degradation", "noise", "--seeds", "1", "--modes", "noisy,known_nl",
               "--parameter-join", "film", "--estimator-dir", str(tmp_path / "shared")) == 0
    (estimator_run,) = [c for c in commands if c[0] == "estimator.py"]
    assert estimator_run[estimator_run.index("--weights-dir") + 1] == str(tmp_path / "shared")
    trainings = [c for c in commands if c[0] == "classifier.py"]
    assert all(c[c.index("--estimator-dir") + 1] == str(tmp_path / "shared") for c in trainings)
    assert commands[-1][commands[-1].index("--estimator-dir") + 1] == str(tmp_path / "shared")
    assert [c[c.index("--mode") + 1] for c in trainings] == ["noisy", "known_nl"]
    assert "--parameter-join" not in trainings[0]  # an image-only network has no join
    assert trainings[1][trainings[1].index("--parameter-join") + 1] == "film"


@pytest.mark.parametrize("flags,message", [(["--seeds", "1,x"], "not a comma-separated"),
                                           (["--seeds", "1,1"], "distinct"),
                                           (["--modes", "noisy,fancy"], "unknown mode")])
def test_bad_seeds_or_modes_are_refused(tmp_path, commands, capsys, flags, message):
    with pytest.raises(SystemExit) as exit_:
        run(tmp_path, *flags)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_two_seeds_from_training_to_the_seed_table(tmp_path, monkeypatch):
    """reproduce.py --seeds end to end on a tiny dataset, each stage run in this process."""
    import evaluate
    import numpy as np
    import pandas as pd
    rng = np.random.default_rng(0)
    dataset = tmp_path / "toy.npz"
    np.savez(dataset, x_train=rng.integers(0, 256, (16, 16, 16, 3), dtype=np.uint8),
             y_train=np.arange(16) % 2, x_test=rng.integers(0, 256, (6, 16, 16, 3), np.uint8),
             y_test=np.arange(6) % 2)
    weights = tmp_path / "w"
    estimator_path = paths.estimator_path("noise", weights)
    fake_trained(estimator_path, 1000)
    estimator_network.build_estimator(3, features=4).save(estimator_path)  # a real, untrained one
    monkeypatch.setitem(recipes.RECIPES, "cpu", recipes.Recipe(width=2, epochs=1, batch_size=8))
    # The sweep at one sigma per interval of the seed table, not all 51.
    scripts = {"classifier.py": classifier.main,
               "evaluate.py": lambda argv: evaluate.main([*argv, "--params", "0,15,25,35,45"])}

    def in_process(command, **kwargs):
        assert scripts[command[1]](command[2:]) == 0
    monkeypatch.setattr(subprocess, "run", in_process)
    assert reproduce.main(["--dataset", str(dataset), "--degradation", "noise", "--weights",
                           str(weights), "--out", str(tmp_path / "p"), "--seeds", "0,1",
                           "--modes", "noisy,known_nl"]) == 0
    for seed in (0, 1):
        assert loop.is_trained(paths.classifier_path("toy", "known_nl",
                                                     weights / f"seed{seed}"), 1)
    table = pd.read_csv(tmp_path / "p" / "toy_noise_seeds.csv")
    assert set(table["network"]) == {"noisy", "known_nl"} and (table["seeds"] == 2).all()
    gains = table[(table["network"] == "known_nl") & (table["interval"] != "clean")]
    assert gains["gain_ci_low"].notna().all() and gains["paired"].all()


@pytest.mark.parametrize("degradation,channels", [("noise", 1), ("jpeg", 3)])
def test_a_grayscale_dataset_gets_a_grayscale_noise_estimator(tmp_path, commands, degradation,
                                                              channels):
    import numpy as np
    gray = tmp_path / "gray.npz"
    np.savez(gray, x_train=np.zeros((4, 8, 8), np.uint8), y_train=np.zeros(4),
             x_test=np.zeros((2, 8, 8), np.uint8), y_test=np.zeros(2))
    assert reproduce.main(["--dataset", str(gray), "--degradation", degradation, "--weights",
                           str(tmp_path / "w"), "--out", str(tmp_path / "p")]) == 0
    runs = [c for c in commands if c[0] == "estimator.py"]
    assert all(("--channels" in c) == (channels == 1) for c in runs)
    last = runs[-1]
    assert last[last.index("--weights-dir") + 1] == str(tmp_path / "w")
    if channels == 1:
        assert last[last.index("--channels") + 1] == "1"


def test_the_three_sets_estimator_recipe(tmp_path, commands, monkeypatch, capsys):
    """--estimator-recipe three-sets: recipes.ESTIMATOR_JPEG_THREE_SETS on the three folders of
    ../shared/data, for jpeg only."""
    shared = tmp_path / "shared"
    for name in recipes.THREE_SETS:
        (shared / name).mkdir(parents=True)
    monkeypatch.setattr(paths, "SHARED_DATA", shared)
    assert reproduce.main(["--dataset", "some/set.npz", "--weights", str(tmp_path / "w"),
                           "--estimator-recipe", "three-sets", "--modes", "org"]) == 0
    runs = [c for c in commands if c[0] == "estimator.py"]
    assert len(runs) == len(recipes.ESTIMATOR_JPEG_THREE_SETS)
    for command, run in zip(runs, recipes.ESTIMATOR_JPEG_THREE_SETS):
        folders = command[command.index("--train-dir") + 1:command.index("--weights-dir")]
        assert folders == [str(shared / name) for name in recipes.THREE_SETS]
        args = estimator.build_parser().parse_args(command[1:])
        assert (args.patch_size, args.epochs, args.loss) == (64, run.epochs, run.loss)
    with pytest.raises(SystemExit):
        reproduce.main(["--degradation", "noise", "--estimator-recipe", "three-sets"])
    assert "is for --degradation jpeg, not noise" in capsys.readouterr().err
