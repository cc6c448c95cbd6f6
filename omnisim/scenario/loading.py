"""Reading scenario files: formats, strategies, `--set` overrides, and problems with lines.

A scenario file is YAML (``.yaml``/``.yml``, YAML 1.2 through ruamel's round-trip loader),
TOML (``.toml``) or JSON (``.json``), a regular file of at most 1 MiB (anything else is refused
before it is read). Loading goes

    read the file -> plain data + the line of every field
    -> merge the chosen strategy's overlay -> apply `--set` overrides in order
    -> validate with :class:`~omnisim.scenario.schema.Scenario` -> cross-reference checks

and every problem found on the way is reported as one line ``FILE:LINE: field.path: message``
(the line is left out when unknown; a problem caused by an override names ``--set PATH=VALUE``
instead of a file line). List items are named in field paths by their ``name`` when they have
one (``channels.platform.commission``), else by index (``promotions.0.discount``).

:class:`ScenarioDraft` is the public way through these steps one at a time (read once, then
strategy, overrides and already-parsed values, then validate), for code that builds many
variants of one scenario: the sweep, calibration. `load_scenario` and `scenario_from_dict` are
its one-call forms.

Internally the document is kept as a tree of :class:`_Node` (value + origin), so that merging an
overlay or applying an override carries each value's origin with it: a problem in a value that
a strategy sets points at the strategy's line, not at the base line it replaced. Nothing here
mutates the caller's data or writes a file.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
import re
import stat
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from omnisim.scenario.schema import Scenario, cross_reference_problems

__all__ = [
    "ScenarioDraft",
    "ScenarioError",
    "apply_overlay",
    "apply_override",
    "load_scenario",
    "read_document",
    "scenario_digest",
    "scenario_from_dict",
    "scenario_hash",
    "strategy_names",
    "validate_file",
]

FieldPath = tuple[Any, ...]
"""A path into the data: mapping keys and list indices, as in pydantic's `loc`."""

_MAX_VALUES = 200_000  # values after expanding YAML aliases (guards against "billion laughs")


class ScenarioError(Exception):
    """Raised for any invalid input. `.problems` is a list of one-line strings, each
    'FILE:LINE: field.path: message' (LINE omitted when unknown), in file order."""

    problems: list[str]

    def __init__(self, problems: Sequence[str] | str) -> None:
        items = [problems] if isinstance(problems, str) else list(problems)
        self.problems = [" ".join(str(p).split("\n")) for p in items]
        super().__init__(self.problems)

    def __str__(self) -> str:
        return "\n".join(self.problems)


# --------------------------------------------------------------------------------------------
# Origins, problems and the annotated tree


@dataclass(frozen=True)
class _Origin:
    """Where a value came from: `where` is 'FILE:LINE', 'FILE' or '--set PATH=VALUE';
    `display` the value's field path in that source (None: name it by its place in the merged
    data); `order` sorts problems (file lines first, then overrides in the order given)."""

    where: str
    display: tuple[str, ...] | None
    order: tuple[int, int]


@dataclass(frozen=True)
class _Problem:
    where: str
    field: str
    message: str
    order: tuple[int, int]

    def __str__(self) -> str:
        parts = [self.where, self.field, self.message] if self.field else [self.where, self.message]
        return " ".join(": ".join(parts).split("\n"))


class _Problems(ScenarioError):
    """A ScenarioError that also keeps its problems as `_Problem`s (for validate_file)."""

    def __init__(self, items: Sequence[_Problem]) -> None:
        self.items = sorted(items, key=lambda p: p.order)
        super().__init__(list(dict.fromkeys(str(p) for p in self.items)))

    def __reduce__(self) -> tuple[Any, ...]:
        return ScenarioError, (self.problems,)


def _error(problems: Sequence[_Problem]) -> ScenarioError:
    """A ScenarioError of `problems` in file order, duplicates dropped."""
    return _Problems(problems)


def _file_origin(name: str, line: int | None, display: tuple[str, ...]) -> _Origin:
    if line is None:
        return _Origin(name, display, (0, 0))
    return _Origin(f"{name}:{line}", display, (0, line))


@dataclass(frozen=True)
class _Node:
    """A value (dict of _Node, list of _Node, or a scalar) and its origin (None: inherit the
    parent's). Nodes are never mutated, so trees may share them."""

    value: Any
    origin: _Origin | None


@dataclass(frozen=True)
class _Source:
    """A document as read: plain data and the 1-based line of each field path (None: the data
    came from a caller's dict and has no lines at all)."""

    name: str
    data: dict[str, Any]
    lines: dict[FieldPath, int] | None


def _item_label(item: Any, index: int) -> str:
    """How a list item is named in a field path: its `name`, else its index."""
    if isinstance(item, Mapping):
        name = item.get("name")
        if isinstance(name, str) and name:
            return name
    return str(index)


def _render(data: Any, path: FieldPath) -> tuple[str, ...]:
    """Field path segments for display, naming list items by `name` where the data has one."""
    out: list[str] = []
    cur: Any = data
    for seg in path:
        if isinstance(cur, list) and isinstance(seg, int) and 0 <= seg < len(cur):
            out.append(_item_label(cur[seg], seg))
            cur = cur[seg]
        else:
            out.append(str(seg))
            cur = cur.get(seg) if isinstance(cur, Mapping) else None
    return tuple(out)


def _annotate(src: _Source) -> _Node:
    """The annotated tree of a source document."""

    def build(value: Any, path: FieldPath, display: tuple[str, ...]) -> _Node:
        if not path:
            origin: _Origin | None = _Origin(src.name, (), (0, 0))
        elif src.lines is None:
            origin = _file_origin(src.name, None, display)
        else:
            line = src.lines.get(path)
            origin = None if line is None else _file_origin(src.name, line, display)
        if isinstance(value, dict):
            kids: Any = {k: build(v, (*path, k), (*display, str(k))) for k, v in value.items()}
        elif isinstance(value, list):
            kids = [
                build(v, (*path, i), (*display, _item_label(v, i))) for i, v in enumerate(value)
            ]
        else:
            kids = value
        return _Node(kids, origin)

    return build(src.data, (), ())


def _uniform(value: Any, origin: _Origin) -> _Node:
    """An annotated tree whose every node has the same origin (an override's value)."""
    if isinstance(value, dict):
        return _Node({k: _uniform(v, origin) for k, v in value.items()}, origin)
    if isinstance(value, list):
        return _Node([_uniform(v, origin) for v in value], origin)
    return _Node(value, origin)


def _flatten(node: _Node, path: FieldPath, origins: dict[FieldPath, _Origin]) -> Any:
    """Plain data of a tree; fills `origins` with the origin of every path that has one."""
    if node.origin is not None:
        origins[path] = node.origin
    if isinstance(node.value, dict):
        return {k: _flatten(v, (*path, k), origins) for k, v in node.value.items()}
    if isinstance(node.value, list):
        return [_flatten(v, (*path, i), origins) for i, v in enumerate(node.value)]
    return node.value


def _locate(
    path: FieldPath, data: Any, origins: Mapping[FieldPath, _Origin]
) -> tuple[_Origin, str]:
    """The origin of the deepest known prefix of `path`, and the dotted field path to show."""
    k = len(path)
    while k > 0 and path[:k] not in origins:
        k -= 1
    origin = origins.get(path[:k]) or _Origin("<data>", (), (0, 0))
    full = _render(data, path)
    head = origin.display if origin.display is not None else full[:k]
    return origin, ".".join((*head, *full[k:]))


def _problem_at(
    path: FieldPath, message: str, data: Any, origins: Mapping[FieldPath, _Origin]
) -> _Problem:
    origin, field = _locate(path, data, origins)
    return _Problem(origin.where, field, message, origin.order)


# --------------------------------------------------------------------------------------------
# Plain data


def _plain(value: Any, where: str, depth: int = 0) -> Any:
    """A deep copy of caller data as dicts, lists and scalars (tuples become lists)."""
    if depth > 200:
        raise ScenarioError([f"{where}: data nested too deeply (or recursive)"])
    if isinstance(value, Mapping):
        return {k: _plain(v, where, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, where, depth + 1) for v in value]
    return value


def _scalar(value: Any) -> Any:
    """Builtin type of a scalar (ruamel's str/int/float subclasses become plain ones)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return value


# --------------------------------------------------------------------------------------------
# YAML

_CORE = "tag:yaml.org,2002:"
_ALLOWED_TAGS = frozenset(_CORE + t for t in ("str", "int", "float", "bool", "null", "map", "seq"))
_TIMESTAMP = _CORE + "timestamp"
_MERGE = _CORE + "merge"


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_CORE) :] if tag.startswith(_CORE) else tag


def _node_label(node: Node, index: int) -> str:
    if isinstance(node, MappingNode):
        for k, v in node.value:
            if isinstance(k, ScalarNode) and k.value == "name" and isinstance(v, ScalarNode):
                return str(v.value) or str(index)
    return str(index)


def _yaml_where(name: str, line: int | None, with_lines: bool) -> tuple[str, tuple[int, int]]:
    if with_lines and line is not None:
        return f"{name}:{line}", (0, line)
    return name, (0, 0)


def _check_yaml_nodes(
    root: Node, name: str, with_lines: bool
) -> tuple[list[_Problem], dict[FieldPath, str]]:
    """Refuse explicit non-core tags, complex keys and duplicate keys, before anything is
    constructed. Returns the problems and the source text of implicit timestamps (which YAML
    1.2's core schema does not have: they stay strings)."""
    problems: list[_Problem] = []
    stamps: dict[FieldPath, str] = {}
    seen: set[int] = set()

    def add(node: Node, display: tuple[str, ...], message: str) -> None:
        where, order = _yaml_where(name, node.start_mark.line + 1, with_lines)
        problems.append(_Problem(where, ".".join(display), message, order))

    def tag_ok(node: Node) -> bool:
        tag = node.tag or ""
        if tag in _ALLOWED_TAGS:
            return True
        # ruamel resolves a plain `2024-01-01` to a timestamp; an explicit `!!timestamp` is
        # written by the user (ctag.handle set) and refused like any other non-core tag.
        return tag == _TIMESTAMP and getattr(node.ctag, "handle", None) is None

    def refused(node: Node) -> str:
        return (
            f"tag {_short_tag(node.tag or '?')!r} is not allowed: a scenario holds only plain "
            "data (mappings, lists, strings, numbers, booleans, null)"
        )

    def visit(node: Node, path: FieldPath, display: tuple[str, ...]) -> None:
        if id(node) in seen:  # an alias of a node already checked
            return
        seen.add(id(node))
        if not tag_ok(node):
            add(node, display, refused(node))
            return
        if isinstance(node, MappingNode):
            first: dict[tuple[str, str], int] = {}
            for key, val in node.value:
                if isinstance(key, ScalarNode) and key.tag == _MERGE:
                    visit(val, path, display)
                    continue
                if not isinstance(key, ScalarNode):
                    add(key, display, "a mapping key must be a plain scalar")
                    continue
                kdisplay = (*display, str(key.value))
                if not tag_ok(key):
                    add(key, kdisplay, refused(key))
                    continue
                ident = (key.tag or "", key.value)
                line = key.start_mark.line + 1
                if ident in first:
                    add(key, kdisplay, f"duplicate key (first defined at line {first[ident]})")
                    continue
                first[ident] = line
                visit(val, (*path, key.value), kdisplay)
        elif isinstance(node, SequenceNode):
            for i, item in enumerate(node.value):
                visit(item, (*path, i), (*display, _node_label(item, i)))
        elif node.tag == _TIMESTAMP:
            stamps[path] = str(node.value)

    visit(root, (), ())
    return problems, stamps


def _check_yaml_size(root: Node, name: str, with_lines: bool) -> None:
    """Refuse recursive aliases and documents whose aliases expand to too many values."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            where, order = _yaml_where(name, node.start_mark.line + 1, with_lines)
            raise _error(
                [_Problem(where, "", "recursive alias (a node that contains itself)", order)]
            )
        active.add(key)
        total = 1
        if isinstance(node, MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        elif isinstance(node, SequenceNode):
            total += sum(size(v) for v in node.value)
        active.discard(key)
        sizes[key] = total
        return total

    if size(root) > _MAX_VALUES:
        raise ScenarioError(
            [f"{name}: too many values once aliases are expanded (more than {_MAX_VALUES:,})"]
        )


def _yaml_problem(exc: BaseException, name: str, with_lines: bool) -> _Problem:
    """One line for a ruamel error: the parser's short reason at its line."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    reason = getattr(exc, "problem", None) or getattr(exc, "context", None)
    context = getattr(exc, "context", None)
    if reason and context and reason != context and reason.startswith("but "):
        reason = f"{context} {reason}"  # e.g. "expected a single document ... but found ..."
    if not reason:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if mark is not None:
        reason = f"{reason} (column {mark.column + 1})"
    where, order = _yaml_where(name, line, with_lines)
    return _Problem(where, "", f"YAML error: {reason}", order)


def _yaml_key_line(mapping: CommentedMap, key: Any) -> int | None:
    """1-based line of `key` in a ruamel mapping, following `<<` merges to the anchor."""
    try:
        pos = mapping.lc.key(key)
    except (KeyError, AttributeError, TypeError):
        pos = None
    if pos is not None:
        return int(pos[0]) + 1
    for merged in getattr(mapping, "merge", None) or ():
        source = merged[1] if isinstance(merged, tuple) else merged
        if isinstance(source, CommentedMap) and key in source:
            return _yaml_key_line(source, key)
    return None


def _yaml_item_line(seq: CommentedSeq, index: int) -> int | None:
    try:
        pos = seq.lc.item(index)
    except (KeyError, AttributeError, TypeError, IndexError):
        return None
    return None if pos is None else int(pos[0]) + 1


def _parse_yaml(text: str, name: str, with_lines: bool = True) -> tuple[Any, dict[FieldPath, int]]:
    """Plain data of a YAML 1.2 text and the line of each field path."""
    yaml = YAML(typ="rt")
    try:
        root = yaml.compose(text)
    except (YAMLError, RecursionError) as exc:
        raise _error([_yaml_problem(exc, name, with_lines)]) from None
    if root is None:
        return None, {}
    problems, stamps = _check_yaml_nodes(root, name, with_lines)
    if problems:
        raise _error(problems)
    _check_yaml_size(root, name, with_lines)
    try:
        loaded = yaml.load(text)
    except (YAMLError, RecursionError) as exc:
        raise _error([_yaml_problem(exc, name, with_lines)]) from None

    lines: dict[FieldPath, int] = {}

    def convert(value: Any, path: FieldPath) -> Any:
        if isinstance(value, dict):
            out: dict[Any, Any] = {}
            for k, v in value.items():
                key = _scalar(k)
                line = _yaml_key_line(value, k) if isinstance(value, CommentedMap) else None
                if line is not None:
                    lines[(*path, key)] = line
                out[key] = convert(v, (*path, key))
            return out
        if isinstance(value, list):
            items = []
            for i, v in enumerate(value):
                line = _yaml_item_line(value, i) if isinstance(value, CommentedSeq) else None
                if line is not None:
                    lines[(*path, i)] = line
                items.append(convert(v, (*path, i)))
            return items
        if isinstance(value, TaggedScalar):  # only an explicit `!!str` gets this far
            return str(value.value)
        if isinstance(value, datetime | date):
            return stamps.get(path, value.isoformat())
        plain = _scalar(value)
        if plain is not None and not isinstance(plain, bool | int | float | str):
            raise ScenarioError([f"{name}: {'.'.join(map(str, path))}: unsupported value"])
        return plain

    return convert(loaded, ()), lines


# --------------------------------------------------------------------------------------------
# JSON and TOML (which keep no positions: lines are found by scanning the text)


class _LineIndex:
    def __init__(self, text: str) -> None:
        self._starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line(self, offset: int) -> int:
        return bisect.bisect_right(self._starts, offset)


def _parse_json(text: str, name: str) -> tuple[Any, dict[FieldPath, int]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenarioError([f"{name}:{exc.lineno}: JSON error: {exc.msg}"]) from None
    except RecursionError:
        raise ScenarioError([f"{name}: JSON nested too deeply"]) from None
    index = _LineIndex(text)
    lines: dict[FieldPath, int] = {}
    duplicates: list[str] = []
    space = re.compile(r"[ \t\n\r]*")
    decoder = json.JSONDecoder()

    def skip(pos: int) -> int:
        return space.match(text, pos).end()  # type: ignore[union-attr]

    def walk(pos: int, path: FieldPath) -> int:
        """Records positions below the value starting at `pos`; returns where it ends."""
        pos = skip(pos)
        if text[pos] == "{":
            pos = skip(pos + 1)
            first: dict[str, int] = {}
            while text[pos] != "}":
                key, after = json.decoder.scanstring(text, pos + 1)
                line = index.line(pos)
                if key in first:
                    field = ".".join(_render(data, (*path, key)))
                    duplicates.append(
                        f"{name}:{line}: {field}: duplicate key (first defined at line "
                        f"{first[key]})"
                    )
                else:
                    first[key] = line
                lines[(*path, key)] = line
                pos = walk(skip(after) + 1, (*path, key))  # past the ':'
                pos = skip(pos)
                if text[pos] == ",":
                    pos = skip(pos + 1)
            return pos + 1
        if text[pos] == "[":
            pos = skip(pos + 1)
            i = 0
            while text[pos] != "]":
                lines[(*path, i)] = index.line(pos)
                pos = skip(walk(pos, (*path, i)))
                if text[pos] == ",":
                    pos = skip(pos + 1)
                i += 1
            return pos + 1
        return decoder.raw_decode(text, pos)[1]

    walk(0, ())
    if duplicates:
        raise ScenarioError(duplicates)
    return data, lines


_TOML_ERROR_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_TOML_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\[\]#]+?)\s*\]\]?\s*(?:#.*)?$")
_TOML_BARE = re.compile(r"[A-Za-z0-9_-]+")


def _toml_key_parts(header: str) -> tuple[str, ...] | None:
    """Keys of a table header's dotted key; None if it does not look like one."""
    parts = []
    for raw in re.findall(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'|[^.]+', header):
        part = raw.strip()
        if part[:1] in "\"'":
            part = part[1:-1]
        elif not _TOML_BARE.fullmatch(part):
            return None
        parts.append(part)
    return tuple(parts)


def _toml_lines(data: dict[str, Any], text: str) -> dict[FieldPath, int]:
    """Best-effort line of each field path in a TOML text: a key's first occurrence after its
    parent's line (as `key =`, a dotted `key.x =`, or a `[table]`/`[[array]]` header)."""
    rows = text.splitlines()
    headers: dict[int, tuple[tuple[str, ...], bool]] = {}
    for i, row in enumerate(rows):
        m = _TOML_HEADER.match(row)
        if m:
            parts = _toml_key_parts(m.group(2))
            if parts:
                headers[i] = (parts, m.group(1) == "[[")
    out: dict[FieldPath, int] = {}

    def key_pattern(key: str) -> re.Pattern[str]:
        forms = [re.escape(json.dumps(key)), "'" + re.escape(key) + "'"]
        if _TOML_BARE.fullmatch(key):
            forms.append(re.escape(key))
        return re.compile(r"(?:^|[{,.\s])(?:" + "|".join(forms) + r")\s*[=.]")

    def find_key(tkeys: tuple[str, ...], key: str, start: int) -> int | None:
        pattern = key_pattern(key)
        want = (*tkeys, key)
        for i in range(max(start, 0), len(rows)):
            if i in headers:
                if headers[i][0][: len(want)] == want:
                    return i
            elif pattern.search(rows[i]):
                return i
        return None

    def find_scalar(value: Any, start: int) -> int | None:
        if isinstance(value, str):
            needles = [json.dumps(value), f"'{value}'"]
        elif isinstance(value, bool):
            needles = ["true" if value else "false"]
        elif isinstance(value, int | float):
            needles = [str(value)]
        else:
            return None
        for i in range(max(start, 0), len(rows)):
            if any(n in rows[i] for n in needles):
                return i
        return None

    def walk(value: Any, path: FieldPath, tkeys: tuple[str, ...], line: int) -> int:
        end = line
        if isinstance(value, dict):
            cursor = line
            for k, v in value.items():
                ln = find_key(tkeys, str(k), cursor)
                if ln is None:
                    ln = find_key(tkeys, str(k), line)
                if ln is None:
                    end = max(end, walk(v, (*path, k), (*tkeys, str(k)), line))
                    continue
                out[(*path, k)] = ln + 1
                cursor = max(cursor, ln, walk(v, (*path, k), (*tkeys, str(k)), ln))
                end = max(end, cursor)
        elif isinstance(value, list):
            arrays = [i for i, (parts, is_array) in headers.items() if is_array and parts == tkeys]
            arrays = [i for i in arrays if i >= line]
            use_headers = (
                bool(value)
                and all(isinstance(v, dict) for v in value)
                and (len(arrays) >= len(value))
            )
            cursor = line
            for i, item in enumerate(value):
                if use_headers:
                    ln: int | None = arrays[i]
                elif isinstance(item, dict) and item:
                    ln = find_key(tkeys, str(next(iter(item))), cursor)
                else:
                    ln = find_scalar(item, cursor)
                if ln is None:
                    continue
                out[(*path, i)] = ln + 1
                cursor = max(cursor, ln, walk(item, (*path, i), tkeys, ln))
                end = max(end, cursor)
        return end

    walk(data, (), (), 0)
    return out


def _parse_toml(text: str, name: str) -> tuple[Any, dict[FieldPath, int]]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        m = _TOML_ERROR_AT.search(message)
        if m:
            reason = message[: m.start()]
            raise ScenarioError([f"{name}:{m.group(1)}: TOML error: {reason}"]) from None
        raise ScenarioError([f"{name}: TOML error: {message}"]) from None
    plain = _plain_toml(data)
    return plain, _toml_lines(plain, text)


def _plain_toml(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain_toml(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_toml(v) for v in value]
    return _scalar(value)


# --------------------------------------------------------------------------------------------
# Reading files

_PARSERS = {".yaml": _parse_yaml, ".yml": _parse_yaml, ".toml": _parse_toml, ".json": _parse_json}


MAX_FILE_BYTES = 2**20
"""Largest scenario file read (1 MiB): real scenarios are a few kB (the examples 10-40 kB), and
a larger file is a mistake (a data file, a log). The round-trip YAML reader's time grows faster
than the file (measured here: 0.3 s for 256 KiB, 2.8 s for 1 MiB of comment lines, and over ten
minutes for a single 5 MiB line), so a larger limit would let a file hold a run up for
minutes."""

_NOT_REGULAR = (
    (stat.S_ISDIR, "is a folder, not a file"),
    (stat.S_ISFIFO, "is a named pipe (FIFO), not a regular file"),
    (stat.S_ISCHR, "is a character device, not a regular file"),
    (stat.S_ISBLK, "is a block device, not a regular file"),
    (stat.S_ISSOCK, "is a socket, not a regular file"),
)


def _kind_problem(mode: int) -> str | None:
    """Why a file of this `st_mode` cannot be a scenario (None: a regular file)."""
    if stat.S_ISREG(mode):
        return None
    for test, why in _NOT_REGULAR:
        if test(mode):
            return why
    return "is not a regular file"


def _too_large(size: int | None) -> str:
    """The refusal of a file of `size` bytes (None: only known to be over the limit)."""
    what = f"{size:,} bytes" if size is not None else f"more than {MAX_FILE_BYTES:,} bytes"
    return f"file too large ({what}; a scenario file may have at most {_limit_text()})"


def _limit_text() -> str:
    mib = MAX_FILE_BYTES / 2**20
    return f"{mib:g} MiB" if mib >= 1 else f"{MAX_FILE_BYTES:,} bytes"


def _read_bytes(name: str) -> bytes:
    """The bytes of a scenario file, refusing anything that is not a regular file of at most
    MAX_FILE_BYTES without reading it whole: a symlink to /dev/zero or a FIFO must not hang
    or fill memory."""

    def refuse(why: str) -> ScenarioError:
        return ScenarioError([f"{name}: {why}"])

    def cannot(exc: OSError) -> ScenarioError:
        if isinstance(exc, FileNotFoundError):
            return refuse("file not found")
        return refuse(f"cannot read the file: {exc.strerror or exc}")

    # stat before open: opening a device or a FIFO can block or have side effects.
    try:
        info = os.stat(name)
    except OSError as exc:
        raise cannot(exc) from None
    except ValueError as exc:  # e.g. an embedded NUL byte: no such file can exist
        raise refuse(f"cannot read the file: {exc}") from None
    why = _kind_problem(info.st_mode)
    if why is not None:
        raise refuse(why)
    if info.st_size > MAX_FILE_BYTES:
        raise refuse(_too_large(info.st_size))
    try:
        # O_NONBLOCK: should the path have become a FIFO since the stat, open does not wait for
        # a writer; fstat of the open file then refuses it.
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise cannot(exc) from None
    with os.fdopen(fd, "rb") as f:
        try:
            why = _kind_problem(os.fstat(f.fileno()).st_mode)
            if why is not None:
                raise refuse(why)
            # At most one byte past the limit: a file that grows after the stat, or one whose
            # size the system does not report (some /proc files say 0), is still cut off.
            raw = f.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise cannot(exc) from None
    if len(raw) > MAX_FILE_BYTES:
        raise refuse(_too_large(None))
    return raw


def _read(path: str | os.PathLike[str]) -> _Source:
    name = os.fspath(path)
    suffix = Path(name).suffix
    parser = _PARSERS.get(suffix.lower())
    if parser is None:
        raise ScenarioError(
            [
                f"{name}: unsupported file type {suffix or '(none)'!r}: "
                "use .yaml, .yml, .toml or .json"
            ]
        )
    raw = _read_bytes(name)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ScenarioError([f"{name}:{line}: not valid UTF-8 text"]) from None
    data, lines = parser(text, name)
    if not isinstance(data, dict):
        what = "empty" if data is None else f"a {type(data).__name__}"
        raise ScenarioError(
            [f"{name}: the document must be a mapping of scenario fields; it is {what}"]
        )
    return _Source(name, data, lines)


def _from_dict(data: Mapping[str, Any], source: str) -> _Source:
    if not isinstance(data, Mapping):
        raise ScenarioError([f"{source}: a scenario must be a mapping, not {type(data).__name__}"])
    return _Source(source, _plain(data, source), None)


# --------------------------------------------------------------------------------------------
# Strategies (overlays)


def _is_named_list(items: list[_Node]) -> bool:
    return all(isinstance(n.value, dict) and "name" in n.value for n in items)


def _name(node: _Node) -> Any:
    return node.value["name"].value


def _merge(base: _Node, over: _Node, problems: list[_Problem]) -> _Node:
    """Deep merge of annotated trees (see `apply_overlay`). Containers present in both keep the
    base's origin; values the overlay sets carry the overlay's."""
    if isinstance(base.value, dict) and isinstance(over.value, dict):
        merged = dict(base.value)
        for key, value in over.value.items():
            if key in merged:
                merged[key] = _merge(merged[key], value, problems)
            else:
                merged[key] = value
        return _Node(merged, base.origin)
    if (
        isinstance(base.value, list)
        and isinstance(over.value, list)
        and over.value
        and _is_named_list(base.value)
        and _is_named_list(over.value)
    ):
        items = list(base.value)
        for item in over.value:
            index = next((i for i, n in enumerate(items) if _name(n) == _name(item)), None)
            remove = item.value.get("remove")
            if remove is not None and remove.value is True:
                if index is None:
                    origin = item.origin or over.origin or _Origin("<overlay>", (), (0, 0))
                    field = ".".join(origin.display or ())
                    message = f"no item named {_name(item)!r} to remove"
                    problems.append(_Problem(origin.where, field, message, origin.order))
                else:
                    del items[index]
            elif index is None:
                items.append(item)
            else:
                items[index] = _merge(items[index], item, problems)
        return _Node(items, base.origin)
    return over


def _overlay_tree(base: _Node, over: _Node) -> _Node:
    if isinstance(over.value, dict) and "strategies" in over.value:
        origin = over.value["strategies"].origin or over.origin
        assert origin is not None
        field = ".".join(origin.display or ("strategies",))
        raise _error(
            [_Problem(origin.where, field, "an overlay cannot set `strategies`", origin.order)]
        )
    problems: list[_Problem] = []
    merged = _merge(base, over, problems)
    if problems:
        raise _error(problems)
    return merged


def _strategy_map(src: _Source) -> dict[str, Any]:
    strategies = src.data.get("strategies")
    if strategies is None:
        return {}
    if not isinstance(strategies, dict):
        line = (src.lines or {}).get(("strategies",))
        where = src.name if line is None else f"{src.name}:{line}"
        raise ScenarioError([f"{where}: strategies: must be a mapping of strategy name to overlay"])
    return strategies


def _with_strategy(tree: _Node, src: _Source, strategy: str) -> _Node:
    strategies = _strategy_map(src)
    if strategy not in strategies:
        line = (src.lines or {}).get(("strategies",))
        where = src.name if line is None else f"{src.name}:{line}"
        known = ", ".join(map(str, strategies)) if strategies else "(none defined)"
        raise ScenarioError(
            [f"{where}: strategies: unknown strategy {strategy!r}; known strategies: {known}"]
        )
    over = tree.value["strategies"].value[strategy]
    if over.value is None:
        over = _Node({}, over.origin)
    if not isinstance(over.value, dict):
        origin = over.origin or tree.value["strategies"].origin
        assert origin is not None
        field = ".".join(origin.display or ("strategies", strategy))
        raise _error(
            [
                _Problem(
                    origin.where,
                    field,
                    "a strategy must be a mapping (a partial scenario)",
                    origin.order,
                )
            ]
        )
    return _overlay_tree(tree, over)


# --------------------------------------------------------------------------------------------
# Overrides


def _parse_assignment(assignment: str) -> tuple[str, list[str], Any]:
    """Label, path segments and parsed value of 'dotted.path=value'."""
    if not isinstance(assignment, str):
        raise ScenarioError([f"--set {assignment!r}: expected a string PATH=VALUE"])
    label = f"--set {assignment}"
    if "=" not in assignment:
        raise ScenarioError([f"{label}: expected PATH=VALUE (no '=' found)"])
    raw_path, raw_value = assignment.split("=", 1)
    raw_path = raw_path.strip()
    if not raw_path:
        raise ScenarioError([f"{label}: empty path before '='"])
    segments = [s.strip() for s in raw_path.split(".")]
    if not all(segments):
        raise ScenarioError([f"{label}: empty segment in path {raw_path!r}"])
    value, _ = _parse_yaml(raw_value, label, with_lines=False)
    return label, segments, value


def _node_item_label(node: _Node, index: int) -> str:
    name = node.value.get("name") if isinstance(node.value, dict) else None
    return _item_label({"name": name.value} if name is not None else {}, index)


def _find_item(items: list[_Node], segment: str) -> int | None:
    """Index of a list item addressed by a path segment: an integer index, else a `name`."""
    if re.fullmatch(r"[0-9]+", segment):
        index = int(segment)
        return index if index < len(items) else None
    for i, node in enumerate(items):
        name = node.value.get("name") if isinstance(node.value, dict) else None
        if name is not None and str(name.value) == segment:
            return i
    return None


def _set_path(
    node: _Node, segments: list[str], new: _Node, label: str, done: tuple[str, ...]
) -> _Node:
    segment, rest = segments[0], segments[1:]
    here = ".".join(done)
    if isinstance(node.value, dict):
        children = dict(node.value)
        if not rest:
            children[segment] = new
        else:
            child = children.get(segment)
            if child is None or child.value is None:
                child = _Node({}, new.origin)  # a missing mapping on the way is created
            children[segment] = _set_path(child, rest, new, label, (*done, segment))
        return _Node(children, node.origin)
    if isinstance(node.value, list):
        index = _find_item(node.value, segment)
        if index is None:
            known = ", ".join(_node_item_label(n, i) for i, n in enumerate(node.value))
            raise ScenarioError(
                [f"{label}: {here}: no list item {segment!r} (items: {known or 'none'})"]
            )
        items = list(node.value)
        if rest:
            step = (*done, _node_item_label(items[index], index))
            items[index] = _set_path(items[index], rest, new, label, step)
        else:
            items[index] = new
        return _Node(items, node.origin)
    where = f"{here}: " if here else ""
    raise ScenarioError(
        [f"{label}: {where}{node.value!r} is not a mapping or a list: no {segment!r} in it"]
    )


def _override_tree(tree: _Node, assignment: str, index: int) -> _Node:
    label, segments, value = _parse_assignment(assignment)
    new = _uniform(value, _Origin(label, None, (1, index)))
    return _set_path(tree, segments, new, label, ())


# --------------------------------------------------------------------------------------------
# Validation

_BRANCH_NAMES = frozenset({"float", "int", "str", "bool", "none", "dict", "list", "bytes"})


def _is_branch(segment: Any) -> bool:
    """Whether a `loc` segment names a union member (pydantic's 'float',
    'dict[str,constrained-float]', 'function-after[...]', a model class name...)."""
    if not isinstance(segment, str):
        return False
    return segment in _BRANCH_NAMES or any(c in segment for c in "[]-,") or segment[:1].isupper()


def _has(container: Any, segment: Any) -> bool:
    if isinstance(container, dict):
        return segment in container
    return (
        isinstance(container, list)
        and isinstance(segment, int)
        and not isinstance(segment, bool)
        and 0 <= segment < len(container)
    )


def _split_loc(loc: tuple[Any, ...], data: Any) -> tuple[FieldPath, FieldPath | None, Any]:
    """A pydantic `loc` as a data path, plus the path of the first union it went through
    (None if none) and the union member named there."""
    path: list[Any] = []
    cur: Any = data
    present = True
    site: FieldPath | None = None
    branch: Any = None
    for seg in loc:
        if present and _has(cur, seg):
            path.append(seg)
            cur = cur[seg]
        elif seg == "[key]":
            continue
        elif _is_branch(seg):
            if site is None:
                site, branch = tuple(path), seg
        else:
            path.append(seg)
            present = False
    return tuple(path), site, branch


def _is_mismatch(error: Mapping[str, Any]) -> bool:
    kind = str(error.get("type", ""))
    return kind.endswith("_type") or kind.endswith("_parsing")


def _join_alternatives(messages: list[str]) -> str:
    prefix = "Input should be "
    if messages and all(m.startswith(prefix) for m in messages):
        parts = list(dict.fromkeys(m[len(prefix) :].split(",")[0] for m in messages))
        return prefix + " or ".join(parts)
    return "; ".join(dict.fromkeys(messages))


def _message(error: Mapping[str, Any]) -> str:
    # A model validator's ValueError reaches us as "Value error, <text>": the prefix names
    # pydantic's error kind, not anything the scenario's author can act on.
    return str(error["msg"]).removeprefix("Value error, ")


def _validation_findings(err: ValidationError, data: Any) -> list[tuple[FieldPath, str]]:
    """(data path, message) per pydantic error, with union members folded: the member the
    input's type matched if any, else one line listing what the input should be."""
    slots: list[tuple[str, FieldPath, str]] = []  # ("one", path, message) or ("union", site, "")
    unions: dict[FieldPath, dict[Any, list[tuple[FieldPath, Mapping[str, Any]]]]] = {}
    for error in err.errors(include_url=False, include_input=False, include_context=False):
        path, site, branch = _split_loc(tuple(error["loc"]), data)
        if site is None:
            note = " (the key, not its value)" if "[key]" in error["loc"] else ""
            slots.append(("one", path, _message(error) + note))
            continue
        if site not in unions:
            unions[site] = {}
            slots.append(("union", site, ""))
        unions[site].setdefault(branch, []).append((path, error))
    out: list[tuple[FieldPath, str]] = []
    for kind, path, message in slots:
        if kind == "one":
            out.append((path, message))
            continue
        branches = unions[path].values()
        matched = [errs for errs in branches if not all(_is_mismatch(e) for _, e in errs)]
        if matched:
            out.extend((p, _message(e)) for errs in matched for p, e in errs)
        else:
            messages = [_message(e) for errs in branches for _, e in errs]
            out.append((path, _join_alternatives(messages)))
    return out


def _validate(data: dict[str, Any], origins: Mapping[FieldPath, _Origin]) -> Scenario:
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as err:
        findings = _validation_findings(err, data)
        raise _error([_problem_at(p, m, data, origins) for p, m in findings]) from None
    cross = cross_reference_problems(scenario)
    if cross:
        raise _error([_problem_at(tuple(loc), m, data, origins) for loc, m in cross])
    return scenario


# --------------------------------------------------------------------------------------------
# Drafts: the public way to assemble a scenario step by step


def _value_text(value: Any) -> str:
    """`value` as the right-hand side of a `--set` assignment, for a label: a string as it
    is, anything else as JSON (which YAML 1.2 reads back: 3, 0.5, true, null, [1, 2])."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=True)
    except (TypeError, ValueError):
        return repr(value)


@dataclass(frozen=True, eq=False, repr=False)
class ScenarioDraft:
    """A scenario being assembled: a file's or a mapping's data, an optional strategy and
    overrides, not yet validated. Every ``with_...`` method returns a new draft and leaves
    this one as it was, so one draft can be the common base of many variants (a sweep's rows,
    a calibration's trials) at the cost of only the values that differ::

        base = ScenarioDraft.from_file("scenarios/quickstart.yaml").with_strategy("promo")
        sc = base.with_override("market.consumers=5000").validate()
        for share in (0.1, 0.2):
            variant = base.with_value("channels.web.commission", share).validate()

    ``validate()`` gives exactly the `Scenario` and the problems of
    ``load_scenario(path, strategy, overrides)``: each problem one line
    ``FILE:LINE: field.path: message``, or ``--set PATH=VALUE: field.path: message`` for a
    value an override (or `with_value`) set, sorted by line and then by the order the
    overrides were applied.

    Errors in the steps themselves (an unknown strategy, an override that is not
    ``PATH=VALUE`` or names a missing list item) raise :class:`ScenarioError` at once, from
    the method that meets them. Make drafts with :meth:`from_file` or :meth:`from_dict`, not
    with the constructor.
    """

    _source: _Source
    _root: _Node  # the annotated source document (before any strategy)
    _tree: _Node  # the document with the strategy and every change applied
    _strategy: str | None = None
    _changes: tuple[str, ...] = ()  # the label of each override / value, in order

    # ---- making drafts

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> ScenarioDraft:
        """The draft of a scenario file (YAML, TOML or JSON; see the module docstring).
        Raises ScenarioError if the file cannot be read or parsed."""
        return cls._of(_read(path))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<dict>") -> ScenarioDraft:
        """The draft of scenario data already in memory (copied: later changes to `data` do
        not reach the draft). Problems are named after `source`, without line numbers."""
        return cls._of(_from_dict(data, source))

    @classmethod
    def _of(cls, src: _Source) -> ScenarioDraft:
        root = _annotate(src)
        return cls(src, root, root)

    # ---- what a draft holds

    @property
    def source(self) -> str:
        """The file name (or the `source` given to `from_dict`) problems are named after."""
        return self._source.name

    @property
    def strategy(self) -> str | None:
        """The strategy applied (None: the base scenario)."""
        return self._strategy

    @property
    def changes(self) -> tuple[str, ...]:
        """The ``--set PATH=VALUE`` label of every override and value applied, in order."""
        return self._changes

    def strategy_names(self) -> list[str]:
        """The names of the source's strategies, in file order."""
        return [str(name) for name in _strategy_map(self._source)]

    def to_dict(self) -> dict[str, Any]:
        """The merged data (strategy and changes applied, not validated) as new plain dicts,
        lists and scalars: what `scenario_hash` digests."""
        return _flatten(self._tree, (), {})

    def __repr__(self) -> str:
        return (
            f"ScenarioDraft(source={self.source!r}, strategy={self._strategy!r}, "
            f"changes={list(self._changes)!r})"
        )

    # ---- new drafts

    def with_strategy(self, name: str | None) -> ScenarioDraft:
        """This draft with strategy `name`'s overlay merged onto the base (replacing any
        strategy chosen before; None: no strategy).

        The strategy comes before every override, as in `load_scenario`; choosing it after
        one would make an override's meaning depend on call order, so that is a ValueError.
        An unknown strategy, or one that is not a mapping, is a ScenarioError.
        """
        if self._changes:
            raise ValueError(
                "choose the strategy before any override or value: "
                f"this draft already has {list(self._changes)!r}"
            )
        tree = self._root if name is None else _with_strategy(self._root, self._source, name)
        return ScenarioDraft(self._source, self._root, tree, name)

    def with_override(self, assignment: str) -> ScenarioDraft:
        """This draft with one ``dotted.path=value`` assignment applied, exactly as
        ``--set`` applies it (see `apply_override` for the path and value syntax). Raises
        ScenarioError if the text is not an assignment or its path cannot be followed."""
        label, segments, value = _parse_assignment(assignment)
        return self._set(segments, value, label)

    def with_overrides(self, assignments: Sequence[str]) -> ScenarioDraft:
        """This draft with each assignment applied in order (`with_override`); a single
        string is one assignment."""
        if isinstance(assignments, str):
            assignments = [assignments]
        draft = self
        for assignment in assignments:
            draft = draft.with_override(assignment)
        return draft

    def with_value(self, path: str, value: Any, label: str | None = None) -> ScenarioDraft:
        """This draft with the field at dotted `path` set to `value`, an already-parsed value
        (a number, string, bool, None, or lists and mappings of them), as
        ``with_override(f"{path}={text}")`` would set it but without parsing text: the YAML
        reader costs about 1 ms per value, which matters for thousands of design rows.

        `label` names the change in problems; by default ``--set PATH=TEXT`` with the value
        written as `--set` would read it back, so a bad value reads exactly as the equivalent
        override. Pass the text the user wrote when it differs (e.g. `0.10` for 0.1).
        """
        if label is None:
            label = f"--set {path}={_value_text(value)}"
        if not isinstance(path, str) or not path.strip():
            raise ScenarioError([f"{label}: empty path before '='"])
        segments = [s.strip() for s in path.split(".")]
        if not all(segments):
            raise ScenarioError([f"{label}: empty segment in path {path.strip()!r}"])
        # Copied (tuples become lists), so the caller's containers never reach the tree.
        return self._set(segments, _plain(value, label), label)

    def _set(self, segments: list[str], value: Any, label: str) -> ScenarioDraft:
        # The order (1, k) sorts an override's problems after every file line and in the
        # order the changes were made, as load_scenario sorts its `overrides`.
        new = _uniform(value, _Origin(label, None, (1, len(self._changes))))
        tree = _set_path(self._tree, segments, new, label, ())
        return ScenarioDraft(
            self._source, self._root, tree, self._strategy, (*self._changes, label)
        )

    # ---- the result

    def validate(self) -> Scenario:
        """The validated scenario (field checks, then cross-reference checks). Raises
        ScenarioError with every problem found, each located as the class docstring says."""
        origins: dict[FieldPath, _Origin] = {}
        data = _flatten(self._tree, (), origins)
        return _validate(data, origins)


# --------------------------------------------------------------------------------------------
# Public functions


def load_scenario(
    path: str | Path, strategy: str | None = None, overrides: Sequence[str] = ()
) -> Scenario:
    """Read and validate a scenario file (YAML, TOML or JSON).

    `strategy` names an overlay of the file's `strategies:` mapping, deep-merged onto the base
    first (None: the base scenario as written); `overrides` are 'dotted.path=value'
    assignments applied after it, in order. Raises ScenarioError with every problem found.
    """
    return (
        ScenarioDraft.from_file(path).with_strategy(strategy).with_overrides(overrides).validate()
    )


def scenario_from_dict(
    data: Mapping[str, Any],
    strategy: str | None = None,
    overrides: Sequence[str] = (),
    source: str = "<dict>",
) -> Scenario:
    """Like `load_scenario`, for data already in memory; problems are named after `source`
    (no line numbers). `data` is not modified."""
    draft = ScenarioDraft.from_dict(data, source).with_strategy(strategy)
    return draft.with_overrides(overrides).validate()


def read_document(path: str | Path) -> dict[str, Any]:
    """The file's data as written (no strategy, no validation), as plain dicts, lists and
    scalars. Raises ScenarioError if the file cannot be read or parsed."""
    return _read(path).data


def strategy_names(path_or_data: str | Path | Mapping[str, Any]) -> list[str]:
    """Names of the strategies of a scenario file or of scenario data, in file order."""
    if isinstance(path_or_data, Mapping):
        src = _from_dict(path_or_data, "<dict>")
    else:
        src = _read(path_or_data)
    return [str(name) for name in _strategy_map(src)]


def validate_file(path: str | Path, overrides: Sequence[str] = ()) -> list[str]:
    """Every problem of the base scenario and of each strategy applied to it ([] if all are
    valid). `overrides` ('dotted.path=value') are applied to the base and, after its overlay,
    to each strategy, as `load_scenario(path, strategy, overrides)` applies them. A strategy's
    problem that the base does not have and that is not located in the strategy itself is
    marked with the strategy's name."""
    try:
        base_draft = ScenarioDraft.from_file(path)
    except ScenarioError as err:
        return list(err.problems)

    def problems_of(strategy: str | None) -> list[_Problem] | list[str]:
        try:
            base_draft.with_strategy(strategy).with_overrides(overrides).validate()
        except ScenarioError as err:
            return err.items if isinstance(err, _Problems) else list(err.problems)
        return []

    base = [str(p) for p in problems_of(None)]
    out = list(dict.fromkeys(base))
    try:
        names = base_draft.strategy_names()
    except ScenarioError as err:
        return out + [p for p in err.problems if p not in out]
    for name in names:
        found = problems_of(name)
        for p in found:
            text = str(p)
            if text in out:
                continue
            if not isinstance(p, _Problem):  # e.g. an override the strategy makes impossible
                text = f"{text} (with strategy {name!r})"
            elif p.field != f"strategies.{name}" and not p.field.startswith(f"strategies.{name}."):
                text = str(
                    _Problem(p.where, p.field, f"{p.message} (with strategy {name!r})", p.order)
                )
            if text not in out:
                out.append(text)
    return out


def apply_overlay(base: dict[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `overlay` deep-merged onto it, as new data (neither argument is changed).

    Mappings merge key by key, recursively. A list whose items (in both) are mappings with a
    `name` is merged item by item, matched by name: an overlay item with a new name is
    appended, `{name: x, remove: true}` deletes item x (a ScenarioError if there is none), and
    any other item is merged onto its namesake. Any other list, or a scalar, replaces the
    base value; so does an empty list. The overlay may not set `strategies`.
    """
    tree = _annotate(_from_dict(base, "<base>"))
    over = _annotate(_from_dict(overlay, "<overlay>"))
    return _flatten(_overlay_tree(tree, over), (), {})


def apply_override(data: dict[str, Any], assignment: str) -> dict[str, Any]:
    """`data` with one 'dotted.path=value' assignment applied, as new data.

    The path walks mappings by key and lists by integer index or by an item's `name`; a
    missing mapping on the way is created, a missing list item is a ScenarioError. The value
    is parsed as YAML 1.2 (`3`, `0.5`, `true`, `null`, `[a, b]`, `{x: 1}`, else a string).
    """
    tree = _annotate(_from_dict(data, "<data>"))
    return _flatten(_override_tree(tree, assignment, 0), (), {})


def scenario_hash(data: Mapping[str, Any]) -> str:
    """sha256 (hex) of a canonical JSON dump of `data`, the fully merged scenario data (after
    its strategy and overrides): keys sorted, no whitespace, stable across runs and
    processes."""
    text = json.dumps(_canonical(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def scenario_digest(sc: Scenario) -> str:
    """`scenario_hash` of a validated scenario, defaults filled in: two files that mean the
    same scenario have the same digest."""
    return scenario_hash(sc.model_dump(mode="json"))


def _canonical(value: Any) -> Any:
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(key, str):
                name = str(key)
            elif key is None or isinstance(key, bool | int | float):
                name = json.dumps(key)
            else:
                raise TypeError(f"cannot hash a mapping key of type {type(key).__name__}")
            if name in out:
                raise TypeError(f"mapping keys collide as JSON: {name!r}")
            out[name] = _canonical(item)
        return out
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, set | frozenset):
        items = [_canonical(v) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    plain = _scalar(value)
    if plain is None or isinstance(plain, bool | int | float | str):
        return plain
    raise TypeError(f"cannot hash a value of type {type(value).__name__}")
