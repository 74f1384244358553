package dev.pocdojo.sdk.yjs

/**
 * Every failure of the Yjs core. A document never silently diverges: an update this core cannot
 * read or place raises one of these, and (for decoding errors) leaves the document untouched.
 */
sealed class YjsException(message: String, cause: Throwable? = null) : RuntimeException(message, cause)

/** The bytes are not a well-formed lib0 / Yjs update v1 (truncated, bad varint, invalid UTF-8...). */
class MalformedUpdateException(message: String, cause: Throwable? = null) : YjsException(message, cause)

/** A well-formed update that uses something this core does not implement (an unknown content kind). */
class UnsupportedUpdateException(message: String) : YjsException(message)

/**
 * The update references structs in a way no correct peer produces (a parent that is not a type, an id
 * outside a client's history...). Raised during integration: the document may be partly updated and
 * must be discarded and synced again.
 */
class DocumentIntegrityException(message: String) : YjsException(message)
