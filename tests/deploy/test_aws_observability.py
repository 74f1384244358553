"""Alarms for every key operation, all to the one SNS topic, and one dashboard."""

from __future__ import annotations

from typing import Any

from deploy.aws.workers import WORKERS
from deploy.services import SERVICES
from tests.deploy.conftest import Synthesized


def _alarms(synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    """Alarm name -> properties, for the operational alarms (not the scaling policies' own)."""
    return {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in synthesized.resources("AWS::CloudWatch::Alarm").values()
        if "AlarmName" in a["Properties"]
    }


def test_every_alarm_notifies_the_one_topic(synthesized: Synthesized) -> None:
    (topic_id,) = synthesized.resources("AWS::SNS::Topic")
    alarms = _alarms(synthesized)
    assert alarms
    for name, alarm in alarms.items():
        assert alarm["AlarmActions"] == [{"Ref": topic_id}], name
        assert alarm["OKActions"] == [{"Ref": topic_id}], name
    scaling = [
        a["Properties"]
        for a in synthesized.resources("AWS::CloudWatch::Alarm").values()
        if "AlarmName" not in a["Properties"]
    ]
    policies = set(synthesized.resources("AWS::ApplicationAutoScaling::ScalingPolicy"))
    assert all(action["Ref"] in policies for a in scaling for action in a["AlarmActions"]), "unnamed = scaling only"


def test_alarms_cover_every_key_operation(synthesized: Synthesized) -> None:
    names = set(_alarms(synthesized))
    expected = set()
    for service in SERVICES:
        expected |= {f"pocdojo-{service}-{kind}" for kind in ("5xx-rate", "p99-latency", "unhealthy-targets")}
        expected |= {f"pocdojo-{service}-cpu", f"pocdojo-{service}-memory", f"pocdojo-{service}-auth-failure-spike"}
    for worker in WORKERS:
        expected |= {f"pocdojo-{worker}-{kind}" for kind in ("job-failures", "queue-age", "cpu", "memory")}
    expected |= {"pocdojo-turn-cpu", "pocdojo-turn-memory"}
    expected |= {"pocdojo-aurora-cpu", "pocdojo-aurora-connections", "pocdojo-aurora-replica-lag"}
    for node in ("001", "002", "003"):
        expected |= {f"pocdojo-pocdojo-cache-{node}-{kind}" for kind in ("memory", "evictions", "replication-lag")}
    expected.add("pocdojo-dojo-ws-close-anomaly")
    assert expected <= names, sorted(expected - names)


def test_the_5xx_alarm_is_a_rate_and_latency_is_p99(synthesized: Synthesized) -> None:
    alarms = _alarms(synthesized)
    rate = alarms["pocdojo-dojo-5xx-rate"]
    (expression,) = [m["Expression"] for m in rate["Metrics"] if "Expression" in m]
    assert "100 * FILL(errors, 0) / requests" in expression
    assert alarms["pocdojo-dojo-p99-latency"]["ExtendedStatistic"] == "p99"


def test_websocket_closes_alarm_on_an_anomaly_band(synthesized: Synthesized) -> None:
    alarm = _alarms(synthesized)["pocdojo-dojo-ws-close-anomaly"]
    assert alarm["ComparisonOperator"] == "GreaterThanUpperThreshold"
    assert alarm["ThresholdMetricId"] == "band"
    (band,) = [m for m in alarm["Metrics"] if m["Id"] == "band"]
    assert band["Expression"].startswith("ANOMALY_DETECTION_BAND(closes")


def test_one_dashboard(synthesized: Synthesized) -> None:
    (dashboard,) = synthesized.resources("AWS::CloudWatch::Dashboard").values()
    assert dashboard["Properties"]["DashboardName"] == "pocdojo"


def test_log_groups_have_native_retention(synthesized: Synthesized) -> None:
    groups = synthesized.resources("AWS::Logs::LogGroup")
    assert groups
    assert all(g["Properties"]["RetentionInDays"] > 0 for g in groups.values())
