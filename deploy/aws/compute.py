"""ECS Fargate: one service per entry of `deploy/services.py` (behind the ALB), one per worker of
`deploy/aws/workers.py` (no target), and the one-off migration task definition.

Every service runs the one image (`Dockerfile` at the repository root) with its own command, at least
`min_tasks` tasks spread over the AZs, a deployment circuit breaker that rolls back, and an ADOT
collector sidecar. Graceful drain: the ALB stops sending new requests and waits `deregistration_delay`
for open ones, then ECS sends SIGTERM and waits `stop_timeout` (uvicorn's own graceful shutdown is 10 s)
before SIGKILL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as sm
from constructs import Construct

from deploy.aws import metric_names
from deploy.aws.collector import METRICS_PORT, OTLP_HTTP_PORT, collector_config
from deploy.aws.config import DeployConfig
from deploy.aws.nag import acknowledge
from deploy.aws.network import Network, retention
from deploy.aws.workers import WorkerSpec
from deploy.services import ServiceSpec

APP_PORT = 8000
HTTP_STOP_TIMEOUT = Duration.seconds(30)
HTTP_DEREGISTRATION_DELAY = Duration.seconds(30)
WEBSOCKET_DEREGISTRATION_DELAY = Duration.seconds(90)
"""WebSocket services keep their sockets this long after deregistration; then clients reconnect to
another task (y-websocket and the app reconnect by themselves; the document lives in Redis/PostgreSQL)."""
REQUESTS_PER_TARGET = 1000
"""Requests per task per minute above which a service scales out."""
CONNECTIONS_PER_TASK = 500
"""Collab connections per dojo task above which it scales out."""
CPU_TARGET_PERCENT = 60


def metrics_log_group_name(config: DeployConfig) -> str:
    """Where the collectors write their embedded-metric-format records."""
    return f"/{config.name}/metrics"


@dataclass(frozen=True)
class Size:
    cpu: int
    memory_mib: int


DEFAULT_SIZE = Size(512, 1024)
SIZES: dict[str, Size] = {"dojo": Size(1024, 2048), "media": Size(1024, 2048)}
"""Task sizes of services that need more than `DEFAULT_SIZE`; services not named here get the default."""


@dataclass(frozen=True)
class Runtime:
    """What every task of the deployment shares."""

    config: DeployConfig
    network: Network
    cluster: ecs.Cluster
    image: ecs.ContainerImage
    security_group: ec2.SecurityGroup
    environment: Mapping[str, str]
    secrets: Mapping[str, ecs.Secret]
    metrics_log_group: logs.LogGroup
    key: kms.IKey


class Compute(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeployConfig,
        network: Network,
        cluster: ecs.Cluster,
        repository: ecr.IRepository,
        image_tag: str,
        migration_image_tag: str,
        environment: Mapping[str, str],
        secrets: Mapping[str, sm.ISecret],
        migration_database_url: sm.ISecret,
        bootstrap_secrets: Mapping[str, ecs.Secret],
        key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        self.cluster = cluster
        self.security_group = ec2.SecurityGroup(
            self, "TasksSecurityGroup", vpc=network.vpc, description="Service tasks: from the ALB; out to data and AWS"
        )
        self.metrics_log_group = logs.LogGroup(
            self,
            "Metrics",
            log_group_name=metrics_log_group_name(config),
            retention=retention(config.log_retention_days),
            encryption_key=key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.runtime = Runtime(
            config=config,
            network=network,
            cluster=self.cluster,
            image=ecs.ContainerImage.from_ecr_repository(repository, image_tag),
            security_group=self.security_group,
            environment=dict(environment),
            secrets={name: ecs.Secret.from_secrets_manager(secret) for name, secret in secrets.items()},
            metrics_log_group=self.metrics_log_group,
            key=key,
        )
        self.services: dict[str, ecs.FargateService] = {}
        self.target_groups: dict[str, elbv2.ApplicationTargetGroup] = {}
        self.scaling: dict[str, ecs.ScalableTaskCount] = {}
        one_off_image = ecs.ContainerImage.from_ecr_repository(repository, migration_image_tag)
        self.migration = self._one_off_task(
            "migrate",
            one_off_image,
            ("pocdojo", "migrate", "up"),
            {"POCDOJO_MIGRATION_DATABASE_URL": ecs.Secret.from_secrets_manager(migration_database_url)},
        )
        self.bootstrap = self._one_off_task(
            "bootstrap", one_off_image, ("pocdojo", "db", "bootstrap"), bootstrap_secrets
        )

    # -- HTTP services ---------------------------------------------------------------------------
    def add_http_service(
        self, spec: ServiceSpec, *, websocket: bool, extra_secrets: Mapping[str, sm.ISecret]
    ) -> ecs.FargateService:
        """`spec`'s service behind a target group; `extra_secrets` only for this service's tasks."""
        runtime = self.runtime
        size = SIZES.get(spec.name, DEFAULT_SIZE)
        task = self._task_definition(
            spec.name,
            size,
            ("pocdojo", "serve", spec.name),
            HTTP_STOP_TIMEOUT,
            port=APP_PORT,
            extra_secrets={name: ecs.Secret.from_secrets_manager(secret) for name, secret in extra_secrets.items()},
        )
        service = self._service(spec.name, task)
        target_group = elbv2.ApplicationTargetGroup(
            self,
            f"{spec.name}-targets",
            vpc=runtime.network.vpc,
            port=APP_PORT,
            protocol=elbv2.ApplicationProtocol.HTTP,
            target_type=elbv2.TargetType.IP,
            deregistration_delay=WEBSOCKET_DEREGISTRATION_DELAY if websocket else HTTP_DEREGISTRATION_DELAY,
            health_check=elbv2.HealthCheck(
                path="/readyz",
                healthy_http_codes="200",
                interval=Duration.seconds(10),
                timeout=Duration.seconds(5),
                healthy_threshold_count=2,
                unhealthy_threshold_count=3,
            ),
        )
        service.attach_to_application_target_group(target_group)
        scaling = self._scaling(spec.name, service)
        scaling.scale_on_cpu_utilization("Cpu", target_utilization_percent=CPU_TARGET_PERCENT)
        if websocket:
            scaling.scale_to_track_custom_metric(
                "Connections",
                metric=cw.Metric(
                    namespace=metric_names.NAMESPACE,
                    metric_name=metric_names.DOJO_PARTICIPANTS,
                    dimensions_map={metric_names.DIMENSION: spec.name},
                    statistic="Average",
                    period=Duration.minutes(1),
                ),
                target_value=CONNECTIONS_PER_TASK,
            )
        self.target_groups[spec.name] = target_group
        return service

    def scale_on_requests(self) -> None:
        """Request-count scaling for every HTTP service; call once the target groups have listener rules
        (the metric is per load balancer and target group)."""
        for name, target_group in self.target_groups.items():
            self.scaling[name].scale_on_request_count(
                "Requests", requests_per_target=REQUESTS_PER_TARGET, target_group=target_group
            )

    # -- workers ---------------------------------------------------------------------------------
    def add_worker(self, spec: WorkerSpec) -> ecs.FargateService:
        task = self._task_definition(
            spec.name, Size(spec.cpu, spec.memory_mib), spec.command, Duration.seconds(spec.stop_timeout_seconds)
        )
        service = self._service(spec.name, task)
        scaling = self._scaling(spec.name, service)
        target = spec.target_queue_age_seconds
        scaling.scale_on_metric(
            "QueueAge",
            metric=cw.Metric(
                namespace=metric_names.NAMESPACE,
                metric_name=spec.queue_age_metric,
                dimensions_map={metric_names.DIMENSION: spec.name},
                statistic="Maximum",
                period=Duration.minutes(1),
            ),
            scaling_steps=[
                appscaling.ScalingInterval(upper=target / 4, change=-1),
                appscaling.ScalingInterval(lower=target, change=+1),
                appscaling.ScalingInterval(lower=target * 5, change=+3),
            ],
            adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
            cooldown=Duration.minutes(2),
        )
        return service

    # -- shared pieces ---------------------------------------------------------------------------
    def _task_definition(
        self,
        name: str,
        size: Size,
        command: tuple[str, ...],
        stop_timeout: Duration,
        *,
        port: int | None = None,
        extra_secrets: Mapping[str, ecs.Secret] | None = None,
    ) -> ecs.FargateTaskDefinition:
        runtime = self.runtime
        task = ecs.FargateTaskDefinition(
            self,
            f"{name}-task",
            family=f"{runtime.config.name}-{name}",
            cpu=size.cpu,
            memory_limit_mib=size.memory_mib,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.X86_64, operating_system_family=ecs.OperatingSystemFamily.LINUX
            ),
        )
        logs_group = self._log_group(name)
        app = task.add_container(
            "app",
            image=runtime.image,
            command=list(command),
            essential=True,
            environment={
                **runtime.environment,
                "POCDOJO_METRICS_PORT": str(METRICS_PORT),
                "POCDOJO_METRICS_HOST": "127.0.0.1",
                "POCDOJO_OTEL_EXPORTER": "otlp",
                "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{OTLP_HTTP_PORT}",
                "OTEL_SERVICE_NAME": f"pocdojo-{name}",
            },
            secrets={**runtime.secrets, **(extra_secrets or {})},
            logging=ecs.LogDrivers.aws_logs(stream_prefix=name, log_group=logs_group),
            stop_timeout=stop_timeout,
            readonly_root_filesystem=False,
            health_check=(
                ecs.HealthCheck(
                    command=[
                        "CMD",
                        "python",
                        "-c",
                        f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/healthz', timeout=3)",
                    ],
                    interval=Duration.seconds(15),
                    timeout=Duration.seconds(5),
                    retries=3,
                    start_period=Duration.seconds(30),
                )
                if port is not None
                else None
            ),
        )
        if port is not None:
            app.add_port_mappings(ecs.PortMapping(container_port=port, protocol=ecs.Protocol.TCP))
        collector = task.add_container(
            "otel-collector",
            image=ecs.ContainerImage.from_registry(runtime.config.adot_image),
            essential=False,
            memory_reservation_mib=128,
            environment={
                # The literal name (not the log group's Ref token): the configuration stays plain JSON.
                "AOT_CONFIG_CONTENT": collector_config(name, metrics_log_group=metrics_log_group_name(runtime.config))
            },
            logging=ecs.LogDrivers.aws_logs(stream_prefix=f"{name}-collector", log_group=logs_group),
        )
        app.add_container_dependencies(
            ecs.ContainerDependency(container=collector, condition=ecs.ContainerDependencyCondition.START)
        )
        self._grant_telemetry(task.task_role)
        _acknowledge_pull(task)
        return task

    def _service(self, name: str, task: ecs.FargateTaskDefinition) -> ecs.FargateService:
        runtime = self.runtime
        service = ecs.FargateService(
            self,
            f"{name}-service",
            service_name=name,
            cluster=runtime.cluster,
            task_definition=task,
            desired_count=runtime.config.min_tasks,
            min_healthy_percent=100,
            max_healthy_percent=200,
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            vpc_subnets=runtime.network.task_subnets,
            security_groups=[runtime.security_group],
            assign_public_ip=False,
            availability_zone_rebalancing=ecs.AvailabilityZoneRebalancing.ENABLED,
            propagate_tags=ecs.PropagatedTagSource.SERVICE,
            enable_ecs_managed_tags=True,
            platform_version=ecs.FargatePlatformVersion.LATEST,
        )
        acknowledge(
            task,
            "AwsSolutions-ECS2",
            "Only non-secret settings are environment variables; every secret is an ECS `secrets` entry.",
        )
        self.services[name] = service
        return service

    def _scaling(self, name: str, service: ecs.FargateService) -> ecs.ScalableTaskCount:
        config = self.runtime.config
        scaling = service.auto_scale_task_count(min_capacity=config.min_tasks, max_capacity=config.max_tasks)
        self.scaling[name] = scaling
        return scaling

    def _log_group(self, name: str) -> logs.LogGroup:
        return logs.LogGroup(
            self,
            f"{name}-logs",
            log_group_name=f"/{self.runtime.config.name}/{name}",
            retention=retention(self.runtime.config.log_retention_days),
            encryption_key=self.runtime.key,
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _grant_telemetry(self, role: iam.IRole) -> None:
        """X-Ray segments and the collector's metric log streams."""
        policy = iam.Policy(
            self,
            f"Telemetry{len(self.node.children)}",
            statements=[
                iam.PolicyStatement(
                    actions=[
                        "xray:PutTraceSegments",
                        "xray:PutTelemetryRecords",
                        "xray:GetSamplingRules",
                        "xray:GetSamplingTargets",
                        "xray:GetSamplingStatisticSummaries",
                    ],
                    resources=["*"],
                ),
                iam.PolicyStatement(
                    actions=["logs:PutLogEvents", "logs:CreateLogStream", "logs:DescribeLogStreams"],
                    resources=[self.runtime.metrics_log_group.log_group_arn],
                ),
            ],
        )
        role.attach_inline_policy(policy)
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray's write and sampling actions have no resource-level permissions (resource '*').",
        )

    def _one_off_task(
        self, name: str, image: ecs.ContainerImage, command: tuple[str, ...], secrets: Mapping[str, ecs.Secret]
    ) -> ecs.FargateTaskDefinition:
        """A task definition no service runs: `release.sh` starts it with `aws ecs run-task` and waits for it
        (`migrate`: every release, before the services roll; `bootstrap`: once, and after a password rotation)."""
        runtime = self.runtime
        task = ecs.FargateTaskDefinition(
            self,
            f"{name}-task",
            family=f"{runtime.config.name}-{name}",
            cpu=256,
            memory_limit_mib=512,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.X86_64, operating_system_family=ecs.OperatingSystemFamily.LINUX
            ),
        )
        task.add_container(
            name,
            image=image,
            command=list(command),
            essential=True,
            environment={"POCDOJO_ENV": "production", "POCDOJO_LOG_JSON": "true"},
            secrets=dict(secrets),
            logging=ecs.LogDrivers.aws_logs(stream_prefix=name, log_group=self._log_group(name)),
        )
        acknowledge(task, "AwsSolutions-ECS2", "Only non-secret settings are environment variables.")
        _acknowledge_pull(task)
        return task


def _acknowledge_pull(task: ecs.TaskDefinition) -> None:
    """The execution role's one wildcard: `ecr:GetAuthorizationToken` has no resource-level permission."""
    acknowledge(
        task.obtain_execution_role(),
        "AwsSolutions-IAM5[Resource::*]",
        "ecr:GetAuthorizationToken (pulling the image) only accepts resource '*'; every other grant is scoped.",
    )


def grant_objects(task: ecs.TaskDefinition, bucket: s3.IBucket) -> None:
    """Let `task` read, write and delete objects of `bucket` (what media/storage/s3.py calls), nothing else."""
    policy = iam.Policy(
        task,
        "MediaObjects",
        statements=[
            iam.PolicyStatement(
                actions=["s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                resources=[bucket.arn_for_objects("*")],
            ),
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn]),
        ],
    )
    task.task_role.attach_inline_policy(policy)
    bucket_id = Stack.of(bucket).get_logical_id(bucket.node.default_child)  # type: ignore[arg-type]
    acknowledge(
        policy,
        f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/*]",
        "Objects are created per report and video (reports/{tenant}/...): the bucket's objects are the scope.",
    )
