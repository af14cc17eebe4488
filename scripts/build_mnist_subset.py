"""Build numsnn/data/mnist_subset.npz, the class-balanced MNIST subset bundled with numsnn.

Run from the repository root (or anywhere with numsnn installed):

    python -m scripts.build_mnist_subset [MNIST_DIR] [--out numsnn/data/mnist_subset.npz]

MNIST_DIR holds the four original IDX files (raw or .gz); default ../shared/data/mnist
relative to the repository root. They are read with ``load_mnist(source="full", root=MNIST_DIR)``,
which parses them with ``read_idx`` and checks each against its SHA-256 before use.

Selection (reproducible): one generator ``numpy.random.default_rng(SEED)``; for the
training split, then the test split, and for each class c = 0..9 in order, draw
``PER_CLASS[split]`` distinct indices among the images labelled c (``rng.choice(..., replace=False)``).
The chosen indices are sorted, so the subset keeps MNIST's original order. The npz holds
train_images, train_labels, test_images, test_labels (uint8) and train_indices,
test_indices (int32, positions in the full split) so anyone can check the subset.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np

from numsnn.atomic import atomic_path
from numsnn.datasets import load_mnist

SEED = 20240401
PER_CLASS = {"train": 1000, "test": 200}
REPO = Path(__file__).resolve().parents[1]


def balanced_indices(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """``per_class`` distinct indices of each class 0..9, sorted: int32 [10 * per_class]."""
    chosen = [rng.choice(np.flatnonzero(labels == c), size=per_class, replace=False) for c in range(10)]
    return np.sort(np.concatenate(chosen)).astype(np.int32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "mnist_dir",
        nargs="?",
        type=Path,
        default=REPO / ".." / "shared" / "data" / "mnist",
        help="folder with the four MNIST IDX files (default: %(default)s)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO / "numsnn" / "data" / "mnist_subset.npz",
        help="output file (default: %(default)s)",
    )
    args = parser.parse_args()

    rng = np.random.default_rng(SEED)
    arrays = {}
    for split in PER_CLASS:
        images, labels = load_mnist(split, source="full", root=args.mnist_dir)
        idx = balanced_indices(labels, PER_CLASS[split], rng)
        arrays |= {f"{split}_images": images[idx], f"{split}_labels": labels[idx], f"{split}_indices": idx}

    # A file object, not a name: np.savez_compressed would append ".npz" to a temporary name.
    with atomic_path(args.out) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)

    # The compressed bytes may change with the zlib version; the digest of the arrays alone does not.
    content = hashlib.sha256()
    for key in sorted(arrays):
        content.update(key.encode() + arrays[key].tobytes())
    print(f"wrote {args.out}")
    for split in PER_CLASS:
        counts = np.bincount(arrays[f"{split}_labels"], minlength=10)
        print(f"  {split}: {len(arrays[f'{split}_labels'])} images, per class {counts.tolist()}")
    print(f"  size: {args.out.stat().st_size:,} bytes")
    print(f"  sha256 (file): {hashlib.sha256(args.out.read_bytes()).hexdigest()}")
    print(f"  sha256 (arrays): {content.hexdigest()}")


if __name__ == "__main__":
    main()
