"""Named kernel state: how a mechanism declares the arrays and numbers its compiled code reads.

A mechanism declares its state once, as a ``typing.NamedTuple`` whose fields are annotated with
one of the kinds below (an array of a given dtype and number of dimensions, or a float scalar)::

    class SocialState(NamedTuple):
        \"\"\"Word of mouth's kernel state (docs/model.md, "Word of mouth").\"\"\"

        on: Float  # 1 with a ``social`` section, else 0 (every hook returns at once)
        valence: F32[1]  # per consumer: satisfaction of the last use (scale points)

From that one declaration, `build` makes the live state (checking every field's dtype and
dimensions, so a field filled from the wrong array fails at once, by name, instead of mis-wiring
the model) and `off` makes the state of the mechanism switched off: the same numba type, with
empty arrays and zero scalars unless told otherwise. Both forms are therefore type-identical by
construction, and the compiled kernel is compiled once for runs with and without the mechanism.

Numba compiles named tuples like plain tuples (the same struct), and attribute access is
resolved at compile time: ``k.chan.commission[c]`` costs what ``ctx[2][3][c]`` did.
"""

from __future__ import annotations

import sys
import typing
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import numpy as np

T = TypeVar("T", bound=tuple)


@dataclass(frozen=True)
class Kind:
    """What a state field holds: an array of ``dtype`` with ``ndim`` dimensions, or a scalar
    (``ndim`` 0, stored as a Python float, int or bool so that numba types it as such)."""

    dtype: np.dtype
    ndim: int

    def empty(self) -> Any:
        """The field's value when its mechanism is off: an empty array, or zero."""
        if self.ndim == 0:
            return self.dtype.type(0).item()
        return np.zeros((0,) * self.ndim, dtype=self.dtype)

    def accept(self, owner: str, name: str, value: Any) -> Any:
        """``value`` checked (arrays) or converted (scalars) to this kind; TypeError if not."""
        if self.ndim == 0:
            if isinstance(value, np.ndarray) and value.ndim > 0:
                raise TypeError(f"{owner}.{name}: a scalar expected, got an array")
            return self.dtype.type(value).item()
        if not isinstance(value, np.ndarray):
            raise TypeError(f"{owner}.{name}: a numpy array expected, got {type(value).__name__}")
        if value.dtype != self.dtype or value.ndim != self.ndim:
            raise TypeError(
                f"{owner}.{name}: {self.dtype}[{self.ndim}-d] expected, "
                f"got {value.dtype}[{value.ndim}-d]"
            )
        if not value.flags.c_contiguous:
            # A strided view would compile the kernel a second time, for another array layout.
            raise TypeError(f"{owner}.{name}: a C-contiguous array expected, got a strided view")
        return value


class ArrayKind:
    """``F64[2]``: the annotation of a 2-d float64 array field; ``ArrayKind(dtype)[1]`` for any
    other dtype (a structured record dtype included)."""

    def __init__(self, dtype: type) -> None:
        self.dtype = np.dtype(dtype)

    def __getitem__(self, ndim: int) -> Any:
        return Annotated[np.ndarray, Kind(self.dtype, ndim)]


F64 = ArrayKind(np.float64)
F32 = ArrayKind(np.float32)
I64 = ArrayKind(np.int64)
I32 = ArrayKind(np.int32)
I16 = ArrayKind(np.int16)
I8 = ArrayKind(np.int8)
U32 = ArrayKind(np.uint32)
U16 = ArrayKind(np.uint16)
U8 = ArrayKind(np.uint8)
U64 = ArrayKind(np.uint64)
Bool = ArrayKind(np.bool_)
Float = Annotated[float, Kind(np.dtype(np.float64), 0)]
Int = Annotated[int, Kind(np.dtype(np.int64), 0)]
Flag = Annotated[bool, Kind(np.dtype(np.bool_), 0)]


def kinds(cls: type) -> dict[str, Kind | type]:
    """Each field of the state class ``cls``: its `Kind`, or the state class it nests."""
    hints = typing.get_type_hints(cls, vars(sys.modules[cls.__module__]), include_extras=True)
    out: dict[str, Kind | type] = {}
    for name in cls._fields:  # type: ignore[attr-defined]
        hint = hints[name]
        meta = [m for m in getattr(hint, "__metadata__", ()) if isinstance(m, Kind)]
        if meta:
            out[name] = meta[0]
        elif isinstance(hint, type) and issubclass(hint, tuple) and hasattr(hint, "_fields"):
            out[name] = hint
        else:
            raise TypeError(f"{cls.__name__}.{name}: annotate with a state kind, not {hint!r}")
    return out


_KINDS: dict[type, dict[str, Kind | type]] = {}


def _kinds(cls: type) -> dict[str, Kind | type]:
    if cls not in _KINDS:
        _KINDS[cls] = kinds(cls)
    return _KINDS[cls]


def build(cls: type[T], **values: Any) -> T:
    """The state ``cls`` with every field given by name, each checked against its kind."""
    spec = _kinds(cls)
    missing = [n for n in spec if n not in values]
    extra = [n for n in values if n not in spec]
    if missing or extra:
        raise TypeError(f"{cls.__name__}: missing fields {missing}, unknown fields {extra}")
    out = {}
    for name, kind in spec.items():
        v = values[name]
        if isinstance(kind, Kind):
            out[name] = kind.accept(cls.__name__, name, v)
        elif not isinstance(v, kind):
            got = type(v).__name__
            raise TypeError(f"{cls.__name__}.{name}: {kind.__name__} expected, got {got}")
        else:
            out[name] = v
    return cls(**out)


def off(cls: type[T], **values: Any) -> T:
    """The state ``cls`` of a mechanism switched off: every field empty (arrays) or zero
    (scalars), but those given; nested states are built off in turn."""
    spec = _kinds(cls)
    full = {}
    for name, kind in spec.items():
        if name in values:
            full[name] = values[name]
        elif isinstance(kind, Kind):
            full[name] = kind.empty()
        else:
            full[name] = off(kind)
    return build(cls, **full)


def from_object(cls: type[T], obj: object, **values: Any) -> T:
    """The state ``cls`` with each field read from the attribute of ``obj`` of the same name,
    but those given."""
    names = _kinds(cls)
    return build(cls, **{n: values[n] if n in values else getattr(obj, n) for n in names})


def nbytes(state: tuple) -> int:
    """Bytes held by the arrays of ``state`` (nested states included)."""
    total = 0
    for v in state:
        if isinstance(v, np.ndarray):
            total += v.nbytes
        elif isinstance(v, tuple):
            total += nbytes(v)
    return total


def describe(cls: type) -> list[tuple[str, str]]:
    """(field, kind) of each field of ``cls``, e.g. ``("commission", "float64[1-d]")``."""
    out = []
    for name, kind in _kinds(cls).items():
        if isinstance(kind, Kind):
            shape = "" if kind.ndim == 0 else f"[{kind.ndim}-d]"
            out.append((name, f"{kind.dtype}{shape}"))
        else:
            out.append((name, kind.__name__))
    return out
