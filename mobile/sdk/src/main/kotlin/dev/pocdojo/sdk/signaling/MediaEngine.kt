package dev.pocdojo.sdk.signaling

import kotlinx.coroutines.flow.Flow

/**
 * The WebRTC media plane of a dojo call, one `RTCPeerConnection` per remote peer (a P2P mesh).
 *
 * **No implementation exists in this build.** On Android it would wrap libwebrtc, which is published
 * only to Google's Maven repository, unreachable from where this project is built; see
 * `mobile/README.md`. [SignalingClient] does everything up to the media: it relays the offers, answers
 * and candidates an engine would produce, and hands out the ICE servers an engine would use.
 */
interface MediaEngine : AutoCloseable {
    /** Starts a connection to [peerId] (the newcomer offers to every peer in its welcome); the SDP offer. */
    suspend fun createOffer(
        peerId: String,
        ice: IceConfig,
    ): String

    /** Accepts [peerId]'s offer; the SDP answer to send back. */
    suspend fun createAnswer(
        peerId: String,
        offerSdp: String,
        ice: IceConfig,
    ): String

    /** Completes the connection this client offered. */
    suspend fun acceptAnswer(
        peerId: String,
        answerSdp: String,
    )

    /** A remote candidate of [peerId]; null: the peer has no more. */
    suspend fun addIceCandidate(
        peerId: String,
        candidate: IceCandidate?,
    )

    /** Local candidates to trickle to each peer (null candidate: gathering complete). */
    val localCandidates: Flow<Pair<String, IceCandidate?>>

    /** Microphone and camera on or off (announced to the others with [ClientMessage.State]). */
    fun setMedia(
        audio: Boolean,
        video: Boolean,
    )

    /** Ends the connection to [peerId] (it left; or to recover: close and offer a new one, no ICE restart). */
    fun closePeer(peerId: String)
}
