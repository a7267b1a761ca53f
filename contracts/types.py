"""Arrow type names as contracts spell them: ``int64``, ``string``, ``timestamp[us, UTC]``, ..."""

from __future__ import annotations

import re

import pyarrow as pa

_TIMESTAMP = re.compile(r"^timestamp\[\s*(s|ms|us|ns)\s*(?:,\s*(?:tz\s*=\s*)?([^\]]+?)\s*)?\]$")
_DECIMAL = re.compile(r"^decimal(?:128)?\(\s*(\d+)\s*,\s*(\d+)\s*\)$")


def parse_type(name: str) -> pa.DataType:
    """The Arrow type a contract's type name stands for; ValueError names what is wrong."""
    text = name.strip()
    m = _TIMESTAMP.match(text)
    if m:
        return pa.timestamp(m.group(1), tz=m.group(2))
    m = _DECIMAL.match(text)
    if m:
        return pa.decimal128(int(m.group(1)), int(m.group(2)))
    try:
        return pa.type_for_alias(text)
    except ValueError:
        raise ValueError(
            f"unknown type {name!r}: use an Arrow type name such as int64, float64, string, bool, "
            "date32, timestamp[us, UTC] or decimal128(10, 2)"
        ) from None


def type_name(t: pa.DataType) -> str:
    """The contract spelling of an Arrow type (inverse of :func:`parse_type`)."""
    if pa.types.is_timestamp(t):
        return f"timestamp[{t.unit}, {t.tz}]" if t.tz else f"timestamp[{t.unit}]"
    if pa.types.is_decimal(t):
        return f"decimal128({t.precision}, {t.scale})"
    if t == pa.float64():
        return "float64"
    if t == pa.float32():
        return "float32"
    if pa.types.is_date32(t):
        return "date32"
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return "binary"
    return str(t)


_INTS = [pa.int8(), pa.int16(), pa.int32(), pa.int64()]
_FLOATS = [pa.float16(), pa.float32(), pa.float64()]


def widens(old: pa.DataType, new: pa.DataType) -> bool:
    """True when every value of ``old`` fits ``new`` without loss (a compatible type change)."""
    if old == new:
        return True
    if old in _INTS and new in _INTS:
        return _INTS.index(new) >= _INTS.index(old)
    if old in _FLOATS and new in _FLOATS:
        return _FLOATS.index(new) >= _FLOATS.index(old)
    if old in _INTS[:3] and new == pa.float64():
        return True
    return bool((pa.types.is_string(old) or pa.types.is_large_string(old)) and pa.types.is_large_string(new))
