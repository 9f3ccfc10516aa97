"""The layers of the project, checked on the import graph built from the source with ``ast``.

Every import counts, the ones inside functions included:

    mlp_tiers.cli            the command line (a package): imported by the entry points only
    mlp_tiers (the tools)    drive and measure tiers; may use everything below
    the tiers                lowlevel_numpy, midlevel_tf, highlevel_keras: never each other
    adapters, peers          framework set-up, and what bench measures against
    shared (the interface)   imports nothing of the project outside itself

and no import cycle anywhere. An import under ``if TYPE_CHECKING:`` is an arrow for the layers
(a type is a dependency too) but never runs, so it cannot close a cycle. Each check is a function
of the graph, so the tests below also show it failing on a graph with one arrow added the wrong
way.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("shared", "mlp_tiers", "adapters", "peers", "lowlevel_numpy", "midlevel_tf",
            "highlevel_keras")  # fmt: skip
TIERS = ("lowlevel_numpy", "midlevel_tf", "highlevel_keras")
CLI = "mlp_tiers.cli"
# A tier's scripts (``python -m lowlevel_numpy.train``, ``python -m lowlevel_numpy.gradcheck``):
# command lines of their own, and so no lesson file; only ``train`` may import the CLI.
SCRIPTS = ("train", "gradcheck")
# Libraries for tools only: no module that a tier's lesson files import, in turn, may use them.
TOOL_LIBRARIES = ("argparse", "rich", "pygments", "latex2mathml", "matplotlib",
                  "concurrent.futures", "subprocess")  # fmt: skip

Graph = dict[str, set[str]]


def modules() -> dict[str, Path]:
    """Every module of the project's packages, by dotted name."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def type_checking_nodes(tree: ast.Module) -> set[ast.AST]:
    """The statements under ``if TYPE_CHECKING:``: imports for the type checker alone."""
    found: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for statement in node.body:
                found.update(ast.walk(statement))
    return found


def imported_names(name: str, path: Path, runtime_only: bool = False) -> Iterator[str]:
    """The dotted names ``path`` imports, anywhere in the file (absolute, relative resolved);
    with ``runtime_only``, not those under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = type_checking_nodes(tree) if runtime_only else set()
    for node in ast.walk(tree):
        if node in skipped:
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                package = package[: len(package) - node.level + 1]
                base = ".".join([*package, base] if base else package)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.args[0].value


def build_graph(runtime_only: bool = False) -> tuple[Graph, Graph]:
    """The project's import graph (module -> project modules it imports), and each module's
    imports of everything else (module -> dotted names)."""
    known = modules()
    inner: Graph = {name: set() for name in known}
    outer: Graph = {name: set() for name in known}
    for name, path in known.items():
        for target in imported_names(name, path, runtime_only):
            # "from shared import spec" names the module shared.spec; "from shared.spec import
            # X" names the module shared.spec: the longest known prefix is the module imported.
            prefix = target
            while prefix and prefix not in known:
                prefix = prefix.rpartition(".")[0]
            if prefix:
                if prefix != name:
                    inner[name].add(prefix)
            else:
                outer[name].add(target)
    return inner, outer


def layer(module: str) -> str:
    return module.split(".")[0]


def in_cli(module: str) -> bool:
    return module == CLI or module.startswith(CLI + ".")


def entry_point(module: str) -> bool:
    """A tier's train script: the one kind of module outside the CLI that may import it."""
    return layer(module) in TIERS and module.endswith(".train")


def upward_arrows(graph: Graph) -> list[str]:
    """Arrows that point up the layers, or across between tiers."""
    allowed = {
        "shared": {"shared"},
        "adapters": {"adapters", "shared"},
        "peers": {"peers", "shared"},
        "mlp_tiers": set(PACKAGES),
    }
    for tier in TIERS:
        allowed[tier] = {tier, "shared", "adapters"}
    problems = []
    for source, targets in sorted(graph.items()):
        for target in sorted(targets):
            from_entry_point = entry_point(source) and target == CLI
            if layer(target) not in allowed[layer(source)] and not from_entry_point:
                problems.append(f"{source} imports {target}")
    return problems


def cli_importers(graph: Graph) -> list[str]:
    """Modules outside the CLI, other than the entry points (each tier's train script), that
    import the CLI or a module of it."""
    return [
        f"{source} imports {target}"
        for source, targets in sorted(graph.items())
        if not in_cli(source) and not entry_point(source)
        for target in sorted(targets)
        if in_cli(target)
    ]


def cycles(graph: Graph) -> list[list[str]]:
    """Every strongly connected component of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def lesson_closure(graph: Graph) -> set[str]:
    """The modules a tier's lesson files import, directly or in turn (its scripts aside)."""
    seen: set[str] = set()
    todo = [m for m in graph if layer(m) in TIERS and m.rpartition(".")[2] not in SCRIPTS]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(graph[module])
    return seen


def tool_libraries_under_lessons(graph: Graph, outer: Graph) -> list[str]:
    problems = []
    for module in sorted(lesson_closure(graph)):
        for name in sorted(outer[module]):
            if any(name == lib or name.startswith(lib + ".") for lib in TOOL_LIBRARIES):
                problems.append(f"{module} imports {name}")
    return problems


GRAPH, OUTER = build_graph()
RUNTIME_GRAPH, _ = build_graph(runtime_only=True)


def test_the_graph_sees_imports_inside_functions():
    # mlp_tiers.study imports the flag parser inside a function only
    assert "mlp_tiers.flags" in GRAPH["mlp_tiers.study"]
    assert "shared.spec" in GRAPH["shared.data.dataset"]


def test_no_arrow_points_up_the_layers():
    assert upward_arrows(GRAPH) == []


def test_only_the_entry_points_import_the_command_line():
    assert cli_importers(GRAPH) == []
    assert {"lowlevel_numpy.train", "midlevel_tf.train", "highlevel_keras.train"} <= {
        source for source, targets in GRAPH.items() if CLI in targets
    }


def test_there_is_no_import_cycle():
    assert cycles(RUNTIME_GRAPH) == []
    # the one arrow that is there for the type checker alone
    assert "midlevel_tf.tier" in GRAPH["midlevel_tf.multistep"]
    assert "midlevel_tf.tier" not in RUNTIME_GRAPH["midlevel_tf.multistep"]


def test_nothing_under_a_lesson_imports_a_tool_library():
    assert "shared.training" in lesson_closure(GRAPH)  # the closure reaches the interface
    assert tool_libraries_under_lessons(GRAPH, OUTER) == []


def with_arrow(source: str, target: str) -> Graph:
    graph = {module: set(targets) for module, targets in GRAPH.items()}
    graph[source].add(target)
    return graph


@pytest.mark.parametrize(
    ("source", "target"),
    [("shared.spec", "mlp_tiers.study"), ("lowlevel_numpy.model", "midlevel_tf.nn"),
     ("peers.floor", "mlp_tiers.registry"), ("adapters.keras_setup", "lowlevel_numpy.tier")],
)  # fmt: skip
def test_an_arrow_up_the_layers_fails_naming_both_modules(source, target):
    assert upward_arrows(with_arrow(source, target)) == [f"{source} imports {target}"]


def test_the_command_line_imported_from_a_tool_fails_naming_both_modules():
    assert cli_importers(with_arrow("mlp_tiers.study", CLI)) == [f"mlp_tiers.study imports {CLI}"]
    assert cli_importers(with_arrow("mlp_tiers.runner", "mlp_tiers.cli.commands")) == [
        "mlp_tiers.runner imports mlp_tiers.cli.commands"
    ]


def test_a_cycle_fails_naming_its_modules():
    graph = {module: set(targets) for module, targets in RUNTIME_GRAPH.items()}
    graph["shared.spec"].add("shared.training")
    found = cycles(graph)
    assert len(found) == 1 and {"shared.spec", "shared.training"} <= set(found[0])


def test_a_tool_library_under_a_lesson_fails_naming_the_module():
    outer = {module: set(names) for module, names in OUTER.items()}
    outer["shared.batching"].add("rich.console")
    assert tool_libraries_under_lessons(GRAPH, outer) == ["shared.batching imports rich.console"]
