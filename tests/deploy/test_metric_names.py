"""The metric names the deployment reads are the names the code exports (or listed as not yet)."""

from __future__ import annotations

import importlib
import json
import pkgutil

from prometheus_client import REGISTRY

from deploy.aws import collector, metric_names


def _exported_names() -> set[str]:
    """Every metric registered by our packages' modules, as Prometheus exposes it."""
    for package in ("runtime", "crdt", "signaling", "dojo", "poc_api", "media", "identity"):
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, prefix=f"{package}."):
            if info.name.endswith(".metrics"):
                importlib.import_module(info.name)
    names = set()
    for family in REGISTRY.collect():
        # A counter family is named without `_total`, which its exposed series carry.
        names.add(f"{family.name}_total" if family.type == "counter" else family.name)
    return names


def test_metrics_marked_exported_exist_in_the_code_and_the_others_do_not_yet() -> None:
    exported = _exported_names()
    for name, in_code in metric_names.EXPORTED.items():
        assert (name in exported) == in_code, f"{name}: EXPORTED says {in_code}; update deploy/aws/metric_names.py"


def test_the_collector_forwards_exactly_the_listed_metrics() -> None:
    config = json.loads(collector.collector_config("dojo", metrics_log_group="/pocdojo/metrics"))
    (declaration,) = config["exporters"]["awsemf"]["metric_declarations"]
    assert declaration["dimensions"] == [[metric_names.DIMENSION]]
    assert sorted(declaration["metric_name_selectors"]) == sorted(f"^{n}$" for n in metric_names.EXPORTED)
    (scrape,) = config["receivers"]["prometheus"]["config"]["scrape_configs"]
    assert scrape["static_configs"] == [{"targets": ["127.0.0.1:9464"], "labels": {"ecs_service": "dojo"}}]
