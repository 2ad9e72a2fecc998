"""The layer rules, checked over every import statement of the product (module level, inside functions
and under ``TYPE_CHECKING`` alike):

* ``gfcore`` imports neither the CLI (``gfp``) nor a plugin (``gfp_*``);
* the machinery of ``gfcore`` never imports ``gfcore.studies``;
* the CLI imports no plugin;
* a plugin imports no other plugin and not the CLI, and from ``gfcore`` only its public modules;
* no two modules import each other, directly or through others (no cycle).
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: where each top-level import package lives in the source tree
SOURCE_ROOTS = (ROOT, ROOT / "plugins", ROOT / "cli")
#: the gfcore modules a plugin may import: the flat public API, the studies' face and the conformance kit
PUBLIC_GFCORE = {"gfcore", "gfcore.studies", "gfcore.testing"}
#: sub-packages of gfcore that are not machinery
FENCED = ("gfcore.studies", "gfcore.testing")


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT)
    parts = list(rel.with_suffix("").parts)
    if parts[0] in ("plugins", "cli"):
        parts = parts[1:]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def product_files() -> list[Path]:
    files = [*ROOT.glob("gfcore/**/*.py"), *ROOT.glob("plugins/gfp_*/**/*.py"), *ROOT.glob("cli/gfp/**/*.py")]
    return sorted(files)


def is_module(name: str) -> bool:
    parts = name.split(".")
    for base in SOURCE_ROOTS:
        candidate = base.joinpath(*parts)
        if candidate.with_suffix(".py").is_file() or (candidate / "__init__.py").is_file():
            return True
    return False


def type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of the import nodes under ``if TYPE_CHECKING:``, which never run."""
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            ids |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return ids


def imports_of(path: Path, run_time_only: bool = False) -> list[tuple[int, str]]:
    """``(line, module)`` for every import in the file; ``from pkg import sub`` counts as ``pkg.sub`` when
    ``sub`` is a module of the tree. ``run_time_only`` leaves out the imports under ``TYPE_CHECKING``."""
    mod = module_name(path)
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    found = []
    tree = ast.parse(path.read_text(), filename=str(path))
    skipped = type_checking_nodes(tree) if run_time_only else set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module
            found.append((node.lineno, target))
            found += [
                (node.lineno, f"{target}.{alias.name}")
                for alias in node.names
                if is_module(f"{target}.{alias.name}")
            ]
    return [
        (line, name)
        for line, name in found
        if name.split(".")[0] in ("gfcore", "gfp") or name.startswith("gfp_")
    ]


def top(name: str) -> str:
    return name.split(".")[0]


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def violation(importer: str, imported: str) -> str | None:
    """Why ``importer`` may not import ``imported``, or None."""
    if within(importer, "gfcore"):
        if top(imported) == "gfp" or top(imported).startswith("gfp_"):
            return "gfcore imports neither the CLI nor a plugin"
        if not any(within(importer, f) for f in FENCED) and within(imported, "gfcore.studies"):
            return "the machinery never imports a study"
    elif within(importer, "gfp"):
        if top(imported).startswith("gfp_"):
            return "the CLI imports no plugin (a plugin registers its commands)"
    elif top(importer).startswith("gfp_"):
        if top(imported) == "gfp":
            return "a plugin does not import the CLI"
        if top(imported).startswith("gfp_") and top(imported) != top(importer):
            return "a plugin imports no other plugin"
        if within(imported, "gfcore") and imported not in PUBLIC_GFCORE:
            return f"a plugin imports only gfcore's public modules ({', '.join(sorted(PUBLIC_GFCORE))})"
    return None


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in product_files():
        graph.setdefault(module_name(path), set()).update(
            name
            for _, name in imports_of(path, run_time_only=True)
            if is_module(name) and name != module_name(path)
        )
    return graph


def test_every_import_keeps_the_layers():
    problems = [
        f"{path.relative_to(ROOT)}:{line}: imports {name}: {why}"
        for path in product_files()
        for line, name in imports_of(path)
        if (why := violation(module_name(path), name))
    ]
    assert not problems, "\n".join(problems)


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the components of more than one module (the cycles)."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        out.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.get(child, ())))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return out


def test_no_import_cycle():
    cycles = strongly_connected(import_graph())
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


@pytest.mark.parametrize(
    "importer,imported,allowed",
    [
        ("gfcore.data.dataset", "gfp_learned", False),
        ("gfcore.runs.attributor", "gfcore.studies.stats", False),
        ("gfcore.studies.bench.one", "gfcore.runs.attributor", True),
        ("gfp.commands.train", "gfp_learned.method", False),
        ("gfp_visnet.network", "gfp_gans.layers", False),
        ("gfp_visnet.network", "gfcore.nn.equalized", False),
        ("gfp_visnet.network", "gfcore", True),
        ("gfp_demo.tasks", "gfp.common", False),
    ],
)
def test_the_rules_catch_what_they_should(importer, imported, allowed):
    assert (violation(importer, imported) is None) == allowed


def test_the_cycle_finder_finds_cycles():
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []


# --- gfcore names no built-in plugin --------------------------------------------------------------------
#: words that are built-in plugin names and also ordinary words of gfcore, where they mean something else:
#: ``crop`` is gfp prepare's centre-crop preprocessing in the data and inference layers
HOMONYMS = {"crop": ("gfcore/data/", "gfcore/inference/")}


def docstring_nodes(tree: ast.AST) -> set[int]:
    """ids of the docstrings (the first statement of a module, class or function, when a string)."""
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def plugin_mentions(path: Path, names: set[str], packages: set[str]) -> list[str]:
    """``file:line: 'constant'`` for each string constant of the code (docstrings excepted) that is a
    built-in plugin's registered name, a spec of one (``name:key=value``) or names its package."""
    rel = str(path.relative_to(ROOT))
    tree = ast.parse(path.read_text(), filename=rel)
    skipped = docstring_nodes(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or not isinstance(node.value, str) or id(node) in skipped:
            continue
        text = node.value
        name = re.match(r"([A-Za-z0-9_.-]+)(:[A-Za-z_]\w*=.*)?$", text)
        named = name is not None and name.group(1) in names
        if named and rel.startswith(HOMONYMS.get(name.group(1), ("\0",))):
            named = False
        if named or any(package in text for package in packages):
            found.append(f"{rel}:{node.lineno}: {text!r}")
    return found


def builtin_plugin_names() -> tuple[set[str], set[str]]:
    """(every name a built-in plugin registers, of every kind; the built-in plugins' package names)."""
    from gfcore.plugins import get_registries, is_builtin

    registries = get_registries()
    names = {e.name for reg in registries.by_kind().values() for e in reg.entries() if is_builtin(e.plugin)}
    packages = {p.name for p in (ROOT / "plugins").glob("gfp_*") if (p / "__init__.py").is_file()}
    return names, packages


def test_gfcore_code_names_no_builtin_plugin():
    """The core finds a study's methods and attacks by what they declare (roles, severity), never by a
    built-in plugin's name, so a third-party plugin can stand in for any of them."""
    names, packages = builtin_plugin_names()
    assert {"learned", "knn", "noise"} <= names and "gfp_attacks" in packages  # the scan sees the plugins
    found = [
        hit for path in sorted(ROOT.glob("gfcore/**/*.py")) for hit in plugin_mentions(path, names, packages)
    ]
    assert not found, "\n".join(found)


def test_the_plugin_name_scan_catches_names_and_specs(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    (tmp_path / "m.py").write_text(
        '"""Docstrings may say learned:width=0.25."""\n'
        'a = "learned"\nb = "knn:k=5"\nc = "learned network"\nd = "gfp_attacks.noise"\ne = "jpeg:ab12"\n'
    )
    hits = plugin_mentions(tmp_path / "m.py", {"learned", "knn", "jpeg"}, {"gfp_attacks"})
    assert [h.split(":")[1] for h in hits] == ["2", "3", "5"]
