"""Whatever deploy/services.py holds is deployed and routed: a service added to the table (the media API
is being added) gets its ECS service, target group, rules and alarms with no change to deploy/aws."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import deploy.aws.app
from deploy.services import SERVICES, ServiceSpec
from runtime.migrations import ServiceSchema
from tests.deploy.conftest import synthesize


def test_a_service_added_to_the_table_is_deployed_routed_and_watched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = ServiceSpec("media", (ServiceSchema("media", "media"),), ("/v1/reports", "/v1/media/"), lambda s: None)  # type: ignore[arg-type,return-value]
    monkeypatch.setattr(deploy.aws.app, "SERVICES", {**SERVICES, "media": extra})
    synthesized = synthesize(tmp_path)
    services = {
        s["Properties"]["ServiceName"]: s["Properties"] for s in synthesized.resources("AWS::ECS::Service").values()
    }
    assert "media" in services
    (binding,) = services["media"]["LoadBalancers"]
    rules = [
        r["Properties"]
        for r in synthesized.resources("AWS::ElasticLoadBalancingV2::ListenerRule").values()
        if r["Properties"]["Actions"][0]["TargetGroupArn"] == binding["TargetGroupArn"]
    ]
    assert sorted(tuple(r["Conditions"][0]["PathPatternConfig"]["Values"]) for r in rules) == [
        ("/v1/media", "/v1/media/*"),
        ("/v1/reports*",),
    ]
    assert min(r["Priority"] for r in rules) > 100 * len(SERVICES), "appended after the existing services' rules"
    alarms = {a["Properties"].get("AlarmName") for a in synthesized.resources("AWS::CloudWatch::Alarm").values()}
    assert {"pocdojo-media-5xx-rate", "pocdojo-media-p99-latency", "pocdojo-media-unhealthy-targets"} <= alarms
    task = synthesized.main["Resources"][services["media"]["TaskDefinition"]["Ref"]]["Properties"]
    role = task["TaskRoleArn"]["Fn::GetAtt"][0]
    statements = [
        s
        for p in synthesized.resources("AWS::IAM::Policy").values()
        if {"Ref": role} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert any("s3:PutObject" in json.dumps(s["Action"]) for s in statements), "the media API writes the bucket"
