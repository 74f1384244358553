"""The OpenTelemetry collector (ADOT) sidecar's configuration, one per task.

Traces: OTLP from the service (`POCDOJO_OTEL_EXPORTER=otlp`, endpoint on loopback) to X-Ray.
Metrics: the service's Prometheus port (`POCDOJO_METRICS_PORT`, loopback) scraped every minute and
written to CloudWatch in embedded metric format, only the names of `metric_names.EXPORTED`, with the
one dimension `ecs_service` (a scrape label), so series stay bounded whatever labels the code adds.
"""

from __future__ import annotations

import json

from deploy.aws import metric_names

OTLP_HTTP_PORT = 4318
METRICS_PORT = 9464
SCRAPE_INTERVAL_SECONDS = 60


def collector_config(service: str, *, metrics_log_group: str) -> str:
    """The collector's configuration for `service`'s task, as JSON (which is YAML): `AOT_CONFIG_CONTENT`."""
    config = {
        "receivers": {
            "otlp": {"protocols": {"http": {"endpoint": f"127.0.0.1:{OTLP_HTTP_PORT}"}}},
            "prometheus": {
                "config": {
                    "scrape_configs": [
                        {
                            "job_name": "pocdojo",
                            "scrape_interval": f"{SCRAPE_INTERVAL_SECONDS}s",
                            "static_configs": [
                                {
                                    "targets": [f"127.0.0.1:{METRICS_PORT}"],
                                    "labels": {metric_names.DIMENSION: service},
                                }
                            ],
                        }
                    ]
                }
            },
        },
        "processors": {"batch/traces": {"timeout": "1s", "send_batch_size": 50}, "batch/metrics": {"timeout": "60s"}},
        "exporters": {
            "awsxray": {},
            "awsemf": {
                "namespace": metric_names.NAMESPACE,
                "log_group_name": metrics_log_group,
                "log_stream_name": f"{service}/{{TaskId}}",
                "dimension_rollup_option": "NoDimensionRollup",
                "metric_declarations": [
                    {
                        "dimensions": [[metric_names.DIMENSION]],
                        "metric_name_selectors": [f"^{name}$" for name in sorted(metric_names.EXPORTED)],
                    }
                ],
            },
        },
        "service": {
            "pipelines": {
                "traces": {"receivers": ["otlp"], "processors": ["batch/traces"], "exporters": ["awsxray"]},
                "metrics": {"receivers": ["prometheus"], "processors": ["batch/metrics"], "exporters": ["awsemf"]},
            }
        },
    }
    return json.dumps(config, sort_keys=True)
