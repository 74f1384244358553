"""TURN: coturn as its own Fargate service (≥ 2 tasks over the AZs) behind an internet-facing NLB.

coturn checks the REST credentials the dojo service mints (`use-auth-secret`, the TURN secret both
read from Secrets Manager). Clients reach it on 3478 (UDP and TCP) through the NLB. Relayed traffic
leaves from the task's relay ports (`RELAY_PORTS`), reachable inside the VPC; see docs/deploy.md (TURN)
for what that covers.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as sm
from constructs import Construct

from deploy.aws.config import DeployConfig
from deploy.aws.nag import acknowledge, cfn_lint_ignore
from deploy.aws.network import Network, retention

TURN_PORT = 3478
RELAY_PORTS = (49152, 49407)


class Turn(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeployConfig,
        network: Network,
        cluster: ecs.ICluster,
        secret: sm.ISecret,
        key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=network.vpc, description="coturn: TURN from the NLB (clients), relay in the VPC"
        )
        self.security_group.add_ingress_rule(ec2.Peer.any_ipv4(), ec2.Port.udp(TURN_PORT), "TURN over UDP via the NLB")
        self.security_group.add_ingress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(TURN_PORT), "TURN over TCP via the NLB")
        self.security_group.add_ingress_rule(
            ec2.Peer.ipv4(network.vpc.vpc_cidr_block), ec2.Port.udp_range(*RELAY_PORTS), "relayed media inside the VPC"
        )
        acknowledge(
            self.security_group,
            "AwsSolutions-EC23",
            "TURN serves clients anywhere on 3478; the NLB passes the client address through.",
        )
        task = ecs.FargateTaskDefinition(self, "Task", family=f"{config.name}-turn", cpu=512, memory_limit_mib=1024)
        log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/{config.name}/turn",
            retention=retention(config.log_retention_days),
            encryption_key=key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        options = " ".join(
            [
                f"--listening-port={TURN_PORT}",
                f"--min-port={RELAY_PORTS[0]}",
                f"--max-port={RELAY_PORTS[1]}",
                "--use-auth-secret",
                '--static-auth-secret="$TURN_SECRET"',
                f"--realm={config.public_url.removeprefix('https://').split('/')[0]}",
                "--fingerprint",
                "--no-cli",
                "--no-tls",
                "--no-dtls",
                "--no-multicast-peers",
                "--denied-peer-ip=0.0.0.0-0.255.255.255",
                "--denied-peer-ip=169.254.0.0-169.254.255.255",
                "--log-file=stdout",
                "--simple-log",
            ]
        )
        container = task.add_container(
            "coturn",
            image=ecs.ContainerImage.from_registry(config.turn_image),
            # A shell only to place the secret in an argument: coturn reads it from no environment variable.
            entry_point=["sh", "-c"],
            command=[f"exec turnserver {options}"],
            secrets={"TURN_SECRET": ecs.Secret.from_secrets_manager(secret)},
            logging=ecs.LogDrivers.aws_logs(stream_prefix="turn", log_group=log_group),
            stop_timeout=Duration.seconds(30),
        )
        container.add_port_mappings(
            ecs.PortMapping(container_port=TURN_PORT, protocol=ecs.Protocol.UDP),
            ecs.PortMapping(container_port=TURN_PORT, protocol=ecs.Protocol.TCP, name="turn-tcp"),
        )
        acknowledge(task, "AwsSolutions-ECS2", "No environment variables hold secrets.")
        self.service = ecs.FargateService(
            self,
            "Service",
            service_name="turn",
            cluster=cluster,
            task_definition=task,
            desired_count=config.min_tasks,
            min_healthy_percent=100,
            max_healthy_percent=200,
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            vpc_subnets=network.task_subnets,
            security_groups=[self.security_group],
            assign_public_ip=False,
            availability_zone_rebalancing=ecs.AvailabilityZoneRebalancing.ENABLED,
        )
        # CDK makes the service depend on the listener explicitly and by reference (cfn-lint W3005).
        cfn_lint_ignore(self.service, "W3005")
        self.nlb = elbv2.NetworkLoadBalancer(
            self,
            "Nlb",
            vpc=network.vpc,
            vpc_subnets=network.public_subnets,
            internet_facing=True,
            cross_zone_enabled=True,
            deletion_protection=True,
        )
        acknowledge(
            self.nlb,
            "AwsSolutions-ELB2",
            "TURN carries media, not requests; coturn logs each allocation to CloudWatch instead.",
        )
        listener = self.nlb.add_listener("Turn", port=TURN_PORT, protocol=elbv2.Protocol.TCP_UDP)
        listener.add_targets(
            "Coturn",
            port=TURN_PORT,
            protocol=elbv2.Protocol.TCP_UDP,
            targets=[self.service.load_balancer_target(container_name="coturn", container_port=TURN_PORT)],
            deregistration_delay=Duration.seconds(30),
            preserve_client_ip=True,
            health_check=elbv2.HealthCheck(
                protocol=elbv2.Protocol.TCP, port=str(TURN_PORT), interval=Duration.seconds(10)
            ),
        )

    @property
    def urls(self) -> str:
        """`POCDOJO_TURN_URLS` for the dojo service."""
        host = self.nlb.load_balancer_dns_name
        return f"turn:{host}:{TURN_PORT}?transport=udp,turn:{host}:{TURN_PORT}?transport=tcp"
