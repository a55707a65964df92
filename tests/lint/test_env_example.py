"""Every environment variable the code reads is listed in .env.example (issue 12, item 6).

The code: the Python tooling and stand-in (src/), the scripts (scripts/) and the Edge
Functions (supabase/functions, their unit tests aside). A variable counts as listed when
.env.example has a ``NAME=`` line (commented out or not). Variables the platforms set
themselves (the Supabase CLI's own, GitHub's) are named in IMPLICIT with the reason.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PATTERNS = {
    ".py": [
        re.compile(r"os\.environ(?:\.get)?\s*[\[(]\s*[\"']([A-Z][A-Z0-9_]+)[\"']"),
        re.compile(r"os\.getenv\(\s*[\"']([A-Z][A-Z0-9_]+)[\"']"),
        re.compile(r"_env_int\(\s*\"([A-Z][A-Z0-9_]+)\""),
        re.compile(r"\b[A-Z_]*ENV\s*=\s*\"([A-Z][A-Z0-9_]+)\""),
    ],
    ".ts": [
        re.compile(r"Deno\.env\.get\(\s*\"([A-Z][A-Z0-9_]+)\""),
        re.compile(r"\br\.[a-z]+\(\s*\"([A-Z][A-Z0-9_]+)\""),
        re.compile(r"\benv\(\s*\"([A-Z][A-Z0-9_]+)\""),
    ],
    "": [re.compile(r"\$\{?(WATS_[A-Z0-9_]+)")],  # shell scripts
}

#: Read by the code, set by someone else (never by an operator).
IMPLICIT = {
    "NO_COLOR": "a terminal convention, passed through to tools",
    "DENO_DIR": "Deno's cache folder, set by the stack for its functions",
    "DENO_NO_UPDATE_CHECK": "Deno's, set by the stack",
    "SUPABASE_TELEMETRY_DISABLED": "the Supabase CLI's, set by the tooling",
    "SB_EXECUTION_ID": "set by the hosted Edge Runtime",
    "PATH": "the shell's",
    "CC": "the C compiler the stand-in builds its safeupdate module with (the build's)",
    "STANDIN_FUNCTION_ENTRY": "set by the stand-in for each function worker it starts",
    "STANDIN_FUNCTION_PORT": "set by the stand-in for each function worker it starts",
    "HOME": "the shell's",
}


def sources() -> list[Path]:
    files: list[Path] = []
    for folder in ("src", "scripts", "supabase/functions"):
        for path in (ROOT / folder).rglob("*"):
            if not path.is_file() or "node_modules" in path.parts or "__pycache__" in path.parts:
                continue
            if path.name.endswith("_test.ts") or "tests" in path.relative_to(ROOT).parts:
                continue
            if path.suffix in (".py", ".ts") or (path.suffix == "" and path.parent.name == "scripts"):
                files.append(path)
    return files


def read_by_code() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sources():
        text = path.read_text(errors="replace")
        for pattern in PATTERNS.get(path.suffix, []):
            for name in pattern.findall(text):
                found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def listed() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, re.MULTILINE))


def test_the_scan_finds_what_it_should():
    """The patterns are not vacuous: known reads of each language are found."""
    found = read_by_code()
    for name in ("WATS_PORT_OFFSET", "SENTRY_DSN", "MPESA_API_KEY", "WATS_AUTH_SMS_TEST_OTP"):
        assert name in found, f"the scan misses {name}"


def test_every_variable_the_code_reads_is_in_env_example():
    found = read_by_code()
    missing = {name: sorted(files) for name, files in found.items() if name not in listed() and name not in IMPLICIT}
    assert not missing, "read by the code, missing from .env.example:\n" + "\n".join(
        f"  {name}: {', '.join(files)}" for name, files in sorted(missing.items())
    )


def test_every_listed_variable_has_a_comment():
    lines = (ROOT / ".env.example").read_text().splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^[A-Z][A-Z0-9_]+=", line):
            above = lines[i - 1] if i else ""
            assert above.startswith("#") or re.match(r"^[A-Z][A-Z0-9_]+=", above), (
                f".env.example line {i + 1}: {line.split('=')[0]} has no comment above it"
            )
