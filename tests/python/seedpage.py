"""Reads the code blocks out of a documentation page saved as plain text.

The user's page (``tests/fixtures/seed-running-commands.txt``, a copy of the project's spec) is a web page saved as text: headings,
prose and code are paragraphs separated by blank lines, and nothing marks which is which. A
paragraph is code when it compiles as Python *and* looks like code (an assignment, a call, an
attribute, a comment): that keeps one-word headings such as ``Timeout`` or ``Kill``, which
compile as bare names, out. Code paragraphs with nothing but blank lines between them are one
block, as on the page (``# Consume …`` / ``# Peek …`` is a single example).

Expectations the page states are comments after code: ``result.exit_code    # 0``. A comment
that is a Python literal, optionally followed by a parenthesised remark (``# True (exit_code ==
0 and not timed_out)``), is a claim about the value of the expression on its left (of the
argument, for ``print(x)``); ``# -> ExecResult`` is a claim about the type of what is assigned.
Other comments (``# True if data was evicted``, ``# Send SIGTERM``) are prose.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path
from typing import Any, List, Optional

_CODE_MARKS = re.compile(r"[=(.#\[]")


@dataclasses.dataclass(frozen=True)
class Claim:
    """``expression`` evaluates to ``value`` (or is a ``type_name``), per the page."""

    line: str
    expression: str
    value: Any = None
    type_name: Optional[str] = None
    is_print: bool = False


@dataclasses.dataclass(frozen=True)
class Block:
    index: int
    heading: str
    code: str

    @property
    def claims(self) -> List[Claim]:
        return claims_of(self.code)


def _paragraphs(text: str) -> List[List[str]]:
    paragraphs: List[List[str]] = [[]]
    for line in text.splitlines():
        if line.strip():
            paragraphs[-1].append(line.rstrip())
        elif paragraphs[-1]:
            paragraphs.append([])
    return [p for p in paragraphs if p]


def is_code(paragraph: List[str]) -> bool:
    text = "\n".join(paragraph)
    if not _CODE_MARKS.search(text):
        return False
    try:
        compile(text, "<paragraph>", "exec")
    except SyntaxError:
        return False
    return True


def extract_blocks(path: Path) -> List[Block]:
    """The page's code blocks, in order, each with the heading above it."""
    blocks: List[Block] = []
    heading = ""
    previous_was_code = False
    for paragraph in _paragraphs(path.read_text(encoding="utf-8")):
        if is_code(paragraph):
            code = "\n".join(paragraph)
            if previous_was_code:
                last = blocks.pop()
                code = f"{last.code}\n\n{code}"
                heading = last.heading
            blocks.append(Block(len(blocks), heading, code))
            previous_was_code = True
        else:
            previous_was_code = False
            if len(paragraph) == 1 and len(paragraph[0]) < 40 and not paragraph[0].endswith((".", ":")):
                heading = paragraph[0].strip()
    return blocks


def _literal_prefix(comment: str) -> Optional[Any]:
    """The literal a comment consists of (before an optional ``(remark)``), else None."""
    text = comment.strip()
    m = re.fullmatch(r"(.+?)(\s+\(.*\))?", text)
    if not m:
        return None
    try:
        return (ast.literal_eval(m.group(1).strip()),)
    except (ValueError, SyntaxError):
        return None


def claims_of(code: str) -> List[Claim]:
    claims: List[Claim] = []
    for line in code.splitlines():
        if "#" not in line or line.lstrip().startswith("#"):
            continue
        source, _, comment = line.partition("  #")
        if not comment:
            continue
        source = source.strip()
        try:
            node = ast.parse(source).body[0]
        except (SyntaxError, IndexError):
            continue
        type_match = re.fullmatch(r"\s*->\s*(\w+)\s*", comment)
        if type_match and isinstance(node, ast.Assign):
            target = ast.unparse(node.targets[0])
            claims.append(Claim(line, target, type_name=type_match.group(1)))
            continue
        literal = _literal_prefix(comment)
        if literal is None or not isinstance(node, ast.Expr):
            continue
        expr = node.value
        is_print = (
            isinstance(expr, ast.Call)
            and isinstance(expr.func, ast.Name)
            and expr.func.id == "print"
            and len(expr.args) == 1
        )
        expression = ast.unparse(expr.args[0]) if is_print else ast.unparse(expr)
        claims.append(Claim(line, expression, value=literal[0], is_print=is_print))
    return claims
