"""reproduce.py: the stages it runs, and the ones it skips."""
import json
import subprocess
from pathlib import Path

import pytest

import classifier
import estimator
import reproduce
import training

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def commands(monkeypatch):
    ran = []
    monkeypatch.setattr(subprocess, "run", lambda command, **kwargs: ran.append(command[1:]))
    return ran


def fake_trained(path, epochs):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"model")
    log = training.run_paths(path)[1]
    log.write_text("epoch,loss\n" + "".join(f"{e},1.0\n" for e in range(epochs)))


def run(tmp_path, *extra):
    return reproduce.main(["--dataset", "some/set.npz", "--weights", str(tmp_path / "w"),
                           "--out", str(tmp_path / "p"), "--train-dir", "clean", *extra])


def test_runs_every_stage(tmp_path, commands):
    assert run(tmp_path, "--degradation", "noise") == 0
    scripts = [(c[0], c[c.index("--mode") + 1] if "--mode" in c else None) for c in commands]
    assert scripts == [("estimator.py", None), ("classifier.py", "org"),
                       ("classifier.py", "noisy"), ("classifier.py", "est_nl"),
                       ("evaluate.py", None)]
    assert all("--width" in c for c in commands[1:4])
    # The parameter-aware network and its image-only twin get the same recipe.
    twin, aware = (c[:c.index("--mode")] + c[c.index("--mode") + 2:] for c in commands[2:4])
    assert twin == aware


def test_estimator_runs_start_from_the_run_before(tmp_path, commands):
    assert run(tmp_path, "--degradation", "jpeg") == 0
    runs = [c for c in commands if c[0] == "estimator.py"]
    assert len(runs) == len(estimator.RECIPE_CPU["jpeg"]) > 1
    folders = [tmp_path / "w" / f"stage{n}" for n in range(1, len(runs))] + [tmp_path / "w"]
    for number, (command, folder) in enumerate(zip(runs, folders)):
        assert command[command.index("--weights-dir") + 1] == str(folder)
        if number:
            assert command[command.index("--init-from") + 1] == str(
                estimator.weights_path("jpeg", folders[number - 1]))
        else:
            assert "--init-from" not in command
    assert "cosine" in runs[-1] and "cosine" not in runs[0]


@pytest.mark.parametrize("degradation", ["jpeg", "noise"])
def test_the_shipped_estimators_come_from_the_cpu_recipe(degradation, monkeypatch):
    """What the README says: every run of estimator.RECIPE_CPU is in weights/, trained for its
    epochs, and (where its backup is kept) with the recipe's settings."""
    monkeypatch.chdir(REPO)
    runs = reproduce.estimator_runs(degradation, reproduce.BUDGETS["cpu"]["estimator"][
        degradation], "weights")
    parser = estimator.build_parser()
    for flags, path in runs:
        args = parser.parse_args(["--degradation", degradation, *flags])
        assert training.is_trained(path, args.epochs), path
        settings = training.run_paths(path)[0] / "settings.json"
        if settings.exists():
            recorded = json.loads(settings.read_text())
            expected = {key: vars(args)[key] for key in estimator.RUN_SETTINGS}
            # A run that predates a flag ran with its default.
            assert {key: recorded.get(key, parser.get_default(key)) for key in expected} == \
                expected, path


def test_skips_trained_stages(tmp_path, commands):
    for flags, path in reproduce.estimator_runs(
            "jpeg", reproduce.BUDGETS["cpu"]["estimator"]["jpeg"], str(tmp_path / "w")):
        fake_trained(path, reproduce.flag_value(flags, "--epochs", None))
    fake_trained(classifier.weights_path("set", "jpg", tmp_path / "w"), 99)  # too few epochs
    assert run(tmp_path, "--degradation", "jpeg") == 0
    assert [c[0] for c in commands] == ["classifier.py"] * 3 + ["evaluate.py"]


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
    cpu = reproduce.BUDGETS["cpu"]
    for command in commands[1:4]:
        assert reproduce.flag_value(command, "--epochs", None) < reproduce.flag_value(
            cpu["classifier"], "--epochs", None)
        assert command[command.index("--width") + 1] == cpu["classifier"][
            cpu["classifier"].index("--width") + 1]
    # Every budget names a recipe for every degradation the estimator knows.
    for budget in reproduce.BUDGETS.values():
        assert set(budget["estimator"]) == set(estimator.RECIPE_CPU)
