"""The stack's customer-managed KMS key: deletion window and administrator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra.config.reader import _Reader

# KMS waits 7 to 30 days before it deletes a key scheduled for deletion (ScheduleKeyDeletion).
KEY_DELETION_WINDOW_DAYS = (7, 30)
# An IAM role or user ARN's resource part: "role/" or "user/", an optional path, a name of at most 64 characters.
KEY_ADMINISTRATOR_PATTERN = r"(role|user)/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}"


@dataclass(frozen=True)
class KeysConfig:
    """The stack's customer-managed KMS key (infra/keys.py)."""
    deletion_window_days: int
    # "role/NAME" or "user/NAME" (with an optional path) of the one principal that administers the key
    # besides the account's IAM administrators; "" leaves administration to IAM policies alone.
    administrator: str


def _keys(r: _Reader, recovery: int | None) -> dict[str, Any]:
    """`recovery` is the validated tca:secretRecoveryDays (None when it was refused: one bad key, one error)."""
    low, high = KEY_DELETION_WINDOW_DAYS
    window = r.integer("keyDeletionWindowDays", low, high,
                       f"must be a whole number of days from {low} to {high} (the window KMS allows)")
    # A secret restored inside its recovery window is useless if its key is already gone.
    if window is not None and recovery is not None and window < recovery:
        r.fail("keyDeletionWindowDays", window,
               f"must be at least tca:secretRecoveryDays ({recovery}): a secret restored after its "
               "key is deleted cannot be decrypted")
        window = None
    # KMS refuses a key policy that names a principal which does not exist (MalformedPolicyDocumentException),
    # so the administrator is the stack file's choice, not derived from the stack name: a try-out stack with
    # no deployer role of its own leaves it empty. IAM names: letters, digits and +=,.@_- (paths add "/").
    administrator = r.optional_text(
        "keyAdministrator", KEY_ADMINISTRATOR_PATTERN,
        "must be role/NAME or user/NAME (an IAM role or user of the stack's account, optionally with a path, "
        "such as role/github-tca-dev-deployer), or empty to leave key administration to IAM administrators")
    return dict(deletion_window_days=window, administrator=administrator)
