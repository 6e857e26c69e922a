"""HTTPS on a custom domain: an ACM certificate validated through Route 53, and the alias record."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.config import DomainConfig


class Domain(pulumi.ComponentResource):
    certificate_arn: pulumi.Output[str]
    url: str

    def __init__(self, name: str, cfg: DomainConfig, opts: pulumi.ResourceOptions | None = None):
        super().__init__("tca:infra:Domain", name, None, opts)
        self._name = name
        self._cfg = cfg
        child = pulumi.ResourceOptions(parent=self)

        certificate = aws.acm.Certificate(
            f"{name}-cert",
            domain_name=cfg.domain_name,
            validation_method="DNS",
            opts=child,
        )
        # One domain name, so exactly one validation record.
        option = certificate.domain_validation_options[0]
        validation_record = aws.route53.Record(
            f"{name}-cert-validation",
            zone_id=cfg.hosted_zone_id,
            name=option.resource_record_name,
            type=option.resource_record_type,
            records=[option.resource_record_value],
            ttl=60,
            allow_overwrite=True,
            opts=child,
        )
        # Waits until ACM reports the certificate issued, so the HTTPS listener never gets a
        # pending certificate.
        validation = aws.acm.CertificateValidation(
            f"{name}-cert",
            certificate_arn=certificate.arn,
            validation_record_fqdns=[validation_record.fqdn],
            opts=child,
        )
        self.certificate_arn = validation.certificate_arn
        self.url = f"https://{cfg.domain_name}"
        self.register_outputs({"certificateArn": self.certificate_arn})

    def point_at(self, load_balancer: pulumi.Output[aws.lb.LoadBalancer]) -> aws.route53.Record:
        """The domain's alias A record to the load balancer, owned by this component."""
        return aws.route53.Record(
            f"{self._name}-alias",
            zone_id=self._cfg.hosted_zone_id,
            name=self._cfg.domain_name,
            type="A",
            aliases=[aws.route53.RecordAliasArgs(
                name=load_balancer.apply(lambda lb: lb.dns_name),
                zone_id=load_balancer.apply(lambda lb: lb.zone_id),
                evaluate_target_health=True,
            )],
            opts=pulumi.ResourceOptions(parent=self),
        )
