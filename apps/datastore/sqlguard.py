"""The statement policy of `fastn.db`: one statement, of an allowed kind, naming only the
tenant's own tables.

This is defence in depth. The boundary that holds when this check is wrong lies below it: on
PostgreSQL the statement runs in a session of the tenant's own login role, which owns its schema
and nothing else; on SQLite it runs against the tenant's own file under an authorizer, with
ATTACH impossible. So the policy errs on the side of refusing, and says why in words a workflow
author understands.

The lexer is written per dialect because the two engines disagree about what is a string or a
comment (nested block comments, E'' escapes and dollar quotes exist only in PostgreSQL; SQLite
reads [x] and `x` as identifiers and `$name` as a parameter). A lexer that guessed would let a
statement look harmless here and mean something else to the engine. For the same reason the text
the engine receives has its comments blanked out: whatever this lexer took for a comment, the
engine never sees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

from apps.datastore.errors import TenantDbError

Dialect = Literal["postgresql", "sqlite"]

MAX_SQL_CHARS = 100_000
MAX_PARAMS = 1000

ALLOWED_SUMMARY = (
    "fastn.db runs SELECT, INSERT, UPDATE, DELETE (optionally after WITH), CREATE/ALTER/DROP "
    "TABLE and CREATE/DROP INDEX on your own tables"
)

# ASCII only: both engines read every character above 0x7f as part of an identifier.
WHITESPACE = " \t\n\v\f\r"
IDENT_START = re.compile(r"[A-Za-z_\x80-\U0010ffff]")
IDENT_CONT = re.compile(r"[A-Za-z0-9_$\x80-\U0010ffff]*")
NUMBER = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_\x80-\U0010ffff][A-Za-z0-9_\x80-\U0010ffff]*)?\$")
PARAM = re.compile(r"\$([0-9]+)")

TRANSACTION_WORDS = {"begin", "start", "commit", "end", "rollback", "abort", "savepoint", "release"}
SESSION_WORDS = {"set", "reset", "show", "discard"}
DML_WORDS = {"select", "insert", "update", "delete"}

# Schemas and catalogs: a dotted name starting with one of these reaches outside the tenant.
SCHEMA_NAMES = {"public", "pg_catalog", "information_schema", "pg_toast", "main", "temp"}
SYSTEM_NAMES = {
    "pg_catalog",
    "information_schema",
    "sqlite_master",
    "sqlite_schema",
    "sqlite_temp_master",
    "sqlite_temp_schema",
}
SYSTEM_PREFIXES = ("pg_", "sqlite_", "pragma_")
# Harmless functions whose names carry a system prefix.
ALLOWED_SYSTEM_FUNCTIONS = {"pg_sleep", "pg_typeof", "pg_column_size", "sqlite_version"}
TENANT_SCHEMA = re.compile(r"t_[0-9a-f]{8,}")

# Functions that read or write the host's files, load code, open connections, run SQL held in a
# string (out of this check's sight), or change session settings such as the role. The one list
# of them: the SQLite connection's authorizer refuses the same names again below this check.
DENIED_FUNCTIONS = {
    "set_config",
    "current_setting",
    "query_to_xml",
    "query_to_xmlschema",
    "query_to_xml_and_xmlschema",
    "cursor_to_xml",
    "cursor_to_xmlschema",
    "table_to_xml",
    "table_to_xmlschema",
    "table_to_xml_and_xmlschema",
    "schema_to_xml",
    "schema_to_xmlschema",
    "schema_to_xml_and_xmlschema",
    "database_to_xml",
    "database_to_xmlschema",
    "database_to_xml_and_xmlschema",
    "ts_stat",
    "ts_rewrite",
    "loread",
    "lowrite",
    "load_extension",
    "readfile",
    "writefile",
    "edit",
    "fts3_tokenizer",
    "zipfile",
    "fsdir",
    "sqlar_compress",
    "sqlar_uncompress",
}
DENIED_FUNCTION_PREFIXES = ("dblink", "lo_")

# Word pairs that move data or objects outside the tenant's reach, whatever statement they are in.
DENIED_SEQUENCES = {
    ("into", "temp"): "Temporary tables aren't allowed in fastn.db; create a regular table.",
    ("into", "temporary"): "Temporary tables aren't allowed in fastn.db; create a regular table.",
    ("into", "unlogged"): "Unlogged tables aren't allowed in fastn.db; create a regular table.",
    ("into", "outfile"): "INTO OUTFILE isn't allowed in fastn.db: queries can't write files.",
    ("into", "dumpfile"): "INTO DUMPFILE isn't allowed in fastn.db: queries can't write files.",
    ("set", "schema"): "SET SCHEMA isn't allowed in fastn.db: your tables stay in your database.",
    ("owner", "to"): "OWNER TO isn't allowed in fastn.db: your tables keep their owner.",
}

# In a data statement, a name right after one of these words is a table.
RELATION_WORDS = {"from", "join", "into", "update", "using", "only", "table"}
# Words that end a FROM list, after which a comma no longer introduces a table.
LIST_END_WORDS = {
    "where",
    "on",
    "set",
    "group",
    "order",
    "limit",
    "having",
    "window",
    "union",
    "intersect",
    "except",
    "returning",
    "values",
    "select",
    "offset",
    "fetch",
    "for",
}


@dataclass(frozen=True, slots=True)
class Token:
    kind: Literal["word", "ident", "string", "number", "param", "punct"]
    # Words are lowercased; quoted identifiers and strings hold their decoded text.
    value: str
    start: int
    end: int

    def is_punct(self, char: str) -> bool:
        return self.kind == "punct" and self.value == char

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.value in words

    @property
    def is_name(self) -> bool:
        return self.kind in ("word", "ident")


@dataclass(frozen=True, slots=True)
class CheckedStatement:
    # What the engine runs: comments blanked out, the trailing ';' dropped.
    sql: str
    # "select", "insert", "update", "delete", "create table", "create index", "alter table",
    # "drop table" or "drop index" (a WITH statement has the kind of its body).
    kind: str
    # The highest $n placeholder used (0 when there is none).
    param_count: int
    # Whether rows come back: a SELECT, or INSERT/UPDATE/DELETE with RETURNING at the outermost
    # level (inside a WITH clause it feeds the body instead).
    returns_rows: bool

    @property
    def is_ddl(self) -> bool:
        return self.kind not in DML_WORDS


def check_statement(sql: object, dialect: Dialect) -> CheckedStatement:
    """Accept one statement that fastn.db allows, or raise TenantDbError saying why not.

    1. Lex the text the way the engine will, refusing anything it can't lex with certainty.
    2. Drop one trailing ';'; any other ';' means a second statement.
    3. The statement kind decides what follows (the body of a WITH, the object of a DDL verb).
    4. Names: no system catalog, no qualified table names, no dangerous functions.
    5. Placeholders are $1, $2, … only.
    """
    if not isinstance(sql, str):
        raise TenantDbError("The query must be a string of SQL.")
    if len(sql) > MAX_SQL_CHARS:
        raise TenantDbError(
            f"The query is {len(sql)} characters long; the limit is {MAX_SQL_CHARS}."
        )
    if "\x00" in sql:
        raise TenantDbError("The query contains a NUL character.")

    tokens, comments = tokenize(sql, dialect)
    cut = len(sql)
    if tokens and tokens[-1].is_punct(";"):
        cut = tokens[-1].start
        tokens = tokens[:-1]
    if not tokens:
        raise TenantDbError("The query is empty.")
    if any(token.is_punct(";") for token in tokens):
        raise TenantDbError(
            "fastn.db runs one statement per query: remove the ';' in the middle, or split it "
            "into several fastn.db.query calls."
        )

    kind = _statement_kind(tokens)
    _check_sequences(tokens)
    _check_names(tokens, dialect)
    _check_qualified_names(tokens, dialect, ddl=kind not in DML_WORDS)
    param_count = _check_params(tokens)
    return CheckedStatement(
        sql=_blank(sql[:cut], comments),
        kind=kind,
        param_count=param_count,
        returns_rows=kind == "select" or (kind in DML_WORDS and _returning_at_top(tokens)),
    )


# --- Lexer ----------------------------------------------------------------------------------


def tokenize(sql: str, dialect: Dialect) -> tuple[list[Token], list[tuple[int, int]]]:
    """Split `sql` into tokens the way `dialect` does; return them and the comment spans."""
    tokens: list[Token] = []
    comments: list[tuple[int, int]] = []
    pg = dialect == "postgresql"
    i, n = 0, len(sql)
    while i < n:
        char = sql[i]
        pair = sql[i : i + 2]
        if char in WHITESPACE:
            i += 1
        elif pair == "--":
            # PostgreSQL ends a line comment at \r too; SQLite only at \n.
            end = _find_any(sql, "\n\r" if pg else "\n", i)
            comments.append((i, end))
            i = end
        elif pair == "/*":
            end = _block_comment_end(sql, i, nested=pg)
            comments.append((i, end))
            i = end
        elif char == "'":
            end, value = _quoted(sql, i, "'")
            tokens.append(Token("string", value, i, end))
            i = end
        elif char == '"':
            end, value = _quoted(sql, i, '"')
            tokens.append(Token("ident", value, i, end))
            i = end
        elif pg and char in "eE" and sql[i + 1 : i + 2] == "'":
            end, value = _escape_string(sql, i + 1)
            tokens.append(Token("string", value, i, end))
            i = end
        elif pg and char in "uU" and sql[i + 1 : i + 3] in ("&'", '&"'):
            raise TenantDbError(
                "Unicode escape strings and identifiers (U&'…') aren't supported in fastn.db; "
                "write the characters directly."
            )
        elif (char in "bBxXnN" if pg else char in "xX") and sql[i + 1 : i + 2] == "'":
            end, value = _quoted(sql, i + 1, "'")
            tokens.append(Token("string", value, i, end))
            i = end
        elif not pg and char == "`":
            end, value = _quoted(sql, i, "`")
            tokens.append(Token("ident", value, i, end))
            i = end
        elif not pg and char == "[":
            end = sql.find("]", i + 1)
            if end < 0:
                raise TenantDbError("The query has an unterminated [identifier].")
            tokens.append(Token("ident", sql[i + 1 : end], i, end + 1))
            i = end + 1
        elif char == "$":
            i = _dollar(sql, i, pg, tokens)
        elif not pg and (
            char == "?" or (char in ":@#" and IDENT_START.match(sql, i + 1) is not None)
        ):
            raise TenantDbError(
                "fastn.db takes $1, $2, … placeholders; other placeholder styles aren't supported."
            )
        elif (match := NUMBER.match(sql, i)) is not None:
            tokens.append(Token("number", match.group(), i, match.end()))
            i = match.end()
        elif IDENT_START.match(char):
            match = IDENT_CONT.match(sql, i + 1)
            end = match.end() if match else i + 1
            tokens.append(Token("word", sql[i:end].lower(), i, end))
            i = end
        else:
            tokens.append(Token("punct", char, i, i + 1))
            i += 1
    return tokens, comments


def _find_any(sql: str, chars: str, start: int) -> int:
    positions = [p for p in (sql.find(c, start) for c in chars) if p >= 0]
    return min(positions) if positions else len(sql)


def _block_comment_end(sql: str, start: int, *, nested: bool) -> int:
    depth, i = 0, start
    while i < len(sql):
        pair = sql[i : i + 2]
        if pair == "/*" and (nested or depth == 0):
            depth += 1
            i += 2
        elif pair == "*/":
            depth -= 1
            i += 2
            if depth == 0:
                return i
        else:
            i += 1
    raise TenantDbError("The query has a /* comment that never ends.")


def _quoted(sql: str, start: int, quote: str) -> tuple[int, str]:
    """A quoted string or identifier where a doubled quote stands for itself."""
    parts: list[str] = []
    i = start + 1
    while True:
        end = sql.find(quote, i)
        if end < 0:
            what = "string" if quote == "'" else "quoted identifier"
            raise TenantDbError(f"The query has an unterminated {what}.")
        parts.append(sql[i:end])
        if sql[end + 1 : end + 2] == quote:
            parts.append(quote)
            i = end + 2
        else:
            return end + 1, "".join(parts)


def _escape_string(sql: str, start: int) -> tuple[int, str]:
    """PostgreSQL's E'…': a backslash escapes the next character, including a quote."""
    parts: list[str] = []
    i = start + 1
    while i < len(sql):
        char = sql[i]
        if char == "\\":
            parts.append(sql[i : i + 2])
            i += 2
        elif char == "'":
            if sql[i + 1 : i + 2] == "'":
                parts.append("'")
                i += 2
            else:
                return i + 1, "".join(parts)
        else:
            parts.append(char)
            i += 1
    raise TenantDbError("The query has an unterminated string.")


def _dollar(sql: str, i: int, pg: bool, tokens: list[Token]) -> int:
    """A `$`: a $n placeholder, a PostgreSQL dollar-quoted string, or a lone character."""
    if (match := PARAM.match(sql, i)) is not None:
        end = match.end()
        following = sql[end : end + 1]
        # SQLite reads `$1(…)` and `$1::x` as one (TCL-style) variable name, swallowing what
        # this lexer would read as separate tokens, quotes included.
        if (
            IDENT_START.match(sql, end) is not None
            or following == "$"
            or (not pg and following in ("(", ":"))
        ):
            raise TenantDbError(f"Malformed placeholder near {sql[i : end + 1]!r}.")
        tokens.append(Token("param", match.group(1), i, end))
        return end
    if pg and (match := DOLLAR_TAG.match(sql, i)) is not None:
        tag = match.group()
        close = sql.find(tag, match.end())
        if close < 0:
            raise TenantDbError(f"The query has a {tag}-quoted string that never ends.")
        tokens.append(Token("string", sql[match.end() : close], i, close + len(tag)))
        return close + len(tag)
    if not pg and IDENT_START.match(sql, i + 1) is not None:
        raise TenantDbError(
            "fastn.db takes $1, $2, … placeholders; named placeholders aren't supported."
        )
    tokens.append(Token("punct", "$", i, i + 1))
    return i + 1


def _blank(sql: str, comments: list[tuple[int, int]]) -> str:
    parts, last = [], 0
    for start, end in comments:
        if start >= len(sql):
            break
        parts.append(sql[last:start])
        parts.append(" ")
        last = min(end, len(sql))
    parts.append(sql[last:])
    return "".join(parts).strip()


# --- Policy ---------------------------------------------------------------------------------


def _statement_kind(tokens: list[Token]) -> str:
    first = tokens[0]
    if first.kind != "word":
        raise TenantDbError(f"The query must start with a SQL keyword. {ALLOWED_SUMMARY}.")
    word = first.value
    if word in DML_WORDS:
        return word
    if word == "with":
        return _with_body(tokens)
    following = _words_after(tokens, 1, 3)
    if word == "create":
        if following[:1] == ["table"]:
            return "create table"
        if following[:1] == ["index"] or following[:2] == ["unique", "index"]:
            return "create index"
        if following[:1] in (["temp"], ["temporary"]) or following[1:2] in (
            ["temp"],
            ["temporary"],
        ):
            raise TenantDbError(
                "Temporary tables aren't allowed in fastn.db; create a regular table."
            )
        label = " ".join(["CREATE", *[w.upper() for w in following[:1]]])
        if following[:1] == ["or"]:
            label = " ".join(["CREATE", *[w.upper() for w in following[:3]]])
        raise TenantDbError(f"{label} isn't allowed: {ALLOWED_SUMMARY}.")
    if word == "alter":
        if following[:1] == ["table"]:
            return "alter table"
        raise TenantDbError(
            f"ALTER {' '.join(following[:1]).upper()} isn't allowed: {ALLOWED_SUMMARY}."
        )
    if word == "drop":
        if following[:1] in (["table"], ["index"]):
            return f"drop {following[0]}"
        raise TenantDbError(
            f"DROP {' '.join(following[:1]).upper()} isn't allowed: {ALLOWED_SUMMARY}."
        )
    if word in TRANSACTION_WORDS:
        raise TenantDbError(
            f"{word.upper()} isn't allowed in fastn.db: every query runs in its own transaction, "
            "committed when it succeeds and rolled back when it fails."
        )
    if word in SESSION_WORDS:
        raise TenantDbError(
            f"{word.upper()} isn't allowed in fastn.db: the session (role, search path, "
            "timeouts) is managed for you."
        )
    raise TenantDbError(f"{word.upper()} isn't allowed: {ALLOWED_SUMMARY}.")


def _words_after(tokens: list[Token], start: int, count: int) -> list[str]:
    return [t.value for t in tokens[start : start + count] if t.kind == "word"]


def _with_body(tokens: list[Token]) -> str:
    """The kind of a WITH statement's body, after its `name [(cols)] AS [NOT] [MATERIALIZED]
    (…)` clauses."""
    i = 1
    if i < len(tokens) and tokens[i].is_word("recursive"):
        i += 1
    while True:
        if i >= len(tokens) or not tokens[i].is_name:
            break
        i += 1
        if i < len(tokens) and tokens[i].is_punct("("):
            i = _skip_parens(tokens, i)
        if i >= len(tokens) or not tokens[i].is_word("as"):
            break
        i += 1
        if i < len(tokens) and tokens[i].is_word("not"):
            i += 1
        if i < len(tokens) and tokens[i].is_word("materialized"):
            i += 1
        if i >= len(tokens) or not tokens[i].is_punct("("):
            break
        i = _skip_parens(tokens, i)
        if i < len(tokens) and tokens[i].is_punct(","):
            i += 1
            continue
        if i < len(tokens) and tokens[i].kind == "word" and tokens[i].value in DML_WORDS:
            return tokens[i].value
        break
    raise TenantDbError(
        "fastn.db couldn't read this WITH statement: after its WITH clauses it must run a "
        "SELECT, INSERT, UPDATE or DELETE."
    )


def _skip_parens(tokens: list[Token], i: int) -> int:
    depth = 0
    while i < len(tokens):
        if tokens[i].is_punct("("):
            depth += 1
        elif tokens[i].is_punct(")"):
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise TenantDbError("The query has an unbalanced parenthesis.")


def _check_sequences(tokens: list[Token]) -> None:
    for before, after in pairwise(tokens):
        message = DENIED_SEQUENCES.get((before.value, after.value))
        if message and before.kind == "word" and after.kind == "word":
            raise TenantDbError(message)
        if before.is_word("tablespace") or after.is_word("tablespace"):
            raise TenantDbError("Tablespaces aren't available in fastn.db.")


def _check_names(tokens: list[Token], dialect: Dialect) -> None:
    for index, token in enumerate(tokens):
        # SQLite takes a string as a table name where only a name fits ("FROM 'sqlite_master'").
        if not (token.is_name or (dialect == "sqlite" and token.kind == "string")):
            continue
        name = token.value.lower()
        is_call = index + 1 < len(tokens) and tokens[index + 1].is_punct("(")
        if is_call and name in ALLOWED_SYSTEM_FUNCTIONS:
            continue
        if token.kind != "string" and is_call and _is_denied_function(name):
            raise TenantDbError(f"The function {name}() isn't allowed in fastn.db.")
        if name in SYSTEM_NAMES or name.startswith(SYSTEM_PREFIXES):
            if token.kind == "string" and name not in SYSTEM_NAMES:
                continue
            raise TenantDbError(
                f"{name} isn't reachable from fastn.db: the database's system catalog is off "
                "limits; your queries see only your own tables."
            )


def _is_denied_function(name: str) -> bool:
    return name in DENIED_FUNCTIONS or name.startswith(DENIED_FUNCTION_PREFIXES + SYSTEM_PREFIXES)


def _check_qualified_names(tokens: list[Token], dialect: Dialect, *, ddl: bool) -> None:
    """Refuse `schema.table`-style names; allow `alias.column` where it can only be a column.

    A dotted name is refused when it has three parts, starts with a schema's name, appears in a
    DDL statement, or stands where a table goes in a data statement (after FROM, JOIN, INTO,
    UPDATE, … or after a comma in a FROM list).
    """
    relation_lists: dict[int, bool] = {}
    depth = 0
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.is_punct("("):
            depth += 1
        elif token.is_punct(")"):
            relation_lists.pop(depth, None)
            depth -= 1
        elif token.kind == "word" and token.value in ("from", "join", "using"):
            relation_lists[depth] = True
        elif token.kind == "word" and token.value in LIST_END_WORDS:
            relation_lists[depth] = False

        if token.is_punct(".") and i > 0 and tokens[i - 1].kind == "string":
            raise TenantDbError("A string can't be followed by '.' in fastn.db queries.")
        if not (token.is_name or token.kind == "string") or not _followed_by_dot(tokens, i):
            i += 1
            continue
        if token.kind == "string":
            raise TenantDbError("A string can't be followed by '.' in fastn.db queries.")

        parts, end = _dotted_chain(tokens, i)
        shown = ".".join(parts)
        previous = tokens[i - 1] if i > 0 else None
        in_relation_position = previous is not None and (
            (previous.kind == "word" and previous.value in RELATION_WORDS)
            or (previous.is_punct(",") and relation_lists.get(depth, False))
        )
        first = parts[0].lower()
        if (
            len(parts) > 2
            or first in SCHEMA_NAMES
            or TENANT_SCHEMA.fullmatch(first)
            or ddl
            or in_relation_position
        ):
            raise TenantDbError(
                f"Qualified name {shown} isn't allowed in fastn.db: refer to your own tables "
                "by their plain name."
            )
        i = end


def _followed_by_dot(tokens: list[Token], i: int) -> bool:
    return i + 1 < len(tokens) and tokens[i + 1].is_punct(".")


def _dotted_chain(tokens: list[Token], i: int) -> tuple[list[str], int]:
    parts = [tokens[i].value]
    i += 1
    while i + 1 < len(tokens) and tokens[i].is_punct("."):
        part = tokens[i + 1]
        if part.kind == "string":
            raise TenantDbError("A string can't follow '.' in fastn.db queries.")
        if not (part.is_name or part.is_punct("*")):
            break
        parts.append(part.value)
        i += 2
    return parts, i


def _returning_at_top(tokens: list[Token]) -> bool:
    depth = 0
    for token in tokens:
        if token.is_punct("("):
            depth += 1
        elif token.is_punct(")"):
            depth -= 1
        elif depth == 0 and token.is_word("returning"):
            return True
    return False


def _check_params(tokens: list[Token]) -> int:
    highest = 0
    for token in tokens:
        if token.kind != "param":
            continue
        number = int(token.value)
        if number < 1 or number > MAX_PARAMS:
            raise TenantDbError(
                f"Placeholders run from $1 to ${MAX_PARAMS}; ${number} is out of range."
            )
        highest = max(highest, number)
    return highest
