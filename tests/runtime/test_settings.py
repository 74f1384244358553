"""Settings per service: a shared base, one class per service, and the generated configuration table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from deploy.services import SERVICES
from runtime.settings import (
    SECTIONS,
    DojoSettings,
    IdentitySettings,
    MediaSettings,
    PocSettings,
    Settings,
    SharedSettings,
)
from runtime.settings.table import TABLE_PATH, render, variable_names
from tests.conftest import ServeApp

SERVICE_CLASSES = (IdentitySettings, PocSettings, DojoSettings, MediaSettings)


def test_the_committed_configuration_table_is_current() -> None:
    committed = TABLE_PATH.read_text(encoding="utf-8")
    assert committed == render(), "docs/configuration.md is stale: run `make settings-table` and commit it"


def test_every_setting_is_in_the_table_once_with_a_description() -> None:
    table_rows = [line for line in TABLE_PATH.read_text(encoding="utf-8").splitlines() if line.startswith("| `")]
    prefix = str(Settings.model_config.get("env_prefix", ""))
    for name, field in Settings.model_fields.items():
        assert field.description, f"{name} has no docstring"
        variable = variable_names(name, field, prefix)[0]
        rows = [row for row in table_rows if row.startswith(f"| `{variable}`")]
        assert len(rows) == 1, (variable, rows)
        cells = [cell.strip() for cell in rows[0].strip("|").split(" | ")]
        assert len(cells) == 3 and all(cells), rows[0]
    assert len(table_rows) == len(Settings.model_fields)


def test_each_service_class_adds_only_its_own_settings() -> None:
    shared = set(SharedSettings.model_fields)
    own = {cls: set(cls.model_fields) - shared for cls in SERVICE_CLASSES}
    for cls, names in own.items():
        assert names, cls
        for other, other_names in own.items():
            if other is not cls:
                assert not names & other_names, (cls, other, names & other_names)
    assert set(Settings.model_fields) == shared.union(*own.values())
    assert {cls for _, cls in SECTIONS} == {SharedSettings, *SERVICE_CLASSES}
    assert "signing_keys" not in DojoSettings.model_fields
    assert "collab_max_frame_bytes" not in IdentitySettings.model_fields
    assert "media_store" not in PocSettings.model_fields
    assert "poc_events_stream" not in MediaSettings.model_fields


def test_the_combined_settings_can_be_handed_to_every_service() -> None:
    combined = Settings()
    for cls in SERVICE_CLASSES:
        assert isinstance(combined, cls)


def test_service_classes_read_the_same_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/d")
    monkeypatch.setenv("POCDOJO_ALLOWED_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("POCDOJO_TURN_URLS", "turn:a:3478,turn:b:3478")
    monkeypatch.setenv("POCDOJO_SIGNING_KEYS", "pem")
    monkeypatch.setenv("POCDOJO_MEDIA_STORE", "s3")
    monkeypatch.setenv("POCDOJO_POC_EVENTS_BATCH", "17")
    dojo = DojoSettings.from_env()
    assert dojo.require_database_url() == "postgresql://u@h/d"
    assert dojo.allowed_origins == ["https://a.example", "https://b.example"]
    assert dojo.turn_urls == ["turn:a:3478", "turn:b:3478"]
    identity = IdentitySettings.from_env()
    assert identity.signing_keys is not None and identity.signing_keys.get_secret_value() == "pem"
    assert MediaSettings.from_env().media_store == "s3"
    assert PocSettings.from_env().poc_events_batch == 17
    combined = Settings.from_env()
    assert (combined.turn_urls, combined.media_store, combined.poc_events_batch) == (dojo.turn_urls, "s3", 17)


@pytest.mark.parametrize("name", sorted(SERVICES))
async def test_each_service_runs_on_its_own_settings_class(
    name: str, make_settings: Callable[..., Settings], serve: ServeApp
) -> None:
    """What `pocdojo serve NAME` does: the service's root gets an instance of exactly its class."""
    spec = SERVICES[name]
    full = make_settings(ticket_secret="t" * 32, turn_secret="s" * 32)
    own = spec.settings_class(**{field: getattr(full, field) for field in spec.settings_class.model_fields})
    assert type(own) is spec.settings_class and not isinstance(own, Settings)

    def factory(base: str) -> Any:
        return spec.factory(own)

    async with serve(factory) as base, httpx.AsyncClient(base_url=base) as http:
        ready = await http.get("/readyz")
        assert ready.status_code == 200, ready.text
