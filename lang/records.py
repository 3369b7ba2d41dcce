"""`record`: a dataclass whose methods are shared functions.

`@dataclass` writes each class's `__init__`, `__eq__`, `__hash__` and frozen
`__setattr__` as source text and compiles it, ~0.1 ms per method: with the AST
nodes and the types that was ~15 ms of every uncached compile. A record is still a
dataclass (`dataclasses.fields`, `replace` and `is_dataclass` work, fields are
declared the same way), but its methods are the functions below, which read the
class's fields from a plan made once per class:

    @record(frozen=True)
    class Point:
        x: int
        y: int = 0

Behaviour is the dataclass's for what pytrace uses: positional and keyword
arguments in field order, defaults and default factories, keyword-only fields,
`init=False` fields given their default, `compare=False` fields left out of `==` and
hashing, frozen instances refusing assignment, `__post_init__` (without
arguments). Not supported: `InitVar`, `order=True`, `slots=True` (use `dataclass` for those).
"""

from __future__ import annotations

from dataclasses import MISSING, FrozenInstanceError, dataclass, fields


class _Plan:
    """What the shared methods need to know about one class's fields."""

    __slots__ = ("positional", "keyword", "compared", "hashed", "post_init", "derived")

    def __init__(self, cls: type) -> None:
        all_fields = fields(cls)
        init = [f for f in all_fields if f.init]
        self.positional = tuple(f for f in init if not f.kw_only)
        self.keyword = tuple(f for f in init if f.kw_only)
        # init=False fields with a default: set by __init__ all the same (a fresh list each time...)
        self.derived = tuple(f for f in all_fields if not f.init
                             and (f.default is not MISSING or f.default_factory is not MISSING))
        self.compared = tuple(f.name for f in all_fields if f.compare)
        self.hashed = tuple(f.name for f in all_fields if (f.compare if f.hash is None else f.hash))
        self.post_init = getattr(cls, "__post_init__", None)


def _value(cls: type, f, kwargs: dict):
    if f.name in kwargs:
        return kwargs.pop(f.name)
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    raise TypeError(f"{cls.__qualname__}.__init__() missing required argument: '{f.name}'")


def _init(self, *args, **kwargs) -> None:
    cls = type(self)
    plan: _Plan = cls._record_plan
    positional = plan.positional
    if len(args) > len(positional):
        raise TypeError(f"{cls.__qualname__}.__init__() takes {len(positional) + 1} positional arguments "
                        f"but {len(args) + 1} were given")
    for f, value in zip(positional, args):
        if f.name in kwargs:
            raise TypeError(f"{cls.__qualname__}.__init__() got multiple values for argument '{f.name}'")
        object.__setattr__(self, f.name, value)
    for f in positional[len(args):]:
        object.__setattr__(self, f.name, _value(cls, f, kwargs))
    for f in plan.keyword:
        object.__setattr__(self, f.name, _value(cls, f, kwargs))
    if kwargs:
        raise TypeError(f"{cls.__qualname__}.__init__() got an unexpected keyword argument '{next(iter(kwargs))}'")
    for f in plan.derived:
        object.__setattr__(self, f.name, _value(cls, f, kwargs))
    if plan.post_init is not None:
        plan.post_init(self)


def _eq(self, other):
    if other.__class__ is not self.__class__:
        return NotImplemented
    names = self._record_plan.compared
    return tuple(getattr(self, n) for n in names) == tuple(getattr(other, n) for n in names)


def _hash(self) -> int:
    return hash(tuple(getattr(self, n) for n in self._record_plan.hashed))


def _frozen_setattr(self, name: str, value) -> None:
    raise FrozenInstanceError(f"cannot assign to field '{name}'")


def _frozen_delattr(self, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field '{name}'")


def record_repr(self) -> str:
    """The dataclass repr: `Name(field=value, ...)` with the fields shown in repr."""
    shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.repr)
    return f"{type(self).__qualname__}({shown})"


def record(cls: type | None = None, *, frozen: bool = False, eq: bool = True, repr: bool = True):
    """Make `cls` a dataclass with the shared methods (see the module's doc). `eq=False`
    keeps identity comparison and hashing; `repr=False` keeps the class's own `__repr__`."""

    def wrap(cls: type) -> type:
        if cls.__doc__ is None:
            cls.__doc__ = cls.__name__  # dataclass would otherwise compute a signature for it
        cls.__init__ = _init
        if eq:
            cls.__eq__ = _eq
            cls.__hash__ = _hash if frozen else None  # as dataclass: mutable and comparable is unhashable
        if frozen:
            cls.__setattr__ = _frozen_setattr
            cls.__delattr__ = _frozen_delattr
        if repr:
            cls.__repr__ = record_repr
        cls = dataclass(cls, init=False, repr=False, eq=False)
        cls._record_plan = _Plan(cls)
        return cls

    return wrap if cls is None else wrap(cls)
