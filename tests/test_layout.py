"""The package follows the data flow: a stage imports the reference data, the catalogue and
the stages before it, never one after it; only evaluation on twin data imports the twin;
the API never imports the twin or the command line."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "needs_model"
FLOW = (
    "reference",
    "catalogue",
    "extracts",
    "linking",
    "features",
    "modelling",
    "scoring",
    "monitoring",
    "reports",
)
# What each package may import besides itself and `settings` (written from the design, not
# read off the code).
ALLOWED: dict[str, set[str]] = {stage: set(FLOW[:position]) for position, stage in enumerate(FLOW)}
ALLOWED["catalogue"] = {"reference"}
ALLOWED["governance"] = {"reference", "catalogue"}  # the service's own state
ALLOWED["reports"] |= {"governance"}  # a citizen's page shows the access log
ALLOWED["twin"] = {"reference", "catalogue", "extracts"}  # one producer of the contract
ALLOWED["cli"] = set(FLOW) | {"governance", "twin"}
# The one place a stage may reach the twin: evaluation against the oracle.
TWIN_EVALUATION = {"modelling/workflow.py"}


def _imports(path: Path) -> set[str]:
    """The needs_model subpackages or modules a file imports (first level below the root)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        modules: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module:
            modules.append(node.module)
            if node.module == "needs_model":
                modules += [f"needs_model.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        for module in modules:
            parts = module.split(".")
            if parts[0] == "needs_model" and len(parts) > 1:
                found.add(parts[1])
    return found


def _package_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else parts[0].removesuffix(".py")


def test_every_package_imports_only_what_comes_before_it():
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        package = _package_of(path)
        if package not in ALLOWED:
            continue
        relative = str(path.relative_to(PACKAGE))
        allowed = ALLOWED[package] | {package, "settings"}
        if relative in TWIN_EVALUATION:
            allowed = allowed | {"twin"}
        for imported in _imports(path) - allowed:
            problems.append(f"{relative} imports needs_model.{imported}")
    assert not problems, problems


def test_every_module_lives_in_a_stage_package():
    loose = {p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "settings.py")}
    assert loose == {"pyfunc.py"}  # kept for models logged before the move (an alias)
    assert set(ALLOWED) == {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}


def test_the_api_reaches_neither_the_twin_nor_the_command_line():
    for path in sorted((ROOT / "api").rglob("*.py")):
        assert not _imports(path) & {"twin", "cli"}, path


def test_the_check_sees_a_backward_import(tmp_path):
    """The guard: a catalogue module importing a stage is caught."""
    bad = tmp_path / "bad.py"
    bad.write_text("from needs_model.scoring.batch import band\nimport needs_model.twin.world\n")
    assert _imports(bad) == {"scoring", "twin"}


# Where a service id may be written: the catalogue that declares it, the feature builders
# (one builder per service) and the twin (which simulates each service).
MAY_NAME_SERVICES = ("catalogue/", "features/build.py", "twin/")
# Named exceptions, each with its reason; the test fails when one is cleaned up as well as
# when a new module names a service, so this list only shrinks.
NOT_YET_IN_THE_CATALOGUE = {
    # OpenAPI request examples
    "api/schemas.py",
}
NOT_A_SERVICE = {
    # the registry's event of a birth being registered, not the service
    "src/needs_model/extracts/contract.py",
}


def _service_ids() -> list[str]:
    from needs_model.catalogue.services import SERVICE_IDS

    return list(SERVICE_IDS)


def test_only_the_catalogue_and_the_builders_name_a_service():
    pattern = re.compile(r"\b(" + "|".join(_service_ids()) + r")\b")
    naming = set()
    for path in sorted([*PACKAGE.rglob("*.py"), *(ROOT / "api").rglob("*.py")]):
        relative_to_package = str(path.relative_to(PACKAGE)) if PACKAGE in path.parents else ""
        if relative_to_package.startswith(MAY_NAME_SERVICES):
            continue
        if pattern.search(path.read_text(encoding="utf-8")):
            naming.add(str(path.relative_to(ROOT)))
    assert naming == NOT_YET_IN_THE_CATALOGUE | NOT_A_SERVICE
