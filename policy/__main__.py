"""Entry point the Pulumi engine runs: builds the pack and serves it (PolicyPack never returns).

The policies live in rules/ so the tests can import them (through tca_policies.py) without starting a server.
"""

import sys
from pathlib import Path

from pulumi_policy import EnforcementLevel, PolicyPack

# The engine runs this file from the pack directory; make the sibling package importable either way.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from rules import PACK_NAME, POLICIES

PolicyPack(name=PACK_NAME, policies=POLICIES, enforcement_level=EnforcementLevel.MANDATORY)
