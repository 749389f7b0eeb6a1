"""The SQL guard: finds what psql would run as a meta-command (\\! runs a shell, \\connect leaves
the side database, \\o and \\w write files...) in a backup's SQL, before psql reads it.

It follows psql 15's own lexer (src/fe_utils/psqlscan.l) over the bytes psql reads: a backslash
starts a meta-command unless it is inside a string ('', E'', B'', X'', U&''), a quoted
identifier, a dollar-quoted string, a -- or (nested) /* */ comment, or COPY data. COPY data
starts after a `COPY ... FROM stdin;` statement written as pg_dump writes it (the rest of that
line is SQL again for psql, so it must be empty) and ends at a line that is exactly `\\.`; a
data line may start with a backslash only as one of COPY's escapes. Statement ends follow psql:
a `;` outside parentheses and outside the BEGIN ... END of CREATE FUNCTION/PROCEDURE bodies.

What psql could read in another way than this guard is refused too (never guessed):
- a quote right after an odd run of backslashes in a string: psql reads it differently when the
  dump turns standard_conforming_strings off (or when the string is an E'' one);
- a byte that psql would hide as the second byte of a character if the dump switched the client
  encoding to SJIS, BIG5, GBK, UHC, GB18030 or JOHAB, where that byte matters (a quote, a
  comment or statement boundary...); UTF-8 text in strings and comments is fine;
- a number directly followed by letters (PostgreSQL 15 changed how those are split), psql's
  own variables (:VERSION...), NUL bytes.
psql itself runs with -X and no variable but ON_ERROR_STOP, so nothing else is substituted.

COPY data (most of a dump) is checked a block at a time with bytes.find; SQL line by line with
compiled regular expressions.
"""
import re

from .process import Failed

SQL, SQUOTE, DQUOTE, DOLLAR, BLOCK, DATA = range(6)

TOKEN = re.compile(rb"""
  (?P<space>[ \t\n\r\f]+)
| (?P<comment>--[^\n\r]*)
| (?P<block>/\*)
| (?P<squote>[bBxXeEnN]?')
| (?P<uamp>[uU]&(?=['"]))
| (?P<ufail>[uU](?=&))
| (?P<dquote>")
| (?P<dollar>\$(?:[A-Za-z\x80-\xff_][A-Za-z\x80-\xff_0-9]*)?\$)
| (?P<param>\$[0-9]+)
| (?P<ident>[A-Za-z\x80-\xff_][A-Za-z\x80-\xff_0-9$]*)
| (?P<number>(?:[0-9]+(?:\.(?!\.)[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)
| (?P<cast>::|:=)
| (?P<vartest>:\{\?[A-Za-z\x80-\xff_0-9]+\})
| (?P<var>:[A-Za-z\x80-\xff_0-9]+)
| (?P<backslash>\\)
| (?P<semi>;)
| (?P<open>\()
| (?P<close>\))
| (?P<other>.)
""", re.X | re.S)
# Runs of tokens that change nothing psql tracks, once a statement's first identifiers are known
SKIP = re.compile(rb"""(?:[A-Za-z_][A-Za-z_0-9$]*+
  |(?:[0-9]+(?:\.(?!\.)[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?(?![A-Za-z\x80-\xff_0-9])
  |[ \t\r\f]++|'[^'\\\n\r\x80-\xff\0]*+'|"[^"\n\r\x80-\xff\0]*+"|[,.+*=<>!~@\#%^&|`?\[\]{}]|-(?!-)|/(?!\*)|::)*+""", re.X)
# A whole line that is one statement psql reads as plain SQL (INSERT ... VALUES (...);): no string
# with a backslash, no comment, no $, no variable, parentheses balanced (3 deep), one ; at the end.
# Possessive quantifiers: a line that does not match fails at once, never by backtracking.
_PLAIN = (rb"(?>[A-Za-z_][A-Za-z_0-9$]*+|(?:[0-9]++(?:\.(?!\.)[0-9]*+)?|\.[0-9]++)(?:[eE][-+]?[0-9]++)?(?![A-Za-z_0-9])"
          rb"|[ \t\f]++|'[^'\\\n\r\x80-\xff\0]*+'|\"[^\"\n\r\x80-\xff\0]*+\"|[,.+*=<>!~@#%^&|`?\[\]{}]|-(?!-)|/(?!\*)|::)")
_NEST = rb"\((?:" + _PLAIN + rb"|\((?:" + _PLAIN + rb"|\((?:" + _PLAIN + rb")*+\))*+\))*+\)"
PLAIN_LINE = re.compile(rb"[ \t]*+(?!(?i:create|copy)(?![A-Za-z_0-9$]))[A-Za-z_][A-Za-z_0-9$]*+(?:" + _PLAIN + rb"|"
                        + _NEST + rb")*+;[ \t\r]*+\n?")
IDENT_START = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_") | frozenset(range(0x80, 0x100))
HIGH = re.compile(rb"[\x80-\xff]")
NAME = rb'(?:[a-z_][a-z0-9_$]*|"(?:[^"\n\r\0]|"")+")'
# pg_dump writes "COPY %s %s FROM stdin;": a table without columns gets two spaces
COPY_LINE = re.compile(rb"COPY " + NAME + rb"\." + NAME + rb" (?:\(" + NAME + rb"(?:, " + NAME + rb")*\) | )"
                       rb"FROM stdin;\r?\n?")
COPY_ESCAPES = frozenset(b"Nbfnrtvx\\0123456789")
# pg_dump 15.14+ brackets its SQL with these: psql then refuses every other meta-command
RESTRICT = re.compile(rb"\\(un)?restrict ([A-Za-z0-9]{1,128})\r?\n?")
PSQL_VARIABLE = re.compile(rb"[A-Z][A-Z0-9_]*")     # psql's own variables (VERSION, DBNAME...)
WORDS = {b"create": b"c", b"function": b"f", b"procedure": b"p", b"or": b"o", b"replace": b"r"}


class Refused(Failed):
    """The SQL holds something psql would run as a meta-command (or could read otherwise)."""

    def __init__(self, line, reason):
        super().__init__(f"line {line}: {reason} is not allowed in a backup's SQL")
        self.line = line


def hidden_positions(line):
    """ASCII bytes of a line that psql would hide as a character's trailing byte in one of the
    client encodings it scans "the hard way" (psqlscan_prepare_buffer, reset at each line)."""
    hidden, n = set(), len(line)
    for encoding in ("sjis", "double", "gb18030", "johab"):
        i = 0
        while i < n:
            b = line[i]
            if b < 0x80 or (encoding == "sjis" and 0xA1 <= b <= 0xDF):
                length = 1
            elif encoding == "gb18030" and i + 1 < n and 0x30 <= line[i + 1] <= 0x39:
                length = 4
            elif encoding == "johab" and b == 0x8F:
                length = 3
            else:
                length = 2
            hidden.update(k for k in range(i + 1, min(i + length, n)) if line[k] < 0x80)
            i += length
    return hidden


def next_line_with_backslash(block, start):
    found = block.find(b"\n\\", start)
    return found + 1 if found >= 0 else -1


class SqlGuard:
    """Fed the SQL as psql will read it; feed() returns the bytes that are cleared (whole lines,
    checked), finish() the rest; both raise Refused at the first thing psql must not see."""

    def __init__(self):
        self.state, self.line = SQL, 1
        self._pending = b""
        self.paren = self.begin = self.depth = 0
        self.tag = self.key = None
        self._new_statement()

    def _new_statement(self):
        self.count, self.idents, self.first, self.stdin = 0, [b"", b"", b"", b""], None, False
        self.first_at = self.first_line = -1

    # ------------------------------------------------------------------ input
    def feed(self, data):
        data = self._pending + data
        cut = data.rfind(b"\n") + 1
        self._pending = data[cut:]
        if cut:
            self._block(data[:cut])
        return data[:cut]

    def finish(self):
        rest, self._pending = self._pending, b""
        if rest:
            if self.state == DATA and rest.rstrip(b"\r") == b"\\.":
                self.state = SQL   # psql ends COPY data at the end of its input anyway
            else:
                self._block(rest)
        return rest

    def _block(self, block):
        nul = block.find(b"\0")
        if nul >= 0:
            raise Refused(self.line + block.count(b"\n", 0, nul), "a NUL byte")
        pos, n = 0, len(block)
        while pos < n:
            if self.state == DATA:
                pos = self._data(block, pos)
                continue
            end = block.find(b"\n", pos)
            end = n if end < 0 else end + 1
            self._sql_line(block[pos:end])
            pos = end

    # ------------------------------------------------------------------ COPY data
    def _data(self, block, pos):
        """COPY data from pos (a line start) on; returns where SQL starts again (or the end).
        Only lines starting with a backslash matter (rare: a first column's NULL), found with
        bytes.find, which runs at memory speed."""
        at = pos if block.startswith(b"\\", pos) else next_line_with_backslash(block, pos)
        while at >= 0:
            self.line += block.count(b"\n", pos, at)
            for marker in (b"\\.\n", b"\\.\r\n"):
                if block.startswith(marker, at):
                    self.state = SQL
                    self.line += 1
                    return at + len(marker)
            escape = block[at + 1] if at + 1 < len(block) else None
            if escape not in COPY_ESCAPES:
                shown = block[at:at + 12].split(b"\n")[0].decode("utf-8", "replace")
                raise Refused(self.line, f"a COPY data line starting with {shown!r} (not one of COPY's escapes)")
            pos = at
            at = next_line_with_backslash(block, at)
        self.line += block.count(b"\n", pos)
        return len(block)

    # ------------------------------------------------------------------ SQL
    def _sql_line(self, line):
        if self.first is None and self.state == SQL and not (self.paren or self.begin) and PLAIN_LINE.fullmatch(line):
            self.line += 1 if line.endswith(b"\n") else 0
            return
        if line[:1] == b"\\" and self.state == SQL and self.first is None and not (self.paren or self.begin):
            if self._restrict_line(line):
                return
        hidden = hidden_positions(line) if HIGH.search(line) else None
        pos, n = 0, len(line)
        while pos < n:
            state = self.state
            if state == SQL:
                pos = self._sql(line, pos, hidden)
            elif state == SQUOTE:
                pos = self._squote(line, pos, hidden)
            elif state == DQUOTE:
                pos = self._closing(line, pos, hidden, b'"')
            elif state == DOLLAR:
                pos = self._closing(line, pos, hidden, self.tag)
            elif state == BLOCK:
                pos = self._block_comment(line, pos, hidden)
            else:
                break
        self.line += 1 if line.endswith(b"\n") else 0

    def _restrict_line(self, line):
        """pg_dump's own `\\restrict KEY` (first) and `\\unrestrict KEY` (same key) lines."""
        found = RESTRICT.fullmatch(line)
        if not found:
            return False
        if found.group(1) is None and self.key is None:
            self.key = found.group(2)
        elif found.group(1) is None or found.group(2) != self.key:
            return False
        self.line += 1 if line.endswith(b"\n") else 0
        return True

    def _ambiguous(self, hidden, start, end, significant):
        if hidden and any(start <= k < end and significant(k) for k in hidden):
            raise Refused(self.line, "a byte that psql would read differently in a multibyte client encoding "
                                     "(SJIS, BIG5, GBK, UHC, GB18030, JOHAB)")

    def _sql(self, line, pos, hidden):
        if hidden is None and self.count and self.idents[0] != b"c" and self.first != b"copy":
            pos = SKIP.match(line, pos).end()
            if pos >= len(line):
                return pos
        token = TOKEN.match(line, pos)
        kind, end = token.lastgroup, token.end()
        if hidden and kind != "ident":
            significant = (lambda k: line[k] == 13) if kind == "comment" else (lambda k: True)
            self._ambiguous(hidden, pos, end, significant)
        if kind in ("space", "comment"):
            return end
        if self.first is None and kind != "block":
            self.first, self.first_at, self.first_line = token.group().lower(), pos, self.line
        if kind == "ident":
            self._identifier(token.group())
        elif kind == "block":
            self.state, self.depth = BLOCK, 0
        elif kind == "squote":
            self.state = SQUOTE
        elif kind == "dquote":
            self.state = DQUOTE
        elif kind == "dollar":
            self.state, self.tag = DOLLAR, token.group()
        elif kind in ("number", "param"):
            if end < len(line) and line[end] in IDENT_START:
                raise Refused(self.line, "a number directly followed by letters")
        elif kind == "var" and PSQL_VARIABLE.fullmatch(token.group()[1:]):
            raise Refused(self.line, f"the psql variable {token.group().decode('utf-8', 'replace')}")
        elif kind == "backslash":
            name = re.match(rb"[^\s\\]*", line[end:end + 40]).group().decode("utf-8", "replace")
            raise Refused(self.line, f"psql meta-command \\{name}")
        elif kind == "open":
            self.paren += 1
        elif kind == "close":
            self.paren = max(0, self.paren - 1)
        elif kind == "semi" and self.paren == 0 and self.begin == 0:
            self._statement_end(line, pos)
        return end

    def _identifier(self, word):
        """psql's heuristic for CREATE [OR REPLACE] FUNCTION|PROCEDURE ... BEGIN ... END bodies,
        whose semicolons do not end the statement (psqlscan.l, rule {identifier})."""
        word = word.lower()
        if self.count == 0:
            self.idents = [b"", b"", b"", b""]
        if word in WORDS and self.count < 4:
            self.idents[self.count] = WORDS[word]
        self.count += 1
        if word == b"stdin":
            self.stdin = True
        i = self.idents
        if i[0] == b"c" and (i[1] in (b"f", b"p") or (i[1] == b"o" and i[2] == b"r" and i[3] in (b"f", b"p"))) \
                and self.paren == 0:
            if word == b"begin":
                self.begin += 1
            elif word == b"case" and self.begin >= 1:
                self.begin += 1
            elif word == b"end" and self.begin > 0:
                self.begin -= 1

    def _statement_end(self, line, pos):
        if self.first == b"copy":
            whole = (self.first_at, self.first_line) == (0, self.line) and COPY_LINE.fullmatch(line) \
                and pos == len(line.rstrip(b"\r\n")) - 1
            if whole:
                self._new_statement()
                self.state = DATA       # from the next line on (the rest of this one is empty)
                return
            if self.stdin:
                raise Refused(self.line, "a COPY ... FROM stdin statement not written as pg_dump writes it")
        self._new_statement()

    def _squote(self, line, pos, hidden):
        """Inside a quoted string: to its closing quote (a doubled quote reopens it, the same)."""
        quote = line.find(b"'", pos)
        end = len(line) if quote < 0 else quote + 1
        self._ambiguous(hidden, pos, end, lambda k: line[k] in (0x27, 0x5C))
        if quote < 0:
            return end
        run = quote
        while run > pos and line[run - 1] == 0x5C:
            run -= 1
        if (quote - run) % 2:
            raise Refused(self.line, "a string with a backslash right before a quote (psql reads it another way "
                                     "when standard_conforming_strings is off)")
        self.state = SQL
        return end

    def _closing(self, line, pos, hidden, closing):
        """Inside a quoted identifier or a dollar-quoted string: to its closing delimiter."""
        found = line.find(closing, pos)
        end = len(line) if found < 0 else found + len(closing)
        self._ambiguous(hidden, pos, end, lambda k: line[k] == closing[0])
        if found >= 0:
            self.state, self.tag = SQL, None
        return end

    def _block_comment(self, line, pos, hidden):
        """Inside /* */ comments, which nest."""
        while True:
            opening, closing = line.find(b"/*", pos), line.find(b"*/", pos)
            if closing < 0 and opening < 0:
                self._ambiguous(hidden, pos, len(line), lambda k: line[k] in (0x2A, 0x2F))
                return len(line)
            if opening >= 0 and (closing < 0 or opening < closing):
                self.depth, at = self.depth + 1, opening
            else:
                at = closing
                if self.depth == 0:
                    self.state = SQL
                else:
                    self.depth -= 1
            self._ambiguous(hidden, pos, at + 2, lambda k: line[k] in (0x2A, 0x2F))
            pos = at + 2
            if self.state == SQL:
                return pos


def scan(stream, chunk=1 << 22):
    """Pre-scan a whole file object; returns the number of lines, or raises Refused."""
    guard = SqlGuard()
    for block in iter(lambda: stream.read(chunk), b""):
        guard.feed(block)
    guard.finish()
    return guard.line
