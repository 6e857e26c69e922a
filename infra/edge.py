"""What stands in front of the app: an AWS WAF web ACL on the load balancer, and its access logs.

The app's API has no authentication, so one client could read or write as fast as the database
allows; the per-IP rate rule caps that, and AWS's managed rule groups drop known-bad traffic.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.alerts import notify
from infra.config import EdgeConfig, StackSettings
from infra.logs import stack_log_group

FIVE_MINUTES = 300
# The prefix ALB writes under is `<prefix>/AWSLogs/<account>/`; AWS forbids "AWSLogs" in the prefix.
ACCESS_LOG_PREFIX = "alb"

# "Enable access logs for your Application Load Balancer": Regions available before August 2022
# grant s3:PutObject to the Region's Elastic Load Balancing account; later Regions use the
# log-delivery service principal instead.
ELB_LOG_ACCOUNTS = {
    "us-east-1": "127311923021", "us-east-2": "033677994240", "us-west-1": "027434742980",
    "us-west-2": "797873946194", "af-south-1": "098369216593", "ca-central-1": "985666609251",
    "eu-central-1": "054676820928", "eu-west-1": "156460612806", "eu-west-2": "652711504416",
    "eu-south-1": "635631232127", "eu-west-3": "009996457667", "eu-north-1": "897822967062",
    "ap-east-1": "754344448648", "ap-northeast-1": "582318560864", "ap-northeast-2": "600734575887",
    "ap-northeast-3": "383597477331", "ap-southeast-1": "114774131450", "ap-southeast-2": "783225319266",
    "ap-south-1": "718504428378", "me-south-1": "076674570225", "sa-east-1": "507241528517",
    "us-gov-west-1": "048591011584", "us-gov-east-1": "190560391635",
}
ELB_LOG_SERVICE = "logdelivery.elasticloadbalancing.amazonaws.com"


def elb_log_delivery_principal(region: str) -> dict[str, str]:
    """The one principal allowed to write this Region's ALB access logs."""
    account = ELB_LOG_ACCOUNTS.get(region)
    if account is None:
        return {"Service": ELB_LOG_SERVICE}
    partition = "aws-us-gov" if region.startswith("us-gov-") else "aws"
    return {"AWS": f"arn:{partition}:iam::{account}:root"}


def access_log_bucket_policy(bucket_arn: str, account_id: str, region: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Sid": "AllowElbLogDelivery",
                "Effect": "Allow",
                "Principal": elb_log_delivery_principal(region),
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/{ACCESS_LOG_PREFIX}/AWSLogs/{account_id}/*",
            },
        ],
    }


# AWSManagedRulesCommonRuleSet rules that would block the app's own traffic, counted instead.
# The app's bodies are small JSON tasks ({"priority", "title", "complete"}, well under the 8 KB that
# SizeRestrictions_BODY and ALB's fixed body-inspection limit allow) and every client through the
# ALB sends a User-Agent (browsers, and Python's urllib in scripts/smoke.py; ALB health checks do not
# pass WAF), so those two rules stay on. What users type into a to-do title is stored and shown,
# never fetched by the app:
COUNTED_COMMON_RULES = (
    # A title that mentions a URL with an IP address ("check http://10.0.0.5/") would be refused as
    # remote file inclusion, which this app cannot suffer: it never fetches what it stores.
    "GenericRFI_BODY",
)

# (name, vendor rule group, rules counted instead of blocked); evaluated after the rate limit.
MANAGED_GROUPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("ip-reputation", "AWSManagedRulesAmazonIpReputationList", ()),
    ("known-bad-inputs", "AWSManagedRulesKnownBadInputsRuleSet", ()),
    ("common", "AWSManagedRulesCommonRuleSet", COUNTED_COMMON_RULES),
)


def _visibility(metric: str) -> dict[str, Any]:
    return {"cloudwatch_metrics_enabled": True, "metric_name": metric, "sampled_requests_enabled": True}


def web_acl_rules(prefix: str, rate_limit: int) -> list[aws.wafv2.WebAclRuleArgs]:
    rules = [aws.wafv2.WebAclRuleArgs(
        name="rate-limit-per-ip",
        priority=0,
        action=aws.wafv2.WebAclRuleActionArgs(block=aws.wafv2.WebAclRuleActionBlockArgs()),
        statement=aws.wafv2.WebAclRuleStatementArgs(
            rate_based_statement=aws.wafv2.WebAclRuleStatementRateBasedStatementArgs(
                aggregate_key_type="IP", limit=rate_limit, evaluation_window_sec=FIVE_MINUTES)),
        visibility_config=aws.wafv2.WebAclRuleVisibilityConfigArgs(**_visibility(f"{prefix}-rate-limit")),
    )]
    for priority, (key, group, counted) in enumerate(MANAGED_GROUPS, start=1):
        rules.append(aws.wafv2.WebAclRuleArgs(
            name=key,
            priority=priority,
            # "none" keeps each managed rule's own action (block), except the overrides below.
            override_action=aws.wafv2.WebAclRuleOverrideActionArgs(none=aws.wafv2.WebAclRuleOverrideActionNoneArgs()),
            statement=aws.wafv2.WebAclRuleStatementArgs(
                managed_rule_group_statement=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementArgs(
                    vendor_name="AWS",
                    name=group,
                    rule_action_overrides=[
                        aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideArgs(
                            name=rule,
                            action_to_use=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseArgs(
                                count=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseCountArgs()),
                        ) for rule in counted] or None,
                )),
            visibility_config=aws.wafv2.WebAclRuleVisibilityConfigArgs(**_visibility(f"{prefix}-{key}")),
        ))
    return rules


class Edge(pulumi.ComponentResource):
    access_logs: aws.lb.LoadBalancerAccessLogsArgs | None
    log_bucket: aws.s3.Bucket | None
    web_acl: aws.wafv2.WebAcl | None
    # The WebACL dimension of the AWS/WAFV2 metrics (the web ACL's metric name), or None without WAF.
    waf_metric_name: str | None

    def __init__(self, name: str, stack: StackSettings, cfg: EdgeConfig, *,
                 alarm_topic_arn: pulumi.Input[str],
                 kms_key_arn: pulumi.Input[str],
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("tca:infra:Edge", name, None, opts)
        self._name = name
        self.access_logs = None
        self.log_bucket = None
        self.web_acl = None
        self.waf_metric_name = None
        if cfg.alb_access_logs:
            self._access_log_bucket(name, stack, cfg)
        if cfg.waf:
            self._waf(name, stack, cfg, alarm_topic_arn, kms_key_arn)
        self.register_outputs({})

    def _access_log_bucket(self, name: str, stack: StackSettings, cfg: EdgeConfig) -> None:
        child = pulumi.ResourceOptions(parent=self)
        keep = stack.deletion_protection
        # With deletionProtection the logs outlive the stack (protect, and retained if ever deleted);
        # without it, destroy empties the bucket first so dev tears down cleanly.
        bucket = aws.s3.Bucket(
            f"{name}-alb-logs",
            force_destroy=not keep,
            opts=pulumi.ResourceOptions(parent=self, protect=keep, retain_on_delete=keep),
        )
        self.log_bucket = bucket
        aws.s3.BucketPublicAccessBlock(
            f"{name}-alb-logs", bucket=bucket.id, block_public_acls=True, block_public_policy=True,
            ignore_public_acls=True, restrict_public_buckets=True, opts=child)
        aws.s3.BucketOwnershipControls(
            f"{name}-alb-logs", bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"), opts=child)
        # SSE-S3: the only server-side encryption ALB access-log delivery supports (no KMS key).
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-alb-logs", bucket=bucket.id,
            rules=[aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="AES256"))],
            opts=child)
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-alb-logs", bucket=bucket.id,
            rules=[aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="expire-access-logs", status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=f"{ACCESS_LOG_PREFIX}/"),
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=cfg.alb_access_log_days))],
            opts=child)
        account = aws.get_caller_identity_output().account_id
        policy = aws.s3.BucketPolicy(
            f"{name}-alb-logs", bucket=bucket.id,
            policy=pulumi.Output.all(bucket.arn, account).apply(
                lambda values: json.dumps(access_log_bucket_policy(values[0], values[1], stack.region))),
            opts=child)
        # ELB writes a test object when logging is turned on, so the policy must exist first: the
        # bucket name reaches the load balancer only once the policy is in place.
        self.access_logs = aws.lb.LoadBalancerAccessLogsArgs(
            bucket=pulumi.Output.all(bucket.bucket, policy.id).apply(lambda values: values[0]),
            prefix=ACCESS_LOG_PREFIX,
            enabled=True,
        )

    def _waf(self, name: str, stack: StackSettings, cfg: EdgeConfig, alarm_topic_arn: pulumi.Input[str],
             kms_key_arn: pulumi.Input[str]) -> None:
        child = pulumi.ResourceOptions(parent=self)
        metric = f"{stack.name_prefix}-waf"
        self.waf_metric_name = metric
        self.web_acl = aws.wafv2.WebAcl(
            f"{name}-waf",
            # Named like its metric, so the CloudWatch dimension is the same whichever one WAF reports.
            name=metric,
            # WAF's EntityDescription pattern admits letters, digits, spaces and +=:#@/-,. only (no apostrophe).
            description=f"{stack.name_prefix}: managed rule groups and a per-IP rate limit for the app load balancer",
            scope="REGIONAL",
            default_action=aws.wafv2.WebAclDefaultActionArgs(allow=aws.wafv2.WebAclDefaultActionAllowArgs()),
            rules=web_acl_rules(stack.name_prefix, cfg.waf_rate_limit),
            visibility_config=aws.wafv2.WebAclVisibilityConfigArgs(**_visibility(metric)),
            opts=child,
        )
        # WAF accepts only CloudWatch log groups whose names start with "aws-waf-logs-".
        log_group = stack_log_group(f"aws-waf-logs-{name}", stack, kms_key_arn, self)
        aws.wafv2.WebAclLoggingConfiguration(
            f"{name}-waf-logging",
            resource_arn=self.web_acl.arn,
            # LogGroup.arn carries no ":*" suffix, which is the form WAF wants.
            log_destination_configs=[log_group.arn],
            opts=child,
        )
        aws.cloudwatch.MetricAlarm(
            f"{name}-waf-blocked",
            alarm_description=(f"{stack.name_prefix}: WAF blocked more than {cfg.waf_blocked_alarm_count} "
                               "requests in 5 minutes"),
            namespace="AWS/WAFV2",
            metric_name="BlockedRequests",
            dimensions=waf_dimensions(metric, stack.region),
            statistic="Sum",
            period=FIVE_MINUTES,
            evaluation_periods=1,
            threshold=cfg.waf_blocked_alarm_count,
            comparison_operator="GreaterThanThreshold",
            treat_missing_data="notBreaching",
            **notify(alarm_topic_arn),
            opts=child,
        )

    def protect(self, load_balancer_arn: pulumi.Input[str]) -> None:
        """Put the web ACL in front of the load balancer (once it exists); nothing without WAF."""
        if self.web_acl is None:
            return
        aws.wafv2.WebAclAssociation(
            f"{self._name}-waf-alb",
            resource_arn=load_balancer_arn,
            web_acl_arn=self.web_acl.arn,
            opts=pulumi.ResourceOptions(parent=self),
        )


def waf_dimensions(metric: str, region: str) -> dict[str, str]:
    """The whole web ACL's totals: Rule "ALL" sums every rule and the default action.

    AWS's metrics page lists the Region/Rule/WebACL dimension set for regional ACLs but does not spell
    out "ALL"; it is the value public alarms on regional ACLs use (e.g. 18F identity-pki's WAF module).
    """
    return {"WebACL": metric, "Region": region, "Rule": "ALL"}
