"""Alarms (all to one SNS topic) and one dashboard.

AWS metrics: ALB per target group (5xx rate, p99 latency, unhealthy targets), ECS per service (CPU,
memory), Aurora (CPU, connections, replica lag), ElastiCache per node (memory, evictions, replication
lag). Application metrics (`metric_names`, written by the collector sidecars): job failures and queue
age, abnormal WebSocket closes (an anomaly-detection band), authentication-failure spikes.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from deploy.aws import metric_names
from deploy.aws.config import DeployConfig

FIVE_MINUTES = Duration.minutes(5)
HTTP_5XX_PERCENT = 5.0
"""Alarm when more than this share of a service's requests end in a 5xx (with at least `MIN_REQUESTS`)."""
MIN_REQUESTS = 20
P99_SECONDS = 2.0
ECS_PERCENT = 85.0
AURORA_CPU_PERCENT = 80.0
AURORA_CONNECTIONS = 800
AURORA_REPLICA_LAG_MS = 2000.0
REDIS_MEMORY_PERCENT = 80.0
REDIS_REPLICATION_LAG_SECONDS = 5.0
JOB_FAILURES_PER_5_MIN = 5
QUEUE_AGE_SECONDS = 300
AUTH_FAILURES_PER_5_MIN = 200
WS_ANOMALY_BAND_WIDTH = 3


class Observability(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeployConfig, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        self.topic = sns.Topic(self, "Alarms", topic_name=f"{config.name}-alarms", master_key=key, enforce_ssl=True)
        key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        if config.alarm_email is not None:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        self.action = cw_actions.SnsAction(self.topic)
        self.dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=config.name)
        self.alarms: list[cw.Alarm | cw.CfnAlarm] = []

    # -- helpers ---------------------------------------------------------------------------------
    def _alarm(
        self,
        construct_id: str,
        metric: cw.Metric | cw.MathExpression,
        threshold: float,
        description: str,
        *,
        periods: int = 3,
        operator: cw.ComparisonOperator = cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    ) -> cw.Alarm:
        alarm = metric.create_alarm(
            self,
            construct_id,
            alarm_name=f"{self.config.name}-{construct_id}",
            alarm_description=description,
            threshold=threshold,
            evaluation_periods=periods,
            datapoints_to_alarm=periods,
            comparison_operator=operator,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(self.action)
        alarm.add_ok_action(self.action)
        self.alarms.append(alarm)
        return alarm

    @staticmethod
    def app_metric(name: str, service: str, statistic: str) -> cw.Metric:
        return cw.Metric(
            namespace=metric_names.NAMESPACE,
            metric_name=name,
            dimensions_map={metric_names.DIMENSION: service},
            statistic=statistic,
            period=FIVE_MINUTES,
        )

    # -- per service -----------------------------------------------------------------------------
    def http_service(self, name: str, target_group: elbv2.ApplicationTargetGroup, service: ecs.FargateService) -> None:
        metrics = target_group.metrics
        errors = metrics.http_code_target(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=FIVE_MINUTES, statistic="Sum")
        requests = metrics.request_count(period=FIVE_MINUTES, statistic="Sum")
        rate = cw.MathExpression(
            expression=f"IF(requests >= {MIN_REQUESTS}, 100 * FILL(errors, 0) / requests, 0)",
            using_metrics={"errors": errors, "requests": requests},
            label=f"{name} 5xx %",
            period=FIVE_MINUTES,
        )
        latency = metrics.target_response_time(period=FIVE_MINUTES, statistic="p99")
        unhealthy = metrics.unhealthy_host_count(period=Duration.minutes(1), statistic="Maximum")
        self._alarm(f"{name}-5xx-rate", rate, HTTP_5XX_PERCENT, f"{name}: over {HTTP_5XX_PERCENT}% of requests 5xx")
        self._alarm(f"{name}-p99-latency", latency, P99_SECONDS, f"{name}: p99 response time over {P99_SECONDS} s")
        self._alarm(f"{name}-unhealthy-targets", unhealthy, 1, f"{name}: a task fails /readyz")
        self.ecs_service(name, service)
        self.app_alarms(name)
        self.dashboard.add_widgets(
            cw.GraphWidget(title=f"{name}: requests and 5xx", left=[requests, errors], width=8),
            cw.GraphWidget(title=f"{name}: p99 latency (s)", left=[latency], width=8),
            cw.GraphWidget(
                title=f"{name}: CPU / memory %",
                left=[service.metric_cpu_utilization(), service.metric_memory_utilization()],
                width=8,
            ),
        )

    def ecs_service(self, name: str, service: ecs.FargateService) -> None:
        cpu = service.metric_cpu_utilization(period=FIVE_MINUTES, statistic="Average")
        memory = service.metric_memory_utilization(period=FIVE_MINUTES, statistic="Average")
        self._alarm(f"{name}-cpu", cpu, ECS_PERCENT, f"{name}: CPU over {ECS_PERCENT}% (scaling at its maximum?)")
        self._alarm(f"{name}-memory", memory, ECS_PERCENT, f"{name}: memory over {ECS_PERCENT}%")

    def app_alarms(self, name: str) -> None:
        failures = self.app_metric(metric_names.AUTH_FAILURES, name, "Sum")
        self._alarm(
            f"{name}-auth-failure-spike",
            failures,
            AUTH_FAILURES_PER_5_MIN,
            f"{name}: over {AUTH_FAILURES_PER_5_MIN} refused authentications in 5 minutes (credential stuffing?)",
            periods=1,
        )

    def websocket_service(self, name: str) -> None:
        """Abnormal closes outside the band CloudWatch learned for this service (hour of day, weekday)."""
        alarm = cw.CfnAlarm(
            self,
            f"{name}-ws-close-anomaly",
            alarm_name=f"{self.config.name}-{name}-ws-close-anomaly",
            alarm_description=f"{name}: abnormal WebSocket closes above their usual band",
            comparison_operator="GreaterThanUpperThreshold",
            evaluation_periods=3,
            datapoints_to_alarm=3,
            threshold_metric_id="band",
            treat_missing_data="notBreaching",
            alarm_actions=[self.topic.topic_arn],
            ok_actions=[self.topic.topic_arn],
            metrics=[
                cw.CfnAlarm.MetricDataQueryProperty(
                    id="closes",
                    return_data=True,
                    metric_stat=cw.CfnAlarm.MetricStatProperty(
                        metric=cw.CfnAlarm.MetricProperty(
                            namespace=metric_names.NAMESPACE,
                            metric_name=metric_names.WS_ABNORMAL_CLOSES,
                            dimensions=[cw.CfnAlarm.DimensionProperty(name=metric_names.DIMENSION, value=name)],
                        ),
                        period=300,
                        stat="Sum",
                    ),
                ),
                cw.CfnAlarm.MetricDataQueryProperty(
                    id="band", return_data=True, expression=f"ANOMALY_DETECTION_BAND(closes, {WS_ANOMALY_BAND_WIDTH})"
                ),
            ],
        )
        self.alarms.append(alarm)
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title=f"{name}: connections and abnormal closes",
                left=[self.app_metric(metric_names.DOJO_PARTICIPANTS, name, "Sum")],
                right=[self.app_metric(metric_names.WS_ABNORMAL_CLOSES, name, "Sum")],
                width=12,
            )
        )

    def worker(self, name: str, service: ecs.FargateService, queue_age_metric: str) -> None:
        failures = self.app_metric(metric_names.MEDIA_JOBS_FAILED, name, "Sum")
        age = self.app_metric(queue_age_metric, name, "Maximum")
        self._alarm(f"{name}-job-failures", failures, JOB_FAILURES_PER_5_MIN, f"{name}: jobs failing", periods=1)
        self._alarm(f"{name}-queue-age", age, QUEUE_AGE_SECONDS, f"{name}: oldest job waits over {QUEUE_AGE_SECONDS} s")
        self.ecs_service(name, service)
        self.dashboard.add_widgets(
            cw.GraphWidget(title=f"{name}: queue age (s)", left=[age], width=8),
            cw.GraphWidget(title=f"{name}: job failures", left=[failures], width=8),
            cw.GraphWidget(
                title=f"{name}: CPU / memory %",
                left=[service.metric_cpu_utilization(), service.metric_memory_utilization()],
                width=8,
            ),
        )

    # -- data ------------------------------------------------------------------------------------
    def database(self, cluster: rds.DatabaseCluster) -> None:
        cpu = cluster.metric_cpu_utilization(period=FIVE_MINUTES, statistic="Average")
        connections = cluster.metric_database_connections(period=FIVE_MINUTES, statistic="Maximum")
        lag = cluster.metric("AuroraReplicaLagMaximum", period=Duration.minutes(1), statistic="Maximum")
        self._alarm("aurora-cpu", cpu, AURORA_CPU_PERCENT, f"Aurora: CPU over {AURORA_CPU_PERCENT}%")
        self._alarm("aurora-connections", connections, AURORA_CONNECTIONS, "Aurora: connections near the limit")
        self._alarm("aurora-replica-lag", lag, AURORA_REPLICA_LAG_MS, "Aurora: the reader lags the writer")
        self.dashboard.add_widgets(
            cw.GraphWidget(title="Aurora: CPU %", left=[cpu], width=8),
            cw.GraphWidget(title="Aurora: connections", left=[connections], width=8),
            cw.GraphWidget(title="Aurora: replica lag (ms)", left=[lag], width=8),
        )

    def cache(self, node_ids: Sequence[str]) -> None:
        def node_metric(name: str, node: str, statistic: str) -> cw.Metric:
            return cw.Metric(
                namespace="AWS/ElastiCache",
                metric_name=name,
                dimensions_map={"CacheClusterId": node},
                statistic=statistic,
                period=FIVE_MINUTES,
            )

        memory: list[cw.IMetric] = []
        for node in node_ids:
            used = node_metric("DatabaseMemoryUsagePercentage", node, "Maximum")
            memory.append(used)
            self._alarm(f"{node}-memory", used, REDIS_MEMORY_PERCENT, f"Valkey {node}: memory over 80%")
            self._alarm(
                f"{node}-evictions", node_metric("Evictions", node, "Sum"), 1, f"Valkey {node}: keys evicted", periods=1
            )
            self._alarm(
                f"{node}-replication-lag",
                node_metric("ReplicationLag", node, "Maximum"),
                REDIS_REPLICATION_LAG_SECONDS,
                f"Valkey {node}: replica behind the primary (only replicas report it)",
            )
        self.dashboard.add_widgets(cw.GraphWidget(title="Valkey: memory %", left=memory, width=24))

    def summary(self) -> None:
        self.dashboard.add_widgets(
            cw.AlarmStatusWidget(title="Alarms", alarms=[a for a in self.alarms if isinstance(a, cw.Alarm)], width=24)
        )
