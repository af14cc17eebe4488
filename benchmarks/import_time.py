"""How long ``import numsnn`` and ``numsnn --help`` take, against ``import numpy``.

    python benchmarks/import_time.py [--repeats 15]

Each figure is the median over fresh interpreters. Imports are timed with ``python -X importtime``
(the cumulative microseconds of the top-level package, which excludes interpreter start-up);
``numsnn --help`` is timed as a whole process, start-up included. Targets (architecture issue):
``import numsnn`` at most 1.5 x ``import numpy``, and ``numsnn --help`` under 0.5 s.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time

import numpy as np


def import_seconds(module: str) -> float:
    """Cumulative import time of ``module`` in a fresh interpreter, from ``-X importtime``."""
    err = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"],
                         capture_output=True, text=True, check=True).stderr  # fmt: skip
    for line in err.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\S+)$", line)
        if match and match.group(2) == module:
            return int(match.group(1)) / 1e6
    raise RuntimeError(f"no import time for {module} in:\n{err}")


def help_seconds() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "numsnn", "--help"], capture_output=True, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    for module in ("numpy", "numsnn"):  # warm the bytecode caches
        import_seconds(module)
    # Interleaved, so that both see the same machine load.
    pairs = [(import_seconds("numpy"), import_seconds("numsnn")) for _ in range(args.repeats)]
    numpy_s, numsnn_s = np.median(pairs, axis=0)
    cli_s = np.median([help_seconds() for _ in range(args.repeats)])
    print(f"median of {args.repeats} fresh interpreters (Python {sys.version.split()[0]}, numpy {np.__version__}):")
    print(f"  import numpy     {1000 * numpy_s:6.1f} ms")
    print(f"  import numsnn    {1000 * numsnn_s:6.1f} ms  = {numsnn_s / numpy_s:.2f} x import numpy (target <= 1.5)")
    print(f"  numsnn --help    {1000 * cli_s:6.1f} ms  whole process (target < 500)")


if __name__ == "__main__":
    main()
