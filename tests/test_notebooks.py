"""The course: every notebook runs from top to bottom, shows its pictures, and checks its exercise both ways.

Each notebook is executed in a fresh Jupyter kernel with ``NUMSNN_FAST=1`` (the notebooks shrink their
work for it), the way a user's Jupyter runs it: matplotlib's backend is left to the kernel (inline), so
a notebook that plots must produce image/png outputs.

The exercise: the cell tagged ``exercise`` holds a stub that the student completes, and the cell tagged
``check`` asserts the answer. The reference solution, ``tutorials/solutions/<notebook>.py``, replaces the
stub for the run; in the same kernel the stub is then run again and the check must fail on it with an
AssertionError. So the check can fail, and the solution passes it.
"""

import os
import re
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import NATIVE_KERNEL_NAME, KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

import numsnn

REPO = Path(__file__).resolve().parents[1]
TUTORIALS = REPO / "tutorials"
SOLUTIONS = TUTORIALS / "solutions"
NOTEBOOKS = sorted(TUTORIALS.glob("[0-9][0-9]_*.ipynb"))
NAMES = [path.name for path in NOTEBOOKS]


def _tagged(nb, tag: str) -> list[int]:
    return [i for i, cell in enumerate(nb.cells) if tag in cell.get("metadata", {}).get("tags", [])]


def _kernel_manager() -> KernelManager:
    """A python3 kernel on this interpreter: ipykernel's built-in spec, whatever kernel.json files are installed."""
    km = KernelManager(kernel_name=NATIVE_KERNEL_NAME, kernel_spec_manager=KernelSpecManager(kernel_dirs=[]))
    assert Path(km.kernel_spec.argv[0]).resolve() == Path(sys.executable).resolve(), km.kernel_spec.argv
    return km


def test_the_course_has_eight_notebooks():
    assert [name[:2] for name in NAMES] == [f"{i:02d}" for i in range(8)], NAMES


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NAMES)
def test_notebook_is_committed_stripped(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, cell in enumerate(nb.cells)
             if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)]  # fmt: skip
    assert not dirty, f"{path.name}: code cells {dirty} have outputs or an execution count; strip them"
    assert nb.metadata.kernelspec.name == NATIVE_KERNEL_NAME


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NAMES)
def test_notebook_has_a_goal_a_key_picture_and_an_exercise_with_a_solution(path):
    nb = nbformat.read(path, as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and re.search(r"^\*\*Goal:\*\* .+\.$", first.source, re.M), path.name
    assert len(_tagged(nb, "key-picture")) == 1, f"{path.name}: tag exactly one cell 'key-picture'"
    exercise, check = _tagged(nb, "exercise"), _tagged(nb, "check")
    assert len(exercise) == 1 and len(check) == 1 and exercise[0] < check[0], path.name
    assert (SOLUTIONS / f"{path.stem}.py").is_file(), f"no reference solution for {path.name}"
    # The exercise cell is exempt: there the student writes their own version (e.g. a Function subclass in
    # notebook 0), which the check cell compares with the library's.
    no_library_copy = re.compile(r"^\s*(class \w+\(ns\.|def (if_forward|lif|spike)\b)", re.M)
    copies = [i for i, cell in enumerate(nb.cells)
              if cell.cell_type == "code" and i not in exercise and no_library_copy.search(cell.source)]  # fmt: skip
    assert not copies, f"{path.name}: cells {copies} redefine library code; import it from numsnn instead"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NAMES)
def test_notebook_follows_the_course_layout(path):
    """course.md: imports in cell 2, nothing after the check but a "Next:" link, and the kernel's own backend."""
    nb = nbformat.read(path, as_version=4)
    imports = nb.cells[1]
    assert imports.cell_type == "code" and re.search(r"^import numsnn as ns$", imports.source, re.M), path.name
    (check,) = _tagged(nb, "check")
    after = nb.cells[check + 1 :]
    assert not after or (
        len(after) == 1 and after[0].cell_type == "markdown" and after[0].source.startswith("Next:")
    ), f"{path.name}: only a markdown 'Next:' cell may follow the check cell"
    backend = re.compile(r"MPLBACKEND|matplotlib\.use\(|%matplotlib")
    assert not [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code" and backend.search(cell.source)], (
        f"{path.name}: leave matplotlib's backend to the kernel (inline)"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NAMES)
def test_notebook_runs_with_the_solution_and_its_check_fails_on_the_stub(path, monkeypatch):
    monkeypatch.setenv("NUMSNN_FAST", "1")
    monkeypatch.delenv("MPLBACKEND", raising=False)  # an inherited backend would replace the kernel's inline one
    if Path(numsnn.__file__).resolve().parents[1] == REPO:  # numsnn comes from this checkout, not an install
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    nb = nbformat.read(path, as_version=4)
    (exercise,), (check,) = _tagged(nb, "exercise"), _tagged(nb, "check")
    stub = nb.cells[exercise].source
    nb.cells[exercise].source = (SOLUTIONS / f"{path.stem}.py").read_text()
    # An extra last cell, in this in-memory copy only, reports which numsnn the kernel imported.
    nb.cells.append(nbformat.v4.new_code_cell("import numsnn\nprint(numsnn.__file__, end='')"))

    client = NotebookClient(nb, timeout=600, kernel_name=NATIVE_KERNEL_NAME, km=_kernel_manager(),
                            resources={"metadata": {"path": str(TUTORIALS)}})  # fmt: skip
    client.reset_execution_trackers()
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)  # raises CellExecutionError, naming the cell, if any cell fails
        # The stub, then the check again, in the same kernel: as extra cells, since nbclient writes every
        # executed cell back into nb.cells at its index.
        nb.cells += [nbformat.v4.new_code_cell(stub), nbformat.v4.new_code_cell(nb.cells[check].source)]
        client.execute_cell(nb.cells[-2], len(nb.cells) - 2)
        with pytest.raises(CellExecutionError) as failed:
            client.execute_cell(nb.cells[-1], len(nb.cells) - 1)
        del nb.cells[-2:]
    assert failed.value.ename == "AssertionError", f"{path.name}: the check failed on the stub with {failed.value}"

    probe = nb.cells.pop()
    imported = "".join(out.text for out in probe.outputs if out.get("name") == "stdout")
    assert Path(imported).resolve() == Path(numsnn.__file__).resolve(), f"the kernel imported {imported}"
    (key,) = _tagged(nb, "key-picture")
    assert any("image/png" in out.get("data", {}) for out in nb.cells[key].outputs), f"{path.name}: no key picture"
