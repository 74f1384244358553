"""The subset of lib0's binary encoding that the y-websocket protocol uses.

* ``varUint``: an unsigned integer, 7 bits per byte, least significant group first; the high bit of a
  byte says that another byte follows.
* ``varUint8Array``: a varUint byte length followed by that many bytes.
* ``varString``: a varUint UTF-8 byte length followed by the UTF-8 bytes.

Decoding is defensive because every byte comes from an untrusted peer: it raises only
:class:`~crdt.errors.ProtocolError` subclasses, never ``IndexError`` or ``UnicodeDecodeError``.

Integer bound: lib0 decodes into JavaScript numbers and refuses values above
``Number.MAX_SAFE_INTEGER`` (``2**53 - 1``), so we do the same: :data:`MAX_VAR_UINT` is the largest
value we read or write, and a varUint may use at most :data:`MAX_VAR_UINT_BYTES` (8) bytes (8 × 7 = 56
bits hold 53). Non-canonical encodings inside that bound (``80 00`` for 0) are accepted, as lib0 does.
"""

from __future__ import annotations

from .errors import InvalidUtf8, TrailingBytes, TruncatedMessage, VarUintOverflow

__all__ = [
    "MAX_VAR_UINT",
    "MAX_VAR_UINT_BYTES",
    "Decoder",
    "Encoder",
    "encode_var_string",
    "encode_var_uint",
    "encode_var_uint8array",
]

MAX_VAR_UINT = 2**53 - 1
"""The largest varUint accepted: JavaScript's ``Number.MAX_SAFE_INTEGER``."""

MAX_VAR_UINT_BYTES = 8
"""The most bytes one varUint may use."""

# Precomputed encodings of the small values that dominate real frames (types, short lengths).
_SMALL = tuple(bytes((i,)) for i in range(0x80))

Buffer = bytes | bytearray | memoryview


def encode_var_uint(value: int) -> bytes:
    """Encode ``value`` (``0 <= value <= MAX_VAR_UINT``) as a varUint.

    Raises ``ValueError`` for a value out of range: that is a bug in the caller, not bad input.
    """
    if 0 <= value < 0x80:
        return _SMALL[value]
    if value < 0 or value > MAX_VAR_UINT:
        raise ValueError(f"varUint out of range: {value}")
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate: do what JavaScript's TextEncoder does and write U+FFFD for it.
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode("utf-8")


def encode_var_uint8array(data: Buffer) -> bytes:
    """Encode ``data`` as a varUint8Array (length prefix + bytes)."""
    return encode_var_uint(len(data)) + bytes(data)


def encode_var_string(text: str) -> bytes:
    """Encode ``text`` as a varString (UTF-8 length prefix + UTF-8 bytes).

    Lone surrogates are written as U+FFFD, as JavaScript's ``TextEncoder`` does.
    """
    raw = _utf8(text)
    return encode_var_uint(len(raw)) + raw


class Encoder:
    """An append-only lib0 writer backed by a ``bytearray``.

    >>> enc = Encoder()
    >>> enc.write_var_uint(300)
    >>> enc.write_var_string("hi")
    >>> enc.to_bytes().hex()
    'ac02026869'
    """

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def __len__(self) -> int:
        return len(self._buf)

    def write_var_uint(self, value: int) -> None:
        """Append a varUint; ``ValueError`` if ``value`` is negative or above ``MAX_VAR_UINT``."""
        self._buf += encode_var_uint(value)

    def write_var_uint8array(self, data: Buffer) -> None:
        """Append a length-prefixed byte string."""
        self._buf += encode_var_uint(len(data))
        self._buf += data

    def write_var_string(self, text: str) -> None:
        """Append a length-prefixed UTF-8 string (lone surrogates become U+FFFD)."""
        raw = _utf8(text)
        self._buf += encode_var_uint(len(raw))
        self._buf += raw

    def write_raw(self, data: Buffer) -> None:
        """Append ``data`` unchanged (no length prefix)."""
        self._buf += data

    def to_bytes(self) -> bytes:
        """Return a copy of everything written so far."""
        return bytes(self._buf)


class Decoder:
    """A lib0 reader over ``bytes``, ``bytearray`` or ``memoryview``.

    The input is not copied; don't mutate a ``bytearray`` while a decoder reads it. Every read
    advances :attr:`position`. Reads raise :class:`~crdt.errors.ProtocolError` subclasses only.
    """

    __slots__ = ("_data", "_end", "_pos")

    def __init__(self, data: Buffer) -> None:
        view = data if isinstance(data, bytes) else memoryview(data).cast("B")
        self._data: bytes | memoryview = view
        self._pos = 0
        self._end = len(view)

    @property
    def position(self) -> int:
        """The offset of the next unread byte."""
        return self._pos

    @property
    def remaining(self) -> int:
        """How many bytes are left to read."""
        return self._end - self._pos

    def at_end(self) -> bool:
        """True when every byte has been read."""
        return self._pos >= self._end

    def expect_end(self) -> None:
        """Raise :class:`~crdt.errors.TrailingBytes` unless every byte has been read."""
        if self._pos < self._end:
            raise TrailingBytes(f"{self._end - self._pos} unexpected trailing byte(s) at offset {self._pos}")

    def read_var_uint(self) -> int:
        """Read one varUint."""
        data = self._data
        pos = self._pos
        end = self._end
        if pos >= end:
            raise TruncatedMessage(f"expected a varUint at offset {pos}, input ended")
        byte = data[pos]
        if byte < 0x80:
            self._pos = pos + 1
            return byte
        start = pos
        value = byte & 0x7F
        shift = 7
        pos += 1
        while pos < end:
            byte = data[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                if value > MAX_VAR_UINT:
                    raise VarUintOverflow(f"varUint at offset {start} exceeds 2**53 - 1")
                self._pos = pos
                return value
            if pos - start >= MAX_VAR_UINT_BYTES:
                raise VarUintOverflow(f"varUint at offset {start} is longer than {MAX_VAR_UINT_BYTES} bytes")
            shift += 7
        raise TruncatedMessage(f"varUint at offset {start} is cut short")

    def _read_length(self, what: str) -> int:
        start = self._pos
        length = self.read_var_uint()
        if length > self._end - self._pos:
            raise TruncatedMessage(
                f"{what} at offset {start} declares {length} bytes, only {self._end - self._pos} remain"
            )
        return length

    def read_var_uint8array(self) -> bytes:
        """Read a length-prefixed byte string (returned as a copy)."""
        length = self._read_length("varUint8Array")
        pos = self._pos
        self._pos = pos + length
        return bytes(self._data[pos : pos + length])

    def read_var_string(self) -> str:
        """Read a length-prefixed UTF-8 string; :class:`~crdt.errors.InvalidUtf8` if it isn't UTF-8."""
        start = self._pos
        length = self._read_length("varString")
        pos = self._pos
        try:
            text = str(self._data[pos : pos + length], "utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidUtf8(f"varString at offset {start} is not valid UTF-8: {exc.reason}") from exc
        self._pos = pos + length
        return text

    def read_remaining(self) -> bytes:
        """Read (and return a copy of) every byte left."""
        pos = self._pos
        self._pos = self._end
        return bytes(self._data[pos : self._end])
