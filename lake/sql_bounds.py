"""Bounds on the SQL a person hands the lake: a contract's checks, and the predicates of a delete,
a ``replace_where`` or a read. sqlglot parses by recursion (one level per parenthesis or NOT) and
polars' optimizer grows with the square of an expression's size (it overflowed its stack at some
20,000 ORs): past these bounds a predicate is refused before either sees it, with the reason.

The text is measured with sqlglot's tokenizer, which does not recurse: string literals and quoted
names are single tokens, so a parenthesis inside one counts for nothing.
"""

from __future__ import annotations

MAX_NESTING = 32  # parentheses (and function calls) inside each other
MAX_OPERATORS = 512  # AND, OR, NOT and comparisons in one predicate; a list of values is one IN (...)


def unbounded(sql: str) -> str | None:
    """Why ``sql`` is past the bounds (one line), or None when it is within them or sqlglot cannot
    tokenize it (the parser then says what is wrong)."""
    import sqlglot
    from sqlglot import TokenType
    from sqlglot.errors import TokenError

    operators = {TokenType.AND, TokenType.OR, TokenType.NOT, TokenType.EQ, TokenType.NEQ}
    operators |= {TokenType.GT, TokenType.GTE, TokenType.LT, TokenType.LTE}
    try:
        tokens = sqlglot.tokenize(sql)
    except TokenError:
        return None
    depth = deepest = count = 0
    for token in tokens:
        if token.token_type == TokenType.L_PAREN:
            depth += 1
            deepest = max(deepest, depth)
        elif token.token_type == TokenType.R_PAREN:
            depth -= 1
        elif token.token_type in operators:
            count += 1
    shown = sql if len(sql) <= 80 else sql[:77] + "..."
    if deepest > MAX_NESTING:
        return f"{shown!r} nests parentheses {deepest} deep; the most is {MAX_NESTING}"
    if count > MAX_OPERATORS:
        return (
            f"{shown!r} has {count} operators; the most is {MAX_OPERATORS} "
            "(write a list of values as one IN (...), or split it)"
        )
    return None
