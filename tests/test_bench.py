"""tools/bench.py: the FLOP count by hand, and that a --smoke run prints every row and every target.

Nothing here looks at a speed: the figures depend on the machine and on what else runs on it."""
import subprocess
import sys
from pathlib import Path

import keras

import bench
import bench_stages
import bench_timing
from degraded_cnn.models import estimator as estimator_network

REPO = Path(__file__).resolve().parents[1]


def test_forward_flops_by_hand():
    image = keras.Input((8, 6, 2))
    x = keras.layers.Conv2D(4, 3, padding="same")(image)              # 8x6 outputs
    x = keras.layers.Conv2D(5, 2, strides=2, use_bias=False)(x)       # 4x3 outputs
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(7)(x)
    model = keras.Model(image, outputs)
    expected = (2 * 8 * 6 * 3 * 3 * 2 * 4 + 8 * 6 * 4) + 2 * 4 * 3 * 2 * 2 * 4 * 5 + \
        (2 * 4 * 3 * 5 * 7 + 7)
    assert bench_timing.forward_flops(model) == expected


def test_fully_convolutional_flops_scale_with_the_image():
    model = estimator_network.build_estimator(3, features=4)
    small = bench_timing.forward_flops(model, (16, 16))
    assert small > 0
    assert bench_timing.forward_flops(model, (32, 32)) == 4 * small


def test_smoke_run_prints_every_row_and_target(tmp_path, capsys):
    out = tmp_path / "bench.md"
    # In this process: no interpreter or backend start per stage, and the JPEG stages' worker
    # processes import pytest's small main module rather than bench.py's.
    status = bench.main(["--smoke", "--in-process", "--out", str(out)])
    captured = capsys.readouterr()
    assert status == 0, captured.out + captured.err[-3000:]
    report = captured.out
    table_rows = [line for line in report.splitlines() if line.startswith("| ")]
    for _, label in bench_stages.STAGES.values():
        row = next(line for line in table_rows if line.startswith(f"| {label} |"))
        assert "FAILED" not in row
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[1] or cells[2]  # a throughput: images/s, or GFLOP/s for the matmul
        assert cells[4], f"no peak memory in {row}"
    assert "Targets" in report
    targets = report[report.index("Targets"):]
    for phrase in ("paper width: share of matmul peak", "CPU width: share of matmul peak",
                   "jpg pipeline", "est_qf pipeline", "sweep throughput"):
        line = next(line for line in targets.splitlines() if phrase in line)
        assert "n/a" not in line and ("| yes |" in line or "| no |" in line)
    assert out.read_text() == report


def test_a_stage_in_its_own_process():
    finished = subprocess.run(
        [sys.executable, "tools/bench.py", "--smoke", "--stages", "matmul,jpeg_1core"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert "| matmul peak |" in finished.stdout
    assert "| JPEG round trips, one core |" in finished.stdout
    assert "n/a (stage not run or failed)" in finished.stdout  # the targets it cannot judge
