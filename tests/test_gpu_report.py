"""tools/gpu/report.py: a network the time limit cut short is ended at its best epoch, a finished
one is left alone, and each gets its epochs and images/s."""
import importlib.util
import json
from pathlib import Path
from degraded_cnn.training import loop


spec = importlib.util.spec_from_file_location(
    "report", Path(__file__).resolve().parents[1] / "tools" / "gpu" / "report.py")
report = importlib.util.module_from_spec(spec)
spec.loader.exec_module(report)


def fake_run(folder, mode, epochs, budget, seconds):
    network = folder / f"classifier_tiny_{mode}.keras"
    network.write_bytes(b"model")
    backup, log = loop.run_paths(network)
    log.write_text("epoch,loss\n" + "".join(f"{epoch},1.0\n" for epoch in range(epochs)))
    backup.mkdir(parents=True)
    (backup / loop.TARGET_FILE).write_text(json.dumps({"epochs": budget}))
    (folder / f"tiny_{mode}.seconds").write_text(str(seconds))
    return backup


def test_a_cut_network_loses_its_backup_and_a_finished_one_keeps_it(tmp_path, capsys):
    cut = fake_run(tmp_path, "noisy", epochs=3, budget=10, seconds=6)
    finished = fake_run(tmp_path, "known_nl", epochs=10, budget=10, seconds=40)
    report.report(tmp_path, "tiny.npz", ["noisy", "known_nl"], limit=100)
    lines = capsys.readouterr().out.splitlines()
    images = report.training_images("tiny.npz", limit=100)
    assert 0 < images < 100  # less the validation split
    assert report.training_images("tiny.npz", limit=5085) == 4577  # as split_validation leaves
    assert lines[0] == (f"tiny noisy: 3 of 10 epochs, {3 * images / 6:.0f} training images/s "
                        "over its 6 s, cut short: evaluated at its best epoch")
    assert lines[1] == (f"tiny known_nl: 10 epochs, {10 * images / 40:.0f} training images/s "
                        "over its 40 s")
    assert not cut.exists() and finished.exists()
    assert loop.unfinished(tmp_path / "classifier_tiny_noisy.keras") is None
