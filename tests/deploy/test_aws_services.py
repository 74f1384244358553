"""ECS: one service per entry of deploy/services.py and per worker, spread, scaled, drained, rolled back."""

from __future__ import annotations

import json
from typing import Any

from deploy.aws.workers import WORKERS
from deploy.services import SERVICES
from tests.deploy.conftest import Synthesized


def _services(synthesized: Synthesized) -> dict[str, tuple[str, dict[str, Any]]]:
    """ECS service name -> (logical id, properties)."""
    return {
        s["Properties"]["ServiceName"]: (rid, s["Properties"])
        for rid, s in synthesized.resources("AWS::ECS::Service").items()
    }


def _task(synthesized: Synthesized, service: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = synthesized.main["Resources"][service["TaskDefinition"]["Ref"]]["Properties"]
    return props


def _container(task: dict[str, Any], name: str) -> dict[str, Any]:
    (container,) = [c for c in task["ContainerDefinitions"] if c["Name"] == name]
    return container


def test_one_service_per_table_entry_and_worker_plus_turn(synthesized: Synthesized) -> None:
    assert set(_services(synthesized)) == set(SERVICES) | set(WORKERS) | {"turn"}


def test_every_service_runs_at_least_two_tasks_with_a_rolling_back_circuit_breaker(synthesized: Synthesized) -> None:
    for name, (_, props) in _services(synthesized).items():
        assert props["DesiredCount"] >= 2, name
        configuration = props["DeploymentConfiguration"]
        assert configuration["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}, name
        assert configuration["MinimumHealthyPercent"] == 100, name
        assert props["AvailabilityZoneRebalancing"] == "ENABLED", name
        assert len(props["NetworkConfiguration"]["AwsvpcConfiguration"]["Subnets"]) == 3, name
    targets = synthesized.resources("AWS::ApplicationAutoScaling::ScalableTarget").values()
    assert all(t["Properties"]["MinCapacity"] >= 2 for t in targets)


def test_each_service_runs_its_command_from_the_one_image(synthesized: Synthesized) -> None:
    services = _services(synthesized)
    images = set()
    for name in SERVICES:
        app = _container(_task(synthesized, services[name][1]), "app")
        assert app["Command"] == ["pocdojo", "serve", name]
        images.add(json.dumps(app["Image"]))
    for name, worker in WORKERS.items():
        app = _container(_task(synthesized, services[name][1]), "app")
        assert app["Command"] == list(worker.command)
        images.add(json.dumps(app["Image"]))
    assert len(images) == 1
    assert '"Ref": "ImageTag"' in images.pop()
    assert WORKERS["media-worker"].command == ("pocdojo", "worker", "media")


def test_http_services_are_checked_on_readyz_and_drain_before_they_stop(synthesized: Synthesized) -> None:
    services = _services(synthesized)
    groups = synthesized.resources("AWS::ElasticLoadBalancingV2::TargetGroup")
    for name in SERVICES:
        _, props = services[name]
        (binding,) = props["LoadBalancers"]
        group = groups[binding["TargetGroupArn"]["Ref"]]["Properties"]
        assert group["HealthCheckPath"] == "/readyz"
        attributes = {a["Key"]: a["Value"] for a in group["TargetGroupAttributes"]}
        delay = int(attributes["deregistration_delay.timeout_seconds"])
        app = _container(_task(synthesized, props), "app")
        assert 10 < app["StopTimeout"] <= 120, "after the drain: uvicorn's 10 s graceful shutdown, then SIGKILL"
        assert 0 < delay <= 300
        assert app["HealthCheck"]["Command"][-1].endswith("urlopen('http://127.0.0.1:8000/healthz', timeout=3)")
    assert "LoadBalancers" not in services["media-worker"][1], "a worker has no ALB target"


def _policies(synthesized: Synthesized, service_logical_id: str) -> list[dict[str, Any]]:
    targets = {
        rid
        for rid, t in synthesized.resources("AWS::ApplicationAutoScaling::ScalableTarget").items()
        if service_logical_id in json.dumps(t["Properties"]["ResourceId"])
    }
    return [
        p["Properties"]
        for p in synthesized.resources("AWS::ApplicationAutoScaling::ScalingPolicy").values()
        if p["Properties"]["ScalingTargetId"]["Ref"] in targets
    ]


def test_services_scale_on_cpu_and_requests_dojo_on_connections_workers_on_queue_age(synthesized: Synthesized) -> None:
    services = _services(synthesized)
    for name in SERVICES:
        tracked = set()
        custom = []
        for policy in _policies(synthesized, services[name][0]):
            config = policy["TargetTrackingScalingPolicyConfiguration"]
            if "PredefinedMetricSpecification" in config:
                tracked.add(config["PredefinedMetricSpecification"]["PredefinedMetricType"])
            else:
                custom.append(config["CustomizedMetricSpecification"]["MetricName"])
        assert tracked == {"ECSServiceAverageCPUUtilization", "ALBRequestCountPerTarget"}, name
        assert custom == (["pocdojo_dojo_participants_connected"] if name == "dojo" else []), name
    for name, worker in WORKERS.items():
        steps = [p for p in _policies(synthesized, services[name][0]) if p["PolicyType"] == "StepScaling"]
        assert len(steps) == 2, "one policy scales out, one scales in"
        assert {p["StepScalingPolicyConfiguration"]["AdjustmentType"] for p in steps} == {"ChangeInCapacity"}
        alarms = [
            a["Properties"]
            for a in synthesized.resources("AWS::CloudWatch::Alarm").values()
            if a["Properties"].get("MetricName") == worker.queue_age_metric
            and any(d["Value"] == name for d in a["Properties"]["Dimensions"])
        ]
        policy_ids = set(synthesized.resources("AWS::ApplicationAutoScaling::ScalingPolicy"))
        actions = {action["Ref"] for a in alarms for action in a["AlarmActions"] if "Ref" in action}
        assert len(actions & policy_ids) == 2, "the queue age drives both scaling policies"


def test_the_collector_sidecar_sends_traces_to_xray_with_the_task_role_allowed(synthesized: Synthesized) -> None:
    services = _services(synthesized)
    policies = synthesized.resources("AWS::IAM::Policy").values()
    for name in [*SERVICES, *WORKERS]:
        task = _task(synthesized, services[name][1])
        collector = _container(task, "otel-collector")
        assert collector["Image"].startswith("public.ecr.aws/aws-observability/aws-otel-collector:")
        (config,) = [e["Value"] for e in collector["Environment"] if e["Name"] == "AOT_CONFIG_CONTENT"]
        pipelines = json.loads(config)["service"]["pipelines"]
        assert pipelines["traces"]["exporters"] == ["awsxray"]
        app_env = {e["Name"]: e["Value"] for e in _container(task, "app")["Environment"]}
        assert app_env["POCDOJO_OTEL_EXPORTER"] == "otlp"
        assert app_env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://127.0.0.1:4318"
        role = task["TaskRoleArn"]["Fn::GetAtt"][0]
        actions = {
            action
            for p in policies
            if {"Ref": role} in p["Properties"]["Roles"]
            for s in p["Properties"]["PolicyDocument"]["Statement"]
            for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        }
        assert {"xray:PutTraceSegments", "xray:PutTelemetryRecords"} <= actions, name


def test_secrets_reach_the_containers_as_ecs_secrets_never_as_values(synthesized: Synthesized) -> None:
    services = _services(synthesized)
    app = _container(_task(synthesized, services["dojo"][1]), "app")
    secret_names = {s["Name"] for s in app["Secrets"]}
    assert {"DATABASE_URL", "REDIS_URL", "POCDOJO_TICKET_SECRET", "POCDOJO_TURN_SECRET"} <= secret_names
    assert {"POCDOJO_OPERATOR_TOKEN", "POCDOJO_MEDIA_URL_SECRET"} <= secret_names
    assert not secret_names & {e["Name"] for e in app["Environment"]}
    assert "POCDOJO_SIGNING_KEYS" not in secret_names, "only identity holds the signing keys"
    identity = _container(_task(synthesized, services["identity"][1]), "app")
    assert "POCDOJO_SIGNING_KEYS" in {s["Name"] for s in identity["Secrets"]}


def test_migrations_and_bootstrap_are_one_off_task_definitions(synthesized: Synthesized) -> None:
    tasks = synthesized.resources("AWS::ECS::TaskDefinition")
    (migrate,) = [t["Properties"] for t in tasks.values() if t["Properties"]["Family"] == "pocdojo-migrate"]
    (container,) = migrate["ContainerDefinitions"]
    assert container["Command"] == ["pocdojo", "migrate", "up"]
    assert [s["Name"] for s in container["Secrets"]] == ["POCDOJO_MIGRATION_DATABASE_URL"]
    assert '"Ref": "MigrationImageTag"' in json.dumps(container["Image"])
    used = {json.dumps(s["Properties"]["TaskDefinition"]) for s in synthesized.resources("AWS::ECS::Service").values()}
    (migrate_id,) = [rid for rid, t in tasks.items() if t["Properties"]["Family"] == "pocdojo-migrate"]
    assert json.dumps({"Ref": migrate_id}) not in used, "no service runs the migration task"
    (bootstrap,) = [t["Properties"] for t in tasks.values() if t["Properties"]["Family"] == "pocdojo-bootstrap"]
    (container,) = bootstrap["ContainerDefinitions"]
    assert container["Command"] == ["pocdojo", "db", "bootstrap"]
    assert sorted(s["Name"] for s in container["Secrets"]) == [
        "POCDOJO_BOOTSTRAP_ADMIN_URL",
        "POCDOJO_OWNER_PASSWORD",
        "POCDOJO_SERVICE_PASSWORD",
    ]
    (cluster,) = synthesized.resources("AWS::RDS::DBCluster").values()
    assert "DatabaseName" not in cluster["Properties"], "bootstrap creates the database, owned by the owner role"
    outputs = synthesized.main["Outputs"]
    assert {"MigrationTaskDefinition", "BootstrapTaskDefinition", "ClusterName", "TaskSubnets"} <= set(outputs)


def test_turn_runs_coturn_with_the_rest_secret_behind_an_nlb_across_azs(synthesized: Synthesized) -> None:
    services = _services(synthesized)
    task = _task(synthesized, services["turn"][1])
    coturn = _container(task, "coturn")
    assert coturn["EntryPoint"] == ["sh", "-c"]
    assert "--use-auth-secret" in coturn["Command"][0]
    assert '--static-auth-secret="$TURN_SECRET"' in coturn["Command"][0]
    assert [s["Name"] for s in coturn["Secrets"]] == ["TURN_SECRET"]
    (nlb,) = [
        lb["Properties"]
        for lb in synthesized.resources("AWS::ElasticLoadBalancingV2::LoadBalancer").values()
        if lb["Properties"]["Type"] == "network"
    ]
    assert nlb["Scheme"] == "internet-facing"
    assert len(nlb["Subnets"]) == 3
    listeners = [
        listener["Properties"]
        for listener in synthesized.resources("AWS::ElasticLoadBalancingV2::Listener").values()
        if listener["Properties"]["Protocol"] == "TCP_UDP"
    ]
    assert [listener["Port"] for listener in listeners] == [3478]
    dojo = _container(_task(synthesized, services["dojo"][1]), "app")
    dojo_env = {e["Name"]: e["Value"] for e in dojo["Environment"]}
    assert ":3478?transport=udp" in json.dumps(dojo_env["POCDOJO_TURN_URLS"])
