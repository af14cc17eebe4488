"""Run the tutorial notebooks, time them, and save each one's key picture for tutorials/README.md.

    python scripts/run_tutorials.py                     # every notebook, full mode
    python scripts/run_tutorials.py --fast 03 04        # NUMSNN_FAST=1, notebooks 03 and 04 only
    python scripts/run_tutorials.py --pictures          # also write docs/images/tutorials/<notebook>.png

Each notebook runs in a fresh Jupyter kernel with its exercise's reference solution
(``tutorials/solutions/<notebook>.py``) in place of the stub, as the tests run it. The key picture is
the image output of the cell tagged ``key-picture``. Prints one line per notebook: its run time.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
import time
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import NATIVE_KERNEL_NAME
from nbclient import NotebookClient

from numsnn.lab.atomic import write_bytes

REPO = Path(__file__).resolve().parents[1]
TUTORIALS = REPO / "tutorials"
PICTURES = REPO / "docs" / "images" / "tutorials"


def tagged(nb, tag: str) -> list[int]:
    return [i for i, cell in enumerate(nb.cells) if tag in cell.get("metadata", {}).get("tags", [])]


def run(path: Path) -> tuple[float, nbformat.NotebookNode]:
    """Execute the notebook with its solution in place of the stub; returns the seconds and the executed notebook."""
    nb = nbformat.read(path, as_version=4)
    solution = TUTORIALS / "solutions" / f"{path.stem}.py"
    for index in tagged(nb, "exercise"):
        nb.cells[index].source = solution.read_text()
    start = time.perf_counter()
    NotebookClient(nb, timeout=1800, kernel_name=NATIVE_KERNEL_NAME,
                   resources={"metadata": {"path": str(TUTORIALS)}}).execute()  # fmt: skip
    return time.perf_counter() - start, nb


def key_picture(nb) -> bytes:
    (index,) = tagged(nb, "key-picture")
    (png,) = [out["data"]["image/png"] for out in nb.cells[index].outputs if "image/png" in out.get("data", {})]
    return base64.b64decode(png)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="notebook numbers, e.g. 03 04 (default: all)")
    parser.add_argument("--fast", action="store_true", help="run with NUMSNN_FAST=1, as CI does")
    parser.add_argument("--pictures", action="store_true", help="write each key picture under docs/images/tutorials")
    args = parser.parse_args()
    os.environ.pop("MPLBACKEND", None)  # the kernel's inline backend draws the pictures
    os.environ["NUMSNN_FAST"] = "1" if args.fast else "0"
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    paths = sorted(TUTORIALS.glob("[0-9][0-9]_*.ipynb"))
    if args.notebooks:
        paths = [p for p in paths if p.name[:2] in args.notebooks]
    total = 0.0
    print(f"mode: {'fast (NUMSNN_FAST=1)' if args.fast else 'full'}; Python {sys.version.split()[0]}")
    for path in paths:
        seconds, nb = run(path)
        total += seconds
        print(f"{path.name:40s} {seconds:6.1f} s", flush=True)
        if args.pictures:
            PICTURES.mkdir(parents=True, exist_ok=True)
            write_bytes(PICTURES / f"{path.stem}.png", key_picture(nb))
    print(f"{'all':40s} {total:6.1f} s")


if __name__ == "__main__":
    main()
