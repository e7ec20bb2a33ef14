"""tools/gpu/pack.py: the JPEG files another machine gets are those of here, byte for byte."""
import importlib.util
from pathlib import Path

import numpy as np
from PIL import Image

spec = importlib.util.spec_from_file_location(
    "pack", Path(__file__).resolve().parents[1] / "tools" / "gpu" / "pack.py")
carry = importlib.util.module_from_spec(spec)
spec.loader.exec_module(carry)


def jpeg_folder(root, qualities):
    rng = np.random.default_rng(0)
    for index, quality in enumerate(qualities):
        path = root / ("train" if index % 2 else "test") / f"class{index % 3}" / f"{index:04d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(path, quality=quality)
    return {str(p.relative_to(root)): p.read_bytes() for p in root.glob("*/*/*.jpg")}


def test_files_of_one_encoder_share_their_header_and_come_back_whole(tmp_path):
    files = jpeg_folder(tmp_path / "data", [75] * 6)
    count = carry.pack_jpegs(tmp_path / "data", tmp_path / "packed.npz")
    with np.load(tmp_path / "packed.npz") as packed:
        assert len(packed["header"]) > 500  # the tables, stored once
        assert len(packed["blob"]) == sum(map(len, files.values())) - 6 * len(packed["header"])
    assert count == 6 and dict(carry.unpack_jpegs(tmp_path / "packed.npz")) == files


def test_files_with_other_headers_travel_whole(tmp_path):
    files = jpeg_folder(tmp_path / "data", [75, 75, 30, 75])
    carry.pack_jpegs(tmp_path / "data", tmp_path / "packed.npz")
    with np.load(tmp_path / "packed.npz") as packed:
        assert len(packed["header"]) == 0
    assert dict(carry.unpack_jpegs(tmp_path / "packed.npz")) == files
