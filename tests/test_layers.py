"""The package's modules import each other in layers: no cycle, and no import inside a function
except of a module that needs an optional dependency (`OPTIONAL`)."""
import ast
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parents[1] / "gtlib"
# Imported inside the functions that use it, so that a plain `run(cfg)` does not need Dask.
OPTIONAL = {"gtlib.cluster"}


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path):
    """(imported gtlib module, at module level?) for every import of ``path``."""
    tree = ast.parse(path.read_text())
    package = _module(path) if path.name == "__init__.py" else _module(path).rpartition(".")[0]
    top = set(map(id, tree.body))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            name = f"{base}.{node.module}" if node.level and node.module else (node.module or base)
            targets = [name] + [f"{name}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            continue
        for target in targets:
            if target.startswith("gtlib"):
                yield target, id(node) in top


def test_the_import_graph_has_no_cycle_and_no_import_inside_a_function():
    modules = {_module(p): p for p in PACKAGE.rglob("*.py")}
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        for target, top_level in _imports(path):
            if target in modules and target != name:
                assert top_level or target in OPTIONAL, f"{name} imports {target} inside a function"
                if not (name == "gtlib.__main__"):
                    graph.add_edge(name, target)
    assert graph.has_edge("gtlib.runs", "gtlib.store") and graph.has_edge("gtlib.tasks", "gtlib.mnist_data")
    cycles = list(nx.simple_cycles(graph))
    assert not cycles, f"import cycles: {cycles}"
    assert not nx.has_path(graph, "gtlib.store", "gtlib.train"), "the store must not need the trainer"
    assert not nx.has_path(graph, "gtlib.mnist_data", "gtlib.store")
