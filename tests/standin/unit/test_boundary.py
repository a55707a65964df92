"""The stand-in is a package of its own: it imports nothing of the product, reads none of
its environment variables and carries none of its words (the product plugs in through
``StackConfig`` and ``Extension``)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import supabase_standin

PACKAGE = Path(supabase_standin.__file__).parent
PRODUCT_WORDS = re.compile(r"vendor|payment|mpesa|wats", re.IGNORECASE)


def package_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def test_no_file_of_the_package_names_the_product():
    found = [
        f"{path.relative_to(PACKAGE)}:{n}"
        for path in package_files()
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if PRODUCT_WORDS.search(line)
    ]
    assert found == []


def test_the_package_imports_nothing_of_the_product():
    imported: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
    assert "wats" not in imported


def test_the_seam_is_exported():
    assert {"Stack", "StackConfig", "Extension", "load_project_config"} <= set(supabase_standin.__all__)
