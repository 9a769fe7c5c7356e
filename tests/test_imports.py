"""The import graph: no cycles, and the analysis scripts do not pull in the fit loop."""

import ast
import os

from conftest import ROOT

SCRIPTS = ["train_cnn.py", "train_dnn.py", "confusion.py", "saliency.py", "filter_viz.py", "predict.py",
           "compare.py", "make_report.py", "sweep.py"]


def _module_file(name):
    path = os.path.join(ROOT, *name.split("."))
    return path + ".py" if os.path.exists(path + ".py") else os.path.join(path, "__init__.py")


def import_graph():
    """{module: set of the kit's modules it imports (anywhere in the file, lazy imports included)}."""
    graph, todo = {}, [s[:-3] for s in SCRIPTS]
    while todo:
        name = todo.pop()
        if name in graph:
            continue
        tree = ast.parse(open(_module_file(name)).read())
        deps = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "ferlib":
                deps.add(node.module)
                # `from ferlib import train` imports the module ferlib.train
                deps |= {f"{node.module}.{a.name}" for a in node.names
                         if os.path.exists(os.path.join(ROOT, *node.module.split("."), a.name + ".py"))}
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.split(".")[0] == "ferlib"}
        graph[name] = deps - {name}
        todo += sorted(deps)
    return graph


def find_cycle(graph):
    """A list of modules forming a cycle, or None."""
    state, stack = {}, []

    def visit(n):
        state[n] = "open"
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == "open":
                return stack[stack.index(m):] + [m]
            if m not in state and (cycle := visit(m)):
                return cycle
        state[n] = "done"
        stack.pop()
        return None

    for n in sorted(graph):
        if n not in state and (cycle := visit(n)):
            return cycle
    return None


def reaches(graph, start):
    seen, todo = set(), [start]
    while todo:
        for m in graph.get(todo.pop(), ()):
            if m not in seen:
                seen.add(m)
                todo.append(m)
    return seen


def test_the_kits_imports_have_no_cycle():
    graph = import_graph()
    assert {"ferlib.models", "ferlib.train", "ferlib.batches"} <= set(graph)
    assert find_cycle(graph) is None, find_cycle(graph)


def test_the_cycle_finder_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_analysis_scripts_do_not_import_the_fit_loop():
    graph = import_graph()
    for script in ("confusion", "predict", "compare", "saliency", "filter_viz", "make_report"):
        assert not reaches(graph, script) & {"ferlib.train", "ferlib.callbacks"}, script
    assert "ferlib.train" in reaches(graph, "train_cnn")
