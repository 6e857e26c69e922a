"""TechChallengeApp on AWS: compose this stack's layer and export what operators and the next layer need."""

import pulumi

from infra.alerts import AlarmTopic
from infra.config import load_config
from infra.credential_alarms import CredentialAlarms
from infra.domain import Domain
from infra.edge import Edge
from infra.iam import bound_every_role
from infra.images import Images
from infra.layers import Layer
from infra.monitoring import Monitoring
from infra.redeploy import ScheduledRedeploy
from infra.release_check import ReleaseCheck
from infra.rotation import rotation_function_name
from infra.service import HEALTHCHECK_PATH, Service
from infra.tags import tag_every_network_resource

cfg = load_config()
stack = cfg.stack
# Every AWS name starts with the deployment's prefix, so two deployments in one account stay apart.
prefix = stack.name_prefix

# Every role this stack creates, awsx's included, carries the stack's permissions boundary.
bound_every_role(prefix)
# Network resources and the proxy carry their deployment's tag, which the other stack's deployer is denied.
tag_every_network_resource(prefix)
# The whole deployment (tca:layer all), or one layer of it; see infra/layers.py.
layer = Layer(cfg)
network = layer.network()
database = layer.database(network)

if layer.builds_app and database is not None and layer.keys is not None:
    keys = layer.keys
    domain = Domain(prefix, cfg.domain) if cfg.domain.https else None
    images = Images(prefix, stack, cfg.images, cfg.service.app_image)
    # Before the service: its deployment alarms notify this topic, and the load balancer logs to edge's bucket.
    alerts = AlarmTopic(prefix, stack, cfg.monitoring, keys=keys)
    edge = Edge(prefix, stack, cfg.edge, alarm_topic_arn=alerts.topic.arn, kms_key_arn=keys.arn)
    service = Service(prefix, stack, cfg.service, network, database, images=images, keys=keys,
                      release=cfg.release, alarm_topic_arn=alerts.topic.arn,
                      certificate_arn=domain.certificate_arn if domain else None,
                      access_logs=edge.access_logs)
    edge.protect(service.alb.load_balancer.arn)
    url = service.url
    if domain is not None:
        domain.point_at(service.alb.load_balancer)
        url = pulumi.Output.from_input(domain.url)
    service_arn = service.fargate.service.arn
    # With alternating users a task's password stops working two rotations after it started: replace every task daily.
    rotates = layer.rotates_credentials(database)
    redeploy = (ScheduledRedeploy(f"{prefix}-redeploy", region=stack.region, cluster_name=service.cluster_name,
                                  service_name=service.service_name, service_arn=service_arn)
                if rotates else None)
    credentials = CredentialAlarms(
        f"{prefix}-credential-alarms", stack, database, topic_arn=alerts.topic.arn, service_arn=service_arn,
        rotation_function=rotation_function_name(stack) if rotates else None,
        schedule_group=redeploy.group.name if redeploy is not None else None,
        # The master is rotated by RDS on every stack; the app credential only where it alternates users.
        secret_arns=[database.master_secret_arn, *([database.secret_arn] if rotates else [])])
    monitoring = Monitoring(prefix, stack, cfg.monitoring, service, database,
                            topic=alerts.topic, waf_metric_name=edge.waf_metric_name,
                            credential_specs=credentials.specs, event_rules=credentials.event_rules)
    # `pulumi up` fails when ECS rolled this update's revision back instead of completing it.
    ReleaseCheck(prefix, stack, cfg.release, service)

    pulumi.export("url", url)
    pulumi.export("healthcheckUrl", pulumi.Output.concat(url, HEALTHCHECK_PATH))
    pulumi.export("clusterName", service.cluster_name)
    pulumi.export("serviceName", service.service_name)
    pulumi.export("logGroupName", service.log_group.name)
    pulumi.export("dbEndpoint", database.endpoint)
    pulumi.export("dbSecretArn", database.secret_arn)
    pulumi.export("reseedCommand", service.seed.reseed_command)
    pulumi.export("dashboardUrl", monitoring.dashboard_url)
    pulumi.export("alarmTopicArn", alerts.topic.arn)

# A network or database layer exports its refs, which the layers after it read.
for name, value in layer.exports().items():
    pulumi.export(name, value)
