"""tools/gpu/triage.py: the speed of a training is read off its log, the one of lowest priority
is stopped only when those running would end late, and a stopped one is never evaluated."""
import importlib.util
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from degraded_cnn.training import loop


spec = importlib.util.spec_from_file_location(
    "triage", Path(__file__).resolve().parents[1] / "tools" / "gpu" / "triage.py")
triage = importlib.util.module_from_spec(spec)
spec.loader.exec_module(triage)


def fake_training(folder, mode, budget):
    model = folder / f"classifier_cifar10-q75_{mode}.keras"
    backup = loop.run_paths(model)[0]
    backup.mkdir(parents=True)
    (backup / loop.TARGET_FILE).write_text(json.dumps({"epochs": budget}))
    return triage.Watch(model)


def test_the_pattern_finds_its_own_training_and_no_other(tmp_path):
    folder = tmp_path / "seed0"
    command = ("python3 classifier.py --mode {} --dataset d --weights-dir {} --recipe "
               "width64-full --estimator-dir weights --seed 0")
    pattern = triage.process_pattern(folder / "classifier_cifar10-q75_shuffled_nl.keras")
    assert re.search(pattern, command.format("shuffled_nl", folder))
    assert not re.search(pattern, command.format("known_nl", folder))
    assert not re.search(pattern, command.format("shuffled_nl", f"{folder}1"))
    pattern = triage.process_pattern(folder / "classifier_cifar10-q75_noisy.keras")
    assert re.search(pattern, command.format("noisy", folder))


def test_a_speed_needs_two_epochs_after_the_first_seen(tmp_path):
    watch = fake_training(tmp_path, "est_nl", budget=40)
    watch.seen = [(0, 100.0), (1, 160.0), (2, 170.0)]  # the first epoch compiles
    assert watch.projected_end(since=0.0) is None
    watch.seen.append((3, 180.0))
    assert watch.projected_end(since=0.0) == 180.0 + 37 * 10.0
    # Only epochs seen after a decision count: the others had the machine's time until then.
    assert watch.projected_end(since=165.0) is None


def test_the_last_is_stopped_only_when_one_running_would_end_late(tmp_path):
    first, last = (fake_training(tmp_path, mode, budget=10) for mode in ("est_nl", "noisy"))
    first.seen = [(0, 0.0), (1, 30.0), (2, 40.0), (3, 50.0)]  # 7 more epochs: ends at 120
    last.seen = [(0, 0.0), (1, 30.0), (2, 45.0), (3, 60.0)]   # ends at 165
    assert triage.seconds_late([first, last], since=0.0, finish_by=200.0) is None
    assert triage.seconds_late([first, last], since=0.0, finish_by=150.0) == 15.0
    assert triage.seconds_late([first], since=0.0, finish_by=100.0) is None  # nothing to stop


def test_a_stopped_training_ends_and_its_model_is_put_aside(tmp_path):
    watch = fake_training(tmp_path, "known_nl", budget=10)
    watch.model.write_bytes(b"model")
    watch.seen = [(4, 0.0)]
    pretend = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)",
                                "classifier.py", "--mode", "known_nl", "--weights-dir",
                                str(tmp_path)])
    try:
        for _ in range(50):  # until pgrep sees it
            if triage.is_running(watch.model):
                break
            time.sleep(0.1)
        assert triage.is_running(watch.model)
        triage.drop(watch)
        assert pretend.wait(timeout=10) != 0
    finally:
        pretend.kill()
    assert not watch.model.exists() and triage.dropped_path(watch.model).is_file()
    assert not triage.is_running(watch.model)
