"""Print the scenario field reference (markdown tables) from the pydantic models.

The models (``omnisim/scenario/``, one module per section, all re-exported by ``schema.py``)
are the single source of truth for the scenario language; this script renders them so that
``docs/scenario.md`` cannot drift from them.

    python docs/tools/gen_field_table.py                         # print the tables
    python docs/tools/gen_field_table.py --update docs/scenario.md  # rewrite the marked block
    python docs/tools/gen_field_table.py --check docs/scenario.md   # exit 1 if it is stale

The block in the markdown file lies between the lines ``<!-- BEGIN FIELD TABLE -->`` and
``<!-- END FIELD TABLE -->``. Field paths use the ``--set`` notation: list items are written
``<name>`` (an item is addressed by its ``name``, or by its index).
"""

from __future__ import annotations

import argparse
import enum
import sys
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import annotated_types as at
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from omnisim.scenario.schema import Scenario  # noqa: E402

BEGIN = "<!-- BEGIN FIELD TABLE -->"
END = "<!-- END FIELD TABLE -->"
ITEM = "<name>"


def _num(x: float) -> str:
    """A bound or default without a pointless '.0'."""
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return str(x)


def _constraints(metadata: list[Any], what: str = "item") -> str:
    """The bounds in ``metadata`` as text; lengths counted in ``what`` (items of a list,
    characters of a string)."""
    lo = hi = None
    lo_open = hi_open = False
    extra = []
    for m in metadata:
        if isinstance(m, FieldInfo):
            inner = _constraints(m.metadata, what)
            if inner:
                extra.append(inner)
        elif isinstance(m, at.Ge):
            lo = m.ge
        elif isinstance(m, at.Gt):
            lo, lo_open = m.gt, True
        elif isinstance(m, at.Le):
            hi = m.le
        elif isinstance(m, at.Lt):
            hi, hi_open = m.lt, True
        elif isinstance(m, at.MinLen):
            extra.append(f"at least {m.min_length} {what}{'s' if m.min_length != 1 else ''}")
        elif isinstance(m, at.MaxLen):
            extra.append(f"at most {m.max_length} {what}{'s' if m.max_length != 1 else ''}")
    if lo is not None and hi is not None:
        rng = f"in {'(' if lo_open else '['}{_num(lo)}, {_num(hi)}{')' if hi_open else ']'}"
    elif lo is not None:
        rng = f"{'>' if lo_open else '≥'} {_num(lo)}"
    elif hi is not None:
        rng = f"{'<' if hi_open else '≤'} {_num(hi)}"
    else:
        rng = ""
    return ", ".join(x for x in (rng, *extra) if x)


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _strip(tp: Any) -> tuple[Any, list[Any]]:
    """The type under ``Annotated`` and its metadata."""
    if typing.get_origin(tp) is typing.Annotated:
        base, *meta = typing.get_args(tp)
        return base, meta
    return tp, []


def _type_text(tp: Any, metadata: Sequence[Any] = ()) -> str:
    """Readable type of an annotation, with its constraints."""
    tp, meta = _strip(tp)
    meta = [*metadata, *meta]
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        parts = [_type_text(a) for a in args if a is not type(None)]
        text = " or ".join(parts)
        return text + " or null" if type(None) in args else text
    if origin is typing.Literal:
        return "one of " + ", ".join(f"`{a}`" for a in args)
    if origin is list:
        text = f"list of {_type_text(args[0])}"
    elif origin is dict:
        text = f"map: name → {_type_text(args[1])}"
    elif isinstance(tp, type) and issubclass(tp, enum.Enum):
        return "one of " + ", ".join(f"`{m.value}`" for m in tp)
    elif _is_model(tp):
        text = f"`{tp.__name__}`"
    elif tp is Any:
        text = "any"
    else:
        text = {float: "number", int: "integer", str: "string", bool: "boolean"}.get(
            tp, getattr(tp, "__name__", str(tp))
        )
    rule = _constraints(meta, "character" if tp is str else "item")
    if not rule:
        return text
    return f"{text}, {rule}" if rule.startswith("at ") else f"{text} {rule}"


def _flow(value: Any) -> str:
    """A default as YAML flow text."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, enum.Enum):
        value = value.value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _num(value)
    if isinstance(value, str):
        return value if value else '""'
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return str(value)


def _default(field: FieldInfo, sub_model: type[BaseModel] | None) -> str:
    if field.is_required():
        return "*required*"
    if field.default_factory is not None:
        value = field.default_factory()
        if sub_model is not None and isinstance(value, sub_model):
            return "*(see below)*"
        return f"`{_flow(value)}`"
    if field.default is PydanticUndefined:
        return ""
    return f"`{_flow(field.default)}`"


def _sub_model(tp: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model a field holds (directly, optionally or as list items) and whether it is a
    list of them."""
    tp, _ = _strip(tp)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if _is_model(tp):
        return tp, False
    if origin in (typing.Union, types.UnionType):
        models = [a for a in args if _is_model(_strip(a)[0])]
        if len(models) == 1:
            return _strip(models[0])[0], False
    if origin is list and _is_model(_strip(args[0])[0]):
        return _strip(args[0])[0], True
    return None, False


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


Row = tuple[str, str, str, str]


def _row(path: str, field: FieldInfo, sub: type[BaseModel] | None) -> Row:
    return (
        f"`{path}`",
        _type_text(field.annotation, field.metadata),
        _default(field, sub),
        field.description or "",
    )


def _rows(model: type[BaseModel], prefix: str, out: list[Row]) -> None:
    """Rows of every field of ``model`` and, depth first, of the models it holds."""
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        sub, is_list = _sub_model(field.annotation)
        out.append(_row(path, field, sub))
        if sub is not None:
            _rows(sub, f"{path}.{ITEM}." if is_list else f"{path}.", out)


def field_tables() -> str:
    """Markdown: one table per top-level section of the scenario."""
    sections: list[tuple[str, list[Row]]] = [("Top level", [])]
    for name, field in Scenario.model_fields.items():
        sub, is_list = _sub_model(field.annotation)
        if sub is None:
            sections[0][1].append(_row(name, field, None))
            continue
        rows = [_row(name, field, sub)]
        _rows(sub, f"{name}.{ITEM}." if is_list else f"{name}.", rows)
        sections.append((f"`{name}`", rows))
    lines: list[str] = []
    for title, rows in sections:
        lines += [f"### {title}", "", "| Field | Type | Default | Meaning (unit) |"]
        lines.append("| --- | --- | --- | --- |")
        lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def _splice(text: str, block: str) -> str:
    try:
        head, rest = text.split(BEGIN + "\n", 1)
        _, tail = rest.split(END, 1)
    except ValueError:
        raise SystemExit(f"markers {BEGIN} / {END} not found") from None
    return f"{head}{BEGIN}\n{block}{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--update", type=Path, help="rewrite the marked block of this file")
    group.add_argument("--check", type=Path, help="exit 1 if the marked block is stale")
    args = parser.parse_args(argv)
    block = field_tables()
    if args.update is None and args.check is None:
        sys.stdout.write(block)
        return 0
    target = args.update or args.check
    text = target.read_text(encoding="utf-8")
    new = _splice(text, block)
    if args.check is not None:
        if new != text:
            print(f"{target}: field table is stale; run {Path(__file__).name} --update {target}")
            return 1
        return 0
    target.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
