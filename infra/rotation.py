"""Rotation of the app's database credential by AWS's published alternating-users function.

The function is AWS's own (Serverless Application Repository, `SecretsManagerRDSPostgreSQLRotationMultiUser`),
deployed as a CloudFormation stack: each rotation logs in as the master, gives the user the app is NOT using a
new password (creating `<username>_clone` the first time), and makes that user the secret's current value. Tasks
still logged in as the other user keep working until the rotation after next changes it, which is why the
app's tasks are replaced every day (infra/redeploy.py) and why tca:rotationDays is checked in infra/config/rotation.py.

Only on stacks without RDS Proxy: the proxy authenticates clients against one secret's current value only, so it
cannot follow alternating users (docs/database.md, "Credential rotation").
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.config import RotationConfig, StackSettings
from infra.database import PASSWORD_EXCLUDE_CHARACTERS, credential_rotation
from infra.logs import stack_log_group
from infra.refs import DatabaseRefs, NetworkRefs

# DatabaseRefs.credential_rotation when the database layer rotates the app credential (no RDS Proxy).
ALTERNATING_USERS = credential_rotation(proxy=False)
# arn:aws:serverlessrepo:us-east-1:297356227824 publishes AWS's rotation functions in every commercial region.
ROTATION_APPLICATION_ID = (
    "arn:aws:serverlessrepo:us-east-1:297356227824:applications/SecretsManagerRDSPostgreSQLRotationMultiUser")
# Pinned, so a new release of the function arrives as a reviewed change rather than on a re-created stack.
ROTATION_APPLICATION_VERSION = "1.1.692"
# The template creates the function's role (CAPABILITY_IAM) and the permission that lets Secrets Manager invoke
# it (CAPABILITY_RESOURCE_POLICY); CreateCloudFormationChangeSet refuses it without both.
ROTATION_CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_RESOURCE_POLICY"]
# The template's output that holds the function's ARN.
ROTATION_FUNCTION_OUTPUT = "RotationLambdaARN"


def rotation_function_name(stack: StackSettings) -> str:
    # Lambda function names: at most 64 letters, digits, "-" and "_"; the prefix is at most 24 characters.
    return f"{stack.name_prefix}-db-rotation"


class CredentialRotation(pulumi.ComponentResource):
    """The rotation function (a SAR CloudFormation stack, its log group first) and the app secret's schedule."""
    function_arn: pulumi.Output[str]
    application: aws.serverlessrepository.CloudFormationStack
    rotation: aws.secretsmanager.SecretRotation
    log_group: aws.cloudwatch.LogGroup

    def __init__(self, name: str, stack: StackSettings, cfg: RotationConfig, db: DatabaseRefs,
                 network: NetworkRefs, *, key_arn: pulumi.Input[str],
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("tca:infra:CredentialRotation", name, None, opts)
        function_name = rotation_function_name(stack)

        # Lambda writes to /aws/lambda/<function>, creating it on first use with no retention and outside the stack
        # (it would outlive `pulumi destroy`); created here first, with the stack's key and retention.
        self.log_group = stack_log_group(f"{name}-logs", stack, key_arn, self,
                                         name=f"/aws/lambda/{function_name}")
        subnets = pulumi.Output.from_input(network.private_subnet_ids).apply(",".join)
        self.application = aws.serverlessrepository.CloudFormationStack(
            f"{name}-function",
            application_id=ROTATION_APPLICATION_ID,
            semantic_version=ROTATION_APPLICATION_VERSION,
            capabilities=ROTATION_CAPABILITIES,
            parameters={
                "functionName": function_name,
                # The function calls Secrets Manager at this endpoint, through the private subnets' NAT.
                "endpoint": f"https://secretsmanager.{stack.region}.amazonaws.com",
                # The database administration path: 5432 to the database, 443 out (infra/network.py).
                "vpcSubnetIds": subnets,
                "vpcSecurityGroupIds": network.admin_security_group_id,
                # The bootstrap's first password follows the same rules (infra/database.py).
                "excludeCharacters": PASSWORD_EXCLUDE_CHARACTERS,
                # Both secrets are on the stack key: the function's role may decrypt with it.
                "kmsKeyArn": key_arn,
                "masterSecretArn": db.master_secret_arn,
                "masterSecretKmsKeyArn": key_arn,
            },
            # A replacement re-creates the function under the same name, which the old stack still holds.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.log_group], delete_before_replace=True),
        )
        self.function_arn = self.application.outputs.apply(lambda outputs: outputs[ROTATION_FUNCTION_OUTPUT])
        self.rotation = aws.secretsmanager.SecretRotation(
            f"{name}-schedule",
            secret_id=db.secret_arn,
            rotation_lambda_arn=self.function_arn,
            rotation_rules=aws.secretsmanager.SecretRotationRotationRulesArgs(
                schedule_expression=cfg.schedule_expression, duration=cfg.duration),
            # Otherwise RotateSecret rotates at once on create and on every change of the rules, so two rotations
            # could come closer together than tca:rotationDays allows (infra/config/rotation.py). Without it,
            # Secrets Manager only tests the configuration by running the function's testSecret step.
            rotate_immediately=False,
            # The bootstrap creates both users and writes the secret's first value: a rotation before it fails.
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(db.ready)),
        )
        self.register_outputs({"functionArn": self.function_arn})
