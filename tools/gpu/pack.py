"""Take the experiments' data to another machine: a compact, exact copy of what
`../shared/data` holds, and of the Python wheels an offline machine lacks.

    python tools/gpu/pack.py pack      # .carry/: the q75 JPEGs, the lossless subset, wheels
    python tools/gpu/pack.py aside     # for a copy with a size limit: weights/ out of the tree
    (copy the work tree with .carry/ to the GPU machine; run tools/gpu/run.sh there)
    python tools/gpu/pack.py back      # put weights/ back

and there `tools/gpu/run.sh` unpacks with `python tools/gpu/pack.py unpack --to DIR`.

The 60,000 JPEG files travel byte for byte in one uncompressed array (a zip or tar of 60,000
files of about 900 bytes each would add 8 to 90 MB of headers), so the folder rebuilt there
decodes to exactly the pixels it decodes to here. The lossless subset travels whole, under its
own file name so that evaluate.py names its outputs as here. `aside` moves every file under
weights/ but the noise estimator (which est_nl needs) out of the work tree: the tracked tree is
about 75 MB, 74 MB of it weights/.
"""
import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"
CARRY = ROOT / ".carry"
ASIDE = ROOT.parent / "weights-aside"
JPEGS = "cifar10-q75-jpegs.npz"
SUBSET = "cifar10-subset.npz"
TRAVEL_LIMIT = 64 * 2**20  # a size limit to report against: a copy under 64 MiB
# The noise estimator, which est_nl needs there; everything else under weights/ stays here.
KEEP = {Path("weights/estimator_noise.keras")}
# For a machine with JAX but without Keras (Python 3.12): Keras and what it needs beyond JAX.
WHEELS = ("keras", "namex", "optree")
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64")


def jpeg_header(content):
    """The bytes up to the end of the start-of-scan segment: for one encoder and image size,
    the same in every file (quantisation and Huffman tables, dimensions)."""
    scan = content.index(b"\xff\xda")
    return content[:scan + 2 + int.from_bytes(content[scan + 2:scan + 4], "big")]


def pack_jpegs(folder, path):
    """Every JPEG file under `folder` in one array, the header they share stored once (all
    60,000 of cifar10-q75 share their 623 bytes: 37 MB less to carry)."""
    names = sorted(str(f.relative_to(folder)) for f in folder.glob("*/*/*.jpg"))
    if not names:
        sys.exit(f"no JPEG files under {folder}/<split>/<class>/")
    contents = [(folder / name).read_bytes() for name in names]
    header = jpeg_header(contents[0])
    if not all(content.startswith(header) for content in contents):
        header = b""
    tails = [content[len(header):] for content in contents]
    np.savez(path, names=np.array(names, dtype="S"), header=np.frombuffer(header, np.uint8),
             offsets=np.cumsum([0] + [len(t) for t in tails]),
             blob=np.frombuffer(b"".join(tails), np.uint8))
    return len(names)


def unpack_jpegs(path):
    """(name, content) of every file that pack_jpegs stored, byte for byte."""
    with np.load(path) as packed:
        names, header, offsets, blob = (packed[key] for key in ("names", "header", "offsets",
                                                                  "blob"))
    header = header.tobytes()
    for index, name in enumerate(names):
        yield name.decode(), header + blob[offsets[index]:offsets[index + 1]].tobytes()


def download_wheels(folder):
    import importlib.metadata
    pins = [f"{name}=={importlib.metadata.version(name)}" for name in WHEELS]
    platforms = [flag for platform in PLATFORMS for flag in ("--platform", platform)]
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                    "--only-binary=:all:", "--python-version", "3.12", "--implementation", "cp",
                    *platforms, "-d", str(folder), *pins], check=True)


def travelling_files():
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], cwd=ROOT, capture_output=True, check=True)
    return [Path(name) for name in listed.stdout.decode().split("\0") if name]


def size(paths):
    return sum((ROOT / p).stat().st_size for p in paths if (ROOT / p).is_file())


def pack(args):
    CARRY.mkdir(exist_ok=True)
    count = pack_jpegs(Path(args.shared) / "cifar10-q75", CARRY / JPEGS)
    shutil.copyfile(Path(args.shared) / SUBSET, CARRY / SUBSET)
    download_wheels(CARRY / "wheels")
    carried = sum(f.stat().st_size for f in CARRY.rglob("*") if f.is_file())
    tree = size(p for p in travelling_files() if not is_aside(p))
    print(f"{count} JPEG files, the lossless subset and {len(WHEELS)} wheels: "
          f"{carried / 1e6:.1f} MB in {CARRY}; the tree without weights/: {tree / 1e6:.1f} MB; "
          f"{(carried + tree) / 2**20:.1f} of {TRAVEL_LIMIT / 2**20:.0f} MiB")


def is_aside(path):
    return path.parts[0] == "weights" and path not in KEEP


def aside(args):
    if ASIDE.exists():
        sys.exit(f"{ASIDE} exists: run `python tools/gpu/pack.py back` first")
    moved = [p for p in travelling_files() if is_aside(p) and (ROOT / p).exists()]
    moved_bytes = size(moved)
    for path in moved:
        (ASIDE / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.move(ROOT / path, ASIDE / path)
    print(f"moved {len(moved)} files ({moved_bytes / 1e6:.1f} MB) to {ASIDE}; "
          f"what travels now: {size(travelling_files()) / 2**20:.1f} MiB plus what is carried")


def back(args):
    if not ASIDE.exists():
        sys.exit(f"nothing to put back: {ASIDE} does not exist")
    for source in sorted(p for p in ASIDE.rglob("*") if p.is_file()):
        target = ROOT / source.relative_to(ASIDE)
        if target.exists():
            sys.exit(f"{target} exists again: move it away, then run `back` again")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(source, target)
    shutil.rmtree(ASIDE)
    print(f"weights/ is back; {ASIDE} removed")


def unpack(args):
    target = Path(args.to)
    count = 0
    for count, (name, content) in enumerate(unpack_jpegs(Path(args.carry) / JPEGS), start=1):
        path = target / "cifar10-q75" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    shutil.copyfile(Path(args.carry) / SUBSET, target / SUBSET)
    print(f"{count} JPEG files in {target / 'cifar10-q75'}, {target / SUBSET}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    packing = commands.add_parser("pack", help="fill .carry/ (here)")
    packing.add_argument("--shared", default=str(SHARED), help="the shared data folder")
    commands.add_parser("aside", help=f"move weights/ (but {', '.join(map(str, KEEP))}) to "
                                      f"{ASIDE}")
    commands.add_parser("back", help="move it back")
    unpacking = commands.add_parser("unpack", help="rebuild the data (there)")
    unpacking.add_argument("--carry", default=str(CARRY))
    unpacking.add_argument("--to", required=True, help="folder to write the data into")
    args = parser.parse_args(argv)
    {"pack": pack, "aside": aside, "back": back, "unpack": unpack}[args.command](args)


if __name__ == "__main__":
    main()
