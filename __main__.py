"""TechChallengeApp on AWS: compose the components and export what operators need."""

import pulumi

from infra.config import load_config
from infra.database import Database
from infra.network import Network
from infra.service import HEALTHCHECK_PATH, Service

cfg = load_config()

# Every AWS name starts with the stack's prefix, so two stacks in one account stay apart.
network = Network(cfg.name_prefix, cfg)
database = Database(cfg.name_prefix, cfg, network)
service = Service(cfg.name_prefix, cfg, network, database)

pulumi.export("url", service.url)
pulumi.export("healthcheckUrl", pulumi.Output.concat(service.url, HEALTHCHECK_PATH))
pulumi.export("clusterName", service.cluster_name)
pulumi.export("serviceName", service.service_name)
pulumi.export("logGroupName", service.log_group.name)
pulumi.export("dbEndpoint", database.endpoint)
pulumi.export("dbSecretArn", database.secret.arn)
pulumi.export("reseedCommand", service.seed.reseed_command)
