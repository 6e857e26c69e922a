"""The GitHub workflows: what runs on pull requests, on main and on a schedule, with which secrets and
roles, and that no guard's result can be ignored. Exact values, not substrings: a weakened condition,
command or setting must fail here."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from tests.mocks import ROOT, read_yaml, stack_region

WORKFLOWS = ROOT / ".github" / "workflows"
NAMES = ["pull-request.yml", "deploy.yml", "destroy-dev.yml", "drift.yml"]

# Pulumi.yaml's virtualenv: `pulumi destroy` and the dynamic-provider host need it, and pulumi/actions
# does not create it.
VIRTUALENV = read_yaml(ROOT / "Pulumi.yaml")["runtime"]["options"]["virtualenv"]
VENV_RUN = f"python -m venv {VIRTUALENV}\n{VIRTUALENV}/bin/python -m pip install -r requirements.txt\n"
PACK_VENV_RUN = "python -m venv policy/venv\npolicy/venv/bin/python -m pip install -r policy/requirements.txt\n"
(PULUMI_VERSION,) = re.findall(r"^pulumi==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M)

ENGINE_COMMAND = re.compile(r"^pulumi (preview|up|destroy|refresh)\b", re.M)
PR_GUARD_IF = "${{ !contains(github.event.pull_request.labels.*.name, 'allow-db-replacement') }}"
PR_ALLOW_IF = "${{ contains(github.event.pull_request.labels.*.name, 'allow-db-replacement') }}"

# Every job that runs the engine, the stack it runs against, its GitHub environment and its AWS role.
ENGINE_JOBS = {
    ("pull-request.yml", "preview"): ("dev", None, "AWS_PREVIEW_ROLE_ARN"),
    ("deploy.yml", "dev"): ("dev", "dev", "AWS_DEPLOY_ROLE_ARN_DEV"),
    ("deploy.yml", "prod-preview"): ("prod", "production-readonly", "AWS_PROD_READONLY_ROLE_ARN"),
    ("deploy.yml", "prod"): ("prod", "production", "AWS_DEPLOY_ROLE_ARN_PROD"),
    ("destroy-dev.yml", "destroy"): ("dev", "dev", "AWS_DEPLOY_ROLE_ARN_DEV"),
    ("drift.yml", "dev"): ("dev", None, "AWS_PREVIEW_ROLE_ARN"),
    ("drift.yml", "prod"): ("prod", "production-readonly", "AWS_PROD_READONLY_ROLE_ARN"),
}


def _load(name: str) -> dict:
    return read_yaml(WORKFLOWS / name)


def _triggers(workflow: dict) -> dict:
    # YAML 1.1 reads the key `on` as the boolean True.
    return workflow["on"] if "on" in workflow else workflow[True]


def _job(name: str, job: str) -> dict:
    return _load(name)["jobs"][job]


def _uses(job: dict, action: str) -> list[dict]:
    return [s for s in job["steps"] if s.get("uses", "").startswith(action)]


def _runs(job: dict) -> list[str]:
    return [s["run"] for s in job["steps"] if "run" in s]


def _is_engine(step: dict) -> bool:
    if step.get("uses", "").startswith("pulumi/actions"):
        return "command" in step.get("with", {})
    return bool(ENGINE_COMMAND.search(step.get("run", "")))


def _role(job: dict) -> str:
    (creds,) = _uses(job, "aws-actions/configure-aws-credentials")
    return creds["with"]["role-to-assume"]


def _references(text: str) -> set[str]:
    return set(re.findall(r"\b((?:secrets|vars)\.[A-Z0-9_]+)", text))


def test_the_engine_jobs_are_exactly_the_known_ones():
    found = {(name, job_name) for name in NAMES for job_name, job in _load(name)["jobs"].items()
             if any(_is_engine(s) for s in job["steps"])}
    assert found == set(ENGINE_JOBS)


@pytest.mark.parametrize(("name", "job_name"), sorted(ENGINE_JOBS))
def test_every_engine_job_creates_the_programs_virtualenv_before_the_engine_runs(name, job_name):
    steps = _job(name, job_name)["steps"]
    venv = [i for i, s in enumerate(steps) if s.get("run") == VENV_RUN]
    engine = [i for i, s in enumerate(steps) if _is_engine(s)]
    assert len(venv) == 1 and venv[0] < engine[0]
    setup_python = [i for i, s in enumerate(steps) if s.get("uses") == "actions/setup-python@v5"]
    assert setup_python == [1] and steps[1]["with"] == {"python-version": "3.11"}


@pytest.mark.parametrize(("name", "job_name"), sorted(ENGINE_JOBS))
def test_every_engine_job_installs_the_cli_of_the_pinned_sdk_before_calling_it(name, job_name):
    steps = _job(name, job_name)["steps"]
    installs = [i for i, s in enumerate(steps) if s.get("uses", "").startswith("pulumi/actions")]
    cli_runs = [i for i, s in enumerate(steps) if s.get("run", "").startswith("pulumi ")]
    assert installs and installs[0] < cli_runs[0]
    for i in installs:
        assert steps[i]["uses"] == "pulumi/actions@v6"
        assert steps[i]["with"]["pulumi-version"] == PULUMI_VERSION


@pytest.mark.parametrize(("name", "job_name"), sorted(ENGINE_JOBS))
def test_every_engine_job_gets_only_its_own_stacks_backend_passphrase_role_and_environment(name, job_name):
    stack, environment, role = ENGINE_JOBS[name, job_name]
    job = _job(name, job_name)
    suffix = stack.upper()
    assert job["env"] == {"PULUMI_BACKEND_URL": f"${{{{ vars.PULUMI_BACKEND_URL_{suffix} }}}}",
                          "PULUMI_CONFIG_PASSPHRASE": f"${{{{ secrets.PULUMI_CONFIG_PASSPHRASE_{suffix} }}}}"}
    assert job.get("environment") == environment
    assert _role(job) == f"${{{{ vars.{role} }}}}"
    # The stack each engine command names is the job's own.
    for step in job["steps"]:
        if step.get("uses", "").startswith("pulumi/actions") and "command" in step["with"]:
            assert step["with"]["stack-name"] == "${{ matrix.stack }}"
            assert job["strategy"]["matrix"] == {"stack": [stack]}
        for command in ENGINE_COMMAND.finditer(step.get("run", "")):
            line = step["run"][command.start():].splitlines()[0]
            assert f"--stack {stack} " in line or '--stack "${{ matrix.stack }}" ' in line


@pytest.mark.parametrize("name", NAMES)
def test_no_secret_or_state_reaches_the_whole_workflow(name):
    workflow = _load(name)
    assert workflow["env"] == {"AWS_REGION": stack_region("dev")}
    assert workflow["permissions"] == {"contents": "read"}


@pytest.mark.parametrize("name", NAMES)
def test_aws_access_is_oidc_only(name):
    text = (WORKFLOWS / name).read_text()
    assert "aws-access-key-id" not in text and "aws-secret-access-key" not in text
    for job in _load(name)["jobs"].values():
        for step in _uses(job, "aws-actions/configure-aws-credentials"):
            assert step["uses"] == "aws-actions/configure-aws-credentials@v4"
            assert step["with"] == {"role-to-assume": step["with"]["role-to-assume"],
                                    "aws-region": "${{ env.AWS_REGION }}"}
            assert step["with"]["role-to-assume"].startswith("${{ vars.AWS_")
            assert job["permissions"]["id-token"] == "write"


def test_pull_request_jobs_reference_nothing_of_prod():
    text = (WORKFLOWS / "pull-request.yml").read_text()
    assert _references(text) == {"secrets.PULUMI_CONFIG_PASSPHRASE_DEV", "secrets.GITHUB_TOKEN",
                                 "vars.PULUMI_BACKEND_URL_DEV", "vars.AWS_PREVIEW_ROLE_ARN"}
    workflow = _load("pull-request.yml")
    # pull_request_target would run with the base repository's secrets; an environment would change the
    # OIDC subject to one the deployer role trusts.
    assert set(_triggers(workflow)) == {"pull_request"}
    assert all("environment" not in job for job in workflow["jobs"].values())
    assert "env" not in workflow["jobs"]["checks"]


@pytest.mark.parametrize("name", NAMES)
def test_prod_material_is_only_used_inside_prods_environments(name):
    # That those environments admit only `main` is a repository setting (README, *State backends and
    # secrets*) the files cannot show.
    for job in _load(name)["jobs"].values():
        used = _references(yaml.safe_dump(job))
        if used & {"secrets.PULUMI_CONFIG_PASSPHRASE_PROD", "vars.PULUMI_BACKEND_URL_PROD",
                   "vars.AWS_PROD_READONLY_ROLE_ARN"}:
            assert job["environment"] in {"production", "production-readonly"}
        # Each stack's deployer only in that stack's deploying environment: dev's role never reaches a
        # prod job, prod's never a dev job.
        if "vars.AWS_DEPLOY_ROLE_ARN_DEV" in used:
            assert job["environment"] == "dev"
        if "vars.AWS_DEPLOY_ROLE_ARN_PROD" in used:
            assert job["environment"] == "production"
        assert "vars.AWS_DEPLOY_ROLE_ARN" not in used


def test_pull_requests_run_ci_then_preview_dev_with_the_policy_pack_and_comment_it():
    workflow = _load("pull-request.yml")
    assert _triggers(workflow) == {
        "pull_request": {"types": ["opened", "synchronize", "reopened", "labeled", "unlabeled"]}}
    checks, preview = workflow["jobs"]["checks"], workflow["jobs"]["preview"]
    assert _runs(checks) == ["bash .ci/run"]
    assert preview["needs"] == "checks"
    assert preview["strategy"] == {"fail-fast": False, "matrix": {"stack": ["dev"]}}
    assert preview["permissions"] == {"contents": "read", "id-token": "write", "pull-requests": "write"}
    (action,) = _uses(preview, "pulumi/actions")
    assert action["with"] == {
        "pulumi-version": PULUMI_VERSION, "command": "preview", "stack-name": "${{ matrix.stack }}",
        "comment-on-pr": True, "github-token": "${{ secrets.GITHUB_TOKEN }}", "diff": True,
        "policyPacks": "policy", "policyPackConfigs": "policy/${{ matrix.stack }}.json"}


def test_pull_request_database_guard_runs_on_the_matrix_stack_and_only_a_label_relaxes_it():
    steps = _job("pull-request.yml", "preview")["steps"]
    tail = [{k: s.get(k) for k in ("if", "run")} for s in steps[-3:]]
    assert tail == [
        {"if": None, "run": 'pulumi preview --stack "${{ matrix.stack }}" --json > preview.json'},
        {"if": PR_GUARD_IF, "run": "python scripts/check_preview.py preview.json"},
        {"if": PR_ALLOW_IF, "run": "python scripts/check_preview.py preview.json --allow-db-replacement"},
    ]


def test_main_deploys_dev_then_previews_prod_read_only_then_deploys_prod_after_approval():
    workflow = _load("deploy.yml")
    assert _triggers(workflow) == {"push": {"branches": ["main"]}}
    jobs = workflow["jobs"]
    assert list(jobs) == ["checks", "dev", "prod-preview", "prod"]
    assert _runs(jobs["checks"]) == ["bash .ci/run"]
    assert [jobs[j]["needs"] for j in ("dev", "prod-preview", "prod")] == ["checks", "dev", "prod-preview"]


def test_deploys_are_never_cancelled_half_way():
    assert _load("deploy.yml")["concurrency"] == {"group": "deploy", "cancel-in-progress": False}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_each_deploy_runs_the_policy_pack_then_fails_on_a_perpetual_diff_then_smoke_tests(stack):
    job = _job("deploy.yml", stack)
    assert _runs(job) == [
        VENV_RUN,
        PACK_VENV_RUN,
        # --refresh: the canary's ignored weights and target groups are sent from state, which must be current.
        f"pulumi up --stack {stack} --yes --refresh --policy-pack policy --policy-pack-config policy/{stack}.json",
        f"pulumi preview --stack {stack} --expect-no-changes --diff",
        f"python scripts/smoke.py --stack {stack}",
    ]


def test_prod_is_previewed_with_the_policy_pack_and_guarded_without_an_override():
    assert _runs(_job("deploy.yml", "prod-preview")) == [
        VENV_RUN,
        PACK_VENV_RUN,
        "pulumi preview --stack prod --diff --policy-pack policy --policy-pack-config policy/prod.json",
        "pulumi preview --stack prod --json > preview.json",
        "python scripts/check_preview.py preview.json",
    ]


def test_destroy_is_manual_confirmed_and_only_for_dev():
    workflow = _load("destroy-dev.yml")
    assert _triggers(workflow) == {"workflow_dispatch": {"inputs": {"confirm": {
        "description": 'Type "destroy dev" to delete the dev stack and its database', "required": True}}}}
    (job,) = workflow["jobs"].values()
    assert job["if"] == "${{ inputs.confirm == 'destroy dev' }}"
    assert _runs(job) == [VENV_RUN, "pulumi destroy --stack dev --yes"]


def test_drift_is_checked_daily_and_on_demand_for_each_stack_with_read_only_roles():
    workflow = _load("drift.yml")
    assert _triggers(workflow) == {"schedule": [{"cron": "17 3 * * *"}], "workflow_dispatch": None}
    assert workflow["concurrency"] == {"group": "drift", "cancel-in-progress": False}
    assert list(workflow["jobs"]) == ["dev", "prod"]
    for stack, job in workflow["jobs"].items():
        assert _runs(job) == [VENV_RUN, f"pulumi preview --stack {stack} --refresh --expect-no-changes --diff"]
        assert _role(job) not in {"${{ vars.AWS_DEPLOY_ROLE_ARN_DEV }}", "${{ vars.AWS_DEPLOY_ROLE_ARN_PROD }}"}
        assert job["permissions"] == {"contents": "read", "id-token": "write"}


# The only conditions any job or step may carry: the destroy confirmation, and the pull-request label
# that swaps the database guard for its explicit override. Anything else (`always()`, `!cancelled()`,
# `false`, a repository variable) could run a deploy after a failed guard, or skip the guard.
ALLOWED_JOB_IFS = {("destroy-dev.yml", "destroy"): "${{ inputs.confirm == 'destroy dev' }}"}
ALLOWED_STEP_IFS = {("pull-request.yml", "preview"): [PR_GUARD_IF, PR_ALLOW_IF]}


@pytest.mark.parametrize("name", NAMES)
def test_no_job_or_step_carries_a_condition_but_the_confirmation_and_the_label(name):
    for job_name, job in _load(name)["jobs"].items():
        assert job.get("if") == ALLOWED_JOB_IFS.get((name, job_name)), (name, job_name)
        step_ifs = [step["if"] for step in job["steps"] if "if" in step]
        assert step_ifs == ALLOWED_STEP_IFS.get((name, job_name), []), (name, job_name)


@pytest.mark.parametrize("name", NAMES)
def test_no_guards_result_can_be_ignored(name):
    workflow = _load(name)
    # GitHub's default `bash -e {0}` has no pipefail; `shell: bash` is `bash --noprofile --norc -eo pipefail {0}`.
    assert workflow["defaults"] == {"run": {"shell": "bash"}}
    for job in workflow["jobs"].values():
        assert "continue-on-error" not in job
        for step in job["steps"]:
            assert "continue-on-error" not in step and "continue-on-error" not in step.get("with", {})
            assert "shell" not in step
            assert "always()" not in step.get("if", "") and "failure()" not in step.get("if", "")
            run = step.get("run", "")
            for escape in ("||", "set +e", "; true", "exit 0"):
                assert escape not in run


# Trust and state access of the three roles the workflows assume.

def _iam(name: str) -> dict:
    return json.loads((ROOT / "iam" / name).read_text())


def _subjects(name: str) -> list[str]:
    (statement,) = _iam(name)["Statement"]
    condition = statement["Condition"]["StringEquals"]
    assert condition["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    subjects = condition["token.actions.githubusercontent.com:sub"]
    return subjects if isinstance(subjects, list) else [subjects]


def test_each_role_trusts_only_the_runs_that_use_it():
    # One deployer per stack: a dev deploy (no reviewers) can never assume prod's deployer.
    assert _subjects("deployer-dev-trust-policy.json") == ["repo:OWNER/REPO:environment:dev"]
    assert _subjects("deployer-prod-trust-policy.json") == ["repo:OWNER/REPO:environment:production"]
    # Pull requests, and the scheduled dev drift check on main.
    assert _subjects("preview-trust-policy.json") == ["repo:OWNER/REPO:pull_request",
                                                      "repo:OWNER/REPO:ref:refs/heads/main"]
    assert _subjects("prod-readonly-trust-policy.json") == ["repo:OWNER/REPO:environment:production-readonly"]


def test_every_role_file_in_iam_is_accounted_for():
    assert sorted(p.name for p in (ROOT / "iam").glob("*trust-policy.json")) == [
        "deployer-dev-trust-policy.json", "deployer-prod-trust-policy.json", "preview-trust-policy.json",
        "prod-readonly-trust-policy.json"]


def test_each_deployer_reads_and_writes_only_its_own_stacks_state():
    for stack, bucket in (("dev", "DEV_STATE_BUCKET"), ("prod", "PROD_STATE_BUCKET")):
        assert _iam(f"deployer-{stack}-state-policy.json") == {"Version": "2012-10-17", "Statement": [
            {"Sid": "ListState", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"},
            {"Sid": "ReadWriteState", "Effect": "Allow", "Action": ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
             "Resource": f"arn:aws:s3:::{bucket}/*"}]}


def test_the_read_only_roles_read_no_log_events_database_logs_bucket_objects_credentials_or_other_data():
    # ReadOnlyAccess allows logs:GetLogEvents/FilterLogEvents/StartQuery, rds:Download* and s3:Get*, and
    # CloudWatch Logs decrypts for any reader. A refresh reads none of these: log groups are read with
    # DescribeLogGroups/ListTagsForResource, buckets with their GetBucket* calls, never an object.
    assert _iam("readonly-no-data-policy.json") == {"Version": "2012-10-17", "Statement": [
        {"Sid": "NoLogEvents", "Effect": "Deny",
         "Action": ["logs:FilterLogEvents", "logs:GetLogEvents", "logs:GetLogRecord", "logs:GetQueryResults",
                    "logs:StartLiveTail", "logs:StartQuery", "logs:Unmask"], "Resource": "*"},
        {"Sid": "NoDatabaseLogFiles", "Effect": "Deny",
         "Action": ["rds:DownloadCompleteDBLogFile", "rds:DownloadDBLogFilePortion"], "Resource": "*"},
        # Every bucket's objects but the stacks' state (the preview role is denied prod's state separately).
        {"Sid": "NoBucketObjectsButTheStacksState", "Effect": "Deny",
         "Action": ["s3:GetObject", "s3:GetObjectAttributes", "s3:GetObjectVersion",
                    "s3:GetObjectVersionAttributes"],
         "NotResource": ["arn:aws:s3:::DEV_STATE_BUCKET/*", "arn:aws:s3:::PROD_STATE_BUCKET/*"]},
        # ECR requires the pull-through cache's Docker Hub secret to be named ecr-pullthroughcache/...
        {"Sid": "NoImageRegistryCredentials", "Effect": "Deny", "Action": ["secretsmanager:GetSecretValue"],
         "Resource": "arn:aws:secretsmanager:*:*:secret:ecr-pullthroughcache/*"},
        # RDS's master secrets and the app credential (tests/test_deployer_policy.py, "read-only roles").
        {"Sid": "NoDatabaseCredentials", "Effect": "Deny", "Action": ["secretsmanager:GetSecretValue"],
         "Resource": ["arn:aws:secretsmanager:*:*:secret:rds!*",
                      "arn:aws:secretsmanager:*:*:secret:tca-*-app-credentials-*"]},
        # Data that ReadOnlyAccess reads elsewhere: SQL text with its literals in Performance Insights (on for
        # every stack), parameters, items, function code, query results, images, messages, console output.
        {"Sid": "NoDataInOtherServices", "Effect": "Deny",
         "Action": ["athena:GetQueryResults", "codecommit:GetBlob", "codecommit:GetFile", "dynamodb:BatchGetItem",
                    "dynamodb:GetItem", "dynamodb:PartiQLSelect", "dynamodb:Query", "dynamodb:Scan",
                    "ec2:GetConsoleOutput", "ec2:GetConsoleScreenshot", "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer", "kinesis:GetRecords", "lambda:GetFunction",
                    "pi:DescribeDimensionKeys", "pi:GetDimensionKeyDetails", "pi:GetResourceMetrics",
                    "sqs:ReceiveMessage", "ssm:GetParameter", "ssm:GetParameterHistory", "ssm:GetParameters",
                    "ssm:GetParametersByPath"], "Resource": "*"},
    ]}


def test_the_preview_role_can_never_read_prods_state_or_secret():
    statements = {s["Sid"]: s for s in _iam("preview-state-policy.json")["Statement"]}
    assert statements["NeverProdState"] == {
        "Sid": "NeverProdState", "Effect": "Deny", "Action": "s3:*",
        "Resource": ["arn:aws:s3:::PROD_STATE_BUCKET", "arn:aws:s3:::PROD_STATE_BUCKET/*"]}
    assert statements["NeverProdSecrets"] == {
        "Sid": "NeverProdSecrets", "Effect": "Deny", "Action": "secretsmanager:GetSecretValue",
        "Resource": "arn:aws:secretsmanager:*:ACCOUNT_ID:secret:tca-prod-*"}
    allowed = json.dumps([s for s in statements.values() if s["Effect"] == "Allow"])
    assert "PROD" not in allowed and "tca-prod" not in allowed


def test_the_read_only_roles_cannot_write_state():
    for name in ("preview-state-policy.json", "prod-readonly-state-policy.json"):
        for statement in _iam(name)["Statement"]:
            if statement["Effect"] == "Allow":
                assert statement["Action"] in ("s3:ListBucket", "s3:GetObject", "secretsmanager:GetSecretValue")
    prod = json.dumps(_iam("prod-readonly-state-policy.json"))
    assert "DEV_STATE_BUCKET" not in prod and "tca-dev" not in prod


def test_ci_uses_its_own_virtualenv_not_the_one_pulumi_up_uses():
    script = (ROOT / ".ci" / "run").read_text()
    commands = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("#"))
    assert re.findall(r"(?<![\w.-])venv/", commands) == []
    assert "python3 -m venv --clear .ci-venv\n" in script
    assert ".ci-venv/\n" in (ROOT / ".gitignore").read_text().splitlines(keepends=True)


@pytest.mark.parametrize("name", sorted(p.name for p in WORKFLOWS.glob("*.yml")))
def test_every_workflow_works_in_the_region_both_stack_files_deploy_to(name):
    # The program takes its region from aws:region; the jobs' credentials and any AWS call a step makes
    # use AWS_REGION. A region change (README, *First deploy*) must move both, or jobs look elsewhere.
    regions = {read_yaml(ROOT / f"Pulumi.{stack}.yaml")["config"]["aws:region"]
               for stack in ("dev", "prod")}
    assert regions == {_load(name)["env"]["AWS_REGION"]}


def _uses_policy_pack(step: dict) -> bool:
    return "--policy-pack policy" in step.get("run", "") or step.get("with", {}).get("policyPacks") == "policy"


@pytest.mark.parametrize("name", sorted(p.name for p in WORKFLOWS.glob("*.yml")))
def test_every_policy_pack_run_has_the_packs_own_virtualenv_first(name):
    pack = read_yaml(ROOT / "policy" / "PulumiPolicy.yaml")["runtime"]["options"]["virtualenv"]
    assert PACK_VENV_RUN == (f"python -m venv policy/{pack}\n"
                             f"policy/{pack}/bin/python -m pip install -r policy/requirements.txt\n")
    for job_name, job in _load(name)["jobs"].items():
        steps = job.get("steps", [])
        users = [i for i, s in enumerate(steps) if _uses_policy_pack(s)]
        venvs = [i for i, s in enumerate(steps) if s.get("run") == PACK_VENV_RUN]
        if users:
            assert len(venvs) == 1 and venvs[0] < users[0], (name, job_name)
        else:
            assert venvs == [], (name, job_name)
