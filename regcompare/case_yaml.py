"""Reading a case file's YAML: one document, safe-loaded with YAML 1.2 floats, the line of every key path
recorded, and every way a file can be malformed or hostile turned into a ``Problem`` (file, line, key).

Split from ``cases`` (which checks and materializes what this reads) because it needs nothing of the schema.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml

Path_ = tuple[str | int, ...]

#: YAML nodes after alias expansion; a "billion laughs" file is refused before it is built.
MAX_NODES = 1_000_000
#: Nesting of YAML collections (a tensor's dimensions count): deeper is refused before any recursion
#: can overflow, recursive aliases included.
MAX_DEPTH = 40


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    key: str
    message: str

    def __str__(self) -> str:
        key = f" {self.key}:" if self.key else ""
        return f"{self.file}:{self.line}:{key} {self.message}"


class CaseError(Exception):
    """Invalid input; ``problems`` holds every one found."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


def format_key(path: Iterable[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# --- YAML with line marks ---------------------------------------------------------------------------


Found = list[tuple[int, str, str]]
"""(line, key, message) found while walking the YAML nodes."""


def _mark_lines(node: yaml.Node, path: Path_, lines: dict[Path_, int], problems: Found, budget: list[int]) -> None:
    """Record the line of every path; count nodes as if aliases were expanded; find duplicate keys;
    refuse nesting past ``MAX_DEPTH`` (which also stops a recursive alias)."""
    budget[0] -= 1
    if budget[0] < 0:
        return
    if len(path) > MAX_DEPTH:
        budget[0] = -1  # stop the walk; the caller reports the first problem found
        deep = f"nested deeper than {MAX_DEPTH} levels (a recursive alias?)"
        problems.append((node.start_mark.line + 1, format_key(path[:4]) + "…", deep))
        return
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            # A collection as a key (``? [a]: 1``) is refused when constructed; here it only needs a name.
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else f"<{key_node.id}>"
            if key in seen:
                problems.append((key_node.start_mark.line + 1, format_key((*path, key)), "duplicate key"))
            seen.add(key)
            lines.setdefault((*path, key), key_node.start_mark.line + 1)
            _mark_lines(value_node, (*path, key), lines, problems, budget)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _mark_lines(item, (*path, i), lines, problems, budget)


_FLOAT_TAG = "tag:yaml.org,2002:float"
#: YAML 1.2's floats: an exponent needs no dot (``5e-4``, ``1E-3``) and ``.5`` is a number. PyYAML resolves
#: YAML 1.1, where ``5e-4`` is a string; YAML 1.2 is what users (and JSON) expect.
_YAML12_FLOAT = re.compile(r"""^(?:
    [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
  | [-+]?(?:[0-9][0-9_]*)[eE][-+]?[0-9]+
  | [-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?
  | [-+]?\.(?:inf|Inf|INF)
  | \.(?:nan|NaN|NAN))$""", re.VERBOSE)


def _yaml12_loader(base: type) -> type:
    """``base`` (libyaml's safe loader when PyYAML has it: 9x faster on a 10,000-file suite) with YAML 1.2
    floats; its resolver table is a copy, so PyYAML's own loaders are left as they are."""
    table = base.yaml_implicit_resolvers
    resolvers = {first: [r for r in found if r[0] != _FLOAT_TAG] for first, found in table.items()}
    loader = type("CaseLoader", (base,), {"yaml_implicit_resolvers": resolvers})
    loader.add_implicit_resolver(_FLOAT_TAG, _YAML12_FLOAT, list("-+0123456789."))
    for first in "-+0123456789.":  # floats before ints, as PyYAML orders them: "1e3" must not fall to int
        found = loader.yaml_implicit_resolvers[first]
        found.insert(0, found.pop())
    return loader


_Loader = _yaml12_loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def read_yaml(file: str, data: bytes) -> tuple[Any, dict[Path_, int]]:
    """Safe-load one YAML document, with the line of every key path."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CaseError([Problem(file, line, "", f"not UTF-8 text (byte 0x{data[exc.start]:02x})")]) from None
    try:
        loader = _Loader(text)  # the pure-Python reader refuses control characters here already
    except yaml.reader.ReaderError as exc:
        raise CaseError([_reader_problem(file, text, exc)]) from None
    try:
        node = loader.get_single_node()
        if node is None:
            raise CaseError([Problem(file, 1, "", "empty file: a case needs at least `weights`")])
        lines: dict[Path_, int] = {}
        duplicates: Found = []
        budget = [MAX_NODES]
        _mark_lines(node, (), lines, duplicates, budget)
        if budget[0] < 0 and not duplicates:
            too_big = (f"the document expands to more than {MAX_NODES:,} YAML nodes (an alias counts as what it "
                       "stands for); write large tensors as generated ones ({shape, init, seed})")
            raise CaseError([Problem(file, 1, "", too_big)])
        if duplicates:
            raise CaseError([Problem(file, ln, key, msg) for ln, key, msg in duplicates])
        return loader.construct_document(node), lines
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        where = ""
        if exc.context and exc.context_mark and exc.context_mark.line + 1 != line:
            where = f" ({exc.context} on line {exc.context_mark.line + 1})"
        raise CaseError([Problem(file, line, "", f"malformed YAML: {exc.problem or exc}{where}")]) from None
    except yaml.reader.ReaderError as exc:  # libyaml refuses control characters while parsing
        raise CaseError([_reader_problem(file, text, exc)]) from None
    except yaml.YAMLError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CaseError([Problem(file, 1, "", f"malformed YAML: {first}")]) from None
    finally:
        loader.dispose()


def _reader_problem(file: str, text: str, exc: yaml.reader.ReaderError) -> Problem:
    line = text[: exc.position].count("\n") + 1
    return Problem(file, line, "", f"not YAML text: {exc.reason} (character #x{exc.character:04x})")
