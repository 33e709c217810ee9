"""The package's layering, read from its source with ast (imports inside functions too):

- no import cycle;
- the engine (NumPy/CuPy only) imports nothing of the package outside engine/ but
  errors, config and tokenizer; io/ and training/ never import baby.py;
- the layers point one way: errors -> config, tokenizer -> engine -> io, training ->
  baby -> cli, lessons, tools; inside io/, store -> formats -> hub;
- only engine/backend.py names numpy, and the engine uses no third-party module but
  numpy and cupy;
- every ATTENTIONS / NETWORKS entry defines every function of the protocol its
  registry's docstring documents, with the documented arguments, and the registries'
  names are config's.
"""
import ast
import inspect
import re
import sys
from pathlib import Path

import pytest

import little_baby
from little_baby import config
from little_baby.engine.attention import ATTENTIONS
from little_baby.engine.network import NETWORKS

PACKAGE = Path(little_baby.__file__).parent
ENGINE_MAY_IMPORT = {"little_baby.errors", "little_baby.config", "little_baby.tokenizer"}


def module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def package_of(module):
    """The package a module's relative imports start from."""
    is_package = MODULES[module].name == "__init__.py"
    return module if is_package else module.rpartition(".")[0]


def imports(module):
    """Every module name `module` imports (absolute, resolved), with the line of each."""
    tree = ast.parse(MODULES[module].read_text(), str(MODULES[module]))
    found = []
    for node in ast.walk(tree):  # every node: imports inside functions count too
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_of(module)
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module
            for alias in node.names:  # `from pkg import submodule` imports the submodule
                sub = f"{base}.{alias.name}"
                found.append((sub if sub in MODULES else base, node.lineno))
    return found


def internal(name):
    """The package module an imported name lands in (itself, or the package defining it)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def graph():
    return {m: sorted({internal(n) for n, _ in imports(m)} - {None, m}) for m in MODULES}


def test_the_graph_is_read():
    """The graph holds what is known to be there, so the checks below check something."""
    g = graph()
    assert "little_baby.engine.attention.mha" in g["little_baby.engine.attention"]
    assert "little_baby.engine.backend" in g["little_baby.engine.sampling"]
    assert "little_baby.errors" in g["little_baby.engine.transformer"]
    assert len(MODULES) > 40


def test_no_import_cycle():
    g = graph()
    state, path = {}, []  # state: 1 while on the path, 2 when done

    def visit(m):
        state[m] = 1
        path.append(m)
        for n in g[m]:
            if state.get(n) == 1:
                cycle = path[path.index(n):] + [n]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if n not in state:
                visit(n)
        path.pop()
        state[m] = 2

    for m in g:
        if m not in state:
            visit(m)


def test_the_engine_imports_nothing_of_the_package_outside_it_but_errors_config_tokenizer():
    bad = [f"{m} imports {n} (line {line})"
           for m in MODULES if m.startswith("little_baby.engine")
           for n, line in imports(m)
           if (t := internal(n)) and not t.startswith("little_baby.engine")
           and t not in ENGINE_MAY_IMPORT]
    assert not bad, "\n".join(bad)


def test_io_and_training_never_import_baby():
    bad = [f"{m} imports {n} (line {line})"
           for m in MODULES if m.startswith(("little_baby.io", "little_baby.training"))
           for n, line in imports(m) if internal(n) == "little_baby.baby"]
    assert not bad, "\n".join(bad)


LAYERS = [  # a module may import from its own layer and the ones above it only
    ("little_baby.errors",),
    ("little_baby.config", "little_baby.tokenizer", "little_baby.bpe"),
    ("little_baby.engine",),
    ("little_baby.io", "little_baby.training"),
    ("little_baby.baby",),
    ("little_baby", "little_baby.__main__", "little_baby.cli", "little_baby.lessons",
     "little_baby.tools"),
]


def layer(module):
    """The index in LAYERS of the longest prefix that names `module` or a package of it."""
    best, rank = -1, None
    for i, names in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > best:
                best, rank = len(name), i
    return rank


def test_only_the_cli_and_tools_import_platforms_and_it_needs_little_of_the_library():
    """platforms/ is for notebooks and the command line: the library never imports it, and
    it needs nothing of the library but its errors, where files live and the one CuPy check."""
    g = graph()
    platforms = [m for m in MODULES if m.startswith("little_baby.platforms")]
    assert "little_baby.platforms.cuda" in g["little_baby.platforms"]  # the graph sees it
    users = [f"{m} imports {n}" for m in MODULES if not m.startswith("little_baby.platforms")
             for n in g[m] if n in platforms
             and not m.startswith(("little_baby.cli", "little_baby.tools"))]
    needs = [f"{m} imports {n}" for m in platforms for n in g[m] if n not in platforms
             and n not in ("little_baby.errors", "little_baby.io.store.places",
                           "little_baby.engine.cupy_check")]
    assert not users + needs, "\n".join(users + needs)


def test_a_cli_command_imports_the_library_and_common_only():
    """Each command module is read alone: shared helpers live in cli/commands/common.py."""
    g = graph()
    commands = [m for m in MODULES if m.startswith("little_baby.cli.commands.")]
    assert "little_baby.cli.commands.common" in g["little_baby.cli.commands.train"]
    bad = [f"{m} imports {n}" for m in commands for n in g[m]
           if n.startswith("little_baby.cli") and n != "little_baby.cli.commands.common"]
    assert not bad, "\n".join(bad)


def test_architecture_md_names_modules_that_exist():
    """Every module or folder ARCHITECTURE.md gives a concept to is there."""
    page = (PACKAGE.parent / "ARCHITECTURE.md").read_text(encoding="utf-8")
    rows = [line.split("|")[2] for line in page.splitlines() if line.startswith("| ")]
    named = re.findall(r"`([\w/]+(?:\.py|/))`", "".join(rows))
    assert len(named) > 20
    missing = [n for n in named if not (PACKAGE / n).exists()]
    assert not missing, missing


IO_PACKAGES = ["little_baby.io.store", "little_baby.io.formats", "little_baby.io.hub"]


def test_io_packages_point_one_way():
    """The store knows no format and no Hub; the formats know the store, not the Hub."""
    def rank(module):
        return next((i for i, p in enumerate(IO_PACKAGES)
                     if module == p or module.startswith(p + ".")), None)
    g = graph()
    assert "little_baby.io.store.model_folder" in g["little_baby.io.formats.original"]
    bad = [f"{m} imports {n}" for m in MODULES if rank(m) is not None
           for n in g[m] if rank(n) is not None and rank(n) > rank(m)]
    assert not bad, "\n".join(bad)


def test_dependencies_point_one_way():
    assert all(layer(m) is not None for m in MODULES)
    bad = [f"{m} (layer {layer(m)}) imports {t} (layer {layer(t)}, line {line})"
           for m in MODULES for n, line in imports(m)
           if (t := internal(n)) and layer(t) > layer(m)]
    assert not bad, "\n".join(bad)


def test_only_the_backend_names_numpy_and_the_engine_uses_only_numpy_and_cupy():
    allowed = set(sys.stdlib_module_names) | {"numpy", "cupy", "little_baby"}
    bad = []
    for m, path in MODULES.items():
        if not m.startswith("little_baby.engine"):
            continue
        tree = ast.parse(path.read_text(), str(path))
        for name, line in imports(m):
            top = name.partition(".")[0]
            if top not in allowed:
                bad.append(f"{m} imports {name} (line {line}): the engine is NumPy/CuPy only")
            if top == "numpy" and m != "little_baby.engine.backend":
                bad.append(f"{m} imports numpy (line {line}): use backend's xp or host_xp")
        if m != "little_baby.engine.backend":
            bad += [f"{m} names numpy (line {node.lineno})" for node in ast.walk(tree)
                    if isinstance(node, ast.Name) and node.id == "numpy"]
    assert not bad, "\n".join(bad)


# ---- the registries' protocols --------------------------------------------------------------
def documented_protocol(registry_package):
    """{function: (argument names, names with defaults, optional?)} from the lines
    `    name(args) -> ...` of the registry's docstring."""
    protocol = {}
    for line in registry_package.__doc__.splitlines():
        match = re.match(r"^    (\w+)\(([^)]*)\) ->(.*)$", line)
        if match:
            name, args, rest = match.groups()
            args = [a.strip() for a in args.split(",") if a.strip()]
            protocol[name] = ([a.partition("=")[0] for a in args],
                              {a.partition("=")[0] for a in args if "=" in a},
                              "optional" in rest)
    return protocol


@pytest.mark.parametrize("registry,package", [
    (ATTENTIONS, "little_baby.engine.attention"), (NETWORKS, "little_baby.engine.network")])
def test_every_variant_has_the_documented_protocol(registry, package):
    protocol = documented_protocol(sys.modules[package])
    assert {"init", "forward", "backward", "new_state", "n_params", "step"} <= set(protocol)
    assert [n for n, (_, _, optional) in protocol.items() if optional] == ["step"]
    bad = []
    for key, module in registry.items():
        for name, (args, with_default, optional) in protocol.items():
            fn = getattr(module, name, None)
            if fn is None:
                if not optional:
                    bad.append(f"{key}: no {name}")
                continue
            params = inspect.signature(fn).parameters
            if list(params) != args:
                bad.append(f"{key}.{name}{tuple(params)}: the registry documents {tuple(args)}")
            if {a for a, p in params.items() if p.default is not p.empty} != with_default:
                bad.append(f"{key}.{name}: defaults differ from the documented {with_default}")
            if fn.__module__ != module.__name__:  # shared maths goes through a helper module
                bad.append(f"{key}.{name} is {fn.__module__}'s, re-exported")
    assert not bad, "\n".join(bad)


def test_the_registries_names_are_configs():
    assert tuple(ATTENTIONS) == config.ATTENTION_NAMES
    assert tuple(NETWORKS) == config.NETWORK_NAMES
