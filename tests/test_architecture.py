"""The layout keeps its promises: no package-level import cycle, and a pure core.

Every module under ``src/arrears`` is read with ``ast`` (nothing is imported). A module's
package is the directory it is in (``arrears/core/ledger/account.py`` is in
``arrears.core.ledger``; a package's ``__init__.py`` is in the package itself). An import of
``arrears.x.y`` from a module in another package is an edge between their packages, imports
inside functions included: a lazy import hides a cycle from the interpreter, not from a reader.

``arrears.core`` is the pure domain: it imports no database library, reads no clock, does no
file or network I/O and imports nothing from the shell (services, store, adapters, cli). The
shell passes in what the core needs (rows, texts, today's date, the time).

Each check is a plain function of parsed sources, and the last tests run them on small
synthetic inputs that break each rule, so a check that stopped seeing would fail here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
ROOT = "arrears"
CORE = "arrears.core"
SHELL = ("arrears.services", "arrears.store", "arrears.adapters", "arrears.cli")

# Libraries that talk to a database, a file system or a network.
DATABASE_LIBRARIES = ("sqlalchemy", "alembic", "adbc_driver_manager", "adbc_driver_postgresql",
                      "adbc_driver_sqlite", "psycopg", "psycopg2", "sqlite3")  # fmt: skip
IO_LIBRARIES = ("socket", "smtplib", "ssl", "urllib", "http", "httpx", "requests", "ftplib",
                "imaplib", "poplib", "subprocess", "shutil", "tempfile", "glob", "io", "mmap",
                "importlib.resources", "pathlib")  # fmt: skip
# Reading the clock: ``<base>.<attr>(...)`` for these pairs, and the names imported from ``time``.
CLOCK_CALLS = {
    "datetime": {"now", "utcnow", "today"},
    "date": {"today"},
    "time": {"time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns",
             "process_time", "process_time_ns", "localtime", "gmtime", "ctime", "strftime"},
}  # fmt: skip
# File I/O through a method: pathlib's, and the readers and writers of data frame libraries.
IO_METHODS = {"read_text", "write_text", "read_bytes", "write_bytes", "open", "touch", "unlink",
              "mkdir", "rmdir", "iterdir", "glob", "rglob",
              "read_csv", "write_csv", "scan_csv", "sink_csv", "read_parquet", "write_parquet",
              "scan_parquet", "sink_parquet", "read_ipc", "write_ipc", "read_json", "write_json",
              "read_ndjson", "write_ndjson", "read_database", "write_database"}  # fmt: skip
IO_BUILTINS = {"open", "input", "print"}


@dataclass(frozen=True)
class Module:
    name: str  # arrears.core.ledger.account
    package: str  # arrears.core.ledger
    tree: ast.Module
    path: str  # for messages: src-relative


@cache
def read_modules(src: Path = SRC) -> tuple[Module, ...]:
    found = []
    for path in sorted((src / ROOT).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
            package = ".".join(parts)
        else:
            package = ".".join(parts[:-1])
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        found.append(Module(".".join(parts), package, tree, str(path.relative_to(src))))
    return tuple(found)


def _resolve(module: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.package.split(".")
    if node.level > 1:
        base = base[: len(base) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def imported_names(module: Module) -> Iterator[tuple[str, int]]:
    """Every module name ``module`` imports (``from a import b`` gives ``a.b``), with its line."""
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, node)
            for alias in node.names:
                yield (f"{base}.{alias.name}" if alias.name != "*" else base), node.lineno


def package_of(name: str, packages: Mapping[str, str]) -> str | None:
    """The package holding ``name`` (a module, a package, or a name inside a module)."""
    while name:
        if name in packages:
            return packages[name]
        name = name.rpartition(".")[0]
    return None


def package_graph(modules: Iterable[Module]) -> dict[str, set[str]]:
    """Package -> the other arrears packages its modules import."""
    modules = list(modules)
    packages = {m.name: m.package for m in modules}
    graph: dict[str, set[str]] = {m.package: set() for m in modules}
    for module in modules:
        for name, _ in imported_names(module):
            if name.split(".")[0] != ROOT:
                continue
            target = package_of(name, packages)
            if target is not None and target != module.package:
                graph[module.package].add(target)
    return graph


def find_cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """One cycle (``[a, b, ..., a]``) per strongly connected component of more than one node."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                connect(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return [_cycle_within(graph, set(c)) for c in components]


def _cycle_within(graph: Mapping[str, Iterable[str]], component: set[str]) -> list[str]:
    """A shortest cycle through the component's first node, by breadth-first search."""
    start = min(component)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for succ in sorted(graph.get(node, ())):
                if succ == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [start, *reversed(path[:-1]), start] if node != start else [start, start]
                if succ in component and succ not in came_from:
                    came_from[succ] = node
                    following.append(succ)
        frontier = following
    raise AssertionError(f"no cycle in component {sorted(component)}")  # pragma: no cover


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _is_under(name: str, roots: Iterable[str]) -> bool:
    return any(name == root or name.startswith(root + ".") for root in roots)


def impurities(module: Module) -> list[str]:
    """What makes ``module`` impure: database or I/O imports, clock reads, file I/O, the shell."""
    found = []
    for name, line in imported_names(module):
        where = f"{module.path}:{line}"
        if _is_under(name, DATABASE_LIBRARIES):
            found.append(f"{where} imports the database library {name}")
        elif _is_under(name, IO_LIBRARIES):
            found.append(f"{where} imports the I/O library {name}")
        elif _is_under(name, SHELL):
            found.append(f"{where} imports {name} from the shell")
        elif name.startswith("time.") and name.partition(".")[2] in CLOCK_CALLS["time"]:
            found.append(f"{where} imports the clock reader {name}")
    for node in ast.walk(module.tree):
        if not isinstance(node, ast.Call):
            continue
        where = f"{module.path}:{node.lineno}"
        func = node.func
        if isinstance(func, ast.Name) and func.id in IO_BUILTINS:
            found.append(f"{where} calls {func.id}()")
        elif isinstance(func, ast.Attribute):
            base = _dotted(func.value).rpartition(".")[2]
            if func.attr in CLOCK_CALLS.get(base, ()):
                found.append(f"{where} reads the clock: {_dotted(func)}()")
            elif func.attr in IO_METHODS:
                found.append(f"{where} does file I/O: .{func.attr}()")
    return found


# --- the checks on the tree ------------------------------------------------------------------


def test_the_tree_is_read() -> None:
    modules = read_modules()
    names = {m.name for m in modules}
    assert {
        "arrears.core.ledger.account",
        "arrears.services.close.day",
        "arrears.cli.main",
    } <= names
    packages = {m.package for m in modules}
    assert {"arrears.core.ledger", "arrears.services.close", "arrears.cli", "arrears"} <= packages


def test_no_import_cycle_between_packages() -> None:
    cycles = find_cycles(package_graph(read_modules()))
    assert not cycles, "package import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_core_is_pure() -> None:
    core = [m for m in read_modules() if _is_under(m.name, [CORE])]
    assert len(core) > 40  # the whole core was read, not an empty directory
    problems = [p for m in core for p in impurities(m)]
    assert not problems, "the core must stay pure:\n" + "\n".join(problems)


def test_the_shell_is_not_imported_by_the_store() -> None:
    store = [m for m in read_modules() if _is_under(m.name, ["arrears.store"])]
    above = ("arrears.services", "arrears.adapters", "arrears.cli")
    wrong = [
        f"{m.path}:{line} imports {name}"
        for m in store
        for name, line in imported_names(m)
        if _is_under(name, above)
    ]
    assert not wrong, "the store is below the services, adapters and CLI:\n" + "\n".join(wrong)


def test_only_the_cli_imports_the_cli() -> None:
    outside = [m for m in read_modules() if not _is_under(m.name, ["arrears.cli"])]
    wrong = [
        f"{m.path}:{line} imports {name}"
        for m in outside
        for name, line in imported_names(m)
        if _is_under(name, ["arrears.cli"])
    ]
    assert not wrong, "nothing below the command line imports it:\n" + "\n".join(wrong)


# --- the checks can fail ---------------------------------------------------------------------


def _module(name: str, source: str, *, package: bool = False) -> Module:
    owner = name if package else name.rpartition(".")[0]
    return Module(name, owner, ast.parse(source), name.replace(".", "/") + ".py")


def test_a_cycle_between_packages_is_found_and_reported() -> None:
    modules = [
        _module("arrears.core.a.one", "from arrears.core.b import two\n"),
        _module("arrears.core.b.two", "import arrears.core.c.three\n"),
        _module("arrears.core.c.three", "def f():\n    from arrears.core.a.one import x\n"),
        _module("arrears.core.d.four", "from arrears.core.a import one\n"),
    ]
    graph = package_graph(modules)
    assert graph["arrears.core.d"] == {"arrears.core.a"}
    assert find_cycles(graph) == [
        ["arrears.core.a", "arrears.core.b", "arrears.core.c", "arrears.core.a"]
    ]


def test_a_relative_import_is_resolved_and_a_dag_has_no_cycle() -> None:
    modules = [
        _module("arrears.core.a.one", "from ..b import two\nfrom . import three\n"),
        _module("arrears.core.a.three", ""),
        _module("arrears.core.b.two", "from arrears.core.money import Money\n"),
        _module("arrears.core.money", ""),
    ]
    graph = package_graph(modules)
    assert graph == {"arrears.core.a": {"arrears.core.b"}, "arrears.core.b": {"arrears.core"},
                     "arrears.core": set()}  # fmt: skip
    assert find_cycles(graph) == []
    assert find_cycles({"x": {"x"}}) == [["x", "x"]]


def test_each_kind_of_impurity_is_seen() -> None:
    source = (
        "import sqlalchemy as sa\n"
        "from arrears.store import tables\n"
        "from time import perf_counter\n"
        "import smtplib\n"
        "from datetime import date, datetime\n"
        "def f(path, frame):\n"
        "    a = datetime.now()\n"
        "    b = date.today()\n"
        "    c = open(path)\n"
        "    d = path.read_text()\n"
        "    frame.write_csv(path)\n"
    )
    found = impurities(_module("arrears.core.x.y", source))
    expected = ["database library sqlalchemy", "from the shell", "clock reader time.perf_counter",
                "I/O library smtplib", "datetime.now()", "date.today()", "calls open()",
                ".read_text()", ".write_csv()"]  # fmt: skip
    for what in expected:
        assert sum(what in line for line in found) == 1, (what, found)
    assert len(found) == len(expected)
    clean = "from datetime import date\ndef f(d: date) -> date:\n    return d.replace(day=1)\n"
    assert impurities(_module("arrears.core.x.z", clean)) == []
