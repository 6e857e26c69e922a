"""The stack's security and deploy-safety controls as Pulumi policies, checked by the engine on every preview/up.

Definitions only: `__main__.py` builds the `PolicyPack` (which starts a server and never returns), so the
tests import this module instead. The policies read the engine's view of each resource (camelCase property
names, awsx's children included); what differs between stacks (multi-AZ, protection, WAF, access logs...)
comes from the pack's config file (`dev.json`, `prod.json`), never from the stack's name.

Every check tolerates shapes it does not expect: a missing property, a value that is not known yet during
preview, or a string where an object belongs. An unknown value is not judged (the check runs again on `up`);
a missing or malformed required value is a violation (fail closed).

The policies live in `rules/`, one module per AWS service; this module is the pack's surface for the tests.
"""

from __future__ import annotations

# The same surface as rules/, whose __all__ is the one list of names.
from .rules import *  # noqa: F403
from .rules import __all__  # noqa: F401
