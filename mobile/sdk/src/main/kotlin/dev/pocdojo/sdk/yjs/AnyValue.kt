package dev.pocdojo.sdk.yjs

/**
 * A value of lib0's `any` encoding (ContentAny, ContentDoc options), kept with its wire type so that it is
 * written back byte for byte as it was read (an integer stays an integer, a float32 a float32).
 */
sealed interface AnyValue {
    data object Undefined : AnyValue

    data object Null : AnyValue

    /** lib0 type 125 (varInt): a JavaScript integer with |n| <= 2^31 - 1, as writeAny picks it. */
    data class Integer(
        val value: Long,
        val negativeZero: Boolean = false,
    ) : AnyValue

    data class Float32(
        val value: Float,
    ) : AnyValue

    data class Float64(
        val value: Double,
    ) : AnyValue

    data class BigInt64(
        val value: Long,
    ) : AnyValue

    data class Bool(
        val value: Boolean,
    ) : AnyValue

    data class Str(
        val value: String,
    ) : AnyValue

    data class Arr(
        val items: List<AnyValue>,
    ) : AnyValue

    /** Keys keep their order: lib0 writes an object's entries in insertion order. */
    data class Obj(
        val entries: Map<String, AnyValue>,
    ) : AnyValue

    class Bytes(
        val value: ByteArray,
    ) : AnyValue {
        override fun equals(other: Any?): Boolean = other is Bytes && value.contentEquals(other.value)

        override fun hashCode(): Int = value.contentHashCode()

        override fun toString(): String = "Bytes(${value.size})"
    }

    companion object {
        private const val MAX_DEPTH = 256

        /** lib0 `readAny`. */
        fun read(decoder: Lib0Decoder): AnyValue = read(decoder, 0)

        private fun read(
            decoder: Lib0Decoder,
            depth: Int,
        ): AnyValue {
            if (depth > MAX_DEPTH) throw MalformedUpdateException("any-value nested deeper than $MAX_DEPTH")
            return when (val tag = decoder.readUint8()) {
                127 -> Undefined
                126 -> Null
                125 -> decoder.readVarInt().let { (v, negZero) -> Integer(v, negZero) }
                124 -> Float32(decoder.readFloat32())
                123 -> Float64(decoder.readFloat64())
                122 -> BigInt64(decoder.readBigInt64())
                121 -> Bool(false)
                120 -> Bool(true)
                119 -> Str(decoder.readVarString())
                118 -> {
                    val n = decoder.readVarUintAsInt("object size")
                    if (n > decoder.remaining) throw MalformedUpdateException("object of $n entries in ${decoder.remaining} bytes")
                    val entries = LinkedHashMap<String, AnyValue>()
                    repeat(n) {
                        val key = decoder.readVarString()
                        entries[key] = read(decoder, depth + 1)
                    }
                    Obj(entries)
                }
                117 -> {
                    val n = decoder.readVarUintAsInt("array size")
                    if (n > decoder.remaining) throw MalformedUpdateException("array of $n items in ${decoder.remaining} bytes")
                    Arr(List(n) { read(decoder, depth + 1) })
                }
                116 -> Bytes(decoder.readVarUint8Array())
                else -> throw MalformedUpdateException("unknown any-value type $tag")
            }
        }
    }
}

/** lib0 `writeAny`, for values decoded by [AnyValue.read] or built by the caller. */
internal fun Lib0Encoder.writeAny(value: AnyValue) {
    when (value) {
        AnyValue.Undefined -> writeUint8(127)
        AnyValue.Null -> writeUint8(126)
        is AnyValue.Integer -> {
            writeUint8(125)
            writeVarInt(value.value, value.negativeZero)
        }
        is AnyValue.Float32 -> {
            writeUint8(124)
            writeFloat32(value.value)
        }
        is AnyValue.Float64 -> {
            writeUint8(123)
            writeFloat64(value.value)
        }
        is AnyValue.BigInt64 -> {
            writeUint8(122)
            writeBigInt64(value.value)
        }
        is AnyValue.Bool -> writeUint8(if (value.value) 120 else 121)
        is AnyValue.Str -> {
            writeUint8(119)
            writeVarString(value.value)
        }
        is AnyValue.Obj -> {
            writeUint8(118)
            writeVarUint(value.entries.size)
            for ((k, v) in value.entries) {
                writeVarString(k)
                writeAny(v)
            }
        }
        is AnyValue.Arr -> {
            writeUint8(117)
            writeVarUint(value.items.size)
            value.items.forEach { writeAny(it) }
        }
        is AnyValue.Bytes -> {
            writeUint8(116)
            writeVarUint8Array(value.value)
        }
    }
}
