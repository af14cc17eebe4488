"""The package's shape: layers that import only downward, a cheap import, and old names that still work."""

import ast
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import numsnn as ns

PACKAGE = Path(ns.__file__).resolve().parent
# Each module may import from its own layer and the layers before it in this order.
LAYERS = ["numsnn.autograd", "numsnn.validate", "numsnn.nn", "numsnn.lab", "numsnn.plot", "numsnn.cli"]


def _layer(module: str) -> int:
    if module == "numsnn":  # the package root loads only the engine (and holds __version__)
        return 0
    for rank, prefix in enumerate(LAYERS):
        if module == prefix or module.startswith(prefix + "."):
            return rank
    raise AssertionError(f"{module} belongs to no layer; add it to LAYERS or move it")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(source: str):
    """(imported module, imported names, line) for every numsnn import in ``source``, including those in functions."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "numsnn":
                    yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "numsnn":
            for alias in node.names:
                submodule = PACKAGE.parent / f"{node.module}.{alias.name}".replace(".", "/")
                if submodule.with_suffix(".py").exists() or (submodule / "__init__.py").exists():
                    yield f"{node.module}.{alias.name}", [], node.lineno
                else:
                    yield node.module, [alias.name], node.lineno


def _violations(me: str, source: str) -> list[str]:
    found = []
    for module, names, line in _imports(source):
        if _layer(module) > _layer(me):
            found.append(f"{me} (line {line}) imports {module}, a layer above it")
        private = [name for name in names if name.startswith("_") and name != "__version__"]
        if private:
            found.append(f"{me} (line {line}) imports private {private} from {module}")
    return found


MODULES = sorted(path for path in PACKAGE.rglob("*.py") if path.name != "__main__.py")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_only_go_downward_and_no_private_name_crosses_a_module(path):
    assert _violations(_module_name(path), path.read_text()) == []


def test_the_layer_check_can_fail():
    source = "def f():\n    from numsnn.lab.metrics import predict\n    from numsnn.autograd.ops import _is_basic\n"
    assert _violations("numsnn.nn.losses", source) == [
        "numsnn.nn.losses (line 2) imports numsnn.lab.metrics, a layer above it",
        "numsnn.nn.losses (line 3) imports private ['_is_basic'] from numsnn.autograd.ops",
    ]


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout


def test_import_numsnn_loads_neither_matplotlib_nor_tqdm():
    loaded = _run("import sys, numsnn; print(sorted({m.split('.')[0] for m in sys.modules} & {'matplotlib', 'tqdm'}))")
    assert loaded.strip() == "[]"


def test_numsnn_help_loads_neither_matplotlib_nor_tqdm():
    code = (
        "import contextlib, io, sys\n"
        "from numsnn.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()): main(['--help'])\n"
        "with contextlib.redirect_stdout(io.StringIO()): main(['train', '--help'])\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'matplotlib', 'tqdm'}))"
    )
    assert _run(code).strip() == "[]"


def test_plot_loads_matplotlib_on_first_use():
    assert _run("import sys, numsnn as ns; ns.plot.membrane; print('matplotlib' in sys.modules)").strip() == "True"


@pytest.mark.parametrize(
    "name, target",
    [("nn", "numsnn.nn"), ("surrogate", "numsnn.nn.surrogate"), ("optim", "numsnn.lab.optim"),
     ("datasets", "numsnn.lab.datasets"), ("encoding", "numsnn.lab.encoding"), ("train", "numsnn.lab.train"),
     ("metrics", "numsnn.lab.metrics"), ("checkpoint", "numsnn.lab.checkpoint"), ("explain", "numsnn.lab.explain"),
     ("diagnostics", "numsnn.lab.diagnostics")],
)  # fmt: skip
def test_shortcuts_are_the_layer_modules_without_a_warning(name, target):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert getattr(ns, name).__name__ == target
        module = __import__(f"numsnn.{name}", fromlist=["_"])
    assert module is sys.modules[target]


@pytest.mark.parametrize(
    "old, new, attribute",
    [("numsnn.bptt", "numsnn.nn.bptt", "LIFFunction"), ("numsnn.ops", "numsnn.autograd.ops", "sum_to"),
     ("numsnn.tensor", "numsnn.autograd.tensor", "Tensor"), ("numsnn.atomic", "numsnn.lab.atomic", "atomic_path")],
)  # fmt: skip
def test_moved_modules_still_import_with_a_deprecation_warning(old, new, attribute):
    short = old.split(".")[1]
    for access in (lambda: getattr(ns, short), lambda: __import__(old, fromlist=[attribute])):
        sys.modules.pop(old, None)  # as in a fresh process, where the old name was never imported
        vars(ns).pop(short, None)
        with pytest.warns(DeprecationWarning, match=f"{old} moved to {new}"):
            module = access()
        assert module is sys.modules[new] and hasattr(module, attribute)


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        ns.nope  # noqa: B018


def test_version_is_defined_once():
    pyproject = (PACKAGE.parent / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject and "version =" not in pyproject.split("[project]")[1].split("[")[0]
    assert ns.__version__.count(".") == 2
