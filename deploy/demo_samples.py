"""Sample data for the demo tenant of `pocdojo dev`, so a first run shows something.

On the first start (when `pocdojo dev` creates the demo tenant) the demo user adds ten POCs and one ended
dojo with a small snapshot, through the public HTTP API as a client would, once the services have started.
Never in production (only `pocdojo dev` seeds) and never twice: the demo tenant's creation leaves a
*pending* marker in the state dir; one process claims it (an atomic rename, so one node of a `--nodes`
cluster seeds), seeds, and deletes it. A failed attempt puts the marker back for the next start; a repeated
POC (409) or the sample dojo already there counts as done.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pycrdt import Doc, Map, Text
from starlette.types import ASGIApp

log = logging.getLogger("pocdojo.dev")

PENDING = "demo-samples-pending"

SAMPLE_POCS: tuple[dict[str, Any], ...] = (
    {
        "name": "Busca de CEP com cache",
        "github_url": "https://github.com/pocdojo-demo/busca-cep",
        "language": "Python",
        "tags": ["api", "cache"],
        "description": "Consulta de endereços por CEP com cache em Redis e fallback para os Correios.",
    },
    {
        "name": "Pagamentos via Pix",
        "github_url": "https://github.com/pocdojo-demo/pix-checkout",
        "language": "Go",
        "tags": ["pagamentos", "pix", "webhooks"],
        "description": "Cobrança instantânea com QR Code dinâmico e confirmação por webhook.",
    },
    {
        "name": "Painel de vendas em tempo real",
        "github_url": "https://github.com/pocdojo-demo/painel-vendas",
        "language": "TypeScript",
        "tags": ["dashboard", "websocket"],
        "description": "Gráficos que se atualizam a cada venda, via WebSocket.",
    },
    {
        "name": "Leitor de nota fiscal eletrônica",
        "github_url": "https://github.com/pocdojo-demo/leitor-nfe",
        "language": "Java",
        "tags": ["fiscal", "xml"],
        "description": "Importa o XML da NF-e e valida a assinatura.",
    },
    {
        "name": "Chatbot de atendimento",
        "github_url": "https://github.com/pocdojo-demo/chatbot-atendimento",
        "language": "Python",
        "tags": ["chatbot", "nlp"],
        "description": "Responde às perguntas frequentes e passa a conversa para um atendente.",
    },
    {
        "name": "Agenda de consultas",
        "github_url": "https://github.com/pocdojo-demo/agenda-consultas",
        "language": "Kotlin",
        "tags": ["android", "mobile"],
        "description": "Aplicativo para marcar, remarcar e lembrar consultas.",
    },
    {
        "name": "Detecção de fraude em transações",
        "github_url": "https://github.com/pocdojo-demo/deteccao-fraude",
        "language": "Jupyter Notebook",
        "tags": ["machine-learning", "fraude"],
        "description": "Modelo de gradient boosting sobre um ano de transações anonimizadas.",
    },
    {
        "name": "Migração de planilhas para o PostgreSQL",
        "github_url": "https://github.com/pocdojo-demo/planilhas-postgres",
        "language": "Ruby",
        "tags": ["etl", "postgres"],
        "description": "Lê planilhas do financeiro e carrega tabelas normalizadas.",
    },
    {
        "name": "Rastreamento de entregas",
        "github_url": "https://github.com/pocdojo-demo/rastreamento-entregas",
        "language": "Rust",
        "tags": ["geolocalização", "logística"],
        "description": "Posição dos entregadores no mapa, atualizada a cada dez segundos.",
    },
    {
        "name": "Assinatura digital de contratos",
        "github_url": "https://github.com/pocdojo-demo/assinatura-contratos",
        "language": "C#",
        "tags": ["pdf", "segurança"],
        "description": "Assina PDFs com certificado ICP-Brasil e verifica a cadeia.",
    },
)

SAMPLE_DOJO_TITLE = "Kata: boliche (exemplo)"
SAMPLE_FILES: dict[str, str] = {
    "boliche.py": (
        "def pontos(jogadas: list[int]) -> int:\n"
        "    total, i = 0, 0\n"
        "    for _ in range(10):\n"
        "        if jogadas[i] == 10:  # strike\n"
        "            total += 10 + jogadas[i + 1] + jogadas[i + 2]\n"
        "            i += 1\n"
        "        elif jogadas[i] + jogadas[i + 1] == 10:  # spare\n"
        "            total += 10 + jogadas[i + 2]\n"
        "            i += 2\n"
        "        else:\n"
        "            total += jogadas[i] + jogadas[i + 1]\n"
        "            i += 2\n"
        "    return total\n"
    ),
    "test_boliche.py": (
        "from boliche import pontos\n\n\ndef test_jogo_perfeito() -> None:\n    assert pontos([10] * 12) == 300\n"
    ),
}


class SeedingFailed(Exception):
    """The API refused a sample (the marker stays pending: the next start tries again)."""


def mark_pending(state_dir: Path) -> None:
    """Called once, when `pocdojo dev` creates the demo tenant."""
    (state_dir / PENDING).write_text("the demo tenant's sample data is not created yet\n", encoding="utf-8")


def _files_update() -> bytes:
    doc: Doc[Any] = Doc()
    files = doc.get("files", type=Map)
    with doc.transaction():
        for path, text in SAMPLE_FILES.items():
            files[path] = Text(text)
    update: bytes = doc.get_update()
    return update


def _check(response: httpx.Response, *accepted: int) -> httpx.Response:
    if response.status_code not in accepted:
        raise SeedingFailed(
            f"{response.request.method} {response.request.url.path}: {response.status_code} {response.text}"
        )
    return response


@dataclass
class DemoSeeder:
    """Seeds the demo tenant through `app` (the dev dispatcher, in process) once the services run."""

    app: ASGIApp
    state_dir: Path
    login: dict[str, str]

    async def run(self, _stop: asyncio.Event) -> None:
        pending = self.state_dir / PENDING
        claimed = self.state_dir / f"{PENDING}.{os.getpid()}"
        try:
            pending.rename(claimed)
        except FileNotFoundError:
            return  # seeded already, or another node of the cluster is seeding
        try:
            created = await self.seed()
        except (SeedingFailed, httpx.HTTPError) as exc:
            claimed.rename(pending)
            log.error("creating the demo tenant's sample data failed; retried on the next start: %s", exc)
            return
        claimed.unlink()
        log.info("demo tenant sample data created", extra=created)

    async def seed(self) -> dict[str, int]:
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://pocdojo.dev", timeout=60) as http:
            token = _check(
                await http.post(
                    "/v1/auth/token",
                    data={
                        "grant_type": "password",
                        "tenant": self.login["tenant"],
                        "username": self.login["username"],
                        "password": self.login["password"],
                    },
                ),
                200,
            ).json()["access_token"]
            http.headers["Authorization"] = f"Bearer {token}"
            pocs = 0
            for poc in SAMPLE_POCS:
                pocs += _check(await http.post("/v1/pocs", json=poc), 201, 409).status_code == 201
            dojos = await self._sample_dojo(http)
        return {"pocs": pocs, "dojos": dojos}

    async def _sample_dojo(self, http: httpx.AsyncClient) -> int:
        listed = _check(await http.get("/v1/dojos"), 200).json()
        if any(d["title"] == SAMPLE_DOJO_TITLE for d in listed["items"]):
            return 0
        dojo = _check(await http.post("/v1/dojos", json={"title": SAMPLE_DOJO_TITLE, "language": "Python"}), 201)
        dojo_id = dojo.json()["id"]
        _check(
            await http.post(
                f"/v1/collab/{dojo_id}/updates",
                content=_files_update(),
                headers={"Content-Type": "application/octet-stream"},
            ),
            204,
        )
        _check(await http.post(f"/v1/dojos/{dojo_id}/end"), 200)
        return 1
