"""The tutorials run from top to bottom, show their figures, and are committed without outputs.

Each notebook is executed in a fresh Jupyter kernel with ``NUMSNN_FAST=1`` (the notebooks
shrink their training for it), the way a user's Jupyter runs it: matplotlib's backend is
left to the kernel (inline), so a notebook that plots must produce image/png outputs.
"""

import os
import re
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import NATIVE_KERNEL_NAME, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

import numsnn

REPO = Path(__file__).resolve().parents[1]
TUTORIALS = REPO / "tutorials"
NOTEBOOKS = sorted(TUTORIALS.glob("*.ipynb"))
NAMES = [path.name for path in NOTEBOOKS]


def _plots(nb) -> bool:
    """Whether a code cell draws with matplotlib, directly or through numsnn.plot."""
    pattern = re.compile(r"\bplt\.|\bplot\.\w+\(|matplotlib")
    return any(pattern.search(cell.source) for cell in nb.cells if cell.cell_type == "code")


def _kernel_manager() -> AsyncKernelManager:
    """A python3 kernel on this interpreter: ipykernel's built-in spec, whatever kernel.json files are installed."""
    km = AsyncKernelManager(kernel_name=NATIVE_KERNEL_NAME, kernel_spec_manager=KernelSpecManager(kernel_dirs=[]))
    assert Path(km.kernel_spec.argv[0]).resolve() == Path(sys.executable).resolve(), km.kernel_spec.argv
    return km


def test_there_are_tutorials():
    assert NOTEBOOKS, f"no notebooks in {TUTORIALS}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NAMES)
def test_notebook_is_committed_stripped(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, f"{path.name}: code cells {dirty} have outputs or an execution count; strip them"
    assert nb.metadata.kernelspec.name == NATIVE_KERNEL_NAME


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NAMES)
def test_notebook_runs(path, monkeypatch):
    monkeypatch.setenv("NUMSNN_FAST", "1")
    monkeypatch.delenv("MPLBACKEND", raising=False)  # an inherited backend would replace the kernel's inline one
    if Path(numsnn.__file__).resolve().parents[1] == REPO:  # numsnn comes from this checkout, not an install
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    nb = nbformat.read(path, as_version=4)
    # An extra last cell, in this in-memory copy only, reports which numsnn the kernel imported.
    nb.cells.append(nbformat.v4.new_code_cell("import numsnn\nprint(numsnn.__file__, end='')"))

    client = NotebookClient(
        nb,
        timeout=600,
        kernel_name=NATIVE_KERNEL_NAME,
        km=_kernel_manager(),
        resources={"metadata": {"path": str(TUTORIALS)}},
    )
    client.execute(cleanup_kc=True)  # raises CellExecutionError, naming the cell, if any cell fails

    probe = nb.cells.pop()
    imported = "".join(out.text for out in probe.outputs if out.get("name") == "stdout")
    assert Path(imported).resolve() == Path(numsnn.__file__).resolve(), f"the kernel imported {imported}"
    if _plots(nb):
        pngs = [
            out
            for cell in nb.cells
            if cell.cell_type == "code"
            for out in cell.outputs
            if "image/png" in out.get("data", {})
        ]
        assert pngs, f"{path.name} plots but shows no image/png output"
