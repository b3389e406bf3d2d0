"""The package's architecture, as rules a change can break: layers, no cycles, light ``__init__`` files."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "facecam_kit"

#: Each top-level module or subpackage and its layer: a module may import only from lower layers
#: (or from its own subpackage), so that the notebooks' order is the code's order.
LAYERS = {
    "spec": 0,
    "assets": 1,
    "video": 1,
    "metrics": 1,
    "userfiles": 1,
    "outputs": 1,
    "geometry": 2,
    "face": 3,
    "proxy": 4,
    "data": 5,
    "baselines": 6,
    "model": 6,
    "viz": 7,
    "evaluation": 7,
    "train": 7,
    "mini": 8,
    "widgets": 9,
    "jobs": 9,
    "trajectory_job": 9,
    "gpu_measure": 10,
    "gpu_stages": 11,
    "gpu_check": 12,
    "cli": 13,
    "__main__": 14,
}


def _modules() -> dict[str, Path]:
    return {
        ".".join(p.relative_to(ROOT.parent).with_suffix("").parts): p
        for p in sorted(ROOT.rglob("*.py"))
        if "__pycache__" not in p.parts
    }


def _imports(path: Path) -> set[str]:
    """Every facecam_kit module that ``path`` imports, at module level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("facecam_kit"):
            assert node.level == 0, f"{path}: relative import; the kit uses absolute imports"
            found |= {f"{node.module}.{a.name}" for a in node.names} | {node.module}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("facecam_kit")}
    modules = _modules()
    return {m for m in found if m in modules and not m.endswith("__init__")} - {"facecam_kit"}


def _unit(module: str) -> str:
    return module.split(".")[1]


def test_every_module_has_a_layer():
    assert {_unit(m) for m in _modules() if m != "facecam_kit.__init__"} == set(LAYERS)


def test_no_upward_or_sideways_imports():
    bad = []
    for module, path in _modules().items():
        if module.endswith("__init__"):
            continue
        for dep in _imports(path):
            same_package = _unit(dep) == _unit(module)
            if not same_package and LAYERS[_unit(dep)] >= LAYERS[_unit(module)]:
                bad.append(f"{module} -> {dep}")
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


def test_no_import_cycles():
    graph = {m: _imports(p) for m, p in _modules().items()}
    state: dict[str, int] = {}

    def visit(m, stack):
        state[m] = 1
        for d in graph.get(m, ()):
            if state.get(d) == 1:
                pytest.fail("import cycle: " + " -> ".join([*stack[stack.index(d) :], d]))
            if d not in state:
                visit(d, [*stack, d])
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [m])


def test_subpackage_inits_only_document():
    for init in ROOT.glob("*/__init__.py"):
        body = ast.parse(init.read_text()).body
        assert len(body) == 1 and isinstance(body[0].value, ast.Constant), f"{init}: docstring only"


def test_every_module_names_its_notebook():
    missing = []
    for module, path in _modules().items():
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        if not module.endswith(("__init__", "__main__")) and "notebook" not in doc.lower():
            missing.append(module)
    assert not missing, f"module docstrings that name no notebook: {missing}"


@pytest.mark.parametrize("package", ["facecam_kit.spec", "facecam_kit.geometry.trajectory", "facecam_kit.geometry.pnp"])
def test_geometry_stays_light(package):
    code = f"import sys, {package}; print(sorted(m for m in ('torch', 'mediapipe', 'diffusers') if m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"
