"""lang/btf.py and lang/ktypes.py on small blobs: the fixture kernel's BTF
(tests/fixtures/kernel/vmlinux.c) and synthetic ones. The same reader
against this machine's BTF and bpftool: test_btf.py (kernel layer)."""

import struct

import pytest

from btf_builder import Builder
from conftest import FIXTURE_KERNEL
from pytrace.lang import ktypes
from pytrace.lang import types as T
from pytrace.lang.btf import BTF, BTFError


@pytest.fixture(scope="module")
def k():
    return FIXTURE_KERNEL.btf()


def test_fixture_kernel_has_btf(k):
    assert k is not None and k.find("task_struct", "struct") is not None


def test_members_offsets_and_bitfields(k):
    tid = k.find("task_struct", "struct")
    names = [m.name for m in k.members(tid)]
    assert names[:5] == ["__state", "prio", "se", "pid", "tgid"]
    member, bit_offset = k.find_member(tid, "in_iowait")
    assert member.bitfield_size == 1 and bit_offset == 92 * 8 + 1


def test_func_proto_and_type_names(k):
    params, ret = k.func_proto("vfs_read")
    assert [(n, k.type_name(t)) for n, t in params] == [
        ("file", "struct file *"), ("buf", "char *"), ("count", "size_t"), ("pos", "loff_t *")]
    assert k.type_name(ret) == "ssize_t"
    assert k.func_proto("no_such_function") is None


def test_enum_values(k):
    assert k.enum_value("BPF_MAP_TYPE_HASH")[0] == 1
    assert k.enum_value("TASK_UNINTERRUPTIBLE")[0] == 2
    assert k.enum_value("NO_SUCH_ENUMERATOR") is None


def test_no_module_lookup_outside_the_host(k):
    assert k.module_names() == [] and k.module("foo") is None
    assert k.lookup("no_such_thing_anywhere") is None


def test_ktypes_converts_lazily(k):
    ts = ktypes.named_type("struct task_struct", k)
    assert ts.size == 96
    assert ts.field("comm") == T.RecordField("comm", 72, T.StringType(16))
    assert ts.field("pid").type == T.S32
    parent = ts.field("parent").type
    assert isinstance(parent, T.PointerType) and parent.pointee == ts
    assert ts.field("in_execve").bitfield == (0, 1)
    assert ktypes.named_type("struct nosuch", k) is None
    assert ktypes.named_type("struct task_struct", None) is None
    assert ktypes.enum_value("TASK_INTERRUPTIBLE", k) == 1


def test_module_lookup(k, tmp_path):
    b = Builder(base=k)
    i = b.add("int", b.base_s("int"), 4, extra=struct.pack("<I", 1 << 24 | 32))
    fn_proto = b.add("func_proto", "", i)
    fn = b.add("func", "foo_mod_fn", fn_proto)
    (tmp_path / "vmlinux").write_bytes(k.data)
    (tmp_path / "foo_mod").write_bytes(b.blob())
    kern = BTF(k.data, name="vmlinux", module_dir=str(tmp_path))
    assert kern.module_names() == ["foo_mod"]
    mod = kern.module("foo_mod")
    assert mod.base is kern and kern.lookup("foo_mod_fn", "func") == (mod, fn)


def test_big_endian_and_errors():
    for e in "<>":
        b = Builder(endian=e)
        i = b.add("int", "int", 4, extra=struct.pack(e + "I", 1 << 24 | 32))
        p = b.add("ptr", "", i)
        s = b.add("struct", "pair", 8, [(b.s("a"), i, 0), (b.s("b"), i, 32)])
        e64 = b.add("enum64", "big", 8, [(b.s("BIG"), 0xFFFFFFFF, 0xFFFFFFFF)], kflag=1)
        x = BTF(b.blob())
        assert x.find("pair") == s and x.type_name(p) == "int *"
        assert x.find_member(s, "b")[1] == 32 and x.int_info(i) == (4, True)
        assert x.enum_value("BIG") == (-1, e64) and x.int_info(e64) == (8, True)
    with pytest.raises(BTFError):
        BTF(b"\x00" * 32)  # bad magic
    with pytest.raises(BTFError):
        BTF(b.blob()[:30])  # sections past the end
    b = Builder()
    b.add("int", "int", 4, extra=b"")  # record missing its 4-byte encoding word
    x = BTF(b.blob())
    with pytest.raises(BTFError):
        x.find("int")
