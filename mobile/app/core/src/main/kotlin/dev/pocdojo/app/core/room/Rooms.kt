package dev.pocdojo.app.core.room

import kotlinx.coroutines.CoroutineScope
import kotlin.coroutines.CoroutineContext

/** What the room's view-model is made of: who I am, the shared document's link, the REST side. */
class RoomEntry(val me: String, val myName: String, val link: RoomLink, val gateway: RoomGateway)

/** Enters a dojo's room. Failures are `GatewayException`s. */
interface Rooms {
    /** [scope] runs the link's connection; [docContext] is the thread of the document and of the view-model. */
    suspend fun enter(dojoId: String, scope: CoroutineScope, docContext: CoroutineContext): RoomEntry
}
