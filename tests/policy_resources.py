"""What a real preview shows the policy pack, rebuilt from a mocked run.

Under mocks an awsx component is one registration carrying its inputs; in a real preview the engine also
shows its children. This module builds those children the way awsx 3.11 does (awsx `ec2/vpc.ts`,
`lb/applicationLoadBalancer.ts`, `ecs/fargateService.ts`, `ecs/containers.ts`, summarised in
/work/notes/awsx-ecs.md): engine types, camelCase properties, `containerDefinitions` as a JSON string. IDs and
ARNs are the ones the mocks already handed out, so references between resources (a listener rule's
`listenerArn`, a subnet group's `subnetIds`) resolve as they would in the engine. Transforms registered on
a component or its ancestors are applied to its children, as the engine does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pulumi
from pulumi_policy import PolicyCustomTimeouts, PolicyResource, PolicyResourceOptions

from tests.helpers import plain
from tests.mocks import PROJECT, Registration, Run

VPC_COMPONENT = "awsx:ec2:Vpc"
ALB_COMPONENT = "awsx:lb:ApplicationLoadBalancer"
FARGATE_SERVICE = "awsx:ecs:FargateService"
FARGATE_TASK_DEFINITION = "awsx:ecs:FargateTaskDefinition"


def options() -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=False, ignore_changes=[], delete_before_replace=None, aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0), additional_secret_outputs=[], parent=None)


def resource(type_: str, name: str, props: Any, urn: str | None = None, *,
             property_dependencies: dict[str, list[PolicyResource]] | None = None,
             parent: PolicyResource | None = None) -> PolicyResource:
    return PolicyResource(type_, props, urn or f"urn:pulumi:test::{PROJECT}::{type_}::{name}", name, options(),
                          provider=None, parent=parent, dependencies=[],
                          property_dependencies=property_dependencies or {})


def _whole_numbers(value: Any) -> Any:
    """Numbers crossed the mock boundary as floats; awsx (JavaScript) writes 3000, not 3000.0, into JSON."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    return value


class _Expander:
    def __init__(self, run: Run):
        self.run = run
        self.by_urn = {r.urn: r for r in run.registrations}

    def transforms(self, component: Registration) -> list[Callable[..., Any]]:
        """The component's own transforms and its ancestors': each reaches every child."""
        found: list[Callable[..., Any]] = []
        current: Registration | None = component
        while current is not None:
            found = [*current.transforms, *found]
            current = self.by_urn.get(current.parent)
        return found

    def child(self, component: Registration, type_: str, name: str, props: dict[str, Any],
              reference: dict | None = None) -> PolicyResource:
        for transform in self.transforms(component):
            result = transform(pulumi.ResourceTransformArgs(
                custom=True, type_=type_, name=name, props=props, opts=pulumi.ResourceOptions()))
            if result is not None:
                props = dict(result.props)
        urn = f"urn:pulumi:{self.run.stack}::{PROJECT}::{component.type}${type_}::{name}"
        if reference is not None:
            urn = reference["urn"]
            props = {**self.run.states.get(urn, {}), **props}
        return resource(type_, name, props, urn)

    # -- awsx.ec2.Vpc ----------------------------------------------------------------------------

    def vpc(self, reg: Registration) -> Iterator[PolicyResource]:
        inputs, out = plain(reg.inputs), plain(reg.outputs)
        name = reg.name
        vpc_id = out["vpcId"]
        yield self.child(reg, "aws:ec2/vpc:Vpc", name, {
            "id": vpc_id, "cidrBlock": inputs["cidrBlock"], "enableDnsHostnames": inputs.get("enableDnsHostnames"),
            "enableDnsSupport": inputs.get("enableDnsSupport"), "instanceTenancy": "default",
            "tags": {"Name": name}}, out.get("vpc"))
        igw = f"igw-0{vpc_id[-16:]}"
        yield self.child(reg, "aws:ec2/internetGateway:InternetGateway", name,
                         {"id": igw, "vpcId": vpc_id, "tags": {"Name": name}})
        specs = {spec["type"]: spec.get("cidrBlocks") or [] for spec in inputs.get("subnetSpecs") or []}
        ids = {"Private": out["privateSubnetIds"], "Public": out["publicSubnetIds"]}
        strategy = (inputs.get("natGateways") or {}).get("strategy", "OnePerAz")
        nat_ids: list[str] = []
        for kind in ("Public", "Private"):
            for index, subnet_id in enumerate(ids[kind]):
                subnet = f"{name}-{kind.lower()}-{index + 1}"
                table = f"rtb-{subnet_id[-16:]}"
                yield self.child(reg, "aws:ec2/subnet:Subnet", subnet, {
                    "id": subnet_id, "vpcId": vpc_id, "cidrBlock": specs.get(kind, [None] * (index + 1))[index],
                    "availabilityZone": f"ap-southeast-2{'abcdef'[index]}",
                    "mapPublicIpOnLaunch": kind == "Public",
                    "tags": {"Name": subnet, "SubnetType": kind}})
                yield self.child(reg, "aws:ec2/routeTable:RouteTable", subnet, {"id": table, "vpcId": vpc_id})
                yield self.child(reg, "aws:ec2/routeTableAssociation:RouteTableAssociation", subnet,
                                 {"subnetId": subnet_id, "routeTableId": table})
                if kind == "Public":
                    yield self.child(reg, "aws:ec2/route:Route", f"{subnet}-ig", {
                        "routeTableId": table, "destinationCidrBlock": "0.0.0.0/0", "gatewayId": igw})
                    if strategy == "OnePerAz" or not nat_ids:
                        nat_ids.append(f"nat-0{subnet_id[-16:]}")
                        yield self.child(reg, "aws:ec2/eip:Eip", subnet, {"domain": "vpc"})
                        yield self.child(reg, "aws:ec2/natGateway:NatGateway", subnet,
                                         {"id": nat_ids[-1], "subnetId": subnet_id})
                else:
                    yield self.child(reg, "aws:ec2/route:Route", f"{subnet}-nat-{index + 1}", {
                        "routeTableId": table, "destinationCidrBlock": "0.0.0.0/0",
                        "natGatewayId": nat_ids[index % len(nat_ids)]})

    # -- awsx.lb.ApplicationLoadBalancer -----------------------------------------------------------

    def alb(self, reg: Registration) -> Iterator[PolicyResource]:
        inputs, out = plain(reg.inputs), plain(reg.outputs)
        own = {"subnetIds", "subnets", "listener", "listeners", "defaultTargetGroup", "defaultTargetGroupPort",
               "defaultSecurityGroup", "subnetMappings"}
        lb_ref = out["loadBalancer"]
        lb_arn = lb_ref["id"]
        yield self.child(reg, "aws:lb/loadBalancer:LoadBalancer", reg.name, {
            **{k: v for k, v in inputs.items() if k not in own},
            "loadBalancerType": "application",
            "subnets": inputs.get("subnetIds") or inputs.get("subnets"),
            "id": lb_arn, "arn": lb_arn}, lb_ref)
        tg_ref = out["defaultTargetGroup"]
        yield self.child(reg, "aws:lb/targetGroup:TargetGroup", reg.name, {
            "vpcId": out.get("vpcId"), "targetType": "ip", "protocol": "HTTP", "port": 80,
            **(inputs.get("defaultTargetGroup") or {}), "id": tg_ref["id"], "arn": tg_ref["id"]}, tg_ref)
        specs = inputs.get("listeners") or [inputs.get("listener") or {}]
        for spec, ref in zip(specs, out["listeners"], strict=True):
            yield self.child(reg, "aws:lb/listener:Listener", ref["name"], {
                "defaultActions": [{"type": "forward", "targetGroupArn": tg_ref["id"]}],
                "port": 80, "protocol": "HTTP", **spec,
                "loadBalancerArn": lb_arn, "id": ref["id"], "arn": ref["id"]}, ref)

    # -- awsx.ecs.FargateService / FargateTaskDefinition ----------------------------------------------

    def task_definition(self, reg: Registration, args: dict[str, Any], ref: dict) -> PolicyResource:
        containers = args.get("containers") or {"container": args.get("container") or {}}
        definitions = []
        for key, given in containers.items():
            # awsx turns a mapping's target group into the service's loadBalancers; it is not a container field.
            mappings = [{k: v for k, v in m.items() if k != "targetGroup"} for m in given.get("portMappings") or []]
            container = {"name": key, **given, **({"portMappings": mappings} if mappings else {})}
            definitions.append(_whole_numbers(container))
        role = (args.get("executionRole") or {}).get("roleArn")
        return self.child(reg, "aws:ecs/taskDefinition:TaskDefinition", ref["name"], {
            "family": ref["name"], "cpu": args.get("cpu"), "memory": args.get("memory"), "networkMode": "awsvpc",
            "requiresCompatibilities": ["FARGATE"], "runtimePlatform": args.get("runtimePlatform"),
            "executionRoleArn": role, "containerDefinitions": json.dumps(definitions),
            "id": ref["id"], "arn": ref["id"]}, ref)

    def fargate_task_definition(self, reg: Registration) -> Iterator[PolicyResource]:
        yield self.task_definition(reg, plain(reg.inputs), plain(reg.outputs)["taskDefinition"])

    def fargate_service(self, reg: Registration) -> Iterator[PolicyResource]:
        inputs, out = plain(reg.inputs), plain(reg.outputs)
        service_ref = out["service"]
        task_args = inputs.get("taskDefinitionArgs")
        task_arn = inputs.get("taskDefinition")
        load_balancers = inputs.get("loadBalancers")
        if task_args is not None:
            td_ref = out["taskDefinition"]
            task_arn = td_ref["id"]
            yield self.task_definition(reg, task_args, td_ref)
            if load_balancers is None:
                containers = task_args.get("containers") or {"container": task_args.get("container") or {}}
                load_balancers = [
                    {"containerName": c.get("name", key), "containerPort": m.get("containerPort"),
                     "targetGroupArn": m["targetGroup"]}
                    for key, c in containers.items() for m in c.get("portMappings") or [] if m.get("targetGroup")]
        skip = {"taskDefinitionArgs", "taskDefinition", "assignPublicIp", "continueBeforeSteadyState",
                "useClusterDefaultCapacityProviderStrategy"}
        props = {"desiredCount": 1, **{k: v for k, v in inputs.items() if k not in skip}}
        if not (inputs.get("capacityProviderStrategies") or inputs.get("useClusterDefaultCapacityProviderStrategy")):
            props["launchType"] = "FARGATE"
        props.update({
            "networkConfiguration": inputs.get("networkConfiguration")
            or {"assignPublicIp": bool(inputs.get("assignPublicIp"))},
            "loadBalancers": load_balancers or [],
            "waitForSteadyState": not inputs.get("continueBeforeSteadyState", False),
            "taskDefinition": task_arn, "id": service_ref["id"], "arn": service_ref["id"]})
        yield self.child(reg, "aws:ecs/service:Service", reg.name, _whole_numbers(props), service_ref)


def policy_resources(run: Run) -> list[PolicyResource]:
    """Every resource of the run as the engine shows it to a policy, awsx's children included."""
    expander = _Expander(run)
    children: dict[str, Callable[[Registration], Iterator[PolicyResource]]] = {
        VPC_COMPONENT: expander.vpc,
        ALB_COMPONENT: expander.alb,
        FARGATE_SERVICE: expander.fargate_service,
        FARGATE_TASK_DEFINITION: expander.fargate_task_definition,
    }
    found: list[PolicyResource] = []
    for reg in run.registrations:
        props = plain(reg.outputs)
        if reg.custom:
            props = {**props, "id": reg.id}
        found.append(resource(reg.type, reg.name, props, reg.urn))
        if reg.type in children:
            found += children[reg.type](reg)
    return found
