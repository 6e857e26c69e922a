"""TechChallengeApp on AWS: compose the components and export what operators need."""

import pulumi

from infra.config import load_config
from infra.database import Database
from infra.domain import Domain
from infra.monitoring import Monitoring
from infra.network import Network
from infra.service import HEALTHCHECK_PATH, Service

cfg = load_config()

# Every AWS name starts with the stack's prefix, so two stacks in one account stay apart.
network = Network(cfg.name_prefix, cfg)
database = Database(cfg.name_prefix, cfg, network)
domain = Domain(cfg.name_prefix, cfg) if cfg.https else None
service = Service(cfg.name_prefix, cfg, network, database,
                  certificate_arn=domain.certificate_arn if domain else None)
url = service.url
if domain is not None:
    domain.point_at(service.alb.load_balancer)
    url = pulumi.Output.from_input(domain.url)
monitoring = Monitoring(cfg.name_prefix, cfg, service, database)

pulumi.export("url", url)
pulumi.export("healthcheckUrl", pulumi.Output.concat(url, HEALTHCHECK_PATH))
pulumi.export("clusterName", service.cluster_name)
pulumi.export("serviceName", service.service_name)
pulumi.export("logGroupName", service.log_group.name)
pulumi.export("dbEndpoint", database.endpoint)
pulumi.export("dbSecretArn", database.secret.arn)
pulumi.export("reseedCommand", service.seed.reseed_command)
pulumi.export("dashboardUrl", monitoring.dashboard_url)
pulumi.export("alarmTopicArn", monitoring.topic.arn)
