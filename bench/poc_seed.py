"""Seed the POC catalogue for the search benchmark: 1,000,000 POCs over 100 tenants (by default).

    .venv/bin/python bench/poc_seed.py [--state-dir .pocdojo/bench-poc] [--pocs 1000000] [--tenants 100]

Theory of operation. The script prepares its own embedded PostgreSQL (the same code path as
`pocdojo dev`, state in --state-dir), tunes it like a production-sized instance (shared_buffers etc.,
see `TUNING`), applies every migration, creates the tenants and their users through the identity
service's own code (real argon2 hashes: the search benchmark signs in over HTTP), and then bulk-loads
POCs generated from Portuguese/English vocabularies with a realistic spread: tenant sizes follow a
mild power law, creation times cover three years, rows are stored in creation order across tenants
(as a live system would write them), languages and tags are skewed the way real catalogues are.

A bulk load is an operator task, so it runs as the database superuser (which row-level security does
not apply to) with `session_replication_role = replica` (no per-row triggers), the secondary indexes
dropped and recreated afterwards, and the search tables built set-based with the same SQL functions
the triggers use. No outbox events are written for seeded rows. The tenants, users and password are
written to `<state-dir>/bench-poc.json` for bench/poc_search.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from deploy.local import DATABASE, DatabaseUrls, EmbeddedEnvironment  # noqa: E402
from runtime.settings import Settings  # noqa: E402

PASSWORD = "bench catalogue password 2024"  # noqa: S105 - the bench tenants' shared password
USERS_PER_TENANT = 5
META_FILE = "bench-poc.json"

# A production-sized PostgreSQL for 24 GiB / 2 cores (the Aurora instance would be tuned alike).
TUNING = {
    "shared_buffers": "4GB",
    "effective_cache_size": "16GB",
    "work_mem": "16MB",
    "maintenance_work_mem": "2GB",
    "random_page_cost": "1.1",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
    "max_parallel_maintenance_workers": "2",
    "jit": "off",
}

# -- vocabularies ---------------------------------------------------------------------------------------
# (subject in Portuguese, subject in English, tags it suggests)
TOPICS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Integração de pagamentos", "Payments integration", ("payments", "fintech")),
    ("Pagamentos com PIX", "PIX instant payments", ("pix", "payments", "fintech")),
    ("Cobrança recorrente", "Recurring billing", ("billing", "payments")),
    ("Emissão de notas fiscais", "Invoice issuing (NF-e)", ("nfe", "tax", "fiscal")),
    ("Conciliação bancária", "Bank reconciliation", ("banking", "fintech")),
    ("Open Finance", "Open Finance consent flow", ("open-finance", "banking", "api")),
    ("Detecção de fraudes", "Fraud detection", ("fraud", "machine-learning", "risk")),
    ("Análise de crédito", "Credit scoring", ("credit", "risk", "machine-learning")),
    ("Cadastro de clientes", "Customer onboarding", ("kyc", "onboarding")),
    ("Autenticação", "Authentication", ("auth", "security", "oauth")),
    ("Login social", "Social login", ("auth", "oauth")),
    ("Gestão de estoque", "Inventory management", ("inventory", "retail")),
    ("Rastreamento de entregas", "Delivery tracking", ("logistics", "geolocation")),
    ("Roteirização de frota", "Fleet routing", ("logistics", "optimization")),
    ("Atendimento ao cliente", "Customer support", ("support", "crm")),
    ("Chatbot de atendimento", "Support chatbot", ("chatbot", "llm", "ai")),
    ("Assistente com IA generativa", "Generative AI assistant", ("llm", "ai", "rag")),
    ("Busca semântica", "Semantic search", ("search", "embeddings", "ai")),
    ("Sistema de recomendação", "Recommendation engine", ("recommendation", "machine-learning")),
    ("Precificação dinâmica", "Dynamic pricing", ("pricing", "retail")),
    ("Carrinho de compras", "Shopping cart", ("e-commerce", "retail")),
    ("Checkout", "One-click checkout", ("e-commerce", "payments")),
    ("Marketplace", "Marketplace", ("marketplace", "e-commerce")),
    ("Agendamento de consultas", "Appointment scheduling", ("health", "scheduling")),
    ("Prontuário eletrônico", "Electronic health record", ("health", "fhir")),
    ("Telemedicina", "Telemedicine", ("health", "webrtc", "video")),
    ("Reconhecimento facial", "Face recognition", ("computer-vision", "ai")),
    ("OCR de documentos", "Document OCR", ("ocr", "computer-vision")),
    ("Assinatura digital", "Digital signature", ("security", "documents")),
    ("Relatórios gerenciais", "Management reports", ("reports", "bi")),
    ("Painel de indicadores", "KPI dashboard", ("dashboard", "bi", "analytics")),
    ("Pipeline de dados", "Data pipeline", ("data-engineering", "etl")),
    ("Data lake", "Data lake", ("data-engineering", "analytics")),
    ("Observabilidade", "Observability", ("observability", "monitoring")),
    ("Monitoramento de APIs", "API monitoring", ("monitoring", "api")),
    ("Gateway de APIs", "API gateway", ("api", "microservices")),
    ("Migração para nuvem", "Cloud migration", ("cloud", "migration")),
    ("Orquestração de microsserviços", "Microservices orchestration", ("microservices", "workflow")),
    ("Mensageria assíncrona", "Async messaging", ("messaging", "event-driven")),
    ("Notificações push", "Push notifications", ("notifications", "mobile")),
    ("Aplicativo de delivery", "Food delivery app", ("mobile", "delivery")),
    ("Geolocalização", "Geolocation service", ("geolocation", "maps")),
    ("Internet das coisas", "IoT telemetry", ("iot", "telemetry")),
    ("Manutenção preditiva", "Predictive maintenance", ("iot", "machine-learning")),
    ("Editor colaborativo", "Collaborative editor", ("realtime", "crdt")),
    ("Streaming de vídeo", "Video streaming", ("video", "streaming")),
    ("Gestão de contratos", "Contract management", ("legal", "documents")),
    ("Folha de pagamento", "Payroll", ("hr", "payroll")),
    ("Recrutamento", "Hiring pipeline", ("hr", "recruiting")),
    ("Controle de acesso", "Access control", ("security", "rbac")),
    ("Auditoria de logs", "Audit logging", ("security", "compliance", "lgpd")),
    ("Anonimização de dados (LGPD)", "Data anonymization (LGPD)", ("lgpd", "privacy", "compliance")),
    ("Feature flags", "Feature flags", ("devops", "experimentation")),
    ("Testes de carga", "Load testing", ("performance", "testing")),
    ("Cache distribuído", "Distributed cache", ("cache", "performance")),
    ("Busca de produtos", "Product search", ("search", "e-commerce")),
    ("Blockchain para rastreabilidade", "Blockchain traceability", ("blockchain", "supply-chain")),
    ("Gêmeo digital", "Digital twin", ("iot", "simulation")),
    ("Cotação de frete", "Freight quotes", ("logistics", "api")),
    ("Programa de fidelidade", "Loyalty program", ("loyalty", "retail")),
)
TECH: tuple[tuple[str, str], ...] = (
    ("Kafka", "kafka"), ("Kubernetes", "kubernetes"), ("gRPC", "grpc"), ("GraphQL", "graphql"),
    ("PostgreSQL", "postgresql"), ("Redis", "redis"), ("Elasticsearch", "elasticsearch"),
    ("FastAPI", "fastapi"), ("Spring Boot", "spring-boot"), ("React Native", "react-native"),
    ("Flutter", "flutter"), ("Next.js", "nextjs"), ("Terraform", "terraform"), ("AWS", "aws"),
    ("LangChain", "langchain"), ("OpenAI", "openai"), ("pgvector", "pgvector"), ("WebSockets", "websockets"),
    ("RabbitMQ", "rabbitmq"), ("Temporal", "temporal"), ("Airflow", "airflow"), ("dbt", "dbt"),
    ("Spark", "spark"), ("DuckDB", "duckdb"), ("WebAssembly", "wasm"), ("Django", "django"),
    ("NestJS", "nestjs"), ("Quarkus", "quarkus"), ("Vue", "vue"), ("Svelte", "svelte"), ("Docker", "docker"),
    ("Serverless", "serverless"), ("MongoDB", "mongodb"), ("DynamoDB", "dynamodb"), ("OpenTelemetry", "otel"),
    ("Prometheus", "prometheus"), ("Grafana", "grafana"), ("Keycloak", "keycloak"), ("Stripe", "stripe"),
    ("Hugging Face", "huggingface"), ("PyTorch", "pytorch"), ("TensorFlow", "tensorflow"),
)  # fmt: skip
PT_FORMS = (
    "{topic} com {tech}",
    "{topic} usando {tech}",
    "POC de {topic_l} com {tech}",
    "Prova de conceito: {topic_l} em {lang}",
    "{topic} em tempo real",
    "{topic} serverless",
    "Protótipo de {topic_l}",
    "{topic} para {sector}",
    "{topic} v{n}",
)
EN_FORMS = (
    "{topic_en} with {tech}",
    "{topic_en} using {tech}",
    "{tech} {topic_en_l} prototype",
    "Realtime {topic_en_l}",
    "{topic_en} for {sector_en}",
    "{topic_en} proof of concept",
    "{topic_en} v{n}",
)
SECTORS = (
    ("varejo", "retail"), ("bancos", "banks"), ("seguradoras", "insurers"), ("hospitais", "hospitals"),
    ("agronegócio", "agribusiness"), ("logística", "logistics"), ("educação", "education"),
    ("governo", "government"), ("telecom", "telecom"), ("energia", "energy"),
)  # fmt: skip
PT_DESCRIPTIONS = (
    "Explora {topic_l} integrando {tech} e {tech2}, com foco em latência e custo.",
    "Valida a viabilidade de {topic_l} para clientes de {sector}; inclui testes automatizados.",
    "Experimento do time de inovação: {topic_l} com {tech}, deploy em contêineres.",
    "Prova de conceito de {topic_l}. Próximos passos: observabilidade e segurança.",
    "Implementação mínima de {topic_l} com autenticação, filas e {tech2}.",
    "",
)
EN_DESCRIPTIONS = (
    "Explores {topic_en_l} on top of {tech} and {tech2}, measuring latency and cost.",
    "Validates {topic_en_l} for {sector_en} customers; includes automated tests.",
    "Innovation team experiment: {topic_en_l} with {tech}, deployed as containers.",
    "Minimal {topic_en_l} with authentication, queues and {tech2}.",
    "",
)
LANGUAGE_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("Python", 18), ("TypeScript", 15), ("JavaScript", 11), ("Java", 10), ("Go", 8), ("Kotlin", 5),
    ("C#", 5), ("Rust", 3), ("PHP", 3), ("Ruby", 2), ("Swift", 2), ("Dart", 2), ("HCL", 2),
    ("Scala", 1.5), ("C++", 1.5), ("Elixir", 1), ("C", 1), ("Shell", 1), ("SQL", 1), ("R", 1),
    ("Jupyter Notebook", 1.5), ("Clojure", 0.4), ("Haskell", 0.3), ("Lua", 0.3), ("Julia", 0.3),
    ("F#", 0.2), ("OCaml", 0.2), ("Zig", 0.2), ("Erlang", 0.2), ("Solidity", 0.3), ("Vue", 0.5),
    ("Svelte", 0.3), ("PowerShell", 0.3), ("Groovy", 0.2), ("Perl", 0.1), ("Nim", 0.05), ("Crystal", 0.05),
)  # fmt: skip
GENERIC_TAGS = (
    "poc", "mvp", "hackathon", "cloud", "backend", "frontend", "mobile", "api", "microservices",
    "security", "ai", "data", "devops", "performance", "open-source", "internal", "customer-demo",
    "research", "prototype", "archived",
)  # fmt: skip
COMPANY_WORDS = (
    "acme", "nova", "aurora", "horizonte", "vale", "serra", "atlas", "pampa", "cerrado", "litoral",
    "boreal", "delta", "orion", "tupi", "jacaranda", "ipe", "sabia", "araucaria", "capivara", "tucano",
)  # fmt: skip


@dataclass(frozen=True)
class BenchTenant:
    slug: str
    tenant_id: str
    org: str
    users: list[dict[str, str]]
    size: int


def tenant_sizes(total: int, tenants: int, exponent: float = 0.5) -> list[int]:
    """Sizes following a mild power law (rank^-exponent), summing exactly to `total`."""
    weights = [1 / math.pow(rank, exponent) for rank in range(1, tenants + 1)]
    scale = total / sum(weights)
    sizes = [int(w * scale) for w in weights]
    for i in range(total - sum(sizes)):
        sizes[i % tenants] += 1
    return sizes


def _lower_first(text: str) -> str:
    """ "Pagamentos com PIX" -> "pagamentos com PIX"; acronyms ("OCR de…") stay as they are."""
    if len(text) > 1 and text[1].isupper():
        return text
    return text[0].lower() + text[1:]


class PocGenerator:
    """Deterministic POC rows: (tenant_id, id, owner_id, name, description, url, language, tags, times)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.languages = [name for name, _ in LANGUAGE_WEIGHTS]
        self.language_weights = [w for _, w in LANGUAGE_WEIGHTS]

    def _fill(self, topic: tuple[str, str, tuple[str, ...]], portuguese: bool, language: str) -> tuple[str, str]:
        rng = self.rng
        tech, tech2 = rng.sample(TECH, 2)
        sector_pt, sector_en = rng.choice(SECTORS)
        values = {
            "topic": topic[0],
            "topic_l": _lower_first(topic[0]),
            "topic_en": topic[1],
            "topic_en_l": _lower_first(topic[1]),
            "tech": tech[0],
            "tech2": tech2[0],
            "lang": language,
            "sector": sector_pt,
            "sector_en": sector_en,
            "n": str(rng.randint(1, 4)),
        }
        if portuguese:
            name = rng.choice(PT_FORMS).format(**values)
            description = rng.choice(PT_DESCRIPTIONS).format(**values)
        else:
            name = rng.choice(EN_FORMS).format(**values)
            description = rng.choice(EN_DESCRIPTIONS).format(**values)
        return name[:200], description

    def rows(self, tenants: Sequence[BenchTenant], start: datetime, end: datetime) -> Iterator[tuple[Any, ...]]:
        """Every POC of every tenant, in creation order across tenants."""
        rng = self.rng
        span = (end - start).total_seconds()
        # Each tenant's creation times, merged by time: the physical order of a live table.
        stamps: list[tuple[float, int, int]] = []
        for t_index, tenant in enumerate(tenants):
            # Catalogues grow over time: later dates are more likely (sqrt skews towards the end).
            stamps.extend((math.sqrt(rng.random()) * span, t_index, i) for i in range(tenant.size))
        stamps.sort()
        for offset, t_index, serial in stamps:
            tenant = tenants[t_index]
            topic = rng.choice(TOPICS)
            language = rng.choices(self.languages, weights=self.language_weights)[0]
            name, description = self._fill(topic, rng.random() < 0.6, language)
            tags: list[str] = list(topic[2][: rng.randint(1, len(topic[2]))])
            if rng.random() < 0.6:
                tags.append(rng.choice(TECH)[1])
            tags.extend(rng.sample(GENERIC_TAGS, rng.choice((0, 0, 1, 1, 2))))
            tags = list(dict.fromkeys(tags))[:8]
            created = start + timedelta(seconds=offset)
            updated = created + timedelta(seconds=rng.random() * 86_400 * 30 * (rng.random() < 0.3))
            owner = rng.choice(tenant.users)["id"]
            slug = "-".join(w for w in name.lower().replace(":", " ").split() if w.isascii() and w.isalnum())
            url = f"https://github.com/{tenant.org}/{(slug or 'poc')[:80]}-{serial}"
            yield (
                uuid.UUID(tenant.tenant_id),
                uuid.UUID(int=rng.getrandbits(128), version=4),
                owner,
                name,
                description,
                url,
                language,
                tags,
                created,
                min(updated, end),
            )


# -- database steps -------------------------------------------------------------------------------------
SEARCH_TABLES = ("pocs", "poc_tags", "search_postings", "search_vocabulary")


async def tune(env: EmbeddedEnvironment, admin: str) -> None:
    """Apply TUNING with ALTER SYSTEM and restart the server if anything changed."""
    conn = await asyncpg.connect(admin)
    try:
        changed = False
        for name, value in TUNING.items():
            current = await conn.fetchval("SELECT setting FROM pg_file_settings WHERE name = $1", name)
            if current != value:
                await conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
                changed = True
    finally:
        await conn.close()
    if changed:
        env.postgres.stop()
        env.postgres.start()


async def reset_if_migration_changed(urls: DatabaseUrls) -> None:
    """The bench database follows the working tree: if the poc migrations changed since they were
    applied here, roll the schema back (its data is regenerated below anyway)."""
    from runtime import migrations

    service = migrations.ServiceSchema("poc", "poc_api")
    conn = await asyncpg.connect(urls.owner)
    try:
        if await conn.fetchval("SELECT to_regclass('poc.schema_migrations') IS NULL"):
            return
        applied = {r["version"]: r["checksum"] for r in await conn.fetch("SELECT * FROM poc.schema_migrations")}
        current = {m.version: m.checksum for m in service.migrations()}
        if any(current.get(version) != checksum for version, checksum in applied.items()):
            print("the poc migrations changed: rolling the bench schema back")
            await migrations.downgrade(conn, service, steps=len(applied))
    finally:
        await conn.close()


async def create_tenants(settings: Settings, count: int, sizes: list[int], rng: random.Random) -> list[BenchTenant]:
    from identity.app import build_service, load_keys
    from runtime.db import Database

    tenants: list[BenchTenant] = []
    async with Database(settings.require_database_url(), min_size=1, max_size=4) as db:
        service = build_service(settings, db, load_keys(settings))
        for index in range(count):
            slug = f"bench-{index:03d}"
            org = f"{rng.choice(COMPANY_WORDS)}-{rng.choice(COMPANY_WORDS)}-{index}"
            admin_email = f"admin@{slug}.example.com"
            tenant = await service.create_tenant(
                slug=slug, name=f"Bench {org}", admin_email=admin_email, admin_password=PASSWORD
            )
            users = [{"email": admin_email, "role": "admin"}]
            for n in range(1, USERS_PER_TENANT):
                email = f"dev{n}@{slug}.example.com"
                await service.register(tenant_slug=slug, email=email, password=PASSWORD, roles=frozenset({"member"}))
                users.append({"email": email, "role": "member"})
            async with db.tenant_tx(tenant["id"]) as conn:
                ids = {r["email"]: str(r["id"]) for r in await conn.fetch("SELECT id, email FROM identity.users")}
            for user in users:
                user["id"] = ids[user["email"]]
            tenants.append(BenchTenant(slug, tenant["id"], org, users, sizes[index]))
            print(f"\r  tenants: {index + 1}/{count}", end="", flush=True)
    print()
    return tenants


async def _index_definitions(conn: asyncpg.Connection[asyncpg.Record]) -> tuple[list[str], list[str]]:
    """(statements to drop, statements to recreate) for the search tables' constraints and indexes."""
    drops: list[str] = []
    creates: list[str] = []
    constraints = await conn.fetch(
        """
        SELECT c.conrelid::regclass::text AS tbl, c.conname, c.contype::text AS contype,
               pg_get_constraintdef(c.oid) AS def
        FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid JOIN pg_namespace n ON n.oid = r.relnamespace
        WHERE n.nspname = 'poc' AND r.relname = ANY($1) AND c.contype IN ('p', 'u', 'f')
        ORDER BY (c.contype = 'f') DESC
        """,
        list(SEARCH_TABLES),
    )
    for c in constraints:
        drops.append(f'ALTER TABLE {c["tbl"]} DROP CONSTRAINT "{c["conname"]}"')
    indexes = await conn.fetch(
        """
        SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def
        FROM pg_index i JOIN pg_class r ON r.oid = i.indrelid JOIN pg_namespace n ON n.oid = r.relnamespace
        WHERE n.nspname = 'poc' AND r.relname = ANY($1)
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
        """,
        list(SEARCH_TABLES),
    )
    for i in indexes:
        drops.append(f"DROP INDEX {i['name']}")
        creates.append(i["def"])
    # Keys first (primary/unique), then plain indexes, foreign keys last (they need the keys).
    creates = [
        f'ALTER TABLE {c["tbl"]} ADD CONSTRAINT "{c["conname"]}" {c["def"]}' for c in constraints if c["contype"] != "f"
    ] + creates
    creates += [
        f'ALTER TABLE {c["tbl"]} ADD CONSTRAINT "{c["conname"]}" {c["def"]}' for c in constraints if c["contype"] == "f"
    ]
    return drops, creates


POC_COLUMNS = [
    "tenant_id", "id", "owner_id", "name", "description", "github_url", "language", "tags", "created_at",
    "updated_at",
]  # fmt: skip

BUILD_SEARCH = (
    """INSERT INTO poc.poc_tags (tenant_id, poc_id, tag, created_at)
       SELECT DISTINCT tenant_id, id, unnest(tags), created_at FROM poc.pocs""",
    """INSERT INTO poc.search_postings (tenant_id, term, poc_id, in_name, created_at)
       SELECT tenant_id, w, id, bool_or(in_name), created_at FROM (
           SELECT tenant_id, id, created_at, unnest(poc.search_words(name)) AS w, true AS in_name FROM poc.pocs
           UNION ALL
           SELECT tenant_id, id, created_at, unnest(poc.search_words(description)), false FROM poc.pocs
       ) AS words GROUP BY tenant_id, w, id, created_at""",
    """INSERT INTO poc.search_vocabulary (tenant_id, key, term, edits)
       SELECT t.tenant_id, k.key, t.term, k.edits
       FROM (SELECT DISTINCT tenant_id, term FROM poc.search_postings) AS t
       CROSS JOIN LATERAL poc.deletion_keys(t.term, poc.max_edits(t.term)) AS k""",
)


def superuser_dsn(urls: DatabaseUrls) -> str:
    """The superuser's address on the catalogue's database (`urls.admin` names the maintenance one)."""
    parts = urlsplit(urls.admin)
    return urlunsplit(parts._replace(path=f"/{DATABASE}"))


async def load(urls: DatabaseUrls, tenants: list[BenchTenant], seed: int, batch: int = 20_000) -> None:
    conn = await asyncpg.connect(superuser_dsn(urls), timeout=60, command_timeout=None)
    try:
        await conn.execute("SET session_replication_role = replica")
        await conn.execute("SET maintenance_work_mem = '2GB'")
        await conn.execute("SET work_mem = '512MB'")
        await conn.execute("TRUNCATE poc.pocs, poc.poc_tags, poc.search_postings, poc.search_vocabulary, poc.outbox")
        drops, creates = await _index_definitions(conn)
        for statement in drops:
            await conn.execute(statement)
        end = datetime.now(UTC).replace(microsecond=0)
        start = end - timedelta(days=3 * 365)
        started = time.perf_counter()
        rows: list[tuple[Any, ...]] = []
        total = sum(t.size for t in tenants)
        done = 0
        for row in PocGenerator(seed).rows(tenants, start, end):
            rows.append(row)
            if len(rows) >= batch:
                await conn.copy_records_to_table("pocs", schema_name="poc", columns=POC_COLUMNS, records=rows)
                done += len(rows)
                rows = []
                rate = done / (time.perf_counter() - started)
                print(f"\r  pocs: {done:,}/{total:,} ({rate:,.0f}/s)", end="", flush=True)
        if rows:
            await conn.copy_records_to_table("pocs", schema_name="poc", columns=POC_COLUMNS, records=rows)
            done += len(rows)
        print(f"\r  pocs: {done:,}/{total:,} in {time.perf_counter() - started:.0f} s")
        for statement in BUILD_SEARCH:
            t0 = time.perf_counter()
            status = await conn.execute(statement)
            print(f"  {statement.split()[2]}: {status} in {time.perf_counter() - t0:.0f} s")
        for statement in creates:
            t0 = time.perf_counter()
            await conn.execute(statement)
            print(f"  {statement[:90]}… {time.perf_counter() - t0:.0f} s")
        await conn.execute("RESET session_replication_role")
        t0 = time.perf_counter()
        for table in SEARCH_TABLES:
            await conn.execute(f"VACUUM (ANALYZE) poc.{table}")
        print(f"  vacuum analyze: {time.perf_counter() - t0:.0f} s")
    finally:
        await conn.close()


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--state-dir", type=Path, default=REPO / ".pocdojo" / "bench-poc")
    parser.add_argument("--pocs", type=int, default=1_000_000)
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--seed", type=int, default=20240601)
    add_keep_postgres(parser)
    args = parser.parse_args(argv)
    env = EmbeddedEnvironment(args.state_dir.resolve())
    try:
        return await seed(parser, args, env)
    finally:
        stop_postgres(env, keep=args.keep_postgres)


def add_keep_postgres(parser: argparse.ArgumentParser) -> None:
    """`--keep-postgres`, for this script and `poc_search.py` (see `stop_postgres`)."""
    parser.add_argument(
        "--keep-postgres",
        action="store_true",
        help="leave the embedded PostgreSQL running at the end (default: stopped, if this run started it)",
    )


def stop_postgres(env: EmbeddedEnvironment, *, keep: bool) -> None:
    """Stop the embedded PostgreSQL at the end of a run that started it, unless `keep`."""
    if env.postgres.started_here and not keep:
        env.postgres.stop()


async def seed(parser: argparse.ArgumentParser, args: argparse.Namespace, env: EmbeddedEnvironment) -> int:
    """Tune and migrate the embedded PostgreSQL, create the tenants (or reuse them) and load the POCs."""
    state_dir = env.state_dir
    started = time.perf_counter()
    urls = await env.prepare(migrate=False)
    await tune(env, urls.admin)
    await reset_if_migration_changed(urls)
    urls = await env.prepare()
    settings = Settings(
        env="dev", database_url=urls.service, migration_database_url=urls.owner, state_dir=state_dir, log_json=True
    )
    meta_path = state_dir / META_FILE
    rng = random.Random(args.seed)
    sizes = tenant_sizes(args.pocs, args.tenants)
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        tenants = [BenchTenant(**t) for t in meta["tenants"]]
        if len(tenants) != args.tenants:
            parser.error(f"{meta_path} has {len(tenants)} tenants; remove the state dir to change --tenants")
        tenants = [
            BenchTenant(t.slug, t.tenant_id, t.org, t.users, size) for t, size in zip(tenants, sizes, strict=True)
        ]
        print(f"reusing {len(tenants)} tenants from {meta_path}")
    else:
        print(f"creating {args.tenants} tenants with {USERS_PER_TENANT} users each")
        tenants = await create_tenants(settings, args.tenants, sizes, rng)
    meta_path.write_text(
        json.dumps({"password": PASSWORD, "pocs": args.pocs, "tenants": [t.__dict__ for t in tenants]}, indent=1)
    )
    print(f"loading {args.pocs:,} POCs")
    await load(urls, tenants, args.seed)
    print(f"done in {time.perf_counter() - started:.0f} s; metadata in {meta_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
