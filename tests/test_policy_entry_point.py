"""The pack's entry point, run the way the engine runs it, builds the pack with every policy the tests check.

The engine's policy host runs `python -m pulumi.policy ENGINE PACK_DIR`, which calls `runpy.run_path(PACK_DIR)`
from the pack directory, in the pack's own venv: the project's root is not importable there, so the pack must
load from its own directory alone. PolicyPack is replaced here so that nothing starts serving.
"""

from __future__ import annotations

import json
import subprocess
import sys

from policy import tca_policies as pack
from tests.mocks import ROOT

ENGINE_RUN = """
import json, runpy, sys
import pulumi_policy
sys.path = [p for p in sys.path if p != ROOT]
built = {}
pulumi_policy.PolicyPack = lambda **kwargs: built.update(kwargs)
runpy.run_path(".", run_name="__main__")
print(json.dumps({
    "name": built["name"],
    "policies": [p.name for p in built["policies"]],
    "enforcement": str(built["enforcement_level"]),
    "project_modules": sorted(m for m in sys.modules if m.split(".")[0] in ("policy", "infra", "tests")),
}))
"""


def test_the_engine_builds_the_pack_from_the_pack_directory_with_every_policy_mandatory():
    run = subprocess.run([sys.executable, "-c", f"ROOT = {str(ROOT)!r}\n" + ENGINE_RUN],
                         cwd=ROOT / "policy", capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {
        "name": pack.PACK_NAME,
        "policies": list(pack.POLICY_NAMES),
        "enforcement": str(pack.EnforcementLevel.MANDATORY),
        "project_modules": [],
    }
