"""GitHub-flavoured Markdown: the table view's sections as GFM tables, for pull requests.

Code spans follow one rule: names and equations are code (`input_gate`, `x`, `W_f W_i W_c
W_o`, `sigmoid(W_f X + b_f)`), prose is prose, with only the names inside it as code
("each step's `h_t`, last layer").
"""

from __future__ import annotations

import re
from itertools import pairwise

from ..trace import Trace
from .sections import Note, Section, sections


def render_markdown(trace: Trace, frameworks: bool = False) -> str:
    """Trace -> Markdown text: a heading, then each section as a '###' heading and a table."""
    items = sections(trace, frameworks)
    lines: list[str] = []
    for i, item in enumerate(items):
        if isinstance(item, Note):
            text = _inline(item.text)
            lines += [f"## {text}" if i == 0 else (f"_{text}_" if item.dim else text), ""]
        else:
            lines += [*_table(item), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


#: columns whose cells are names or equations: always code spans, unless a cell is prose
CODE_COLUMNS = frozenset({"tensor", "symbol", "weights", "name", "value", "equation"})
#: characters Markdown would read as emphasis, strikethrough or escapes
_SPECIAL = "_*~\\"
#: a plain lower-case word; two in a row make a cell prose ("input at step t")
_WORD = re.compile(r"^[a-z]{2,}[,;:.]?$")


def _table(section: Section) -> list[str]:
    head = [c.rstrip(">") for c in section.columns]
    align = ["---:" if c.endswith(">") else "---" for c in section.columns]
    code = [c in CODE_COLUMNS for c in head]
    plain = [False] * len(head)
    out = [f"### {_inline(section.title)}", "", _row(head, plain), _row(align, plain)]
    out += [_row(row, code) for row in section.rows if row is not None]
    return out


def _row(cells: tuple[str, ...] | list[str], code: list[bool]) -> str:
    return "| " + " | ".join(_cell(c, k) for c, k in zip(cells, code, strict=True)) + " |"


def _cell(text: str, code: bool) -> str:
    """A name or an equation as a code span, so '_' and '*' stay literal; prose as prose with
    its names as code spans. A pipe would end the cell, so it is escaped (GFM honours that
    inside code spans too)."""
    text = " ".join(text.split())
    if not text or "`" in text:
        return text.replace("|", "\\|") or " "
    if _is_prose(text):
        text = " ".join(_prose_token(t) for t in text.split(" "))
    elif code or any(c in text for c in _SPECIAL):
        text = f"`{text}`"
    return text.replace("|", "\\|")


def _is_prose(text: str) -> bool:
    words = [bool(_WORD.match(t)) for t in text.split(" ")]
    return any(a and b for a, b in pairwise(words))


def _prose_token(token: str) -> str:
    """A word of prose: a name in it ('h_t,', 'k*D') becomes a code span, punctuation kept
    outside, and so is a parenthesis that opens or closes the prose around it
    ('(reset_after=False' -> '(`reset_after=False`'; 'h_(t-1)' keeps its own)."""
    start = 1 if token.startswith("(") and token.count("(") > token.count(")") else 0
    core = token[start:].rstrip(",;:.")
    while core.endswith(")") and core.count(")") > core.count("("):
        core = core[:-1]
    if not any(c in core for c in _SPECIAL):
        return token
    return f"{token[:start]}`{core}`{token[start + len(core) :]}"


def _inline(text: str) -> str:
    """Running text: '*' would start emphasis; '_' inside words never does in GFM."""
    return " ".join(text.split()).replace("*", "\\*")
