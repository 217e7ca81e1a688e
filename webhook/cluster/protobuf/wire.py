"""The protobuf wire format, read: a message is a sequence of (field number, wire type, value).

Only what Kubernetes' messages use: varints (0), 64-bit (1), length-delimited (2) and 32-bit (5).
Groups (3, 4) are refused. Every malformed input raises ``WireFormatError`` naming the offset.
"""

from __future__ import annotations

from collections.abc import Iterator

from webhook.errors import WireFormatError

VARINT, I64, LEN, I32 = 0, 1, 2, 5
_MAX_VARINT_BYTES = 10


def _fail(message: str, path: str) -> WireFormatError:
    return WireFormatError(message, subject=path or "protobuf body")


def read_varint(buf: bytes, pos: int, path: str = "") -> tuple[int, int]:
    """The varint at ``pos`` and the position after it."""
    result = shift = 0
    for i in range(_MAX_VARINT_BYTES):
        if pos + i >= len(buf):
            raise _fail(f"truncated varint at byte {pos}", path)
        byte = buf[pos + i]
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if result >= 1 << 64:
                raise _fail(f"varint at byte {pos} does not fit in 64 bits", path)
            return result, pos + i + 1
        shift += 7
    raise _fail(f"varint at byte {pos} is longer than {_MAX_VARINT_BYTES} bytes", path)


def iter_fields(buf: bytes, path: str = "") -> Iterator[tuple[int, int, int | bytes]]:
    """Each field of one message: (number, wire type, int for varint/fixed, bytes for LEN)."""
    pos, end = 0, len(buf)
    while pos < end:
        start = pos
        key, pos = read_varint(buf, pos, path)
        number, wire = key >> 3, key & 7
        if number == 0 or number >= 1 << 29:
            raise _fail(f"invalid field number {number} at byte {start}", path)
        value: int | bytes
        if wire == VARINT:
            value, pos = read_varint(buf, pos, path)
        elif wire == LEN:
            size, pos = read_varint(buf, pos, path)
            if size > end - pos:
                raise _fail(f"field {number} at byte {start} claims {size} bytes, "
                            f"{end - pos} remain", path)
            value, pos = bytes(buf[pos:pos + size]), pos + size
        elif wire in (I64, I32):
            width = 8 if wire == I64 else 4
            if width > end - pos:
                raise _fail(f"truncated fixed-width field {number} at byte {start}", path)
            value, pos = int.from_bytes(buf[pos:pos + width], "little"), pos + width
        else:
            raise _fail(f"field {number} at byte {start} has wire type {wire} "
                        "(groups are not used by Kubernetes)", path)
        yield number, wire, value


def signed(value: int, bits: int) -> int:
    """A two's-complement varint read as the signed int32/int64 it encodes."""
    value &= (1 << 64) - 1
    if value >= 1 << 63:
        value -= 1 << 64
    if bits == 32:
        value = ((value + (1 << 31)) % (1 << 32)) - (1 << 31)
    return value
