"""Edge: the WAF web ACL in front of the load balancer, and the load balancer's access-log bucket."""

from __future__ import annotations

import json

import pytest

from infra.edge import ACCESS_LOG_PREFIX, COUNTED_COMMON_RULES, access_log_bucket_policy, elb_log_delivery_principal
from tests.conftest import DEV_ALL_ON, shared_run, stack_file
from tests.helpers import ALB, aws_service_model, int_of
from tests.mocks import ACCOUNT

WEB_ACL = "aws:wafv2/webAcl:WebAcl"
ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
WAF_LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_PARTS = ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
                "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
                "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
                "aws:s3/bucketPolicy:BucketPolicy")
WAF_TYPES = (WEB_ACL, ASSOCIATION, WAF_LOGGING)


# -- WAF ----------------------------------------------------------------------------------------

def test_waf_exists_exactly_where_configured(run, settings):
    expected = 1 if settings["tca:waf"] else 0
    for type_ in WAF_TYPES:
        assert len(run.of_type(type_)) == expected, type_
    assert len([g for g in run.of_type(LOG_GROUP) if g.name.startswith("aws-waf-logs-")]) == expected


def test_web_acl_is_regional_and_allows_what_no_rule_blocks(prod):
    acl = prod.one(WEB_ACL).inputs
    assert acl["scope"] == "REGIONAL"
    assert acl["defaultAction"] == {"allow": {}}
    assert acl["visibilityConfig"]["cloudwatchMetricsEnabled"] is True


def test_rate_rule_blocks_each_client_ip_above_the_configured_limit_first(prod):
    rule = prod.one(WEB_ACL).inputs["rules"][0]
    assert rule["name"] == "rate-limit-per-ip" and int_of(rule["priority"]) == 0
    assert rule["action"] == {"block": {}}
    assert rule["statement"]["rateBasedStatement"] == {
        "aggregateKeyType": "IP", "limit": float(stack_file("prod")["tca:wafRateLimit"]),
        "evaluationWindowSec": 300.0}


def test_aws_managed_groups_block_known_bad_traffic(prod):
    rules = prod.one(WEB_ACL).inputs["rules"][1:]
    groups = [(r["name"], r["statement"]["managedRuleGroupStatement"]["vendorName"],
               r["statement"]["managedRuleGroupStatement"]["name"], r["overrideAction"]) for r in rules]
    assert groups == [
        ("ip-reputation", "AWS", "AWSManagedRulesAmazonIpReputationList", {"none": {}}),
        ("known-bad-inputs", "AWS", "AWSManagedRulesKnownBadInputsRuleSet", {"none": {}}),
        ("common", "AWS", "AWSManagedRulesCommonRuleSet", {"none": {}}),
    ]
    assert [int_of(r["priority"]) for r in rules] == [1, 2, 3]


def test_only_the_named_common_rules_that_would_refuse_app_traffic_are_counted(prod):
    statements = {r["name"]: r["statement"]["managedRuleGroupStatement"] for r in prod.one(WEB_ACL).inputs["rules"][1:]}
    assert statements["common"]["ruleActionOverrides"] == [
        {"name": "GenericRFI_BODY", "actionToUse": {"count": {}}}]
    assert COUNTED_COMMON_RULES == ("GenericRFI_BODY",)
    assert "ruleActionOverrides" not in statements["ip-reputation"]
    assert "ruleActionOverrides" not in statements["known-bad-inputs"]


def test_web_acl_guards_this_stacks_load_balancer_elb_16(prod):
    association = prod.one(ASSOCIATION).inputs
    assert association["resourceArn"] == prod.referenced(prod.one(ALB).outputs["loadBalancer"])["arn"]
    assert association["webAclArn"] == prod.one(WEB_ACL).outputs["arn"]


def test_waf_logs_to_a_group_waf_accepts_with_the_stacks_retention_removed_with_it(prod):
    group = next(g for g in prod.of_type(LOG_GROUP) if g.name.startswith("aws-waf-logs-"))
    assert group.outputs["name"].startswith("aws-waf-logs-tca-prod")
    assert int_of(group.inputs["retentionInDays"]) == stack_file("prod")["tca:logRetentionDays"]
    assert group.inputs.get("skipDestroy", False) is False
    logging = prod.one(WAF_LOGGING).inputs
    assert logging["resourceArn"] == prod.one(WEB_ACL).outputs["arn"]
    assert logging["logDestinationConfigs"] == [group.outputs["arn"]]
    # WAF wants the group's ARN without the ":*" some APIs append.
    assert not logging["logDestinationConfigs"][0].endswith(":*")


def test_blocked_requests_alarm_watches_the_whole_web_acl_and_notifies(prod):
    (alarm,) = [a.inputs for a in prod.of_type(ALARM) if a.inputs.get("metricName") == "BlockedRequests"]
    acl = prod.one(WEB_ACL).inputs
    assert alarm["namespace"] == "AWS/WAFV2"
    assert alarm["dimensions"] == {"WebACL": acl["visibilityConfig"]["metricName"], "Region": prod.region,
                                   "Rule": "ALL"}
    assert acl["name"] == acl["visibilityConfig"]["metricName"]
    assert alarm["statistic"] == "Sum"
    assert alarm["comparisonOperator"] == "GreaterThanThreshold"
    # alarmWafBlockedCount is requests blocked "in 5 minutes": one five-minute period.
    assert (alarm["period"], alarm["evaluationPeriods"]) == (300, 1)
    assert alarm["threshold"] == stack_file("prod")["tca:alarmWafBlockedCount"]
    topic = prod.one("aws:sns/topic:Topic").outputs["arn"]
    assert alarm["alarmActions"] == [topic] and alarm["okActions"] == [topic]


# -- ALB access logs -----------------------------------------------------------------------------

def test_access_log_bucket_exists_exactly_where_configured(run, settings):
    expected = 1 if settings["tca:albAccessLogs"] else 0
    for type_ in (BUCKET, *BUCKET_PARTS):
        assert len(run.of_type(type_)) == expected, type_
    assert ("accessLogs" in run.one(ALB).inputs) is settings["tca:albAccessLogs"]


def test_access_log_bucket_blocks_public_access_s3_8(prod):
    block = prod.one(BUCKET_PARTS[0]).inputs
    assert block == {"bucket": prod.one(BUCKET).id, "blockPublicAcls": True, "blockPublicPolicy": True,
                     "ignorePublicAcls": True, "restrictPublicBuckets": True}


def test_access_log_bucket_disables_acls_with_owner_enforced_ownership_s3_12(prod):
    assert prod.one(BUCKET_PARTS[1]).inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}


def test_access_log_bucket_uses_sse_s3_the_only_encryption_alb_delivery_supports(prod):
    rules = prod.one(BUCKET_PARTS[2]).inputs["rules"]
    assert rules == [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]


def test_access_logs_expire_after_the_configured_days(prod):
    (rule,) = prod.one(BUCKET_PARTS[3]).inputs["rules"]
    assert rule["status"] == "Enabled"
    assert rule["filter"] == {"prefix": f"{ACCESS_LOG_PREFIX}/"}
    assert int_of(rule["expiration"]["days"]) == stack_file("prod")["tca:albAccessLogDays"]


def test_bucket_policy_denies_plain_http_and_admits_only_the_regions_elb_account_s3_5(prod):
    bucket = prod.one(BUCKET).outputs
    policy = json.loads(prod.one(BUCKET_PARTS[4]).inputs["policy"])
    arn = bucket["arn"]
    assert policy["Statement"] == [
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": [arn, f"{arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Sid": "AllowElbLogDelivery", "Effect": "Allow", "Principal": elb_log_delivery_principal(prod.region),
         "Action": "s3:PutObject", "Resource": f"{arn}/alb/AWSLogs/{ACCOUNT}/*"},
    ]


@pytest.mark.parametrize("region,principal", [
    ("ap-southeast-2", {"AWS": "arn:aws:iam::783225319266:root"}),
    ("us-east-1", {"AWS": "arn:aws:iam::127311923021:root"}),
    ("us-gov-west-1", {"AWS": "arn:aws-us-gov:iam::048591011584:root"}),
    ("me-central-1", {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}),
    ("ap-southeast-4", {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}),
])
def test_log_delivery_principal_is_the_regions_elb_account_or_the_service_principal(region, principal):
    assert elb_log_delivery_principal(region) == principal
    statement = access_log_bucket_policy("arn:aws:s3:::b", "1", region)["Statement"][1]
    assert statement["Principal"] == principal


def test_load_balancer_logs_to_the_bucket_only_after_its_policy_exists_elb_5(prod):
    alb = prod.one(ALB)
    assert alb.inputs["accessLogs"] == {"bucket": prod.one(BUCKET).outputs["bucket"], "prefix": "alb",
                                        "enabled": True}
    assert prod.one(BUCKET_PARTS[4]).urn in alb.dependencies


def test_protected_stacks_keep_the_bucket_on_destroy(prod):
    bucket = prod.one(BUCKET)
    assert bucket.protect is True
    assert bucket.inputs["forceDestroy"] is False


def test_unprotected_stacks_empty_and_remove_the_bucket_on_destroy():
    run = shared_run("dev", DEV_ALL_ON)
    assert DEV_ALL_ON["tca:albAccessLogs"] is True and DEV_ALL_ON["tca:deletionProtection"] is False
    bucket = run.one(BUCKET)
    assert bucket.protect is False
    assert bucket.inputs["forceDestroy"] is True


def test_edge_children_belong_to_the_edge_component(prod):
    edge = prod.one("tca:infra:Edge").urn
    for type_ in (*WAF_TYPES, BUCKET, *BUCKET_PARTS):
        assert prod.of_type(type_), type_
        assert all(r.parent == edge for r in prod.of_type(type_)), type_


# -- names WAF accepts, checked against AWS's own API model (botocore's wafv2 service model) --------

def _waf_shape(name: str) -> dict:
    return aws_service_model("wafv2").shape_for(name).metadata


def _fits(value: str, shape: str) -> bool:
    import re

    rule = _waf_shape(shape)
    return rule["min"] <= len(value) <= rule["max"] and re.fullmatch(rule["pattern"].strip("^$"), value) is not None


def _metric_names(visibility_holders: list[dict]) -> list[str]:
    return [h["visibilityConfig"]["metricName"] for h in visibility_holders]


@pytest.mark.parametrize("stack_name", ["prod", "a-twenty-char-stack1"])
def test_web_acl_name_description_rule_and_metric_names_are_ones_waf_accepts(prod, stack_name):
    acl = prod.one(WEB_ACL).inputs
    def swap(text: str) -> str:
        # The longest stack name WAF will see, in place of prod's prefix.
        return text.replace("tca-prod", f"tca-{stack_name}")

    assert _fits(swap(acl["name"]), "EntityName")
    assert _fits(swap(acl["description"]), "EntityDescription")
    for rule in acl["rules"]:
        assert _fits(rule["name"], "EntityName"), rule["name"]
    for metric in _metric_names([acl, *acl["rules"]]):
        assert _fits(swap(metric), "MetricName"), metric


def test_the_waf_name_check_refuses_what_waf_refuses():
    assert not _fits("tca-prod: rate limit for the app's ALB", "EntityDescription")
    assert not _fits("tca prod", "EntityName")
