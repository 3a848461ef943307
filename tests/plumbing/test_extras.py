"""Each side installs only its own extra: every third-party import is declared where it is used.

A lane computer installs ``.[edge]``, central ``.[central]``, a technician ``.[sim]``. These
tests read the packages' imports (module level and lazy alike) and pyproject's dependency
groups, so a side that starts to import another side's dependency fails here rather than on
a lane computer; and they run the ``lanewarden`` command and import each side with the other
sides' dependencies made unimportable.
"""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from paths import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))

SIDES = {
    "contracts": (),
    "plumbing": (),
    "edge": ("edge",),
    "drivers": ("edge", "rpi"),
    "models": ("edge", "train"),
    "central": ("central",),
    "simulators": ("sim",),
    "fleet": ("edge", "central", "sim"),
}
"""Which extras each package may draw on, beside the core dependencies."""

NOT_INSTALLED = {"RPi": "rpi-gpio", "torch": "torch", "onnx": "onnx"}
"""Import names of distributions this machine need not have (a Pi's, training's)."""

PART_OF = {"pydantic-core": "pydantic"}
"""Distributions that come with a declared one and are imported for its types."""

OURS = set(SIDES)


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match, requirement
    return match.group(0).lower().replace("_", "-").replace(".", "-")


def _group(name: str | None) -> set[str]:
    project = PYPROJECT["project"]
    requirements = (
        project["dependencies"] if name is None else project["optional-dependencies"][name]
    )
    return {_name(r) for r in requirements}


def _distribution(top: str) -> str | None:
    """The distribution an import name comes from; None for the standard library."""
    if top in sys.stdlib_module_names or top == "__future__":
        return None
    if top in NOT_INSTALLED:
        return NOT_INSTALLED[top]
    found = importlib.metadata.packages_distributions().get(top)
    assert found, f"no installed distribution provides {top!r}"
    name = _name(found[0])
    return PART_OF.get(name, name)


def _imports(package: str) -> dict[str, set[str]]:
    """Each third-party top-level name the package imports, with the files that do."""
    found: dict[str, set[str]] = {}
    for path in (REPO / package).rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in OURS:
                    found.setdefault(top, set()).add(str(path.relative_to(REPO)))
    return found


@pytest.mark.parametrize("package", sorted(SIDES))
def test_every_import_is_declared_for_its_side(package: str) -> None:
    allowed = _group(None).union(*(_group(extra) for extra in SIDES[package]))
    undeclared = {
        top: sorted(files)
        for top, files in _imports(package).items()
        if (dist := _distribution(top)) is not None and dist not in allowed
    }
    assert not undeclared, (
        f"{package} imports what its extras {SIDES[package]} do not install: {undeclared}"
    )


def test_make_test_installs_every_side() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    match = re.search(r"^EXTRAS \?= (\S+)$", makefile, re.MULTILINE)
    assert match, "the Makefile names the extras it installs"
    assert set(match.group(1).split(",")) == {"edge", "central", "sim", "dev"}


BLOCKER = """
import importlib.abc, runpy, sys
BLOCKED = set(sys.argv[1].split(","))
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name in BLOCKED or name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"{name} is another side's dependency", name=name)
        return None
sys.meta_path.insert(0, Blocker())
sys.argv = sys.argv[2:]
runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
"""

EDGE_ONLY = "sqlite_utils,cv2,numpy,rapidocr,onnxruntime,pymodbus,serial,PIL"
CENTRAL_ONLY = "sqlalchemy,alembic,psycopg"
SIM_ONLY = "amqtt"


def _run_without(
    blocked: str, module: str, *args: str, path: Path = REPO
) -> subprocess.CompletedProcess[str]:
    """``python -m module args`` with the blocked top-level names unimportable."""
    env = {**os.environ, "PYTHONPATH": f"{path}{os.pathsep}{REPO}"}
    return subprocess.run(
        [sys.executable, "-c", BLOCKER, blocked, module, *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env=env,
        check=False,
    )


IMPORT_ALL = """
import importlib, pkgutil, sys
for package in sys.argv[1:]:
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, package + "."):
        if ".training." in info.name + "." or ".migrations." in info.name:
            continue  # torch's modules (the train extra), and Alembic's scripts, run only under them
        importlib.import_module(info.name)
print("ok")
"""


@pytest.mark.parametrize(
    ("blocked", "packages"),
    [
        (f"{EDGE_ONLY},{SIM_ONLY}", ("contracts", "plumbing", "central")),
        (f"{CENTRAL_ONLY},{SIM_ONLY}", ("contracts", "plumbing", "edge", "drivers", "models")),
    ],
    ids=["central-without-the-lane's", "lane-without-central's"],
)
def test_a_side_imports_without_the_others_dependencies(
    blocked: str, packages: tuple[str, ...], tmp_path: Path
) -> None:
    (tmp_path / "import_every_module.py").write_text(IMPORT_ALL, encoding="utf-8")
    done = _run_without(blocked, "import_every_module", *packages, path=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("ok")


@pytest.mark.parametrize(
    ("blocked", "command"),
    [
        (f"{EDGE_ONLY},{SIM_ONLY}", ("central", "run", "--help")),
        (f"{CENTRAL_ONLY},{SIM_ONLY}", ("edge", "run", "--help")),
        (f"{CENTRAL_ONLY},{SIM_ONLY},{EDGE_ONLY}", ("--help",)),
    ],
    ids=["central", "lane", "core-only"],
)
def test_the_command_starts_with_one_side_installed(blocked: str, command: tuple[str, ...]) -> None:
    done = _run_without(blocked, "plumbing.cli", *command)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout


def test_help_names_the_commands_another_side_would_add() -> None:
    done = _run_without(f"{EDGE_ONLY},{SIM_ONLY}", "plumbing.cli", "--help")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "not installed here" in done.stdout
    assert "bench-store" in done.stdout
    assert "sqlite_utils" in done.stdout


def test_a_module_of_the_package_itself_missing_fails_loudly() -> None:
    """A moved module an entry point still names is a broken install, not a missing extra."""
    done = _run_without("edge.store", "plumbing.cli", "--help")
    assert done.returncode != 0
    assert "edge.store" in done.stderr


def test_a_command_whose_side_is_missing_says_what_to_install(tmp_path: Path) -> None:
    """Central's commands import SQLAlchemy when they run: without it, a line, not a traceback."""
    config = tmp_path / "central.toml"
    config.write_text(
        (REPO / "config" / "central.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    done = _run_without(CENTRAL_ONLY, "plumbing.cli", "central", "run", "--config", str(config))
    assert done.returncode == 78, done.stderr[-2000:]
    assert "needs 'sqlalchemy'" in done.stderr
    assert "Traceback" not in done.stderr
