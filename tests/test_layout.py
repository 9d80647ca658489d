"""The package's layout: no import cycle, no needless function-level import of its own
modules, and every folder a documented package."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lstm_trace"

#: (file, imported module) of function-level imports not held to the rule: trace.py's
#: __version__ comes from the package, whose __getattr__ reads the metadata lazily; the entry
#: point loads the whole Typer app (what `import lstm_trace.cli` loads) only for what its
#: quick answers (--version, --help) do not cover
ALLOWED = {
    ("trace.py", "lstm_trace"),
    ("entry/__init__.py", "lstm_trace.cli.app"),
}
#: the package's attributes made when first asked for (lstm_trace.__getattr__)
LAZY_ATTRIBUTES = {"__version__", "load_weights"}


def _modules() -> dict[str, Path]:
    """{dotted name: file} of every module of the package."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The package's own modules an import statement loads (a name imported from a package is
    its submodule when there is one: `from . import commands`)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name in MODULES]
    if node.level:
        base = module.split(".")
        if not _is_package(module):
            base.pop()
        base = base[: len(base) - (node.level - 1)]
        source = ".".join([*base, node.module] if node.module else base)
    else:
        source = node.module or ""
    if source not in MODULES:
        return []
    subs = [f"{source}.{a.name}" for a in node.names if f"{source}.{a.name}" in MODULES]
    rest = [a for a in node.names if f"{source}.{a.name}" not in MODULES]
    return subs + ([source] if rest else [])


def _in_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _imports(tree: ast.Module) -> tuple[list[ast.Import | ast.ImportFrom], list[ast.stmt]]:
    """(the imports run when the module loads, the ones inside functions)."""
    top: list[ast.Import | ast.ImportFrom] = []
    local: list[ast.stmt] = []

    def walk(body: list[ast.stmt], in_function: bool) -> None:
        for node in body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                (local if in_function else top).append(node)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                walk(node.body, True)
            elif isinstance(node, ast.If) and _in_type_checking(node):
                continue  # never run
            else:
                for field in ("body", "orelse", "finalbody", "handlers"):
                    walk(getattr(node, field, []), in_function)

    walk(tree.body, False)
    return top, local


def _graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports when it loads."""
    graph = {}
    for name, path in MODULES.items():
        top, _ = _imports(ast.parse(path.read_text()))
        graph[name] = {t for node in top for t in _targets(name, node)} - {name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the modules around it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)) is not None:
            return found
    return None


def test_the_module_graph_has_no_import_cycle() -> None:
    graph = _graph()
    assert len(graph) > 50 and "lstm_trace.formats.registry" in graph["lstm_trace.formats.reading"]
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    """The check above would fail for a cycle: here one is made up."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert _cycle(graph) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_every_module_imports_on_its_own_in_a_fresh_interpreter() -> None:
    """Each module imported first, with nothing of the package loaded before it: an import
    that only works after another module has loaded fails here."""
    code = (
        "import importlib, json, sys\n"
        "failed = {}\n"
        f"for name in {sorted(MODULES)!r}:\n"
        "    for loaded in [m for m in sys.modules if m.split('.')[0] == 'lstm_trace']:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        failed[name] = f'{type(exc).__name__}: {exc}'\n"
        "print(json.dumps(failed))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {}


def _loaded_at_start() -> set[str]:
    """The package's modules `import lstm_trace.cli` loads (what every run pays for but the
    quick answers of lstm_trace.entry: --version and --help)."""
    code = (
        "import sys, lstm_trace.cli\n"
        "print(' '.join(m for m in sys.modules if m.split('.')[0] == 'lstm_trace'))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


def test_a_function_level_import_of_the_package_says_why_and_saves_start_up() -> None:
    """A module of the package imported inside a function must say why in a comment on its
    line, and must be one that start-up does not load (else the import saves nothing)."""
    at_start = _loaded_at_start()
    assert {"lstm_trace.cli.app", "lstm_trace.trace"} <= at_start
    assert "lstm_trace.formats.registry" not in at_start  # the readers load when a file is read
    bad = []
    for name, path in MODULES.items():
        lines = path.read_text().splitlines()
        _, local = _imports(ast.parse("\n".join(lines)))
        for node in local:
            assert isinstance(node, (ast.Import, ast.ImportFrom))
            where = f"{path.relative_to(PACKAGE)}:{node.lineno}"
            for target in _targets(name, node):
                if (str(path.relative_to(PACKAGE)), target) in ALLOWED:
                    continue
                if "#" not in lines[node.lineno - 1]:
                    bad.append(f"{where}: {target} without a comment saying why")
                attributes = {a.name for a in node.names}
                if target == "lstm_trace" and attributes <= LAZY_ATTRIBUTES:
                    continue  # the package is loaded, the attribute is made when asked for
                if target in at_start:
                    bad.append(f"{where}: {target} is loaded at start-up anyway")
    assert bad == []


def test_every_folder_is_a_package_with_a_docstring() -> None:
    folders = {p.parent for p in PACKAGE.rglob("*.py")} | {PACKAGE}
    assert {PACKAGE / "formats", PACKAGE / "cli", PACKAGE / "ci"} <= folders
    for folder in folders:
        init = folder / "__init__.py"
        assert init.is_file(), f"{folder.relative_to(ROOT)} has no __init__.py"
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc, f"{init.relative_to(ROOT)} has no docstring"


def test_the_bottom_modules_of_formats_import_nothing_else_of_it() -> None:
    """file_limits.py and targets.py are what every reader and writer stands on."""
    graph = _graph()
    for bottom in ("lstm_trace.formats.file_limits", "lstm_trace.formats.targets"):
        assert not {m for m in graph[bottom] if m.startswith("lstm_trace.formats")}, bottom


def test_load_weights_is_public_and_made_on_first_use() -> None:
    """`from lstm_trace import load_weights` works, and `import lstm_trace` alone does not load
    the readers (they are some 10 ms of start-up)."""
    code = (
        "import sys, lstm_trace\n"
        "assert 'load_weights' in dir(lstm_trace)\n"
        "before = 'lstm_trace.formats.reading' in sys.modules\n"
        "from lstm_trace import load_weights\n"
        "print(before, load_weights.__module__)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "lstm_trace.formats.reading"]


def test_the_readers_are_still_importable_where_the_readme_showed_them() -> None:
    from lstm_trace import reading
    from lstm_trace.formats import reading as formats_reading

    assert reading.read_weights is formats_reading.read_weights
    assert reading.load_weights is formats_reading.load_weights
