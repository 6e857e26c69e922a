"""iam/deployer-<stack>-policy-*.json grant what `pulumi up` and `pulumi destroy` of that stack need, and
no more than the rules allow: names inside the stack's own prefix, roles only with the stack's permissions
boundary (iam/workload-boundary-<stack>.json), key administration only through the stack's key policy.
Every resource type the program creates, including those the awsx components create at deploy time, must
map to actions here, so a new resource type fails this test until the policy covers it."""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any

import pulumi
import pytest

from infra.keys import KEY_ADMIN_ACTIONS
from infra.tags import DEPLOYMENT_TAG
from tests.conftest import DEV_ALL_ON, DOCKER_HUB_SECRET, PROD_CHANGED, run_where, shared_run, stack_run
from tests.helpers import plain
from tests.layered import WITH_PROXY, layered
from tests.mocks import ACCOUNT, EXISTING_VPC_SETTINGS, ROOT, Run, stack_region
from tests.policy_resources import policy_resources

# Both stack files deploy to one region (tests/test_workflows.py); the policies must work in it.
REGION = stack_region("dev")

STACKS = ("dev", "prod")
OTHER = {"dev": "prod", "prod": "dev"}
IAM = ROOT / "iam"


def _load(path) -> dict:
    return json.loads(path.read_text())


# Three customer-managed policies per stack: one inline policy would pass a role's 10,240-character limit
# together with the state policy, and a user or group (a laptop deploy) takes far smaller inline ones.
def _documents(stack: str) -> dict[str, dict]:
    return {p.name: _load(p) for p in sorted(IAM.glob(f"deployer-{stack}-policy-*.json"))}


def _statements(stack: str) -> list[dict]:
    return [s for doc in _documents(stack).values() for s in doc["Statement"]]


def _allows(stack: str) -> list[dict]:
    return [s for s in _statements(stack) if s["Effect"] == "Allow"]


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _boundary(stack: str) -> dict:
    return _load(IAM / f"workload-boundary-{stack}.json")


def _covered(statements: list[dict], action: str, resource: str) -> bool:
    """Whether an Allow among `statements` names `action` for `resource` (IAM's * and ? wildcards)."""
    return any(s["Effect"] == "Allow" and action in _as_list(s["Action"])
               and any(fnmatch.fnmatchcase(resource, pattern) for pattern in _as_list(s["Resource"]))
               for s in statements)


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
    # The database bootstrap (infra/bootstrap_provider.py): the app credential's first value (DescribeSecret,
    # GetRandomPassword, PutSecretValue) or its corrected connection fields (GetSecretValue), then the task.
    "pulumi-python:dynamic/bootstrap:DatabaseBootstrap": [
        "secretsmanager:DescribeSecret", "secretsmanager:GetRandomPassword", "secretsmanager:PutSecretValue",
        "secretsmanager:GetSecretValue", "ecs:RunTask", "ecs:DescribeTasks", "ecs:StopTask", "iam:PassRole"],
    # Deploy-time steps: wait for the proxy's target; read the service's deployments.
    "pulumi-python:dynamic/proxy:ProxyReady": ["rds:DescribeDBProxyTargets"],
    "pulumi-python:dynamic/release:RolloutCheck": ["ecs:DescribeServices"],
    # Security hardening: the stack's key, flow logs, the adopted default security group.
    # All but CreateKey come from the key's own policy (KEY_ADMIN_ACTIONS, infra/keys.py).
    "aws:kms/key:Key": ["kms:CreateKey", "kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy",
                        "kms:GetKeyRotationStatus", "kms:EnableKeyRotation", "kms:ListResourceTags",
                        "kms:TagResource", "kms:UpdateKeyDescription", "kms:ScheduleKeyDeletion"],
    "aws:kms/alias:Alias": ["kms:CreateAlias", "kms:DeleteAlias", "kms:ListAliases", "kms:UpdateAlias"],
    "aws:ec2/flowLog:FlowLog": ["ec2:CreateFlowLogs", "ec2:DeleteFlowLogs", "ec2:DescribeFlowLogs", "ec2:CreateTags",
                                "iam:PassRole"],
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": ["ec2:DescribeSecurityGroups",
                                                          "ec2:RevokeSecurityGroupIngress",
                                                          "ec2:RevokeSecurityGroupEgress", "ec2:CreateTags"],
    # Release safety and edge: Fargate Spot, the ALB access-log bucket, the web ACL (the ALB's access_logs attribute is
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
    # AWS's rotation function, a Serverless Application Repository stack (terraform-provider-aws
    # serverlessrepo/cloudformation_stack.go: CreateCloudFormationChangeSet, DescribeChangeSet, ExecuteChangeSet by
    # the caller, DescribeStacks, GetApplication on read, DeleteStack). The repository creates the change set and
    # CloudFormation runs it with the caller's credentials: the template from the repository's bucket, the
    # function's role, the function, its invoke permission (AWS managed policy SecretsManagerReadWrite lists the
    # change-set, S3 and Lambda actions; "To create new rotation functions, you must also have permission to create
    # AWS CloudFormation stacks and AWS Lambda execution roles").
    "aws:serverlessrepository/cloudFormationStack:CloudFormationStack": [
        "serverlessrepo:CreateCloudFormationChangeSet", "serverlessrepo:GetApplication",
        "cloudformation:CreateChangeSet", "cloudformation:DescribeChangeSet", "cloudformation:ExecuteChangeSet",
        "cloudformation:DescribeStacks", "cloudformation:DeleteStack", "s3:GetObject", "iam:CreateRole",
        "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:PassRole", "iam:DeleteRole", "iam:DeleteRolePolicy",
        "iam:DetachRolePolicy", "lambda:CreateFunction", "lambda:DeleteFunction", "lambda:GetFunction",
        "lambda:AddPermission", "lambda:RemovePermission"],
    # RotateSecret on create and update, CancelRotateSecret on delete, DescribeSecret on read; "You also need
    # lambda:InvokeFunction permissions on the rotation function" (Secrets Manager API Reference, RotateSecret).
    "aws:secretsmanager/secretRotation:SecretRotation": ["secretsmanager:RotateSecret",
                                                         "secretsmanager:CancelRotateSecret",
                                                         "secretsmanager:DescribeSecret", "lambda:InvokeFunction"],
    "aws:scheduler/scheduleGroup:ScheduleGroup": ["scheduler:CreateScheduleGroup", "scheduler:DeleteScheduleGroup",
                                                  "scheduler:GetScheduleGroup", "scheduler:ListTagsForResource"],
    "aws:scheduler/schedule:Schedule": ["scheduler:CreateSchedule", "scheduler:DeleteSchedule",
                                        "scheduler:GetSchedule", "scheduler:UpdateSchedule", "iam:PassRole"],
    "aws:cloudwatch/eventRule:EventRule": ["events:PutRule", "events:DeleteRule", "events:DescribeRule",
                                           "events:ListTagsForResource"],
    "aws:cloudwatch/eventTarget:EventTarget": ["events:PutTargets", "events:RemoveTargets",
                                               "events:ListTargetsByRule"],
    "aws:cloudwatch/logMetricFilter:LogMetricFilter": ["logs:PutMetricFilter", "logs:DeleteMetricFilter",
                                                       "logs:DescribeMetricFilters"],
    "aws:sns/topicPolicy:TopicPolicy": ["sns:SetTopicAttributes", "sns:GetTopicAttributes"],
    # Provider-level calls: the account and the availability zones awsx spreads subnets over.
    "provider": ["sts:GetCallerIdentity", "ec2:DescribeAvailabilityZones"],
}
# Resources that touch no AWS API.
NO_AWS = {"random:index/randomPassword:RandomPassword", "random:index/randomId:RandomId"}


# Lookups the program makes itself during preview and up (data sources), and what each calls.
INVOKES: dict[str, list[str]] = {
    # sts:GetCallerIdentity needs no permission: AWS answers it for any valid credentials.
    "aws:index/getCallerIdentity:getCallerIdentity": [],
    "aws:rds/getEngineVersion:getEngineVersion": ["rds:DescribeDBEngineVersions"],
    "aws:rds/getOrderableDbInstance:getOrderableDbInstance": ["rds:DescribeOrderableDBInstanceOptions"],
    # An existing VPC is checked during preview (infra/config/vpc_lookup.py, vpc_subnets_usable).
    "aws:ec2/getVpc:getVpc": ["ec2:DescribeVpcs", "ec2:DescribeVpcAttribute"],
    "aws:ec2/getSubnet:getSubnet": ["ec2:DescribeSubnets"],
    "aws:ec2/getRouteTable:getRouteTable": ["ec2:DescribeRouteTables"],
}


def _granted(stack: str) -> set[str]:
    """What the stack's deployer may do: its policies' Allow statements, and its key's policy."""
    actions = set(KEY_ADMIN_ACTIONS)
    for statement in _allows(stack):
        actions |= set(_as_list(statement["Action"]))
    return actions


# Extra renders per stack: dev with every option on, and with only the pull-through cache; prod with HTTPS and
# its other changed values (tests/conftest.py).
VARIANTS: dict[str, list[dict[str, Any]]] = {
    "dev": [DEV_ALL_ON, {"tca:dockerHubCredentialsSecretArn": DOCKER_HUB_SECRET}],
    "prod": [PROD_CHANGED],
}
# Whatever a stack file says, each deployer must deploy a stack whose app credential rotates (its function,
# schedule and rules) under the RDS-managed master (RDS's own secret): the committed render when the file says so.
ROTATING_UNDER_RDS_MASTER: dict[str, Any] = {"tca:dbProxy": False, "tca:dbManagedMasterPassword": True}


def _runs(stack: str) -> list[Run]:
    """The stack, its variants, and (prod) its three layers and a deployment into an existing VPC: one deployer
    per stack deploys every layer of that stack's deployment (docs/layers.md)."""
    runs = [stack_run(stack), run_where(stack, ROTATING_UNDER_RDS_MASTER),
            *[shared_run(stack, overrides) for overrides in VARIANTS[stack]]]
    if stack == "prod":
        # With RDS Proxy, as the layer tests render them (tests/test_layers.py): the same renders serve both.
        runs += [*layered("prod", WITH_PROXY).values(), shared_run("prod", {**EXISTING_VPC_SETTINGS, **WITH_PROXY})]
    return runs


@pytest.fixture(scope="module", params=STACKS)
def stack(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def runs(stack: str) -> list[Run]:
    return _runs(stack)


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


def test_policy_grants_create_delete_and_read_for_every_deployed_type(stack, deployed_types):
    granted = _granted(stack)
    missing = {t: sorted(set(REQUIRED[t]) - granted) for t in deployed_types if set(REQUIRED[t]) - granted}
    assert missing == {}


def test_policy_grants_every_lookup_the_program_makes(stack, runs):
    invoked = {token for run in runs for token in run.invoked}
    assert invoked - set(INVOKES) == set(), "add the new lookups' actions to INVOKES and the policy"
    granted = _granted(stack)
    assert {t: sorted(set(INVOKES[t]) - granted) for t in invoked if set(INVOKES[t]) - granted} == {}


def test_the_deploy_time_checks_read_the_services_deployments(stack):
    # The release check reads ECS's service deployments (ListServiceDeployments, DescribeServiceDeployments).
    assert {"ecs:ListServiceDeployments", "ecs:DescribeServiceDeployments"} <= _granted(stack)


@pytest.mark.parametrize("stack", STACKS)
def test_policy_grants_no_wildcard_actions(stack):
    assert [a for s in _allows(stack) for a in _as_list(s["Action"]) if "*" in a] == []


# -- roles: only ever with the stack's boundary ---------------------------------------------------

def _role_arn(stack: str) -> str:
    return f"arn:aws:iam::*:role/tca-{stack}-*"


def _boundary_condition(stack: str) -> dict:
    return {"StringEquals": {"iam:PermissionsBoundary":
                             f"arn:aws:iam::ACCOUNT_ID:policy/tca-{stack}-workload-boundary"}}


# The AWS managed policies the program attaches (infra/service.py, database.py, release.py).
MANAGED_POLICIES = ["arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
                    "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole",
                    "arn:aws:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"]
# The IAM actions that accept iam:PermissionsBoundary (IAM User Guide, "Condition keys for IAM": it
# "checks that a specific policy is attached as a permissions boundary on the IAM principal resource").
BOUNDED = ["iam:AttachRolePolicy", "iam:CreateRole", "iam:DeleteRolePolicy", "iam:DetachRolePolicy",
           "iam:PutRolePermissionsBoundary", "iam:PutRolePolicy"]


@pytest.mark.parametrize("stack", STACKS)
def test_roles_are_created_or_given_policies_only_with_the_stacks_boundary(stack):
    # Every statement but the rotation function's exception (tested exactly below).
    for statement in _allows(stack):
        if statement["Sid"] in SAR_ROLE_EXCEPTION:
            continue
        for action in set(_as_list(statement["Action"])) & set(BOUNDED):
            assert statement["Resource"] == _role_arn(stack), statement["Sid"]
            condition = dict(statement["Condition"])
            policy_arns = condition.pop("ArnEquals", None)
            assert condition == _boundary_condition(stack), (statement["Sid"], action)
            if action == "iam:AttachRolePolicy":
                assert policy_arns == {"iam:PolicyARN": MANAGED_POLICIES}
            else:
                assert policy_arns is None, statement["Sid"]
    assert set(BOUNDED) <= _granted(stack)


# -- the one unbounded role: the rotation function's, created by AWS's template through CloudFormation ---------

# The Serverless Application Repository application's template creates the function's role with no permissions
# boundary and has no parameter for one (aws-samples/aws-secrets-manager-rotation-lambdas#27). CloudFormation
# creates it with the caller's credentials, and names it `<stack>-<logical ID>-<suffix>`, the stack name cut
# short when the logical ID is long: `serverlessrepo-NewRelic-l-NewRelicLogIngestionFunct-izPFLMbHJpsq` keeps 25
# characters of it, enough for `serverlessrepo-tca-<stack>-`.
SAR_PUBLISHER = "297356227824"
SAR_APPLICATION = f"arn:aws:serverlessrepo:*:{SAR_PUBLISHER}:applications/SecretsManagerRDSPostgreSQLRotationMultiUser"
SAR_ROLE_EXCEPTION = ("RotationFunctionRoleOnlyThroughCloudFormation",
                      "RotationFunctionRoleManagedPoliciesOnlyThroughCloudFormation",
                      "PassRotationFunctionRoleOnlyToLambdaThroughCloudFormation")
VIA_CLOUDFORMATION = {"ForAnyValue:StringEquals": {"aws:CalledVia": ["cloudformation.amazonaws.com"]}}
# The AWS managed policies SAM attaches to a function's generated role: the basic execution role always, the VPC
# access role for a function in a VPC.
LAMBDA_MANAGED_POLICIES = ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
                           "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"]


def _sar_role_arn(stack: str) -> str:
    return f"arn:aws:iam::*:role/serverlessrepo-tca-{stack}-*"


def _sar_stack_arn(stack: str) -> str:
    return f"arn:aws:cloudformation:*:*:stack/serverlessrepo-tca-{stack}-*/*"


def _by_sid(stack: str, sid: str) -> dict:
    return _by_sid_in(_statements(stack), sid)


@pytest.mark.parametrize("stack", STACKS)
def test_the_rotation_functions_role_is_managed_only_by_cloudformation_and_only_under_its_own_names(stack):
    assert _by_sid(stack, "RotationFunctionRoleOnlyThroughCloudFormation") == {
        "Sid": "RotationFunctionRoleOnlyThroughCloudFormation", "Effect": "Allow",
        "Action": ["iam:CreateRole", "iam:DeleteRole", "iam:DeleteRolePolicy", "iam:GetRole", "iam:GetRolePolicy",
                   "iam:ListAttachedRolePolicies", "iam:ListRolePolicies", "iam:PutRolePolicy", "iam:TagRole",
                   "iam:UntagRole"],
        "Resource": _sar_role_arn(stack), "Condition": VIA_CLOUDFORMATION}


@pytest.mark.parametrize("stack", STACKS)
def test_the_rotation_functions_role_gets_only_lambdas_two_basic_managed_policies(stack):
    assert _by_sid(stack, "RotationFunctionRoleManagedPoliciesOnlyThroughCloudFormation") == {
        "Sid": "RotationFunctionRoleManagedPoliciesOnlyThroughCloudFormation", "Effect": "Allow",
        "Action": ["iam:AttachRolePolicy", "iam:DetachRolePolicy"], "Resource": _sar_role_arn(stack),
        "Condition": {**VIA_CLOUDFORMATION, "ArnEquals": {"iam:PolicyARN": LAMBDA_MANAGED_POLICIES}}}


@pytest.mark.parametrize("stack", STACKS)
def test_the_rotation_functions_role_is_passed_only_to_lambda_and_only_by_cloudformation(stack):
    assert _by_sid(stack, "PassRotationFunctionRoleOnlyToLambdaThroughCloudFormation") == {
        "Sid": "PassRotationFunctionRoleOnlyToLambdaThroughCloudFormation", "Effect": "Allow",
        "Action": ["iam:PassRole"], "Resource": _sar_role_arn(stack),
        "Condition": {**VIA_CLOUDFORMATION, "StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}}


@pytest.mark.parametrize("stack", STACKS)
def test_the_rotation_function_is_changed_only_by_cloudformation(stack):
    # Direct UpdateFunctionCode or UpdateFunctionConfiguration (a layer) would run any code with the unbounded role.
    statement = _by_sid(stack, "RotationFunctionOnlyThroughCloudFormation")
    assert statement["Resource"] == f"arn:aws:lambda:*:*:function:tca-{stack}-*"
    assert statement["Condition"] == VIA_CLOUDFORMATION
    direct = {a for s in _allows(stack) if "Condition" not in s
              for a in _as_list(s["Action"]) if a.startswith("lambda:")}
    assert direct == {"lambda:InvokeFunction"}


@pytest.mark.parametrize("stack", STACKS)
def test_no_direct_call_changes_or_passes_the_rotation_functions_role_or_its_code(stack):
    # Explicit, so no other Allow can lift it: aws:CalledVia is "not present when the principal makes the call
    # directly" (IAM User Guide, aws:CalledVia). Every repository-made role is covered, not only this stack's.
    assert _by_sid(stack, "NothingButCloudFormationChangesTheRotationFunction") == {
        "Sid": "NothingButCloudFormationChangesTheRotationFunction", "Effect": "Deny",
        "Action": ["iam:AttachRolePolicy", "iam:CreateRole", "iam:DeleteRolePolicy", "iam:DetachRolePolicy",
                   "iam:PassRole", "iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy", "lambda:AddPermission",
                   "lambda:CreateFunction", "lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration"],
        "Resource": ["arn:aws:iam::*:role/serverlessrepo-*", f"arn:aws:lambda:*:*:function:tca-{stack}-*"],
        "Condition": {"Null": {"aws:CalledVia": "true"}}}


@pytest.mark.parametrize("stack", STACKS)
def test_change_sets_come_only_from_the_repository_and_only_for_awss_rotation_application(stack):
    # Only AWS's published application (its publisher's account, not any application of that name), so the
    # only templates CloudFormation can run for the deployer are AWS's; the repository creates the change set
    # with the caller's credentials (AWS managed policy SecretsManagerReadWrite grants the caller
    # cloudformation:CreateChangeSet for it), so a change set made directly has aws:ViaAWSService false.
    assert _by_sid(stack, "RotationApplication") == {
        "Sid": "RotationApplication", "Effect": "Allow",
        "Action": ["serverlessrepo:CreateCloudFormationChangeSet", "serverlessrepo:GetApplication"],
        "Resource": SAR_APPLICATION}
    assert _by_sid(stack, "RotationStackChangeSetsOnlyFromTheRepository") == {
        "Sid": "RotationStackChangeSetsOnlyFromTheRepository", "Effect": "Allow",
        "Action": ["cloudformation:CreateChangeSet"],
        # The template carries the SAM transform, which CloudFormation authorizes as a resource of its own.
        "Resource": [_sar_stack_arn(stack), "arn:aws:cloudformation:*:aws:transform/Serverless-2016-10-31"],
        "Condition": {"Bool": {"aws:ViaAWSService": "true"}}}
    assert _by_sid(stack, "NoChangeSetButTheRepositorys") == {
        "Sid": "NoChangeSetButTheRepositorys", "Effect": "Deny", "Action": ["cloudformation:CreateChangeSet"],
        "Resource": "*", "Condition": {"Bool": {"aws:ViaAWSService": "false"}}}


@pytest.mark.parametrize("stack", STACKS)
def test_no_other_cloudformation_call_can_write_a_template_or_a_stack_policy(stack):
    assert _by_sid(stack, "NoOtherWayToWriteAStack") == {
        "Sid": "NoOtherWayToWriteAStack", "Effect": "Deny",
        "Action": ["cloudformation:ContinueUpdateRollback", "cloudformation:CreateStack",
                   "cloudformation:CreateStackInstances", "cloudformation:CreateStackSet",
                   "cloudformation:ImportStacksToStackSet", "cloudformation:RollbackStack",
                   "cloudformation:SetStackPolicy", "cloudformation:UpdateStack", "cloudformation:UpdateStackInstances",
                   "cloudformation:UpdateStackSet"],
        "Resource": "*"}
    # What it may do: execute the change set the repository made, read (the provider explains a rollback from the
    # stack's events), delete; all on its own rotation stacks.
    allowed = {a: s for s in _allows(stack) for a in _as_list(s["Action"]) if a.startswith("cloudformation:")}
    assert set(allowed) == {"cloudformation:CreateChangeSet", "cloudformation:DeleteStack",
                            "cloudformation:DescribeChangeSet", "cloudformation:DescribeStackEvents",
                            "cloudformation:DescribeStacks",
                            "cloudformation:ExecuteChangeSet", "cloudformation:TagResource"}
    for action, statement in allowed.items():
        assert _sar_stack_arn(stack) in _as_list(statement["Resource"]), action
    assert _by_sid(stack, "RotationStackTagsOnCreate")["Condition"] == {
        "StringEquals": {"cloudformation:CreateAction": ["CreateChangeSet", "ExecuteChangeSet"]}}


@pytest.mark.parametrize("stack", STACKS)
def test_no_deployer_loosens_a_boundary_or_edits_any_managed_policy(stack):
    # Explicit, so no later Allow can lift it: the boundary itself and the deployer's own policies are
    # customer-managed policies, edited only by an administrator.
    denies = [s for s in _statements(stack) if s["Effect"] == "Deny"
              and s["Sid"] not in ("NeverTheOtherStacksResources", "NeverTheOtherStacksNetwork",
                                   "NoOtherWayToWriteAStack", "NoChangeSetButTheRepositorys",
                                   "NothingButCloudFormationChangesTheRotationFunction")]
    assert denies == [{"Sid": "NeverLoosenBoundariesOrPolicies", "Effect": "Deny", "Action": [
        "iam:CreatePolicy", "iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion",
        "iam:DeleteRolePermissionsBoundary", "iam:SetDefaultPolicyVersion"], "Resource": "*"}]
    policy_actions = {"iam:CreatePolicy", "iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion",
                      "iam:SetDefaultPolicyVersion", "iam:DeleteRolePermissionsBoundary", "iam:TagPolicy",
                      "iam:UntagPolicy", "iam:AttachUserPolicy", "iam:PutUserPolicy", "iam:AttachGroupPolicy",
                      "iam:PutGroupPolicy", "iam:CreateUser", "iam:CreateAccessKey", "iam:CreateLoginProfile",
                      "iam:PutUserPermissionsBoundary", "iam:UpdateLoginProfile"}
    assert _granted(stack) & policy_actions == set()


@pytest.mark.parametrize("stack", STACKS)
def test_iam_permissions_are_limited_to_this_stacks_roles(stack):
    # The stack's own roles, or the rotation function's, only through CloudFormation.
    for statement in _allows(stack):
        iam = [a for a in _as_list(statement["Action"]) if a.startswith("iam:") and a != "iam:CreateServiceLinkedRole"]
        if iam and statement["Sid"] in SAR_ROLE_EXCEPTION:
            assert statement["Resource"] == _sar_role_arn(stack), statement["Sid"]
            assert VIA_CLOUDFORMATION.items() <= statement["Condition"].items(), statement["Sid"]
        elif iam:
            assert statement["Resource"] == _role_arn(stack), statement["Sid"]


@pytest.mark.parametrize("stack", STACKS)
def test_pass_role_goes_only_to_the_services_that_assume_the_stacks_roles(stack):
    statements = {s["Sid"]: s for s in _allows(stack) if "iam:PassRole" in s["Action"]}
    assert set(statements) == {"PassProjectRolesToTheirServices",
                               "PassRotationFunctionRoleOnlyToLambdaThroughCloudFormation"}
    statement = statements["PassProjectRolesToTheirServices"]
    assert statement["Action"] == ["iam:PassRole"]
    assert statement["Resource"] == _role_arn(stack)
    # Tasks, the RDS Proxy, RDS enhanced monitoring, VPC flow logs, ECS itself (the canary's load-balancer
    # role), and EventBridge Scheduler (the daily redeployment's role).
    assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": [
        "ecs-tasks.amazonaws.com", "rds.amazonaws.com", "monitoring.rds.amazonaws.com",
        "vpc-flow-logs.amazonaws.com", "ecs.amazonaws.com", "scheduler.amazonaws.com"]}}


@pytest.mark.parametrize("stack", STACKS)
def test_service_linked_roles_only_for_the_services_used(stack):
    (statement,) = [s for s in _allows(stack) if "iam:CreateServiceLinkedRole" in s["Action"]]
    assert statement["Resource"] == "*"
    # pullthroughcache.ecr: ECR's role that reads the Docker Hub secret for the pull-through cache.
    assert statement["Condition"] == {"StringEquals": {"iam:AWSServiceName": [
        "ecs.amazonaws.com", "elasticloadbalancing.amazonaws.com", "rds.amazonaws.com",
        "ecs.application-autoscaling.amazonaws.com", "pullthroughcache.ecr.amazonaws.com"]}}


# -- keys: administered through their own key policy ----------------------------------------------

@pytest.mark.parametrize("stack", STACKS)
def test_no_deployer_administers_keys_through_its_own_policies(stack):
    # A key policy grant reaches only the stack's own key; an IAM grant on "*" would reach every key.
    kms = {a for s in _allows(stack) for a in _as_list(s["Action"]) if a.startswith("kms:")}
    assert kms == {"kms:CreateKey", "kms:ListAliases", "kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"}
    (alias,) = [s for s in _allows(stack) if "kms:CreateAlias" in s["Action"]]
    assert alias == {"Sid": "StackKeyAlias", "Effect": "Allow",
                     "Action": ["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"],
                     # The one-stack deployment's alias, and its layers' (alias/tca-<stack>-network, ...).
                     "Resource": [f"arn:aws:kms:*:*:alias/tca-{stack}", f"arn:aws:kms:*:*:alias/tca-{stack}-*"]}


# -- names: every name-scoped resource inside its own stack's policy, outside the other's ---------

def _scoped_arns(run: Run) -> list[tuple[str, str]]:
    """(action that creates it, ARN) for every resource whose ARN carries its name."""
    arns = [("iam:CreateRole", r.outputs["arn"]) for r in run.of_type("aws:iam/role:Role")]
    arns += [("secretsmanager:CreateSecret", r.outputs["arn"])
             for r in run.of_type("aws:secretsmanager/secret:Secret")]
    arns += [("sns:CreateTopic", r.outputs["arn"]) for r in run.of_type("aws:sns/topic:Topic")]
    arns += [("s3:CreateBucket", r.outputs["arn"]) for r in run.of_type("aws:s3/bucket:Bucket")]
    arns += [("kms:CreateAlias", f"arn:aws:kms:{REGION}:{ACCOUNT}:{r.inputs['name']}")
             for r in run.of_type("aws:kms/alias:Alias")]
    groups = [r.outputs["name"] for r in run.of_type("aws:cloudwatch/logGroup:LogGroup")]
    # Container Insights creates the cluster's performance group itself unless it exists.
    groups += [f"/aws/ecs/containerinsights/{r.outputs['name']}/performance"
               for r in run.of_type("aws:ecs/cluster:Cluster")]
    for group in groups:
        arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}"
        # The provider acts on both forms of a group's ARN: with and without the trailing ":*".
        arns += [("logs:CreateLogGroup", arn), ("logs:CreateLogGroup", arn + ":*")]
    for r in run.of_type("aws:cloudwatch/logMetricFilter:LogMetricFilter"):
        arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{r.inputs['logGroupName']}"
        arns += [("logs:PutMetricFilter", arn), ("logs:PutMetricFilter", arn + ":*")]
    for r in run.of_type("aws:serverlessrepository/cloudFormationStack:CloudFormationStack"):
        arns += [("cloudformation:CreateChangeSet", r.id), ("cloudformation:ExecuteChangeSet", r.id),
                 ("cloudformation:DeleteStack", r.id),
                 ("iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/{_sar_role_name(r.outputs['name'])}"),
                 ("lambda:CreateFunction", r.outputs["outputs"]["RotationLambdaARN"])]
    arns += [("lambda:InvokeFunction", r.inputs["rotationLambdaArn"])
             for r in run.of_type("aws:secretsmanager/secretRotation:SecretRotation")]
    arns += [("secretsmanager:RotateSecret", r.inputs["secretId"])
             for r in run.of_type("aws:secretsmanager/secretRotation:SecretRotation")]
    arns += [("scheduler:CreateScheduleGroup", r.outputs["arn"])
             for r in run.of_type("aws:scheduler/scheduleGroup:ScheduleGroup")]
    arns += [("scheduler:CreateSchedule", r.outputs["arn"]) for r in run.of_type("aws:scheduler/schedule:Schedule")]
    arns += [("events:PutRule", r.outputs["arn"]) for r in run.of_type("aws:cloudwatch/eventRule:EventRule")]
    # The bootstrap step reads and writes the app credential with the deployer's credentials.
    arns += [(action, r.inputs["app_secret_arn"])
             for r in run.of_type("pulumi-python:dynamic/bootstrap:DatabaseBootstrap")
             for action in ("secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
                            "secretsmanager:PutSecretValue")]
    return arns


def _sar_role_name(stack_name: str) -> str:
    """The name CloudFormation gives the template's function role: `<stack>-<logical ID>-<suffix>`, 64 characters
    at most, each long part cut to 25 (see SAR_ROLE_EXCEPTION)."""
    return (f"serverlessrepo-{stack_name}"[:25] + "-" + "SecretsManagerRDSPostgreSQLRotationMultiUserRole"[:25]
            + "-1AB2CD3EF4GH")


def test_every_named_resource_falls_inside_its_own_stacks_policy_and_outside_the_others(stack, runs):
    found = {arn.split(":")[2] for run in runs for _, arn in _scoped_arns(run)}
    assert found == {"iam", "secretsmanager", "sns", "s3", "kms", "logs", "cloudformation", "lambda", "scheduler",
                     "events"}
    own, other = _statements(stack), _statements(OTHER[stack])
    for run in runs:
        for action, arn in _scoped_arns(run):
            assert _covered(own, action, arn), (action, arn)
            assert not _covered(other, action, arn), (action, arn)


def test_log_group_permissions_reach_every_kind_of_log_group_the_stack_creates(runs):
    groups = {r.outputs["name"] for run in runs for r in run.of_type("aws:cloudwatch/logGroup:LogGroup")}
    # The renders include each kind, so the scope test above checks them all.
    assert any(g.startswith("aws-waf-logs-") for g in groups)
    assert any(g.startswith("/aws/rds/") for g in groups)


@pytest.mark.parametrize("stack", STACKS)
def test_secrets_are_limited_to_this_stacks_secrets(stack):
    checked = 0
    for statement in _allows(stack):
        if statement["Sid"] in ("RdsManagedMasterSecret", "AppSecretFirstPassword"):
            continue
        if any(a.startswith("secretsmanager:") for a in _as_list(statement["Action"])):
            assert statement["Resource"] == f"arn:aws:secretsmanager:*:*:secret:tca-{stack}-*"
            checked += 1
    assert checked, "the deployer manages the stack's secrets"


@pytest.mark.parametrize("stack", STACKS)
def test_on_rdss_master_secrets_the_deployer_may_only_have_rds_create_and_tag_them(stack):
    # RDS User Guide, "Permissions required for Secrets Manager integration": "the user who specifies that
    # Amazon RDS manages the master user password in Secrets Manager must have permissions to perform"
    # kms:DescribeKey (the key's policy), secretsmanager:CreateSecret and secretsmanager:TagResource. RDS names
    # the secret `rds!db-<uuid>`, so both deployers hold these two on every such secret; neither reads, changes
    # or deletes a value.
    assert _by_sid(stack, "RdsManagedMasterSecret") == {
        "Sid": "RdsManagedMasterSecret", "Effect": "Allow",
        "Action": ["secretsmanager:CreateSecret", "secretsmanager:TagResource"],
        "Resource": "arn:aws:secretsmanager:*:*:secret:rds!db-*"}
    on_rds = {a for s in _allows(stack) for a in _as_list(s["Action"]) if a.startswith("secretsmanager:")
              and any(fnmatch.fnmatchcase(f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:rds!db-1", r)
                     for r in _as_list(s["Resource"]))}
    assert on_rds == {"secretsmanager:CreateSecret", "secretsmanager:TagResource",
                      "secretsmanager:GetRandomPassword"}  # the last on "*": it takes no resource


@pytest.mark.parametrize("stack", STACKS)
def test_the_bootstrap_draws_passwords_from_secrets_manager_which_takes_no_resource(stack):
    assert _by_sid(stack, "AppSecretFirstPassword") == {
        "Sid": "AppSecretFirstPassword", "Effect": "Allow", "Action": ["secretsmanager:GetRandomPassword"],
        "Resource": "*"}


def test_prods_policies_are_devs_with_the_stack_names_swapped():
    # One source of truth for what a deploy needs; only the names differ.
    for dev in [*sorted(IAM.glob("deployer-dev-policy-*.json")), IAM / "workload-boundary-dev.json"]:
        prod = IAM / dev.name.replace("dev", "prod")
        swapped = dev.read_text().replace("tca-prod", "tca-OTHER").replace("tca-dev", "tca-prod")
        assert _load(prod) == json.loads(swapped.replace("tca-OTHER", "tca-dev")), prod.name


# Resources whose ARNs carry their names but whose actions the deployer holds on "*" (their reads take
# no resource, or their creation has no ARN yet): the other stack's deployer is denied them by name.
def _other_stack_arns(run: Run) -> list[str]:
    arns = [r.outputs["arn"] for t in ("aws:rds/instance:Instance", "aws:rds/parameterGroup:ParameterGroup",
                                        "aws:rds/subnetGroup:SubnetGroup", "aws:ecs/cluster:Cluster",
                                        "aws:lb/targetGroup:TargetGroup", "aws:wafv2/webAcl:WebAcl")
            for r in run.of_type(t)]
    arns += [f"arn:aws:rds:{REGION}:{ACCOUNT}:snapshot:{r.inputs['finalSnapshotIdentifier']}"
             for r in run.of_type("aws:rds/instance:Instance") if r.inputs.get("finalSnapshotIdentifier")]
    arns += [f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{r.inputs.get('name') or r.name + '-abc1234'}"
             for r in run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")]
    arns += [f"arn:aws:cloudwatch::{ACCOUNT}:dashboard/{r.outputs['dashboardName']}"
             for r in run.of_type("aws:cloudwatch/dashboard:Dashboard")]
    # The database bootstrap's task definition (RunTask, DeregisterTaskDefinition act on it by family).
    arns += [f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{r.inputs['family']}:1"
             for r in run.of_type("aws:ecs/taskDefinition:TaskDefinition")]
    if not run.of_type("awsx:ecs:FargateService"):  # a network or database layer has no app
        return arns
    cluster = run.one("aws:ecs/cluster:Cluster", "-cluster").outputs["name"]
    service = run.one("awsx:ecs:FargateService").name
    alb = run.one("awsx:lb:ApplicationLoadBalancer").name
    elb = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:"
    arns += [f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{cluster}/{service}-abc1234",
             f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{service}-abc1234:3",
             f"{elb}loadbalancer/app/{alb}-abc1234/50dc6c495c0c9188",
             f"{elb}listener/app/{alb}-abc1234/50dc6c495c0c9188/f2f7dc8efc522ab2"]
    return arns


def _condition_holds(condition: dict, tags: dict[str, str]) -> bool:
    """A Deny's Condition against a resource's tags; an operator or key this evaluator does not know fails the
    test rather than counting as held or not."""
    for operator, keys in condition.items():
        for key, wanted in keys.items():
            assert key.startswith("aws:ResourceTag/"), key
            value = tags.get(key.removeprefix("aws:ResourceTag/"))
            if operator == "StringEquals":
                held = value in _as_list(wanted)
            elif operator == "StringLike":
                held = value is not None and any(fnmatch.fnmatchcase(value, v) for v in _as_list(wanted))
            else:
                raise AssertionError(f"no evaluation for the condition operator {operator}")
            if not held:
                return False
    return True


def _denied(statements: list[dict], action: str, resource: str, tags: dict[str, str] | None = None) -> bool:
    """Whether a Deny among `statements` applies to `action` on `resource`, which carries `tags`."""
    return any(s["Effect"] == "Deny" and any(fnmatch.fnmatchcase(action, a) for a in _as_list(s["Action"]))
               and any(fnmatch.fnmatchcase(resource, pattern) for pattern in _as_list(s["Resource"]))
               and _condition_holds(s.get("Condition", {}), tags or {})
               for s in statements)


def test_the_other_stacks_deployer_is_denied_every_named_resource_it_holds_actions_on_star_for(stack, runs):
    kinds = {arn.split(":")[2] for run in runs for arn in _other_stack_arns(run)}
    assert kinds == {"rds", "ecs", "elasticloadbalancing", "cloudwatch", "wafv2"}
    for run in runs:
        for arn in _other_stack_arns(run):
            action = f"{arn.split(':')[2]}:DeleteSomething"
            assert _denied(_statements(OTHER[stack]), action, arn), arn
            assert not _denied(_statements(stack), action, arn), arn


# Resources whose ARNs carry an ID, not a name (Service Authorization Reference, "Resource types defined by
# Amazon EC2" and "... by Amazon RDS"): the deployers hold their actions on "*", and the other stack's deployer
# is denied them by the deployment tag the program gives each of them (infra/tags.py).
ID_ARNS = {
    "aws:ec2/vpc:Vpc": "vpc/", "aws:ec2/subnet:Subnet": "subnet/", "aws:ec2/routeTable:RouteTable": "route-table/",
    "aws:ec2/internetGateway:InternetGateway": "internet-gateway/", "aws:ec2/natGateway:NatGateway": "natgateway/",
    "aws:ec2/eip:Eip": "elastic-ip/", "aws:ec2/securityGroup:SecurityGroup": "security-group/",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "security-group/", "aws:ec2/flowLog:FlowLog": "vpc-flow-log/",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "security-group-rule/",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "security-group-rule/",
    "aws:rds/proxy:Proxy": "db-proxy:",
}
# Changes to these are authorized against the resources they belong to (routes: CreateRoute, DeleteRoute and
# ReplaceRoute on the route table; associations: AssociateRouteTable and DisassociateRouteTable on the route
# table and the subnet), which carry the tag.
BELONGS_TO = {"aws:ec2/route:Route": ("routeTableId",),
              "aws:ec2/routeTableAssociation:RouteTableAssociation": ("routeTableId", "subnetId")}
# Mutating actions beyond REQUIRED's that the deployers hold on these resources.
MORE_ACTIONS = {"aws:ec2/route:Route": ["ec2:ReplaceRoute"], "aws:ec2/eip:Eip": ["ec2:DisassociateAddress"],
                "aws:ec2/securityGroup:SecurityGroup": ["ec2:AuthorizeSecurityGroupIngress",
                                                        "ec2:RevokeSecurityGroupIngress",
                                                        "ec2:ModifySecurityGroupRules"]}


# What creates each resource: it acts on no existing resource, so no tag can guard it.
CREATES = {"ec2:CreateVpc", "ec2:CreateSubnet", "ec2:CreateRouteTable", "ec2:CreateInternetGateway",
           "ec2:CreateNatGateway", "ec2:AllocateAddress", "ec2:CreateSecurityGroup", "ec2:CreateFlowLogs",
           "rds:CreateDBProxy"}


def _mutating(type_: str) -> list[str]:
    service = "rds" if type_.startswith("aws:rds/") else "ec2"
    tagging = ["rds:AddTagsToResource", "rds:RemoveTagsFromResource"] if service == "rds" else [
        "ec2:CreateTags", "ec2:DeleteTags"]
    return [a for a in REQUIRED[type_] + MORE_ACTIONS.get(type_, []) + tagging
            if a.startswith(f"{service}:") and a not in CREATES
            and not a.split(":")[1].startswith(("Describe", "List", "Get"))]


def _transformed_props(run: Run, type_: str, name: str, props: dict) -> dict:
    """The resource's inputs after the program's stack transforms, applied in order as the engine applies them
    (mocks record stack transforms without running them)."""
    for transform, _ in run.stack_transforms:
        result = transform(pulumi.ResourceTransformArgs(custom=True, type_=type_, name=name, props=props,
                                                        opts=pulumi.ResourceOptions()))
        if result is not None:
            props = dict(result.props)
    return props


def _id_arn_resources(run: Run) -> list[tuple[str, str, str, dict[str, str]]]:
    """(type, name, ARN, tags) of every resource with an ID-based ARN, awsx's VPC children included; routes and
    route-table associations once per resource they are authorized against."""
    registered = {r.urn for r in run.registrations}
    found: list[tuple[str, str, str, dict]] = []
    by_id: dict[str, tuple[str, str, str, dict]] = {}
    pending = []
    for resource in policy_resources(run):
        type_, name = resource.resource_type, resource.name
        if resource.urn in registered:
            reg = run.by_urn(resource.urn)
            props, resource_id = dict(reg.inputs), reg.id
            if type_ == "aws:rds/proxy:Proxy":
                # The provider's ID is the proxy's name; its ARN carries the ID AWS assigns (db-proxy:prx-...).
                resource_id = "prx-0123456789abcdef0"
        else:
            props, resource_id = dict(resource.props), resource.props.get("id") or f"{name}-id"
        if type_ in BELONGS_TO:
            pending.append((type_, name, props))
        elif type_ in ID_ARNS:
            tags = plain(_transformed_props(run, type_, name, props).get("tags")) or {}
            service = type_.split(":")[1].split("/")[0]
            arn = f"arn:aws:{'ec2' if service == 'vpc' else service}:{REGION}:{ACCOUNT}:{ID_ARNS[type_]}{resource_id}"
            found.append((type_, name, arn, tags))
            by_id[resource_id] = found[-1]
    for type_, name, props in pending:
        for key in BELONGS_TO[type_]:
            _, _, arn, tags = by_id[props[key]]
            found.append((type_, name, arn, tags))
    return found


def test_the_other_stacks_deployer_is_denied_every_network_resource_and_proxy_by_their_deployment_tag(stack, runs):
    kinds = {t for run in runs for t, *_ in _id_arn_resources(run)}
    assert kinds == set(ID_ARNS) | set(BELONGS_TO), "every kind of resource with an ID-based ARN is checked"
    for run in runs:
        for type_, name, arn, tags in _id_arn_resources(run):
            for action in _mutating(type_):
                assert _denied(_statements(OTHER[stack]), action, arn, tags), (name, action, tags)
                assert not _denied(_statements(stack), action, arn, tags), (name, action, tags)


@pytest.mark.parametrize("stack", STACKS)
def test_the_network_deny_covers_every_ec2_and_rds_action_on_the_other_stacks_deployment_tag(stack):
    # Every EC2 and RDS action, so attaching, detaching and tagging are covered too; actions with no resource
    # type (the Describe calls) carry no resource tag, so the condition never holds for them. StringLike also
    # covers a deployment named tca-<other>-..., whose names the name-scoped statements already treat as the
    # other stack's.
    (statement,) = [s for s in _statements(stack) if s["Sid"] == "NeverTheOtherStacksNetwork"]
    other = f"tca-{OTHER[stack]}"
    assert statement == {"Sid": "NeverTheOtherStacksNetwork", "Effect": "Deny", "Action": ["ec2:*", "rds:*"],
                         "Resource": "*",
                         "Condition": {"StringLike": {f"aws:ResourceTag/{DEPLOYMENT_TAG}": [other, f"{other}-*"]}}}


@pytest.mark.parametrize("stack", STACKS)
def test_neither_deployer_is_denied_an_untagged_network_resource(stack):
    # Resources the deployer's own stack created before they were tagged stay manageable until the next update
    # tags them; the other stack's untagged resources are out of this guard's reach (docs/ci-cd.md).
    assert not _denied(_statements(stack), "ec2:DeleteSecurityGroup",
                       f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/sg-0123456789abcdef0", {"Name": "x"})


def test_no_iam_document_names_a_region_or_an_account():
    # A region move needs no policy edits; the account is `*` or the ACCOUNT_ID placeholder, or AWS's own: the
    # SAM transform's (`aws`) and the rotation application's publisher.
    for path in sorted(IAM.glob("*.json")):
        text = path.read_text()
        # Any AWS region name (ap-southeast-2, eu-west-1, us-gov-west-1, ...), not only the stacks' own.
        assert re.findall(r"\b[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d\b", text) == [], path.name
        for statement in _load(path)["Statement"]:
            for arn in _as_list(statement.get("Resource", [])):
                if arn.startswith("arn:"):
                    region, account = arn.split(":")[3:5]
                    assert region in ("", "*") and account in ("", "*", "ACCOUNT_ID", "aws", SAR_PUBLISHER), (
                        path.name, arn)


# -- AWS limits and shape -------------------------------------------------------------------------

@pytest.mark.parametrize("stack", STACKS)
def test_deployer_policy_is_three_managed_policies_each_within_awss_size_limit(stack):
    # IAM User Guide, "IAM and AWS STS quotas": a managed policy is at most 6,144 characters, counted
    # without whitespace; a role takes 10 managed policies by default.
    assert sorted(_documents(stack)) == [f"deployer-{stack}-policy-credential-rotation.json",
                                         f"deployer-{stack}-policy-data-operations.json",
                                         f"deployer-{stack}-policy-network-compute.json"]
    # Measured as created: the administrator's commands put a 12-digit account where the files say ACCOUNT_ID.
    def created(document: dict) -> str:
        return json.dumps(document, separators=(",", ":")).replace("ACCOUNT_ID", "123456789012")
    for name, document in _documents(stack).items():
        assert document["Version"] == "2012-10-17", name
        assert len(created(document)) <= 6_144, name
    assert len(created(_boundary(stack))) <= 6_144


@pytest.mark.parametrize("stack", STACKS)
def test_statement_ids_are_unique_across_the_policies(stack):
    sids = [s["Sid"] for s in _statements(stack)]
    assert len(sids) == len(set(sids))


@pytest.mark.parametrize("stack", STACKS)
def test_every_statement_lists_its_actions_and_uses_no_negation(stack):
    # The scope tests walk each statement's Action list; a bare string would slip past them,
    # and NotAction / NotResource grant everything not named.
    for statement in _statements(stack) + _boundary(stack)["Statement"]:
        assert isinstance(statement["Action"], list), statement["Sid"]
        assert "NotAction" not in statement and "NotResource" not in statement, statement["Sid"]


# Actions with no resource type in the Service Authorization Reference ("If there is no value for this
# column, you must specify all resources ("*") in the Resource element"): a statement scoped to an ARN
# never grants (or denies) them. Those this project's policies could use.
NO_RESOURCE_TYPE = {
    "sns:GetSubscriptionAttributes", "sns:SetSubscriptionAttributes", "sns:Unsubscribe", "sns:ListTopics",
    "sns:ListSubscriptions",
    "kms:CreateKey", "kms:ListAliases", "kms:ListKeys", "kms:GenerateRandom",
    "secretsmanager:GetRandomPassword", "secretsmanager:ListSecrets", "secretsmanager:BatchGetSecretValue",
    "ecr:GetAuthorizationToken",
    "s3:ListAllMyBuckets",
    "route53:ListHostedZones", "route53:ListHostedZonesByName", "route53:GetHostedZoneCount",
    "acm:RequestCertificate", "acm:ListCertificates",
    "sts:GetCallerIdentity",
    "logs:DescribeResourcePolicies", "logs:PutResourcePolicy", "logs:CreateLogDelivery", "logs:DeleteLogDelivery",
    "rds:DescribeDBEngineVersions", "rds:DescribeOrderableDBInstanceOptions",
    "elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeRules", "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth", "elasticloadbalancing:DescribeTags",
    "elasticloadbalancing:DescribeLoadBalancerAttributes", "elasticloadbalancing:DescribeTargetGroupAttributes",
    "ec2:DescribeAvailabilityZones", "ec2:DescribeVpcs", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups",
    "ecs:DescribeTaskDefinition", "ecs:DeregisterTaskDefinition",
    "application-autoscaling:DescribeScalableTargets", "application-autoscaling:DescribeScalingPolicies",
}


def test_no_statement_scopes_an_action_that_supports_no_resource_level_permissions():
    for path in sorted(IAM.glob("*.json")):
        for statement in _load(path)["Statement"]:
            if "Action" not in statement or statement.get("Resource") == "*":
                continue
            scoped = sorted(set(_as_list(statement["Action"])) & NO_RESOURCE_TYPE)
            assert scoped == [], (path.name, statement.get("Sid"), scoped)


def test_alarm_subscriptions_are_granted_on_every_resource_as_aws_requires(stack):
    # sns:GetSubscriptionAttributes, SetSubscriptionAttributes and Unsubscribe have no resource type:
    # scoped to the topic's ARN they were never granted, and an alarm email's subscription failed.
    (statement,) = [s for s in _allows(stack) if "sns:Unsubscribe" in s["Action"]]
    assert statement == {"Sid": "AlarmSubscriptions", "Effect": "Allow", "Action": [
        "sns:GetSubscriptionAttributes", "sns:SetSubscriptionAttributes", "sns:Unsubscribe"], "Resource": "*"}


# -- the boundary: caps every role at what the stack's roles need ---------------------------------

# What the AWS managed policies the program attaches grant (AWS Managed Policy Reference), as (action,
# resource) for the resources this stack's roles use them on. AmazonECSTaskExecutionRolePolicy: ECR
# pulls and log writes on "*". AmazonRDSEnhancedMonitoringRole v1: log-group RDS*, its streams.
# AmazonECSInfrastructureRolePolicyForLoadBalancers: ELB reads on "*", target registration, listener
# and rule changes (GetLogEvents, also in the monitoring policy, is a read the boundary leaves out).
def _name_prefix(run: Run) -> str:
    """What the run's names start with: tca-<stack>, or tca-<deploymentName> for a layer of a deployment."""
    return next(r.name for r in run.registrations if r.type.startswith("tca:infra:"))


def _managed_needs(run: Run, policy_arn: str) -> list[tuple[str, str]]:
    prefix = _name_prefix(run)
    logs = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:"
    if policy_arn.endswith("AmazonECSTaskExecutionRolePolicy"):
        group = run.one("aws:cloudwatch/logGroup:LogGroup", f"{prefix}-logs").outputs["name"]
        repo = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{prefix}-hub/servian/techchallengeapp"
        return [("ecr:GetAuthorizationToken", "*"), ("ecr:BatchCheckLayerAvailability", repo),
                ("ecr:GetDownloadUrlForLayer", repo), ("ecr:BatchGetImage", repo),
                ("logs:CreateLogStream", f"{logs}{group}:log-stream:app/x"),
                ("logs:PutLogEvents", f"{logs}{group}:log-stream:app/x")]
    if policy_arn.endswith("AmazonRDSEnhancedMonitoringRole"):
        return [("logs:CreateLogGroup", f"{logs}RDSOSMetrics"), ("logs:PutRetentionPolicy", f"{logs}RDSOSMetrics"),
                ("logs:CreateLogStream", f"{logs}RDSOSMetrics:log-stream:db-X"),
                ("logs:PutLogEvents", f"{logs}RDSOSMetrics:log-stream:db-X"),
                ("logs:DescribeLogStreams", f"{logs}RDSOSMetrics:log-stream:db-X")]
    assert policy_arn.endswith("AmazonECSInfrastructureRolePolicyForLoadBalancers"), policy_arn
    lb = f"{run.one('awsx:lb:ApplicationLoadBalancer').name}-abc1234/50dc6c495c0c9188"
    elb = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:"
    target_groups = [r.outputs["arn"] for r in run.of_type("aws:lb/targetGroup:TargetGroup")]
    return ([(a, "*") for a in ("elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeRules",
                                "elasticloadbalancing:DescribeTargetGroups",
                                "elasticloadbalancing:DescribeTargetHealth")]
            + [(a, tg) for tg in target_groups
               for a in ("elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets")]
            + [("elasticloadbalancing:ModifyListener", f"{elb}listener/app/{lb}/f2f7dc8efc522ab2"),
               ("elasticloadbalancing:ModifyRule", f"{elb}listener-rule/app/{lb}/f2f7dc8efc522ab2/9683b2d02a6cabee")])


def _inline_needs(run: Run) -> list[tuple[str, str]]:
    needs = []
    for r in run.of_type("aws:iam/rolePolicy:RolePolicy"):
        for statement in json.loads(r.inputs["policy"])["Statement"]:
            needs += [(a, res) for a in _as_list(statement["Action"]) for res in _as_list(statement["Resource"])]
    return needs


def _boundary_runs(stack: str) -> list[Run]:
    # The pull-through cache and the canary's load-balancer role and the proxy and enhanced monitoring.
    # On top of the first variant: dev's already has them all, prod's file the last two (no extra render while so).
    wanted = {"tca:dbProxy": True, "tca:dbMonitoringIntervalSeconds": 60, "tca:deploymentStrategy": "CANARY"}
    return [*_runs(stack), shared_run(stack, {**VARIANTS[stack][0], **wanted})]


@pytest.mark.parametrize("stack", STACKS)
def test_the_boundary_allows_everything_the_stacks_roles_are_granted(stack):
    boundary = _boundary(stack)["Statement"]
    attached = set()
    checked_master_reads: list[str] = []
    for run in _boundary_runs(stack):
        assert run.error is None, run.error
        needs = _inline_needs(run)
        for r in run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment"):
            attached.add(r.inputs["policyArn"])
            needs += _managed_needs(run, r.inputs["policyArn"])
        missing = sorted({(a, res) for a, res in needs if not _covered(boundary, a, res)})
        assert missing == []
        # RDS's master secret is allowed only by its instance's tag: evaluate that condition too.
        tags = {secret["secretArn"]: {"aws:rds:primaryDBInstanceArn": r.outputs["arn"]}
                for r in run.of_type("aws:rds/instance:Instance")
                for secret in r.outputs.get("masterUserSecrets") or []}
        for action, resource in needs:
            if resource in tags:
                checked_master_reads.append(resource)
                assert _allowed(boundary, action, resource, tags[resource]), (action, resource)
    assert checked_master_reads, "a role reads RDS's master secret (the database bootstrap)"
    assert attached == set(MANAGED_POLICIES), "a newly attached managed policy needs its entry in _managed_needs"


@pytest.mark.parametrize("stack", STACKS)
def test_the_boundary_keeps_each_stacks_roles_away_from_the_other_stacks_secrets_logs_and_images(stack):
    boundary, other = _boundary(stack)["Statement"], f"tca-{OTHER[stack]}"
    assert not _covered(boundary, "secretsmanager:GetSecretValue",
                        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{other}-credentials-abc-AbCdEf")
    assert not _covered(boundary, "logs:PutLogEvents",
                        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{other}-logs-abc:log-stream:x")
    # Images come from Docker Hub or the stack's own pull-through cache, never another repository.
    assert _covered(boundary, "ecr:BatchGetImage",
                    f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/tca-{stack}-hub/servian/techchallengeapp")
    assert not _covered(boundary, "ecr:BatchGetImage",
                        f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{other}-hub/servian/techchallengeapp")
    (decrypt,) = [s for s in boundary if "kms:Decrypt" in s["Action"]]
    assert decrypt["Condition"] == {"StringLike": {
        "kms:ViaService": "secretsmanager.*.amazonaws.com",
        "kms:EncryptionContext:SecretARN": [f"arn:aws:secretsmanager:*:*:secret:tca-{stack}-*",
                                            "arn:aws:secretsmanager:*:*:secret:rds!db-*"]}}


def _allowed(statements: list[dict], action: str, resource: str, tags: dict[str, str]) -> bool:
    """Whether an Allow among `statements` grants `action` on `resource`, which carries `tags`, conditions included."""
    return any(s["Effect"] == "Allow" and action in _as_list(s["Action"])
               and any(fnmatch.fnmatchcase(resource, pattern) for pattern in _as_list(s["Resource"]))
               and _condition_holds(s.get("Condition", {}), tags) for s in statements)


def _rds_master_secret(instance_identifier: str) -> tuple[str, dict[str, str]]:
    """An RDS-managed master secret: named `rds!db-<uuid>`, tagged by RDS with its instance's ARN (the tag the
    rotation function reads: aws-samples/aws-secrets-manager-rotation-lambdas,
    `fetch_instance_arn_from_system_tags`)."""
    return (f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:rds!db-0b1c2d3e-4f56-7890-abcd-ef0123456789-AbCdEf",
            {"aws:rds:primaryDBInstanceArn": f"arn:aws:rds:{REGION}:{ACCOUNT}:db:{instance_identifier}"})


@pytest.mark.parametrize("stack", STACKS)
def test_the_boundary_lets_a_role_read_only_its_own_stacks_rds_master_secret(stack):
    # RDS names every master secret rds!db-<uuid>, so the name cannot tell dev's from prod's; the instance tag can.
    boundary = _boundary(stack)["Statement"]
    assert _by_sid_in(boundary, "ReadTheStacksMasterSecret") == {
        "Sid": "ReadTheStacksMasterSecret", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
        "Resource": "arn:aws:secretsmanager:*:*:secret:rds!db-*",
        "Condition": {"StringLike": {
            "aws:ResourceTag/aws:rds:primaryDBInstanceArn": f"arn:aws:rds:*:*:db:tca-{stack}-*"}}}
    assert _allowed(boundary, "secretsmanager:GetSecretValue", *_rds_master_secret(f"tca-{stack}-pg-1a2b3c4d"))
    assert not _allowed(boundary, "secretsmanager:GetSecretValue",
                        *_rds_master_secret(f"tca-{OTHER[stack]}-pg-1a2b3c4d"))
    assert not _allowed(boundary, "secretsmanager:GetSecretValue", _rds_master_secret(f"tca-{stack}-pg-1")[0], {})


def _by_sid_in(statements: list[dict], sid: str) -> dict:
    (statement,) = [s for s in statements if s["Sid"] == sid]
    return statement


@pytest.mark.parametrize("stack", STACKS)
def test_the_boundary_lets_a_role_redeploy_only_the_stacks_own_services(stack):
    # The daily redeployment's role calls ecs:UpdateService on its service (service/<cluster>/<service>).
    boundary = _boundary(stack)["Statement"]
    assert _by_sid_in(boundary, "RedeployTheStacksService") == {
        "Sid": "RedeployTheStacksService", "Effect": "Allow", "Action": ["ecs:UpdateService"],
        "Resource": f"arn:aws:ecs:*:*:service/tca-{stack}-*/tca-{stack}-*"}
    other = f"tca-{OTHER[stack]}"
    assert not _covered(boundary, "ecs:UpdateService",
                        f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{other}-cluster-abc/{other}-service-abc")


@pytest.mark.parametrize("stack", STACKS)
def test_the_boundary_grants_no_data_reads_and_no_iam(stack):
    actions = {a for s in _boundary(stack)["Statement"] for a in s["Action"]}
    assert {a for a in actions if a.split(":")[0] in ("iam", "sts", "s3", "rds", "kms") and a != "kms:Decrypt"} == set()
    assert {"logs:GetLogEvents", "logs:FilterLogEvents", "logs:StartQuery"} & actions == set()
    assert all(s["Effect"] == "Allow" for s in _boundary(stack)["Statement"])


# -- RDS's master secret: created by RDS with the deployer's permissions ----------------------------

def _rds_master_secret_arns(run: Run) -> list[str]:
    return [secret["secretArn"] for r in run.of_type("aws:rds/instance:Instance")
            if r.inputs.get("manageMasterUserPassword") for secret in r.outputs["masterUserSecrets"]]


def test_the_deployer_lets_rds_create_and_tag_the_stacks_master_secret_and_read_none(stack, runs):
    secrets = [arn for run in runs for arn in _rds_master_secret_arns(run)]
    assert secrets, "a render where RDS manages the master password"
    own = _statements(stack)
    for arn in secrets:
        for action in ("secretsmanager:CreateSecret", "secretsmanager:TagResource"):
            assert _covered(own, action, arn), (action, arn)
        for action in ("secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue",
                       "secretsmanager:DeleteSecret", "secretsmanager:UpdateSecret"):
            assert not _covered(own, action, arn), (action, arn)


# -- read-only roles: no database password ---------------------------------------------------------

def _readonly() -> list[dict]:
    return _load(IAM / "readonly-no-data-policy.json")["Statement"]


def test_the_read_only_roles_read_neither_the_app_credential_nor_rdss_master_secret(stack, runs):
    # Nothing a preview or refresh reads holds either value: the app secret has no SecretVersion (Pulumi never
    # writes its value), RDS's master secret is no resource of the stack, and refreshing a Secret reads only its
    # description and resource policy (DescribeSecret, GetResourcePolicy).
    assert _by_sid_in(_readonly(), "NoDatabaseCredentials") == {
        "Sid": "NoDatabaseCredentials", "Effect": "Deny", "Action": ["secretsmanager:GetSecretValue"],
        "Resource": ["arn:aws:secretsmanager:*:*:secret:rds!*",
                     "arn:aws:secretsmanager:*:*:secret:tca-*-app-credentials-*"]}
    app = [r.inputs["secretId"] for run in runs
           for r in run.of_type("aws:secretsmanager/secretRotation:SecretRotation")]
    app += [run.outputs["dbSecretArn"] for run in runs if "dbSecretArn" in run.outputs]
    masters = [arn for run in runs for arn in _rds_master_secret_arns(run)]
    assert app and masters
    for arn in app + masters:
        assert _denied(_readonly(), "secretsmanager:GetSecretValue", arn), arn


def test_a_stack_keeping_its_own_master_password_stays_refreshable_by_its_read_only_role():
    # With tca:dbManagedMasterPassword false the stack keeps a SecretVersion of its master secret, and refreshing a
    # SecretVersion reads its value (GetSecretValue): that one secret stays readable by its own stack's role.
    versions = [r.inputs["secretId"] for stack in STACKS for run in _runs(stack)
                for r in run.of_type("aws:secretsmanager/secretVersion:SecretVersion")]
    assert versions, "a render that keeps the stack's own master password"
    for arn in versions:
        assert not _denied(_readonly(), "secretsmanager:GetSecretValue", arn), arn


@pytest.mark.parametrize("stack", STACKS)
def test_destroy_may_remove_the_network_interfaces_the_rotation_function_leaves_behind(stack):
    """Deleting a security group or subnet, the provider waits for Lambda's interfaces ("AWS Lambda VPC ENI") and
    then detaches and deletes what is left (terraform-provider-aws, ec2 `deleteLingeringLambdaENI`)."""
    network = _by_sid(stack, "Network")
    assert {"ec2:DetachNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:DeleteSecurityGroup",
            "ec2:DeleteSubnet"} <= set(_as_list(network["Action"]))
