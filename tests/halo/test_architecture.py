"""What import-linter cannot see: no app looks another app's code up by name to get around the layers.

import-linter (``lint-imports``, run by CI with the contracts in ``pyproject.toml``) checks every import
statement; a lookup by a dotted path at run time (``import_module``, ``import_string``, ``__import__``)
would slip past it. The one exception is Django's documented way to load the configured session engine.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("halo", "segments", "agents", "inbox", "escalation")
DYNAMIC_LOOKUPS = {"import_module", "import_string", "__import__", "get_callable"}
ALLOWED = {("inbox/consumers.py", "import_module")}  # import_module(settings.SESSION_ENGINE)


def _dynamic_lookups() -> set[tuple[str, str]]:
    found = set()
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                called = node.func if isinstance(node, ast.Call) else None
                name = getattr(called, "id", None) or getattr(called, "attr", None)
                if name in DYNAMIC_LOOKUPS:
                    found.add((str(path.relative_to(ROOT)), str(name)))
    return found


def test_no_app_looks_code_up_by_name() -> None:
    assert _dynamic_lookups() - ALLOWED == set()
