"""lang/records.py: a record behaves as the dataclass it replaces."""

import dataclasses

import pytest

from pytrace.lang.records import record


@record(frozen=True)
class Point:
    x: int
    y: int = 0
    tags: list = dataclasses.field(default_factory=list, compare=False)
    note: str = dataclasses.field(default="", kw_only=True)


@record
class Mutable:
    a: int
    b: str = "b"


@record(eq=False)
class ByIdentity:
    a: int


def test_arguments_follow_the_dataclass_rules():
    assert (Point(1).x, Point(1).y, Point(1).tags, Point(1).note) == (1, 0, [], "")
    p = Point(1, 2, [3], note="n")
    assert (p.x, p.y, p.tags, p.note) == (1, 2, [3], "n")
    assert Point(y=5, x=4) == Point(4, 5)
    assert Point(1).tags is not Point(1).tags  # a fresh default per instance
    with pytest.raises(TypeError, match="missing required argument: 'x'"):
        Point()
    with pytest.raises(TypeError, match="unexpected keyword argument 'z'"):
        Point(1, z=2)
    with pytest.raises(TypeError, match="multiple values for argument 'x'"):
        Point(1, x=2)
    with pytest.raises(TypeError, match="positional arguments"):
        Point(1, 2, [], "too many")


def test_equality_hashing_and_frozen():
    assert Point(1, 2, [1]) == Point(1, 2, [2])  # tags: compare=False
    assert Point(1, 2) != Point(2, 1)
    assert hash(Point(1, 2, [1])) == hash(Point(1, 2, [9]))
    assert {Point(1): "p"}[Point(1)] == "p"
    with pytest.raises(dataclasses.FrozenInstanceError):
        Point(1).x = 2
    m = Mutable(1)
    m.a = 2
    assert m == Mutable(2) and m.__hash__ is None  # comparable and mutable: unhashable, as a dataclass
    assert ByIdentity(1) != ByIdentity(1) and hash(ByIdentity(1)) is not None


def test_it_is_still_a_dataclass():
    assert dataclasses.is_dataclass(Point)
    assert [f.name for f in dataclasses.fields(Point)] == ["x", "y", "tags", "note"]
    assert dataclasses.replace(Point(1, 2), y=3) == Point(1, 3)
    assert repr(Mutable(1)) == "Mutable(a=1, b='b')"


def test_post_init_runs_after_the_fields_are_set():
    @record
    class Derived:
        a: int
        doubled: int = dataclasses.field(default=0, init=False)
        seen: list = dataclasses.field(default_factory=list, init=False)

        def __post_init__(self) -> None:
            self.doubled = 2 * self.a

    assert Derived(4).doubled == 8
    assert Derived(1).seen == [] and Derived(1).seen is not Derived(1).seen
