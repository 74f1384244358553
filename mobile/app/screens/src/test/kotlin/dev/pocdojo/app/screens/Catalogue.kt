package dev.pocdojo.app.screens

import dev.pocdojo.app.core.gateway.Poc

/** A tenant's POCs as the list screen would show them. */
object Catalogue {
    val pocs: List<Poc> =
        listOf(
            poc(1, "Pix QR code in Go", "Go", listOf("payments", "pix"), "Dynamic Pix charges with webhooks and retries."),
            poc(2, "Kafka outbox", "Kotlin", listOf("events", "kafka"), "Transactional outbox with Debezium."),
            poc(3, "Feature flags at the edge", "TypeScript", listOf("cdn", "flags"), "Flags evaluated in a worker."),
            poc(4, "Boleto parser", "Python", listOf("payments"), "Reads the barcode line of a bank slip."),
            poc(5, "gRPC streaming chat", "Go", listOf("grpc", "streaming"), ""),
            poc(6, "Postgres row-level security", "SQL", listOf("multi-tenant", "postgres"), "One policy per tenant."),
            poc(7, "Offline-first notes", "Kotlin", listOf("crdt", "mobile"), "Yjs documents synced over WebSocket."),
            poc(8, "Rate limiter with Redis", "Python", listOf("redis"), "Sliding window in a Lua script."),
            poc(9, "OpenTelemetry traces", "Java", listOf("observability"), "Spans from the gateway to the database."),
        )

    private fun poc(index: Int, name: String, language: String, tags: List<String>, description: String) =
        Poc(
            id = "poc-$index",
            name = name,
            description = description,
            githubUrl = "https://github.com/acme/poc-$index",
            language = language,
            tags = tags,
            ownerId = "user-1",
            createdAt = "2026-11-0${index}T12:00:00Z",
            updatedAt = "2026-11-0${index}T12:00:00Z",
        )
}
