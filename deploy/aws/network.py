"""The VPC: public subnets (load balancers, NAT gateways), private subnets with egress (tasks) and
isolated subnets (data: Aurora, ElastiCache) in every AZ of the configuration."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from deploy.aws.config import DeployConfig
from deploy.aws.nag import cfn_lint_ignore

PUBLIC = "public"
TASKS = "tasks"
DATA = "data"


class Network(Construct):
    """The VPC and its flow log. `tasks` and `data` subnets get no public address, ever."""

    def __init__(self, scope: Construct, construct_id: str, *, config: DeployConfig, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr("10.40.0.0/16"),
            # Named AZs, not a lookup: synthesis never asks AWS which AZs exist.
            availability_zones=list(config.availability_zones),
            nat_gateways=config.nat_gateways,
            # The default-security-group restriction is a Lambda-backed custom resource: off. The default
            # group is unused (every resource has its own group).
            restrict_default_security_group=False,
            subnet_configuration=[
                ec2.SubnetConfiguration(name=PUBLIC, subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(name=TASKS, subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=20),
                ec2.SubnetConfiguration(name=DATA, subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24),
            ],
            gateway_endpoints={"S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)},
        )
        for subnet in [*self.vpc.public_subnets, *self.vpc.private_subnets, *self.vpc.isolated_subnets]:
            cfn_lint_ignore(subnet, "W3010")  # named AZs on purpose: no lookup at synthesis, 3 AZs
        flow_logs = logs.LogGroup(
            self,
            "FlowLogs",
            retention=retention(config.log_retention_days),
            encryption_key=key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        role = iam.Role(self, "FlowLogRole", assumed_by=iam.ServicePrincipal("vpc-flow-logs.amazonaws.com"))
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs, role),
            traffic_type=ec2.FlowLogTrafficType.REJECT,
        )

    @property
    def task_subnets(self) -> ec2.SubnetSelection:
        return ec2.SubnetSelection(subnet_group_name=TASKS)

    @property
    def data_subnets(self) -> ec2.SubnetSelection:
        return ec2.SubnetSelection(subnet_group_name=DATA)

    @property
    def public_subnets(self) -> ec2.SubnetSelection:
        return ec2.SubnetSelection(subnet_group_name=PUBLIC)


_RETENTION: dict[int, logs.RetentionDays] = {
    1: logs.RetentionDays.ONE_DAY,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    731: logs.RetentionDays.TWO_YEARS,
}


def retention(days: int) -> logs.RetentionDays:
    """The longest CloudWatch retention (a fixed set of values) not above `days`, at least one day."""
    return _RETENTION[max([d for d in _RETENTION if d <= days], default=1)]
