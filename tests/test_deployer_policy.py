"""iam/deployer-policy-*.json grant what `pulumi up` and `pulumi destroy` of both stacks need, and no more
than the rules allow. Every resource type the program creates, including those the awsx components
create at deploy time, must map to actions here, so a new resource type fails this test until the
policy covers it."""

from __future__ import annotations

import json

import pytest

from tests.conftest import shared_run, stack_run
from tests.mocks import ROOT, Run

# Two customer-managed policies: one inline policy would pass a role's 10,240-character limit
# together with the state policy, and a user or group (a laptop deploy) takes far smaller inline ones.
POLICY_FILES = sorted((ROOT / "iam").glob("deployer-policy-*.json"))
DOCUMENTS = {path.name: json.loads(path.read_text()) for path in POLICY_FILES}
POLICY = {"Version": "2012-10-17", "Statement": [s for doc in DOCUMENTS.values() for s in doc["Statement"]]}

# Children the awsx components create during a real deployment (awsx documentation and source):
# Vpc: the VPC, its subnets, route tables and associations, routes, internet gateway, NAT gateways and
# their Elastic IPs. ApplicationLoadBalancer: the load balancer, the default target group and listeners
# (no security group: this program passes its own). FargateService: the ECS service and its task
# definition (no roles or log group: this program passes or skips them). FargateTaskDefinition: the task
# definition.
AWSX_CHILDREN = {
    "awsx:ec2:Vpc": ["aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/routeTable:RouteTable",
                     "aws:ec2/routeTableAssociation:RouteTableAssociation", "aws:ec2/route:Route",
                     "aws:ec2/internetGateway:InternetGateway", "aws:ec2/natGateway:NatGateway",
                     "aws:ec2/eip:Eip"],
    "awsx:lb:ApplicationLoadBalancer": ["aws:lb/loadBalancer:LoadBalancer", "aws:lb/targetGroup:TargetGroup",
                                        "aws:lb/listener:Listener"],
    "awsx:ecs:FargateService": ["aws:ecs/service:Service", "aws:ecs/taskDefinition:TaskDefinition"],
    "awsx:ecs:FargateTaskDefinition": ["aws:ecs/taskDefinition:TaskDefinition"],
}

LB = ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags", "elasticloadbalancing:DescribeTags"]
# Per resource type: create, delete, and the reads the provider needs to refresh and diff it.
REQUIRED: dict[str, list[str]] = {
    "aws:ec2/vpc:Vpc": ["ec2:CreateVpc", "ec2:DeleteVpc", "ec2:DescribeVpcs", "ec2:ModifyVpcAttribute",
                        "ec2:DescribeVpcAttribute", "ec2:CreateTags"],
    "aws:ec2/subnet:Subnet": ["ec2:CreateSubnet", "ec2:DeleteSubnet", "ec2:DescribeSubnets",
                              "ec2:ModifySubnetAttribute"],
    "aws:ec2/routeTable:RouteTable": ["ec2:CreateRouteTable", "ec2:DeleteRouteTable", "ec2:DescribeRouteTables"],
    "aws:ec2/routeTableAssociation:RouteTableAssociation": ["ec2:AssociateRouteTable",
                                                            "ec2:DisassociateRouteTable"],
    "aws:ec2/route:Route": ["ec2:CreateRoute", "ec2:DeleteRoute", "ec2:DescribeRouteTables"],
    "aws:ec2/internetGateway:InternetGateway": ["ec2:CreateInternetGateway", "ec2:DeleteInternetGateway",
                                                "ec2:AttachInternetGateway", "ec2:DetachInternetGateway",
                                                "ec2:DescribeInternetGateways"],
    "aws:ec2/natGateway:NatGateway": ["ec2:CreateNatGateway", "ec2:DeleteNatGateway", "ec2:DescribeNatGateways"],
    "aws:ec2/eip:Eip": ["ec2:AllocateAddress", "ec2:ReleaseAddress", "ec2:DescribeAddresses"],
    "aws:ec2/securityGroup:SecurityGroup": ["ec2:CreateSecurityGroup", "ec2:DeleteSecurityGroup",
                                            "ec2:DescribeSecurityGroups", "ec2:RevokeSecurityGroupEgress",
                                            "ec2:DescribeNetworkInterfaces"],
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": [
        "ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "ec2:DescribeSecurityGroupRules"],
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": [
        "ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupEgress", "ec2:DescribeSecurityGroupRules"],
    "aws:lb/loadBalancer:LoadBalancer": ["elasticloadbalancing:CreateLoadBalancer",
                                         "elasticloadbalancing:DeleteLoadBalancer",
                                         "elasticloadbalancing:DescribeLoadBalancers",
                                         "elasticloadbalancing:ModifyLoadBalancerAttributes",
                                         "elasticloadbalancing:DescribeLoadBalancerAttributes", *LB],
    "aws:lb/targetGroup:TargetGroup": ["elasticloadbalancing:CreateTargetGroup",
                                       "elasticloadbalancing:DeleteTargetGroup",
                                       "elasticloadbalancing:DescribeTargetGroups",
                                       "elasticloadbalancing:ModifyTargetGroupAttributes",
                                       "elasticloadbalancing:DescribeTargetGroupAttributes", *LB],
    "aws:lb/listener:Listener": ["elasticloadbalancing:CreateListener", "elasticloadbalancing:DeleteListener",
                                 "elasticloadbalancing:DescribeListeners", "elasticloadbalancing:ModifyListener",
                                 *LB],
    "aws:lb/listenerRule:ListenerRule": ["elasticloadbalancing:CreateRule", "elasticloadbalancing:DeleteRule",
                                         "elasticloadbalancing:DescribeRules", "elasticloadbalancing:ModifyRule",
                                         *LB],
    "aws:ecs/cluster:Cluster": ["ecs:CreateCluster", "ecs:DeleteCluster", "ecs:DescribeClusters",
                                "ecs:UpdateCluster", "ecs:TagResource"],
    # With the ECS deployment controller the provider waits on the service's deployments, which it reads
    # with ListServiceDeployments and DescribeServiceDeployments (terraform-provider-aws, ecs/service.go).
    "aws:ecs/service:Service": ["ecs:CreateService", "ecs:DeleteService", "ecs:DescribeServices",
                                "ecs:UpdateService", "ecs:TagResource", "ecs:ListServiceDeployments",
                                "ecs:DescribeServiceDeployments"],
    "aws:ecs/taskDefinition:TaskDefinition": ["ecs:RegisterTaskDefinition", "ecs:DeregisterTaskDefinition",
                                              "ecs:DescribeTaskDefinition", "iam:PassRole"],
    "aws:cloudwatch/logGroup:LogGroup": ["logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:DescribeLogGroups",
                                         "logs:PutRetentionPolicy", "logs:ListTagsForResource",
                                         "logs:AssociateKmsKey", "logs:DisassociateKmsKey"],
    "aws:iam/role:Role": ["iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:ListRolePolicies",
                          "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole", "iam:TagRole"],
    "aws:iam/rolePolicy:RolePolicy": ["iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:GetRolePolicy"],
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ["iam:AttachRolePolicy", "iam:DetachRolePolicy",
                                                          "iam:ListAttachedRolePolicies"],
    "aws:rds/subnetGroup:SubnetGroup": ["rds:CreateDBSubnetGroup", "rds:DeleteDBSubnetGroup",
                                        "rds:DescribeDBSubnetGroups", "rds:AddTagsToResource"],
    "aws:rds/parameterGroup:ParameterGroup": ["rds:CreateDBParameterGroup", "rds:DeleteDBParameterGroup",
                                              "rds:DescribeDBParameterGroups", "rds:ModifyDBParameterGroup",
                                              "rds:DescribeDBParameters"],
    "aws:rds/instance:Instance": ["rds:CreateDBInstance", "rds:DeleteDBInstance", "rds:DescribeDBInstances",
                                  "rds:ModifyDBInstance", "rds:CreateDBSnapshot", "rds:ListTagsForResource",
                                  "rds:AddTagsToResource"],
    "aws:rds/proxy:Proxy": ["rds:CreateDBProxy", "rds:DeleteDBProxy", "rds:DescribeDBProxies",
                            "rds:ModifyDBProxy", "iam:PassRole"],
    "aws:rds/proxyDefaultTargetGroup:ProxyDefaultTargetGroup": ["rds:ModifyDBProxyTargetGroup",
                                                                "rds:DescribeDBProxyTargetGroups"],
    "aws:rds/proxyTarget:ProxyTarget": ["rds:RegisterDBProxyTargets", "rds:DeregisterDBProxyTargets",
                                        "rds:DescribeDBProxyTargets"],
    "aws:secretsmanager/secret:Secret": ["secretsmanager:CreateSecret", "secretsmanager:DeleteSecret",
                                         "secretsmanager:DescribeSecret", "secretsmanager:GetResourcePolicy"],
    "aws:secretsmanager/secretVersion:SecretVersion": ["secretsmanager:PutSecretValue",
                                                       "secretsmanager:GetSecretValue",
                                                       "secretsmanager:UpdateSecretVersionStage"],
    "aws:appautoscaling/target:Target": ["application-autoscaling:RegisterScalableTarget",
                                         "application-autoscaling:DeregisterScalableTarget",
                                         "application-autoscaling:DescribeScalableTargets"],
    "aws:appautoscaling/policy:Policy": ["application-autoscaling:PutScalingPolicy",
                                         "application-autoscaling:DeleteScalingPolicy",
                                         "application-autoscaling:DescribeScalingPolicies"],
    "aws:sns/topic:Topic": ["sns:CreateTopic", "sns:DeleteTopic", "sns:GetTopicAttributes",
                            "sns:SetTopicAttributes"],
    "aws:sns/topicSubscription:TopicSubscription": ["sns:Subscribe", "sns:Unsubscribe",
                                                    "sns:GetSubscriptionAttributes"],
    "aws:cloudwatch/metricAlarm:MetricAlarm": ["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms",
                                               "cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource"],
    "aws:cloudwatch/dashboard:Dashboard": ["cloudwatch:PutDashboard", "cloudwatch:DeleteDashboards",
                                           "cloudwatch:GetDashboard"],
    "aws:acm/certificate:Certificate": ["acm:RequestCertificate", "acm:DeleteCertificate",
                                        "acm:DescribeCertificate", "acm:ListTagsForCertificate"],
    "aws:acm/certificateValidation:CertificateValidation": ["acm:DescribeCertificate"],
    "aws:route53/record:Record": ["route53:ChangeResourceRecordSets", "route53:GetChange",
                                  "route53:ListResourceRecordSets"],
    # The seed provider: run the task, wait for it, stop it on timeout.
    "pulumi-python:dynamic/seed:DatabaseSeed": ["ecs:RunTask", "ecs:DescribeTasks", "ecs:StopTask",
                                                "iam:PassRole"],
    "aws:ecr/pullThroughCacheRule:PullThroughCacheRule": ["ecr:CreatePullThroughCacheRule",
                                                          "ecr:DeletePullThroughCacheRule",
                                                          "ecr:DescribePullThroughCacheRules",
                                                          "ecr:UpdatePullThroughCacheRule"],
    # Deploy-time steps: wait for the proxy's target; read the service's deployments.
    "pulumi-python:dynamic/proxy:ProxyReady": ["rds:DescribeDBProxyTargets"],
    "pulumi-python:dynamic/release:RolloutCheck": ["ecs:DescribeServices"],
    # Security hardening (issue 11): the stack's key, flow logs, the adopted default security group.
    "aws:kms/key:Key": ["kms:CreateKey", "kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy",
                        "kms:GetKeyRotationStatus", "kms:EnableKeyRotation", "kms:ListResourceTags",
                        "kms:TagResource", "kms:UpdateKeyDescription", "kms:ScheduleKeyDeletion"],
    "aws:kms/alias:Alias": ["kms:CreateAlias", "kms:DeleteAlias", "kms:ListAliases", "kms:UpdateAlias"],
    "aws:ec2/flowLog:FlowLog": ["ec2:CreateFlowLogs", "ec2:DeleteFlowLogs", "ec2:DescribeFlowLogs", "ec2:CreateTags",
                                "iam:PassRole"],
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": ["ec2:DescribeSecurityGroups",
                                                          "ec2:RevokeSecurityGroupIngress",
                                                          "ec2:RevokeSecurityGroupEgress", "ec2:CreateTags"],
    # Issue 10: Fargate Spot, the ALB access-log bucket, the web ACL (the ALB's access_logs attribute is
    # ModifyLoadBalancerAttributes, already listed). Destroying the bucket with force_destroy empties it.
    "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders": ["ecs:PutClusterCapacityProviders",
                                                                  "ecs:DescribeClusters"],
    "aws:s3/bucket:Bucket": ["s3:CreateBucket", "s3:DeleteBucket", "s3:ListBucket", "s3:GetBucketTagging",
                             "s3:PutBucketTagging", "s3:GetBucketAcl", "s3:GetBucketVersioning",
                             "s3:ListBucketVersions", "s3:DeleteObject", "s3:DeleteObjectVersion"],
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": ["s3:PutBucketPublicAccessBlock",
                                                               "s3:GetBucketPublicAccessBlock"],
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": ["s3:PutBucketOwnershipControls",
                                                               "s3:GetBucketOwnershipControls"],
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": [
        "s3:PutEncryptionConfiguration", "s3:GetEncryptionConfiguration"],
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": ["s3:PutLifecycleConfiguration",
                                                                         "s3:GetLifecycleConfiguration"],
    "aws:s3/bucketPolicy:BucketPolicy": ["s3:PutBucketPolicy", "s3:GetBucketPolicy", "s3:DeleteBucketPolicy"],
    "aws:wafv2/webAcl:WebAcl": ["wafv2:CreateWebACL", "wafv2:DeleteWebACL", "wafv2:GetWebACL",
                                "wafv2:UpdateWebACL", "wafv2:ListTagsForResource"],
    "aws:wafv2/webAclAssociation:WebAclAssociation": ["wafv2:AssociateWebACL", "wafv2:DisassociateWebACL",
                                                      "wafv2:GetWebACLForResource",
                                                      "elasticloadbalancing:SetWebAcl"],
    # WAF writes to CloudWatch Logs through a log delivery and a resource policy on the group.
    "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration": [
        "wafv2:PutLoggingConfiguration", "wafv2:DeleteLoggingConfiguration", "wafv2:GetLoggingConfiguration",
        "logs:CreateLogDelivery", "logs:DeleteLogDelivery", "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies", "logs:DescribeLogGroups"],
    # Provider-level calls: the account and the availability zones awsx spreads subnets over.
    "provider": ["sts:GetCallerIdentity", "ec2:DescribeAvailabilityZones"],
}
# Resources that touch no AWS API.
NO_AWS = {"random:index/randomPassword:RandomPassword", "random:index/randomId:RandomId"}


def _granted() -> set[str]:
    actions = set()
    for statement in POLICY["Statement"]:
        assert statement["Effect"] == "Allow"
        listed = statement["Action"]
        actions |= set([listed] if isinstance(listed, str) else listed)
    return actions


# Lookups the program makes itself during preview and up (data sources), and what each calls.
INVOKES: dict[str, list[str]] = {
    # sts:GetCallerIdentity needs no permission: AWS answers it for any valid credentials.
    "aws:index/getCallerIdentity:getCallerIdentity": [],
    "aws:rds/getEngineVersion:getEngineVersion": ["rds:DescribeDBEngineVersions"],
    "aws:rds/getOrderableDbInstance:getOrderableDbInstance": ["rds:DescribeOrderableDBInstanceOptions"],
}


@pytest.fixture(scope="module")
def runs() -> list[Run]:
    """dev, prod, prod with HTTPS, dev with an alarm email and dev with the pull-through cache."""
    return [stack_run("dev"), stack_run("prod"),
            shared_run("prod", {"tca:domainName": "todo.example.com", "tca:hostedZoneId": "Z0123456789ABCDEFGHIJ"}),
            shared_run("dev", {"tca:alarmEmail": "ops@example.com"}),
            shared_run("dev", {"tca:dockerHubCredentialsSecretArn": (
                "arn:aws:secretsmanager:ap-southeast-2:123456789012:secret:ecr-pullthroughcache/docker-hub-AbC123")})]


@pytest.fixture(scope="module")
def deployed_types(runs: list[Run]) -> set[str]:
    """Every resource type the runs register, with the children awsx creates in their place."""
    types = {"provider"}
    for run in runs:
        assert run.error is None, run.error
        for r in run.registrations:
            if r.type.startswith("tca:infra:"):
                continue
            types |= set(AWSX_CHILDREN.get(r.type, [r.type]))
    return types - NO_AWS


def test_every_deployed_resource_type_is_mapped_to_its_actions(deployed_types):
    assert deployed_types - set(REQUIRED) == set(), "add the new types' actions to REQUIRED and the policy"


def test_policy_grants_create_delete_and_read_for_every_deployed_type(deployed_types):
    granted = _granted()
    missing = {t: sorted(set(REQUIRED[t]) - granted) for t in deployed_types if set(REQUIRED[t]) - granted}
    assert missing == {}


def test_policy_grants_every_lookup_the_program_makes(runs):
    invoked = {token for run in runs for token in run.invoked}
    assert invoked - set(INVOKES) == set(), "add the new lookups' actions to INVOKES and the policy"
    assert {t: sorted(set(INVOKES[t]) - _granted()) for t in invoked if set(INVOKES[t]) - _granted()} == {}


def test_policy_has_no_wildcard_actions():
    assert [a for a in _granted() if "*" in a] == []


def test_iam_permissions_are_limited_to_this_projects_roles():
    for statement in POLICY["Statement"]:
        actions = statement["Action"]
        iam = [a for a in actions if a.startswith("iam:") and a != "iam:CreateServiceLinkedRole"]
        if iam:
            assert statement["Resource"] == "arn:aws:iam::*:role/tca-*", statement["Sid"]


def test_pass_role_goes_only_to_the_services_that_assume_the_stacks_roles():
    (statement,) = [s for s in POLICY["Statement"] if "iam:PassRole" in s["Action"]]
    assert statement["Action"] == ["iam:PassRole"]
    assert statement["Resource"] == "arn:aws:iam::*:role/tca-*"
    # Tasks, the RDS Proxy, RDS enhanced monitoring, VPC flow logs, and ECS itself (the canary's
    # load-balancer role).
    assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": [
        "ecs-tasks.amazonaws.com", "rds.amazonaws.com", "monitoring.rds.amazonaws.com",
        "vpc-flow-logs.amazonaws.com", "ecs.amazonaws.com"]}}


def test_service_linked_roles_only_for_the_services_used():
    (statement,) = [s for s in POLICY["Statement"] if "iam:CreateServiceLinkedRole" in s["Action"]]
    names = statement["Condition"]["StringEquals"]["iam:AWSServiceName"]
    # pullthroughcache.ecr: ECR's role that reads the Docker Hub secret for the pull-through cache.
    assert set(names) == {"ecs.amazonaws.com", "elasticloadbalancing.amazonaws.com", "rds.amazonaws.com",
                          "ecs.application-autoscaling.amazonaws.com", "pullthroughcache.ecr.amazonaws.com"}


def test_secrets_are_limited_to_this_projects_secrets():
    for statement in POLICY["Statement"]:
        if any(a.startswith("secretsmanager:") for a in statement["Action"]):
            assert statement["Resource"] == "arn:aws:secretsmanager:*:*:secret:tca-*"


def test_deployer_policy_is_two_managed_policies_each_within_awss_size_limit():
    # AWS counts a managed policy's characters without whitespace: at most 6,144 each.
    assert sorted(DOCUMENTS) == ["deployer-policy-data-operations.json", "deployer-policy-network-compute.json"]
    for name, document in DOCUMENTS.items():
        assert document["Version"] == "2012-10-17", name
        assert len(json.dumps(document, separators=(",", ":"))) <= 6_144, name


def test_statement_ids_are_unique_across_the_policies():
    sids = [s["Sid"] for s in POLICY["Statement"]]
    assert len(sids) == len(set(sids))

def test_every_statement_lists_its_actions_and_uses_no_negation():
    # The scope tests below walk each statement's Action list; a bare string would slip past them,
    # and NotAction / NotResource grant everything not named.
    for statement in POLICY["Statement"]:
        assert isinstance(statement["Action"], list), statement["Sid"]
        assert "NotAction" not in statement and "NotResource" not in statement, statement["Sid"]


def test_log_group_permissions_reach_every_log_group_the_stack_creates(runs):
    # The provider acts on both forms of a group's ARN: with and without the trailing ":*".
    import fnmatch
    (statement,) = [s for s in POLICY["Statement"] if "logs:CreateLogGroup" in s["Action"]]
    groups = {r.outputs["name"] for run in runs for r in run.of_type("aws:cloudwatch/logGroup:LogGroup")}
    assert any(g.startswith("aws-waf-logs-") for g in groups) and any(g.startswith("/aws/rds/") for g in groups)
    for group in groups:
        arn = f"arn:aws:logs:ap-southeast-2:123456789012:log-group:{group}"
        for form in (arn, arn + ":*"):
            assert any(fnmatch.fnmatchcase(form, pattern) for pattern in statement["Resource"]), form
