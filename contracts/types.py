"""Type names as contracts spell them.

A contract names a column's type the way Arrow prints it (``int64``, ``string``,
``timestamp[us, UTC]``, ``decimal128(10, 2)``, ``struct<a: int64, b: string>``,
``list<string>``, ``map<string, int64>``) or the way Delta and SQL do (``long``, ``decimal(10, 2)``,
``timestamp_ntz``, ``array<string>``, ``time``). Names Arrow cannot read itself are parsed by
sqlglot (in the dialect given, Spark's by default, which is Delta's), so nested types and every
warehouse's spelling go through one parser.
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING

import pyarrow as pa

if TYPE_CHECKING:
    from sqlglot import exp

_TIMESTAMP = re.compile(r"^timestamp\[\s*(s|ms|us|ns)\s*(?:,\s*(?:tz\s*=\s*)?([^\]]+?)\s*)?\]$")
_DECIMAL = re.compile(r"^decimal(?:128|256)?\(\s*(\d+)\s*,\s*(\d+)\s*\)$")
_TIME = re.compile(r"^time(?:32|64)\[\s*(s|ms|us|ns)\s*\]$")
_HINT = (
    "use an Arrow or Delta type name such as int64, float64, string, bool, date32, "
    "timestamp[us, UTC], decimal(10, 2), time, list<string> or struct<a: int64, b: string>"
)


def parse_type(name: str, dialect: str | None = None) -> pa.DataType:
    """The Arrow type a contract's type name stands for; ValueError names what is wrong."""
    return _parse(name.strip(), dialect)


@cache
def _parse(text: str, dialect: str | None) -> pa.DataType:
    m = _TIMESTAMP.match(text)
    if m:
        return pa.timestamp(m.group(1), tz=m.group(2))
    m = _DECIMAL.match(text.lower())
    if m:
        return _decimal(int(m.group(1)), int(m.group(2)), text)
    m = _TIME.match(text.lower())
    if m:
        unit = m.group(1)
        return pa.time32(unit) if unit in ("s", "ms") else pa.time64(unit)
    if dialect is None and re.fullmatch(r"[A-Za-z0-9_]+", text):
        try:
            return pa.type_for_alias(text.lower())
        except ValueError:
            pass
    return _from_sql(text, dialect)


def _decimal(precision: int, scale: int, text: str) -> pa.DataType:
    if not 1 <= precision <= 76 or not 0 <= scale <= precision:
        raise ValueError(f"{text!r}: a decimal needs 1 <= precision <= 76 and 0 <= scale <= precision")
    return pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(precision, scale)


_ARROW_LEAVES = {
    "int8": "tinyint",
    "int16": "smallint",
    "int32": "int",
    "int64": "bigint",
    "uint8": "utinyint",
    "uint16": "usmallint",
    "uint32": "uinteger",
    "uint64": "ubigint",
    "float16": "float",
    "float32": "float",
    "float64": "double",
    "halffloat": "float",
    "bool": "boolean",
    "date32": "date",
    "utf8": "string",
    "large_string": "string",
    "large_utf8": "string",
    "large_binary": "binary",
    "list": "array",
    "large_list": "array",
    "decimal128": "decimal",
    "decimal256": "decimal",
    "time64[us]": "time",
    "timestamp[us]": "timestamp_ntz",
    "timestamp[us, utc]": "timestamp",
}
# a type name where a type stands: after < or , or : and before > , ( < or the end
_LEAF = re.compile(
    r"([<:,]\s*)(" + "|".join(re.escape(k) for k in sorted(_ARROW_LEAVES, key=len, reverse=True)) + r")"
    r"(?=\s*(?:[>,(<]|$))",
    re.IGNORECASE,
)


def _sql_spelling(text: str) -> str:
    """``text`` with the Arrow names inside a nested type spelled as Spark SQL names them."""
    head = re.match(r"\s*(large_list|list|decimal128|decimal256)(?=\s*[<(])", text, re.IGNORECASE)
    if head:
        text = _ARROW_LEAVES[head.group(1).lower()] + text[head.end() :]
    return _LEAF.sub(lambda m: m.group(1) + _ARROW_LEAVES[m.group(2).lower()], text)


def _from_sql(text: str, dialect: str | None) -> pa.DataType:
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError

    try:
        spelled = _sql_spelling(text) if dialect is None else text
        tree = exp.DataType.build(spelled, dialect=dialect or "spark")
    except (ParseError, ValueError, TypeError):
        raise ValueError(f"unknown type {text!r}: {_HINT}") from None
    except sqlglot.errors.SqlglotError:
        raise ValueError(f"unknown type {text!r}: {_HINT}") from None
    if not isinstance(tree, exp.DataType):
        raise ValueError(f"unknown type {text!r}: {_HINT}")
    try:
        return _arrow(tree, text)
    except (AttributeError, TypeError, IndexError) as exc:  # a tree sqlglot built from odd text
        raise ValueError(f"unknown type {text!r}: {_HINT}") from exc


def _arrow(t: exp.DataType, text: str) -> pa.DataType:
    from sqlglot import exp

    T = exp.DataType.Type
    kind = t.this
    params = [p.this.name if isinstance(p, exp.DataTypeParam) else p.name for p in t.expressions]
    simple: dict[object, pa.DataType] = {
        T.BOOLEAN: pa.bool_(),
        T.TINYINT: pa.int8(),
        T.SMALLINT: pa.int16(),
        T.INT: pa.int32(),
        T.MEDIUMINT: pa.int32(),
        T.BIGINT: pa.int64(),
        T.UTINYINT: pa.uint8(),
        T.USMALLINT: pa.uint16(),
        T.UINT: pa.uint32(),
        T.UBIGINT: pa.uint64(),
        T.FLOAT: pa.float32(),
        T.DOUBLE: pa.float64(),
        T.DATE: pa.date32(),
        T.DATE32: pa.date32(),
        T.TIMESTAMPNTZ: pa.timestamp("us"),
        T.DATETIME: pa.timestamp("us"),
        T.TIMESTAMPTZ: pa.timestamp("us", tz="UTC"),
        T.TIMESTAMPLTZ: pa.timestamp("us", tz="UTC"),
        T.TIME: pa.time64("us"),
        T.UUID: pa.string(),
        T.JSON: pa.string(),
        T.BIGDECIMAL: pa.decimal256(76, 38),
        T.SMALLSERIAL: pa.int16(),
        T.SERIAL: pa.int32(),
        T.BIGSERIAL: pa.int64(),
        T.XML: pa.string(),
        T.BPCHAR: pa.string(),
    }
    if kind in simple:
        return simple[kind]
    if kind == T.TIMESTAMP:  # Spark's and Delta's timestamp is an instant
        return pa.timestamp("us", tz="UTC")
    if kind in exp.DataType.TEXT_TYPES or kind in (T.CHAR, T.NCHAR):
        return pa.string()
    if kind in (T.BINARY, T.VARBINARY, T.BLOB, T.LONGBLOB, T.MEDIUMBLOB, T.TINYBLOB):
        return pa.binary()
    if kind in (T.DECIMAL, T.BIGDECIMAL, T.DECIMAL32, T.DECIMAL64, T.DECIMAL128, T.DECIMAL256):
        if len(params) != 2:
            # DECIMAL alone is DECIMAL(10, 0) in Spark and most SQL; (p) alone has scale 0
            precision = int(params[0]) if params else 10
            return _decimal(precision, 0, text)
        return _decimal(int(params[0]), int(params[1]), text)
    if kind == T.ARRAY or kind == T.LIST:
        if len(t.expressions) != 1 or not isinstance(t.expressions[0], exp.DataType):
            raise ValueError(f"{text!r}: a list names its element type, as in list<string>")
        return pa.list_(_arrow(t.expressions[0], text))
    if kind == T.MAP:
        if len(t.expressions) != 2:
            raise ValueError(f"{text!r}: a map names its key and value types, as in map<string, int64>")
        key, value = (_arrow(e, text) for e in t.expressions)
        return pa.map_(key, value)
    if kind == T.STRUCT:
        fields = []
        for col in t.expressions:
            if not isinstance(col, exp.ColumnDef) or not isinstance(col.args.get("kind"), exp.DataType):
                raise ValueError(f"{text!r}: a struct names each field and its type, as in struct<a: int64>")
            if col.constraints:
                raise ValueError(
                    f"{text!r}: the fields of a struct are nullable; write the field's type alone "
                    f"({col.name}: {col.args['kind'].sql(dialect='spark').lower()}) and check it with a rule"
                )
            fields.append(pa.field(col.name, _arrow(col.args["kind"], text)))
        if not fields:
            raise ValueError(f"{text!r}: a struct needs at least one field")
        return pa.struct(fields)
    raise ValueError(f"unknown type {text!r}: {_HINT}")


def type_name(t: pa.DataType) -> str:
    """The contract spelling of an Arrow type (inverse of :func:`parse_type`)."""
    if pa.types.is_timestamp(t):
        return f"timestamp[{t.unit}, {t.tz}]" if t.tz else f"timestamp[{t.unit}]"
    if pa.types.is_decimal(t):
        return f"decimal({t.precision}, {t.scale})"
    if t == pa.float64():
        return "float64"
    if t == pa.float32():
        return "float32"
    if pa.types.is_date32(t):
        return "date32"
    if pa.types.is_time(t):
        return "time" if t == pa.time64("us") else f"{t}"
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return "binary"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_list_view(t):
        return f"list<{type_name(t.value_type)}>"
    if pa.types.is_map(t):
        return f"map<{type_name(t.key_type)}, {type_name(t.item_type)}>"
    if pa.types.is_struct(t):
        parts = [f"{_field_name(f.name)}: {type_name(f.type)}" for f in t]
        return f"struct<{', '.join(parts)}>"
    return str(t)


def _field_name(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) else "`" + name.replace("`", "``") + "`"


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
    if pa.types.is_decimal(old) and pa.types.is_decimal(new):
        # more digits on both sides of the point
        return bool(new.scale >= old.scale and new.precision - new.scale >= old.precision - old.scale)
    if old in _INTS and pa.types.is_decimal(new):
        digits = {pa.int8(): 3, pa.int16(): 5, pa.int32(): 10, pa.int64(): 19}[old]
        return bool(new.precision - new.scale >= digits)
    return bool((pa.types.is_string(old) or pa.types.is_large_string(old)) and pa.types.is_large_string(new))
