"""Valid changes an operator makes to the stack files after a first deploy, and a runner that proves
the suite does not pin the committed values.

`changed_stack_config(stack)` is the committed stack file with every change of `CHANGES` applied (the
values a test passes to `run_program(stack, overrides=...)`). Each change stays within what AWS accepts
and within the prod guardrails (policy/prod.json: backups, deletion protection, Multi-AZ, enhanced
monitoring, access logs, WAF, canary, log retention).

    python -m tests.operator_changes [--variant=a|b] [pytest args]

copies the repository's tracked files to a temporary directory, writes the changed stack files there,
moves every workflow's AWS_REGION to the new region (the README's region procedure), and runs the whole
suite against that copy. The committed files are never touched.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent



def _committed_regions() -> set[str]:
    return {str(yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]["aws:region"])
            for stack in ("dev", "prod")}


# The region the stacks move to: one they are not in now, so a value left behind shows.
NEW_REGION = next(region for region in ("eu-west-1", "us-west-2") if region not in _committed_regions())
ROLLBACK_DIGEST = "servian/techchallengeapp@sha256:" + "0123456789abcdef" * 4

# Per stack: what an operator sets after a first deploy. Each stack states every key, so the set is valid
# whatever the committed files say; every key moves in at least one stack, the region included (with
# AWS_REGION in the workflows, see `apply_to_copy`).
CHANGES: dict[str, dict[str, Any]] = {
    "dev": {
        "aws:region": NEW_REGION,
        "tca:azCount": 3,
        "tca:vpcCidr": "10.20.0.0/16",
        "tca:natGateways": "OnePerAz",
        "tca:appImage": "servian/techchallengeapp:0.11.0",
        "tca:appPort": 8080,
        "tca:taskCpu": 1024,
        "tca:taskMemory": 2048,
        "tca:minTasks": 3,
        "tca:maxTasks": 10,
        "tca:cpuTargetPercent": 70,
        "tca:requestsPerTarget": 500,
        "tca:dbEngineVersion": 17,
        "tca:dbInstanceClass": "db.t4g.medium",
        "tca:dbAllocatedStorage": 50,
        "tca:dbMaxAllocatedStorage": 200,
        "tca:dbMultiAz": True,
        "tca:dbBackupRetentionDays": 3,
        "tca:deletionProtection": True,
        "tca:logRetentionDays": 30,
        "tca:secretRecoveryDays": 7,
        "tca:rotationDays": 14,
        "tca:seedRevision": 2,
        "tca:dbProxy": True,
        # The first of the two deploys that move a stack off the master login.
        "tca:dbManagedMasterPassword": False,
        "tca:dbProxyClientAuth": "POSTGRES_SCRAM_SHA_256",
        "tca:alarmEmail": "ops@example.com",
        "tca:alarmTarget5xxCount": 33,
        "tca:alarmAlb5xxCount": 44,
        "tca:alarmResponseTimeMs": 2500,
        "tca:alarmServiceCpuPercent": 85,
        "tca:alarmServiceMemoryPercent": 75,
        "tca:alarmDbCpuPercent": 70,
        "tca:alarmDbFreeStorageGib": 4,
        "tca:alarmDbConnections": 150,
        "tca:alarmDbFreeMemoryMib": 256,
        "tca:alarmProxyBorrowLatencyMs": 700,
        "tca:alarmProxyClientConnections": 800,
        "tca:dbMaintenanceWindow": "mon:03:00-mon:04:00",
        "tca:dbBackupWindow": "01:00-01:30",
        "tca:dbMonitoringIntervalSeconds": 30,
        "tca:dbSlowStatementMs": -1,
        "tca:keyDeletionWindowDays": 14,
        "tca:keyAdministrator": "role/ops/alice-tca",
        # One stack per deployment, in a VPC it creates (tests/test_layers.py covers the others).
        "tca:layer": "all",
        "tca:networkStack": "",
        "tca:databaseStack": "",
        "tca:deploymentName": "",
        "tca:vpcId": "",
        "tca:publicSubnetIds": "",
        "tca:privateSubnetIds": "",
        "tca:fargateSpot": False,
        "tca:deploymentStrategy": "CANARY",
        "tca:canaryPercent": "25",
        "tca:canaryBakeMinutes": 12,
        "tca:deploymentBakeMinutes": 7,
        "tca:rollback5xxCount": 17,
        "tca:rollbackResponseTimeMs": 2200,
        "tca:waf": True,
        "tca:wafRateLimit": 500,
        "tca:alarmWafBlockedCount": 250,
        "tca:albAccessLogs": True,
        "tca:albAccessLogDays": 14,
        "tca:domainName": "",
        "tca:hostedZoneId": "",
        "tca:dockerHubCredentialsSecretArn":
            f"arn:aws:secretsmanager:{NEW_REGION}:123456789012:secret:ecr-pullthroughcache/docker-hub-AbC123",
    },
    "prod": {
        "aws:region": NEW_REGION,
        "tca:azCount": 2,
        "tca:vpcCidr": "10.30.0.0/16",
        "tca:natGateways": "Single",
        # The bad-release runbook: pin the previous image by digest and commit the stack file.
        "tca:appImage": ROLLBACK_DIGEST,
        "tca:appPort": 8080,
        "tca:taskCpu": 1024,
        "tca:taskMemory": 3072,
        "tca:minTasks": 3,
        "tca:maxTasks": 10,
        "tca:cpuTargetPercent": 50,
        "tca:requestsPerTarget": 2000,
        "tca:dbEngineVersion": 17,
        "tca:dbInstanceClass": "db.m6g.large",
        "tca:dbAllocatedStorage": 100,
        "tca:dbMaxAllocatedStorage": 500,
        "tca:dbBackupRetentionDays": 14,
        "tca:logRetentionDays": 400,
        "tca:secretRecoveryDays": 14,
        "tca:rotationDays": 21,
        "tca:dbProxy": False,
        "tca:dbManagedMasterPassword": True,
        "tca:alarmEmail": "ops@example.com",
        "tca:alarmTarget5xxCount": 3,
        "tca:alarmAlb5xxCount": 4,
        "tca:alarmResponseTimeMs": 800,
        "tca:alarmServiceCpuPercent": 70,
        "tca:alarmServiceMemoryPercent": 65,
        "tca:alarmDbCpuPercent": 75,
        "tca:alarmDbFreeStorageGib": 10,
        "tca:alarmDbConnections": 300,
        "tca:alarmDbFreeMemoryMib": 512,
        "tca:alarmProxyBorrowLatencyMs": 300,
        "tca:alarmProxyClientConnections": 2000,
        "tca:dbMaintenanceWindow": "tue:20:00-tue:21:30",
        "tca:dbBackupWindow": "12:00-13:00",
        "tca:dbMonitoringIntervalSeconds": 15,
        "tca:dbSlowStatementMs": 500,
        "tca:keyDeletionWindowDays": 21,
        "tca:keyAdministrator": "",
        # One stack per deployment, in a VPC it creates (tests/test_layers.py covers the others).
        "tca:layer": "all",
        "tca:networkStack": "",
        "tca:databaseStack": "",
        "tca:deploymentName": "",
        "tca:vpcId": "",
        "tca:publicSubnetIds": "",
        "tca:privateSubnetIds": "",
        "tca:fargateSpot": True,
        "tca:canaryPercent": "12.5",
        "tca:canaryBakeMinutes": 20,
        "tca:deploymentBakeMinutes": 30,
        "tca:rollback5xxCount": 2,
        "tca:rollbackResponseTimeMs": 900,
        "tca:wafRateLimit": 300,
        "tca:alarmWafBlockedCount": 40,
        "tca:albAccessLogDays": 400,
        "tca:domainName": "todo.example.com",
        "tca:hostedZoneId": "Z0123456789ABC",
        "tca:dockerHubCredentialsSecretArn": "",
        # prod's guardrails (policy/prod.json) and the keys this set keeps, stated so the set is complete.
        "tca:deletionProtection": True,
        "tca:dbMultiAz": True,
        "tca:albAccessLogs": True,
        "tca:waf": True,
        "tca:deploymentStrategy": "CANARY",
        "tca:dbProxyClientAuth": "POSTGRES_MD5",
        "tca:seedRevision": 1,
    },
}


# A second set in the other direction: the keys the first leaves alone in a stack, the extremes of each
# range, and a region without an Elastic Load Balancing log account (its access logs use the service
# principal).
OTHER_REGION = next(region for region in ("ap-southeast-4", "me-central-1") if region not in _committed_regions())
OTHER_CHANGES: dict[str, dict[str, Any]] = {
    "dev": {
        "aws:region": OTHER_REGION,
        "tca:azCount": 2,
        "tca:vpcCidr": "192.168.0.0/16",
        "tca:natGateways": "Single",
        "tca:appImage": "nginx:1.27",
        "tca:taskCpu": 512,
        "tca:taskMemory": 4096,
        "tca:minTasks": 2,
        "tca:maxTasks": 2,
        "tca:dbInstanceClass": "db.t3.small",
        "tca:dbMultiAz": False,
        "tca:dbBackupRetentionDays": 2,
        "tca:deletionProtection": False,
        "tca:logRetentionDays": 14,
        "tca:secretRecoveryDays": 30,
        "tca:rotationDays": 45,
        "tca:keyDeletionWindowDays": 30,
        "tca:keyAdministrator": "user/bob",
        # One stack per deployment, in a VPC it creates (tests/test_layers.py covers the others).
        "tca:layer": "all",
        "tca:networkStack": "",
        "tca:databaseStack": "",
        "tca:deploymentName": "",
        "tca:vpcId": "",
        "tca:publicSubnetIds": "",
        "tca:privateSubnetIds": "",
        "tca:dbProxy": False,
        "tca:domainName": "dev.todo.example.com",
        "tca:hostedZoneId": "Z0123456789ABC",
        "tca:dbMaintenanceWindow": "sun:23:30-mon:00:30",
        "tca:dbBackupWindow": "22:00-23:00",
        "tca:dbMonitoringIntervalSeconds": 0,
        "tca:fargateSpot": True,
        "tca:deploymentStrategy": "ROLLING",
        "tca:deploymentBakeMinutes": 0,
        "tca:waf": False,
        "tca:albAccessLogs": False,
        "tca:albAccessLogDays": 1,
    },
    "prod": {
        "aws:region": OTHER_REGION,
        "tca:azCount": 6,
        "tca:vpcCidr": "172.16.0.0/16",
        "tca:natGateways": "OnePerAz",
        "tca:appImage": "servian/techchallengeapp:0.11.0@sha256:" + "fedcba9876543210" * 4,
        "tca:taskCpu": 256,
        "tca:taskMemory": 2048,
        "tca:minTasks": 1,
        "tca:maxTasks": 1,
        "tca:dbEngineVersion": 14,
        "tca:dbInstanceClass": "db.r6g.xlarge",
        "tca:dbBackupRetentionDays": 35,
        "tca:logRetentionDays": 3653,
        "tca:secretRecoveryDays": 0,
        "tca:rotationDays": 10,
        "tca:keyDeletionWindowDays": 7,
        "tca:keyAdministrator": "role/github-tca-prod-deployer-2",
        # One stack per deployment, in a VPC it creates (tests/test_layers.py covers the others).
        "tca:layer": "all",
        "tca:networkStack": "",
        "tca:databaseStack": "",
        "tca:deploymentName": "",
        "tca:vpcId": "",
        "tca:publicSubnetIds": "",
        "tca:privateSubnetIds": "",
        "tca:seedRevision": 3,
        "tca:dbProxy": True,
        "tca:dbProxyClientAuth": "POSTGRES_SCRAM_SHA_256",
        "tca:alarmEmail": "",
        "tca:dockerHubCredentialsSecretArn":
            f"arn:aws:secretsmanager:{OTHER_REGION}:123456789012:secret:ecr-pullthroughcache/hub-AbC123",
        "tca:dbMonitoringIntervalSeconds": 1,
        "tca:dbSlowStatementMs": -1,
        "tca:canaryPercent": "100",
        "tca:canaryBakeMinutes": 0,
        "tca:deploymentBakeMinutes": 0,
        "tca:wafRateLimit": 10,
        "tca:albAccessLogDays": 3650,
    },
}

VARIANTS = {"a": (CHANGES, NEW_REGION), "b": (OTHER_CHANGES, OTHER_REGION)}


def committed_stack_file(stack: str, root: Path = ROOT) -> dict[str, Any]:
    return yaml.safe_load((root / f"Pulumi.{stack}.yaml").read_text())["config"]


def changed_stack_config(stack: str, root: Path = ROOT, changes: dict[str, dict[str, Any]] = CHANGES) -> dict[str, Any]:
    """The committed stack file with the operator's changes applied, as the stack file would hold it."""
    return {**committed_stack_file(stack, root), **changes[stack]}


def set_workflow_region(text: str, region: str) -> str:
    """A workflow's text with its `AWS_REGION:` env value moved to `region` (nothing else changes)."""
    return re.sub(r"(?m)^(\s*AWS_REGION:[ \t]*)\S+[ \t]*$", rf"\g<1>{region}", text)


def apply_to_copy(root: Path, variant: str = "a") -> None:
    """Write the changed stack files and the workflows' new AWS_REGION into the copy at `root`."""
    changes, region = VARIANTS[variant]
    for stack in changes:
        path = root / f"Pulumi.{stack}.yaml"
        path.write_text(yaml.safe_dump({"config": changed_stack_config(stack, root, changes)}, sort_keys=False))
    for workflow in sorted((root / ".github" / "workflows").glob("*.yml")):
        workflow.write_text(set_workflow_region(workflow.read_text(), region))


def _copy_tracked_files(destination: Path) -> None:
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def main(argv: list[str]) -> int:
    """`--variant=a` or `--variant=b` runs one set of changes; without it both run, one after the other."""
    chosen = [arg.split("=", 1)[1] for arg in argv if arg.startswith("--variant=")] or sorted(VARIANTS)
    pytest_args = [arg for arg in argv if not arg.startswith("--variant=")]
    failed = 0
    for variant in chosen:
        with tempfile.TemporaryDirectory(prefix=f"tca-operator-changes-{variant}-") as scratch:
            copy = Path(scratch)
            _copy_tracked_files(copy)
            apply_to_copy(copy, variant)
            print(f"== operator changes {variant}: stack files and workflows in {VARIANTS[variant][1]}", flush=True)
            command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *pytest_args]
            failed |= subprocess.run(command, cwd=copy, check=False).returncode
    return failed


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
