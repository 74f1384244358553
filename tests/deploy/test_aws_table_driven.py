"""Whatever deploy/services.py holds is deployed and routed: a service added to the table gets its ECS
service, target group, rules and alarms with no change to deploy/aws."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import deploy.aws.app
from deploy.services import SERVICES, ServiceSpec
from runtime.migrations import ServiceSchema
from runtime.settings import SharedSettings
from tests.deploy.conftest import synthesize


def test_a_service_added_to_the_table_is_deployed_routed_and_watched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "notify" not in SERVICES, "the stand-in must be a service the table does not hold"
    extra = ServiceSpec(
        "notify",
        (ServiceSchema("notify", "notify"),),
        ("/v1/notifications", "/v1/notify/"),
        SharedSettings,
        lambda s: None,
    )  # type: ignore[arg-type,return-value]
    monkeypatch.setattr(deploy.aws.app, "SERVICES", {**SERVICES, "notify": extra})
    synthesized = synthesize(tmp_path)
    services = {
        s["Properties"]["ServiceName"]: s["Properties"] for s in synthesized.resources("AWS::ECS::Service").values()
    }
    assert "notify" in services
    (binding,) = services["notify"]["LoadBalancers"]
    rules = [
        r["Properties"]
        for r in synthesized.resources("AWS::ElasticLoadBalancingV2::ListenerRule").values()
        if r["Properties"]["Actions"][0]["TargetGroupArn"] == binding["TargetGroupArn"]
    ]
    assert sorted(tuple(r["Conditions"][0]["PathPatternConfig"]["Values"]) for r in rules) == [
        ("/v1/notifications*",),
        ("/v1/notify", "/v1/notify/*"),
    ]
    assert min(r["Priority"] for r in rules) > 100 * len(SERVICES), "appended after the existing services' rules"
    alarms = {a["Properties"].get("AlarmName") for a in synthesized.resources("AWS::CloudWatch::Alarm").values()}
    assert {"pocdojo-notify-5xx-rate", "pocdojo-notify-p99-latency", "pocdojo-notify-unhealthy-targets"} <= alarms
    # the media API (in the table) may write the bucket
    task = synthesized.main["Resources"][services["media"]["TaskDefinition"]["Ref"]]["Properties"]
    role = task["TaskRoleArn"]["Fn::GetAtt"][0]
    statements = [
        s
        for p in synthesized.resources("AWS::IAM::Policy").values()
        if {"Ref": role} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert any("s3:PutObject" in json.dumps(s["Action"]) for s in statements), "the media API writes the bucket"
