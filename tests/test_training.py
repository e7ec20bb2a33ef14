"""training.py: resumption, the best-model file and protection of weights without a backup."""
import shutil

import keras
import numpy as np
import pytest
from degraded_cnn import data
from degraded_cnn import paths
from degraded_cnn.models import inference
from degraded_cnn.training import loop



def tiny_model():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.compile(optimizer=keras.optimizers.Adamax(0.01), loss="mse")
    return model


def tiny_data(seed=0):
    x = np.random.default_rng(seed).normal(size=(32, 4)).astype(np.float32)
    return x, x.sum(axis=1, keepdims=True)


def fit(output, epochs, **kwargs):
    keras.utils.set_random_seed(0)
    x, y = tiny_data()
    return loop.fit_resumable(tiny_model(), (x, y), tiny_data(1), output, epochs,
                              verbose=0, **kwargs)


class StopAt(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def epochs_logged(output):
    return [int(row["epoch"]) for row in loop.read_log(loop.run_paths(output)[1])]


def test_interrupted_run_continues(tmp_path):
    output = tmp_path / "m.keras"
    x, y = tiny_data()
    with pytest.raises(KeyboardInterrupt):
        loop.fit_resumable(tiny_model(), (x, y), tiny_data(1), output, 5, verbose=0,
                           callbacks=[StopAt(2)])
    assert epochs_logged(output) == [0, 1] and output.exists()
    history = fit(output, 5)
    assert history.epoch == [2, 3, 4] and epochs_logged(output) == [0, 1, 2, 3, 4]
    assert loop.is_trained(output, 5) and not loop.is_trained(output, 6)


def test_a_run_short_of_its_budget_is_unfinished(tmp_path):
    """evaluate.py leaves out a run whose backup says it has epochs to go."""
    output = tmp_path / "m.keras"
    with pytest.raises(KeyboardInterrupt):
        fit(output, 4, callbacks=[StopAt(2)])
    assert loop.unfinished(output) == (2, 4)
    fit(output, 2)  # a smaller budget ends the stopped run where it is
    assert loop.unfinished(output) is None
    fit(output, 3)
    assert loop.unfinished(output) is None and epochs_logged(output) == [0, 1, 2]
    shutil.rmtree(loop.run_paths(output)[0])
    assert loop.unfinished(output) is None  # a model without a backup, as shipped


def test_finished_run_does_nothing_and_more_epochs_continue(tmp_path, capsys):
    output = tmp_path / "m.keras"
    fit(output, 2)
    assert fit(output, 2) is None and "already trained" in capsys.readouterr().out
    assert fit(output, 3).epoch == [2]


def test_best_model_is_kept(tmp_path):
    output = tmp_path / "m.keras"
    history = fit(output, 4)
    best = min(history.history["val_loss"])
    model = keras.saving.load_model(output)
    # Saved for inference: no optimizer state in the file.
    assert getattr(model, "optimizer", None) is None
    model.compile(loss="mse")
    assert np.isclose(model.evaluate(*tiny_data(1), verbose=0), best, rtol=1e-4)
    checkpoint = loop.BestCheckpoint(output, loop.run_paths(output)[1])
    assert np.isclose(checkpoint.best, best)


def test_weights_without_backup_are_protected(tmp_path):
    output = tmp_path / "m.keras"
    fit(output, 2)
    shutil.rmtree(loop.run_paths(output)[0])  # as in a fresh clone: no backup
    before = output.read_bytes()
    with pytest.raises(data.DataError, match="cannot be continued.*--fresh"):
        fit(output, 4)
    assert output.read_bytes() == before
    assert fit(output, 3, fresh=True).epoch == [0, 1, 2]


def test_learning_rate_is_constant_or_decays_to_one_percent():
    assert loop.learning_rate(0.01, "none", 100) == 0.01
    schedule = loop.learning_rate(0.01, "cosine", 100)
    assert np.isclose(float(schedule(0)), 0.01) and np.isclose(float(schedule(100)), 1e-4)
    assert float(schedule(50)) < 0.01


def test_a_warm_up_rises_linearly_then_the_schedule_goes_on():
    schedule = loop.learning_rate(0.01, "cosine", 100, warmup_steps=10)
    assert float(schedule(0)) == 0 and np.isclose(float(schedule(5)), 0.005)
    assert np.isclose(float(schedule(10)), 0.01) and np.isclose(float(schedule(100)), 1e-4)
    constant = loop.learning_rate(0.01, "none", 100, warmup_steps=10)
    assert np.isclose(float(constant(5)), 0.005) and np.isclose(float(constant(90)), 0.01)


def test_the_backup_lives_in_the_cache_unless_it_is_off(tmp_path, monkeypatch, folder_cache):
    output = tmp_path / "m.keras"
    assert loop.run_paths(output)[0].is_relative_to(folder_cache)
    fit(output, 1)
    monkeypatch.setenv("DEGRADED_CNN_CACHE", "off")
    assert loop.run_paths(output)[0] == tmp_path / "m.backup"
    # An older backup beside the model is copied into the cache when the cache is back on.
    monkeypatch.undo()
    cached = loop.backup_path(output)
    shutil.copytree(cached, tmp_path / "m.backup")
    shutil.rmtree(folder_cache / paths.BACKUPS)
    assert fit(output, 2).epoch == [1]
    assert (tmp_path / "m.backup").exists() and loop.backup_path(output).exists()


def test_a_run_continues_only_with_its_own_settings(tmp_path):
    output = tmp_path / "m.keras"
    with pytest.raises(KeyboardInterrupt):
        fit(output, 3, callbacks=[StopAt(1)], settings={"lr_decay": "none", "width": 8})
    with pytest.raises(data.DataError, match="--lr-decay none.*--lr-decay cosine"):
        fit(output, 3, settings={"lr_decay": "cosine", "width": 8})
    assert epochs_logged(output) == [0]  # refused before training
    assert fit(output, 3, settings={"lr_decay": "none", "width": 8}).epoch == [1, 2]
    assert fit(output, 3, fresh=True, settings={"lr_decay": "cosine", "width": 8}).epoch == \
        [0, 1, 2]


def test_a_log_without_its_model_or_backup_starts_a_new_run(tmp_path, capsys):
    """A seed's committed log in a fresh clone, whose weights are not committed, or a run
    whose backup was lost: the new run says that it starts over."""
    output = tmp_path / "m.keras"
    fit(output, 2)
    shutil.rmtree(loop.run_paths(output)[0])
    output.unlink()
    assert loop.epochs_done(output) == 0
    capsys.readouterr()
    fit(output, 2)
    assert "records 2 epoch(s), but neither" in capsys.readouterr().out
    assert len(loop.read_log(loop.run_paths(output)[1])) == 2 and output.exists()


def test_an_unreadable_model_is_a_one_line_data_error(tmp_path):
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a zip archive")
    with pytest.raises(data.DataError, match="broken.keras is not a valid Keras model"):
        inference.load_model(broken)
    with pytest.raises(data.DataError, match="no model file"):
        inference.load_model(tmp_path / "missing.keras")
