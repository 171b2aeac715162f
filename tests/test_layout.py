"""The package layout the architecture relies on, checked on the source itself: the runtime
domain (`matcher/`, `index/`) never imports the web layer, scripts or tooling; the web layer
never imports scripts or tooling (`tools/` imports the runtime, never the reverse); and no module
reaches into another module's private names (a leading underscore means "not part of the
interface": import the public function, or make it public)."""

from __future__ import annotations

import ast
import functools
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("matcher", "index", "web", "scripts", "tools")
RUNTIME = ("matcher", "index")
FORBIDDEN_FOR_RUNTIME = ("web", "scripts", "tools", "tests")
FORBIDDEN_FOR_WEB = ("scripts", "tools", "tests")


@functools.cache
def _modules() -> list[tuple[str, Path, ast.Module]]:
    out = []
    for package in PACKAGES:
        base = ROOT / package
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*.py")):
            if "migrations" in path.parts:
                continue
            out.append((package, path, ast.parse(path.read_text(encoding="utf-8"), str(path))))
    return out


def _imports(tree: ast.Module) -> list[tuple[int, str, list[str]]]:
    found: list[tuple[int, str, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module, [alias.name for alias in node.names]))
    return found


def _offences(packages: tuple[str, ...], forbidden: tuple[str, ...]) -> list[str]:
    offences = []
    for package, path, tree in _modules():
        if package not in packages:
            continue
        for line, module, _names in _imports(tree):
            if module.split(".")[0] in forbidden:
                offences.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return offences


def test_the_runtime_domain_imports_no_web_scripts_or_tooling() -> None:
    offences = _offences(RUNTIME, FORBIDDEN_FOR_RUNTIME)
    assert not offences, "\n".join(offences)


def test_the_web_layer_imports_no_scripts_or_tooling() -> None:
    offences = _offences(("web",), FORBIDDEN_FOR_WEB)
    assert not offences, "\n".join(offences)


def test_the_running_site_loads_no_tooling() -> None:
    """What `import web.app` pulls in, indirect imports included (a fresh interpreter)."""
    code = (
        "import sys, web.app; print(' '.join(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('tools', 'scripts', 'tests'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_no_module_imports_another_modules_private_names() -> None:
    offences = []
    for _package, path, tree in _modules():
        for line, module, names in _imports(tree):
            if module.split(".")[0] not in PACKAGES:
                continue
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private:
                offences.append(
                    f"{path.relative_to(ROOT)}:{line} imports {', '.join(private)} from {module}"
                )
    assert not offences, "\n".join(offences)


def test_the_check_sees_an_offence() -> None:
    """The checks above would fail on a module that broke the rules (they parse real source)."""
    tree = ast.parse(
        "from web.deps import unit_of_work\nfrom matcher.events.schedule import _hidden\n"
    )
    found = _imports(tree)
    assert (found[0][1], found[0][2]) == ("web.deps", ["unit_of_work"])
    assert found[1][2] == ["_hidden"]


MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80
WHY = "Long on purpose:"  # a comment right above a long function says why it earns its size


def test_modules_and_functions_stay_small_enough_to_read() -> None:
    """No source module over 600 lines and no function over 80, unless a comment starting with
    "Long on purpose:" says why, right above it (a module: in its first lines)."""
    offences = []
    for _package, path, tree in _modules():
        source = path.read_text(encoding="utf-8").splitlines()
        where = path.relative_to(ROOT)
        if len(source) > MAX_MODULE_LINES and not any(WHY in line for line in source[:15]):
            offences.append(f"{where}: {len(source)} lines")
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            above = source[max(0, first - 4) : first - 1]
            if length > MAX_FUNCTION_LINES and not any(WHY in line for line in above):
                offences.append(f"{where}:{node.lineno} {node.name}() {length} lines")
    assert not offences, "\n".join(offences)
