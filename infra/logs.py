"""The stack's CloudWatch log groups, all made one way.

Each keeps the stack's `logRetentionDays`, is encrypted with the stack's key (whose policy admits only log
groups named after the stack: `infra/keys.py`, `log_group_name_patterns`), and is deleted with the stack.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.config import StackSettings


def stack_log_group(resource_name: str, stack: StackSettings, key_arn: pulumi.Input[str], parent: pulumi.Resource,
                    *, name: pulumi.Input[str] | None = None,
                    opts: pulumi.ResourceOptions | None = None) -> aws.cloudwatch.LogGroup:
    """A log group owned by `parent`; `name` only where AWS fixes it (RDS's, Container Insights'), else auto-named."""
    return aws.cloudwatch.LogGroup(
        resource_name,
        name=name,
        retention_in_days=stack.log_retention_days,
        kms_key_id=key_arn,
        # Removed by `pulumi destroy` rather than left behind with the logs.
        skip_destroy=False,
        opts=pulumi.ResourceOptions.merge(pulumi.ResourceOptions(parent=parent), opts),
    )
