"""Inline PTX replaced by its exact C twin, so that a lab's kernel can run on CPU threads.

The CPU runner compiles CUDA C as C, and C has no PTX: an ``asm(...)`` statement cannot run
there. For the few instructions whose meaning C states exactly -- ``min``/``max`` ``.s32`` and
``.u32`` (32-bit minimum and maximum, signed or unsigned: PTX ISA "Integer Arithmetic
Instructions: min, max")
and ``mov.{b32,s32,u32}`` between registers or from an immediate -- the statement is
rewritten as C that computes the same values from the same operands; every other line of
the kernel (its indexing, its bounds guard, its loads and stores) is the student's own.
Anything else is left untranslated, and the check says so instead of running.

The C keeps the statement's lines: the block is written on the asm's first line and the
rest are left empty, so a message about line L still means the student's line L.
"""

from __future__ import annotations

import re

from ..kernels import strip_comments

_EXACT = {"min.s32": "({a} < {b} ? {a} : {b})", "max.s32": "({a} > {b} ? {a} : {b})",
          # unsigned: the same bits compared as unsigned, as the .u32 forms compare them
          "min.u32": "((unsigned){a} < (unsigned){b} ? {a} : {b})",
          "max.u32": "((unsigned){a} > (unsigned){b} ? {a} : {b})"}
_MOVES = ("mov.b32", "mov.s32", "mov.u32")


class NoTwin(ValueError):
    """The asm uses something this translation does not state exactly in C."""


def _matching(text: str, start: int) -> int:
    """Index just past the ')' that closes the '(' at ``start``, strings skipped."""
    depth, i = 0, start
    while i < len(text):
        c = text[i]
        if c == '"':
            i += 1
            while text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise NoTwin("an asm( that is never closed")


def _split_top(text: str, sep: str) -> list[str]:
    """``text`` split at ``sep`` outside strings and parentheses."""
    parts, depth, current, i = [], 0, [], 0
    while i < len(text):
        c = text[i]
        if c == '"':
            j = i + 1
            while text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            current.append(text[i:j + 1])
            i = j + 1
            continue
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        if c == sep and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(c)
        i += 1
    parts.append("".join(current))
    return parts


def _template(text: str) -> str:
    """The C string literals of ``text`` joined, with their escapes read."""
    pieces = re.findall(r'"((?:[^"\\]|\\.)*)"', text)
    return "".join(pieces).encode().decode("unicode_escape")


def _operands(text: str) -> list[tuple[str, str]]:
    """``"=r"(low), "r"(a[i])`` -> [("=r", "low"), ("r", "a[i]")]."""
    out = []
    for part in _split_top(text, ","):
        part = part.strip()
        if not part:
            continue
        m = re.fullmatch(r'"([^"]*)"\s*\((.*)\)', part, re.DOTALL)
        if m is None:
            raise NoTwin(f"an operand this translation does not read: {part}")
        out.append((m.group(1), m.group(2).strip()))
    return out


def _statement_twin(body: str, index: int) -> str:
    """The C for one ``asm(...)``'s inside (template : outputs : inputs [: clobbers])."""
    parts = _split_top(body, ":")
    template = _template(parts[0])
    outputs = _operands(parts[1]) if len(parts) > 1 else []
    inputs = _operands(parts[2]) if len(parts) > 2 else []
    operands = outputs + inputs
    for constraint, _ in operands:
        if constraint.lstrip("=+&") not in ("r", "n", "i"):
            raise NoTwin(f'the operand kind "{constraint}" (only "r" registers and immediates '
                         f'are translated)')
    # Inputs are read before any output is written, as the asm reads its registers.
    tmp = [f"py2ptx_op{index}_{k}" for k in range(len(operands))]
    lines = [f"int {tmp[k]} = (int)({expr});" for k, (c, expr) in enumerate(operands)
             if not c.startswith("=")]
    lines += [f"int {tmp[k]} = 0;" for k, (c, _) in enumerate(operands) if c.startswith("=")]

    registers: dict[str, str] = {}  # .reg names declared inside the asm -> C locals

    def value(token: str) -> str:
        token = token.strip()
        if token in registers:
            return registers[token]
        m = re.fullmatch(r"%(\d+)", token)
        if m:
            if int(m.group(1)) >= len(operands):
                raise NoTwin(f"{token} names no operand")
            return tmp[int(m.group(1))]
        if re.fullmatch(r"-?(0x[0-9a-fA-F]+|\d+)", token):
            return f"(int){token}"
        raise NoTwin(f"the operand {token}")

    for instruction in (i.strip(" \t\n{}") for i in template.split(";")):
        if not instruction:
            continue
        declared = re.fullmatch(r"\.reg\s+\.[bsu]32\s+(.+)", instruction)
        if declared:  # a scoped register: a C local, one per name
            for name in (n.strip() for n in declared.group(1).split(",")):
                registers[name] = f"py2ptx_reg{index}_{len(registers)}"
                lines.append(f"int {registers[name]} = 0;")
            continue
        op, _, rest = instruction.partition(" ")
        args = [a for a in rest.split(",")]
        if op in _EXACT and len(args) == 3:
            lines.append(f"{value(args[0])} = "
                         f"{_EXACT[op].format(a=value(args[1]), b=value(args[2]))};")
        elif op in _MOVES and len(args) == 2:
            lines.append(f"{value(args[0])} = {value(args[1])};")
        else:
            raise NoTwin(f"the instruction `{instruction}`")
    lines += [f"{expr} = {tmp[k]};" for k, (c, expr) in enumerate(operands)
              if c.startswith(("=", "+"))]
    return "{ " + " ".join(lines) + " }"


_ASM = re.compile(r"\basm\s*(?:volatile\s*|__volatile__\s*)?\(")


def c_twin(source: str) -> str:
    """``source`` with every ``asm(...);`` replaced by C that computes exactly what it does.

    Raises :class:`NoTwin` naming the first thing without an exact C twin.
    """
    source = strip_comments(source)  # an asm in a comment is no statement
    out, pos, index = [], 0, 0
    for m in _ASM.finditer(source):
        if m.start() < pos:
            continue
        end = _matching(source, m.end() - 1)
        semicolon = re.match(r"\s*;", source[end:])
        stop = end + (semicolon.end() if semicolon else 0)
        statement = source[m.start():stop]
        out.append(source[pos:m.start()])
        out.append(_statement_twin(source[m.end():end - 1], index)
                   + "\n" * statement.count("\n"))
        pos, index = stop, index + 1
    out.append(source[pos:])
    return "".join(out)
