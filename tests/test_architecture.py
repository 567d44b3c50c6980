"""Layering and house rules, enforced on the source tree rather than remembered."""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tfjs_lite"
OPTIMIZER = ROOT / "optimizer"
BANNED = ("tensorflow", "keras", "tf_keras", "tensorflowjs", "tensorflow_hub", "jax")
# Protobuf classes are for the code that reads or writes protobuf formats (and the IR's attr codec).
PROTO_USERS = {
    "readers/graph_def.py",
    "readers/keras_saved_model.py",
    "readers/onnx/model.py",
    "readers/onnx/wire.py",
    "readers/saved_model.py",
    "readers/tensor_bundle.py",
    "readers/tf_hub.py",
    "readers/tfjs_graph.py",
    "writers/graph_model.py",
    "ir/attrs.py",
    "dtypes.py",
    "tools/inspect_model.py",
}


def _sources(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "_proto" not in p.parts)


def _imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


@pytest.mark.parametrize("folder", [PACKAGE, OPTIMIZER, ROOT / "tests"], ids=lambda p: p.name)
def test_no_tensorflow_or_keras_imports(folder: Path) -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {module}"
        for path in _sources(folder)
        for module in _imported_modules(path)
        if module.split(".")[0] in BANNED
    ]
    assert offenders == []


def test_protobuf_classes_stay_in_readers_and_writers() -> None:
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in _sources(PACKAGE)
        if any(m.startswith("tfjs_lite._proto") for m in _imported_modules(path))
        and str(path.relative_to(PACKAGE)) not in PROTO_USERS
    ]
    assert offenders == []


def test_optimizer_depends_only_on_ir_kernels_and_errors() -> None:
    allowed = ("tfjs_lite.ir", "tfjs_lite.kernels", "tfjs_lite.executor", "tfjs_lite.errors",
               "tfjs_lite.optimizer", "tfjs_lite.dtypes", "tfjs_lite.op_support", "tfjs_lite.lazy_tensor", "tfjs_lite.limits")
    offenders = [
        f"{path.relative_to(ROOT)}: {module}"
        for path in _sources(OPTIMIZER)
        for module in _imported_modules(path)
        if module.startswith("tfjs_lite") and not module.startswith(allowed)
    ]
    assert offenders == []


def test_only_the_ir_edits_graph_edges() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for folder in (PACKAGE, OPTIMIZER)
        for path in _sources(folder)
        if "ir" not in path.relative_to(folder).parts[:1]
        and any(word in path.read_text(encoding="utf-8") for word in ("add_edge(", "remove_edge("))
    ]
    assert offenders == []


def test_the_ir_is_networkx_backed() -> None:
    # docs/ir.md §1: Graph owns one nx.MultiDiGraph holding the nodes and edges (data
    # edge key = dst slot, control edge key = "^" + src), and networkx orders and checks it.
    import networkx as nx

    from tfjs_lite.ir import Graph, TensorRef

    g = Graph()
    assert type(g._nx) is nx.MultiDiGraph
    x = g.add_op("Placeholder", name="x")
    b = g.add_op("Placeholder", name="b")
    g.add_op("Mul", [TensorRef(x), TensorRef(x)], name="sq", control_inputs=[b])
    g.add_op("Identity", [TensorRef("sq")], name="a")
    assert list(g._nx.nodes) == ["x", "b", "sq", "a"] and g._nx.nodes["sq"]["op"] == "Mul"
    assert sorted(g._nx.edges(keys=True, data=True), key=str) == sorted([
        ("x", "sq", 0, {"src_port": 0, "control": False}),
        ("x", "sq", 1, {"src_port": 0, "control": False}),
        ("b", "sq", "^b", {"src_port": -1, "control": True}),
        ("sq", "a", 0, {"src_port": 0, "control": False}),
    ], key=str)
    assert g.topo_order() == list(nx.lexicographical_topological_sort(g._nx)) == ["b", "x", "sq", "a"]
    for path in (PACKAGE / "ir" / "graph.py", PACKAGE / "readers" / "graph_def.py"):
        assert "networkx" in _imported_modules(path), path


def test_import_tfjs_lite_loads_no_heavy_dependency() -> None:
    code = (
        "import sys, tfjs_lite; "
        "print(sorted(m for m in ('numpy', 'h5py', 'google.protobuf', 'networkx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_wheel_installs_no_generic_top_level_names(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("tfjs_lite-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == {"tfjs_lite"}
    assert "tfjs_lite/optimizer/__init__.py" in names
    assert "tfjs_lite/_proto/graph_pb2.py" in names
    assert "tfjs_lite/data/tfjs_ops.json" in names
    # The JavaScript side of `bench` / `verify --runtime tfjs` and the npm pins ship in the wheel.
    for js in ("bench.js", "bench_core.js", "page.js", "page.html", "package.json", "package-lock.json"):
        assert f"tfjs_lite/js/{js}" in names


def test_no_module_is_named_like_a_standard_library_module() -> None:
    # `tfjs_lite/inspect.py` once shadowed `inspect` for scripts run from inside the package.
    stdlib = set(sys.stdlib_module_names)
    offenders = [str(p.relative_to(ROOT)) for folder in (PACKAGE, OPTIMIZER) for p in _sources(folder)
                 if p.stem in stdlib]
    assert offenders == []


def test_ir_modules_import_one_way() -> None:
    # graph.py imports checks.py; checks.py must not import graph.py back (not even for types).
    assert not any(m.startswith("tfjs_lite.ir.graph") for m in _imported_modules(PACKAGE / "ir" / "checks.py"))
