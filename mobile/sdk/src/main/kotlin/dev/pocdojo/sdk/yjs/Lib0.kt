package dev.pocdojo.sdk.yjs

import java.nio.ByteBuffer
import java.nio.CharBuffer
import java.nio.charset.CharacterCodingException
import java.nio.charset.CodingErrorAction
import java.nio.charset.StandardCharsets

/** lib0's `MAX_SAFE_INTEGER`: integers above it do not survive a JavaScript number. */
internal const val MAX_SAFE_INTEGER: Long = (1L shl 53) - 1

/**
 * lib0's binary encoder: `varUint` (7 bits a byte, low group first, high bit = more), `varInt` (first byte:
 * continuation bit, sign bit, 6 bits), `varString` (UTF-8 byte length, then the bytes), big-endian floats.
 */
class Lib0Encoder(initialCapacity: Int = 64) {
    private var buf = ByteArray(maxOf(initialCapacity, 16))
    private var size = 0

    private fun ensure(extra: Int) {
        if (size + extra > buf.size) buf = buf.copyOf(maxOf(buf.size * 2, size + extra))
    }

    fun writeUint8(value: Int) {
        ensure(1)
        buf[size++] = value.toByte()
    }

    fun writeVarUint(value: Long) {
        require(value in 0..MAX_SAFE_INTEGER) { "varUint out of range: $value" }
        var v = value
        while (v > 0x7F) {
            writeUint8(((v and 0x7F) or 0x80).toInt())
            v = v ushr 7
        }
        writeUint8(v.toInt())
    }

    fun writeVarUint(value: Int) = writeVarUint(value.toLong())

    /** [negativeZero] reproduces JavaScript's `-0`, which lib0 writes as a set sign bit with magnitude 0. */
    fun writeVarInt(value: Long, negativeZero: Boolean = false) {
        require(value in -MAX_SAFE_INTEGER..MAX_SAFE_INTEGER) { "varInt out of range: $value" }
        val negative = value < 0 || (value == 0L && negativeZero)
        var v = if (value < 0) -value else value
        writeUint8(((if (v > 0x3F) 0x80 else 0) or (if (negative) 0x40 else 0) or (v and 0x3F).toInt()))
        v = v ushr 6
        while (v > 0) {
            writeUint8(((if (v > 0x7F) 0x80 else 0) or (v and 0x7F).toInt()))
            v = v ushr 7
        }
    }

    fun writeBytes(bytes: ByteArray) {
        ensure(bytes.size)
        bytes.copyInto(buf, size)
        size += bytes.size
    }

    fun writeVarUint8Array(bytes: ByteArray) {
        writeVarUint(bytes.size)
        writeBytes(bytes)
    }

    fun writeVarString(value: String) = writeVarUint8Array(encodeUtf8(value))

    fun writeFloat32(value: Float) = writeBytes(ByteBuffer.allocate(4).putFloat(value).array())

    fun writeFloat64(value: Double) = writeBytes(ByteBuffer.allocate(8).putDouble(value).array())

    fun writeBigInt64(value: Long) = writeBytes(ByteBuffer.allocate(8).putLong(value).array())

    fun toByteArray(): ByteArray = buf.copyOf(size)
}

/** lib0's binary decoder. Every read past the end or out of range raises [MalformedUpdateException]. */
class Lib0Decoder(private val bytes: ByteArray) {
    var pos = 0
        private set

    val remaining: Int get() = bytes.size - pos

    fun hasContent(): Boolean = pos < bytes.size

    fun readUint8(): Int {
        if (pos >= bytes.size) throw MalformedUpdateException("unexpected end of data at byte $pos")
        return bytes[pos++].toInt() and 0xFF
    }

    fun readVarUint(): Long {
        var num = 0L
        var shift = 0
        while (true) {
            val r = readUint8()
            num = num or ((r and 0x7F).toLong() shl shift)
            if (r < 0x80) break
            shift += 7
            if (shift > 49) throw MalformedUpdateException("varUint longer than 53 bits at byte $pos")
        }
        if (num > MAX_SAFE_INTEGER) throw MalformedUpdateException("varUint above 2^53 at byte $pos")
        return num
    }

    /** A varUint that must fit a non-negative Int (clocks, lengths, counts). */
    fun readVarUintAsInt(what: String): Int {
        val v = readVarUint()
        if (v > Int.MAX_VALUE) throw MalformedUpdateException("$what too large: $v")
        return v.toInt()
    }

    /** Returns the value and whether it was a negative zero. */
    fun readVarInt(): Pair<Long, Boolean> {
        var r = readUint8()
        var num = (r and 0x3F).toLong()
        val negative = (r and 0x40) != 0
        var shift = 6
        while (r >= 0x80) {
            r = readUint8()
            num = num or ((r and 0x7F).toLong() shl shift)
            shift += 7
            if (shift > 55) throw MalformedUpdateException("varInt longer than 53 bits at byte $pos")
        }
        if (num > MAX_SAFE_INTEGER) throw MalformedUpdateException("varInt above 2^53 at byte $pos")
        return Pair(if (negative) -num else num, negative && num == 0L)
    }

    fun readBytes(n: Int): ByteArray {
        if (n < 0 || n > remaining) throw MalformedUpdateException("length $n exceeds the ${remaining} bytes left")
        val out = bytes.copyOfRange(pos, pos + n)
        pos += n
        return out
    }

    fun readVarUint8Array(): ByteArray = readBytes(readVarUintAsInt("byte array length"))

    /** Strict UTF-8, like lib0's `TextDecoder('utf-8', { fatal: true, ignoreBOM: true })`. */
    fun readVarString(): String = decodeUtf8(readVarUint8Array())

    fun readFloat32(): Float = ByteBuffer.wrap(readBytes(4)).float

    fun readFloat64(): Double = ByteBuffer.wrap(readBytes(8)).double

    fun readBigInt64(): Long = ByteBuffer.wrap(readBytes(8)).long
}

/**
 * UTF-8 as JavaScript's `TextEncoder` writes it: a lone surrogate becomes U+FFFD (EF BF BD), where Java
 * would write '?'.
 */
internal fun encodeUtf8(value: String): ByteArray {
    var ascii = true
    for (c in value) {
        if (c.code >= 0x80) {
            ascii = false
            break
        }
    }
    if (ascii) return value.toByteArray(StandardCharsets.US_ASCII)
    val encoder =
        StandardCharsets.UTF_8
            .newEncoder()
            .onMalformedInput(CodingErrorAction.REPLACE)
            .onUnmappableCharacter(CodingErrorAction.REPLACE)
            .replaceWith(byteArrayOf(0xEF.toByte(), 0xBF.toByte(), 0xBD.toByte()))
    val out = encoder.encode(CharBuffer.wrap(value))
    val bytes = ByteArray(out.remaining())
    out.get(bytes)
    return bytes
}

internal fun decodeUtf8(bytes: ByteArray): String {
    val decoder =
        StandardCharsets.UTF_8
            .newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT)
    return try {
        decoder.decode(ByteBuffer.wrap(bytes)).toString()
    } catch (e: CharacterCodingException) {
        throw MalformedUpdateException("string is not valid UTF-8", e)
    }
}
