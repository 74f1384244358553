package dev.pocdojo.app.core.testing

import dev.pocdojo.app.core.gateway.Dojo
import dev.pocdojo.app.core.gateway.DojoDraft
import dev.pocdojo.app.core.gateway.DojoGateway
import dev.pocdojo.app.core.gateway.DojoPage
import dev.pocdojo.app.core.gateway.DojoParticipant
import dev.pocdojo.app.core.gateway.GatewayException
import dev.pocdojo.app.core.gateway.JoinedDojo
import kotlinx.coroutines.CompletableDeferred

/**
 * Active dojos in memory, newest first; cursors are offsets. Queued failures are thrown by the next
 * call of their kind; [listHold] makes the next list calls wait (with the list as it was when asked) until the test completes it.
 */
class FakeDojoGateway(dojos: List<Dojo> = emptyList()) : DojoGateway {
    val dojos = dojos.toMutableList()
    val lists = mutableListOf<String?>()
    val drafts = mutableListOf<DojoDraft>()
    val joins = mutableListOf<String>()
    val listFailures = ArrayDeque<GatewayException>()
    val createFailures = ArrayDeque<GatewayException>()
    val joinFailures = ArrayDeque<GatewayException>()
    var listHold: CompletableDeferred<Unit>? = null

    override suspend fun recent(cursor: String?, limit: Int): DojoPage {
        lists += cursor
        val start = cursor?.toInt() ?: 0
        val end = minOf(start + limit, dojos.size)
        // Read when asked: a held answer is the list as it was then.
        val page = DojoPage(dojos.subList(start, end).toList(), if (end < dojos.size) end.toString() else null)
        listHold?.await()
        listFailures.removeFirstOrNull()?.let { throw it }
        return page
    }

    override suspend fun create(draft: DojoDraft): Dojo {
        drafts += draft
        createFailures.removeFirstOrNull()?.let { throw it }
        return dojo(dojos.size + 100, draft.title).copy(pocId = draft.pocId).also { dojos.add(0, it) }
    }

    override suspend fun join(id: String): JoinedDojo {
        joins += id
        joinFailures.removeFirstOrNull()?.let { throw it }
        val dojo = dojos.find { it.id == id } ?: throw GatewayException.NotFound("No dojo with this id.")
        val me = DojoParticipant("me", "Me", "navigator", host = false, waiting = false)
        return JoinedDojo(dojo.copy(participants = dojo.participants + me), "room-$id", "navigator", canEdit = true)
    }
}

fun dojo(index: Int, title: String = "Dojo $index") =
    Dojo(
        id = "dojo-$index",
        title = title,
        pocId = null,
        hostId = "host",
        active = true,
        startedAt = "2026-01-01T00:00:00Z",
        participants = listOf(DojoParticipant("host", "Host", "driver", host = true, waiting = false)),
    )
