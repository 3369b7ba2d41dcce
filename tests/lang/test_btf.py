"""Tests for pytrace.lang.btf against the running kernel's BTF.

Reference data comes from bpftool (raw dump) and tracefs event formats;
split BTF is exercised with a synthetic module blob on top of vmlinux (and a
real module from /sys/kernel/btf if one is loaded).
"""

import re
import shutil
import struct
import subprocess
import time

import pytest

from btf_builder import Builder
from pytrace.lang.btf import BTF, BTFError, Member

VMLINUX = "/sys/kernel/btf/vmlinux"
# Against this machine's BTF (tests/lang/test_btf_reader.py: the same reader on fixtures).
pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module")
def k():
    return BTF.kernel()


@pytest.fixture(scope="module")
def raw_dump():
    """bpftool's raw dump as {type id: [header line, member lines...]}."""
    if not shutil.which("bpftool"):
        pytest.skip("bpftool not installed")
    out = subprocess.run(["bpftool", "btf", "dump", "file", VMLINUX, "format", "raw"],
                         check=True, capture_output=True, text=True).stdout
    blocks, cur = {}, None
    for line in out.splitlines():
        m = re.match(r"\[(\d+)\] ", line)
        if m:
            cur = blocks[int(m.group(1))] = [line]
        else:
            cur.append(line)
    return blocks


# ------------------------------------------------------------------ basics
def test_first_find_timing():
    with open(VMLINUX, "rb") as f:
        data = f.read()
    b = BTF(data)
    assert b._offsets is None  # nothing is parsed up front
    t0 = time.perf_counter()
    tid = b.find("task_struct", "struct")
    t1 = time.perf_counter()
    b.find("vfs_read", "func")
    t2 = time.perf_counter()
    print(f"\nfirst find {1000 * (t1 - t0):.1f} ms, next find {1000 * (t2 - t1):.2f} ms, "
          f"{b.nr_types} types")
    assert tid is not None and tid == BTF.kernel().find("task_struct", "struct")
    assert t1 - t0 < 1.0  # ~60 ms on the dev box; generous for slow CI


def test_kernel_is_singleton(k):
    assert BTF.kernel() is k
    assert k.type(0).kind == "void" and k.type_name(0) == "void"


def test_task_struct_members(k):
    ts = k.find("task_struct", "struct")
    assert ts is not None and k.type(ts).kind == "struct" and k.type(ts).name == "task_struct"
    assert k.find("task_struct") == ts
    assert k.find("task_struct", "union") is None
    assert k.find("no_such_type_hopefully") is None

    pid, _ = k.find_member(ts, "pid")
    assert k.int_info(pid.type_id) == (4, True)
    assert k.size_of(pid.type_id) == 4
    assert k.type_name(pid.type_id) == "pid_t"
    assert k.type_name(k.resolve(pid.type_id)) == "int"

    comm, _ = k.find_member(ts, "comm")
    assert k.type_name(comm.type_id) == "char[16]"
    assert k.size_of(comm.type_id) == 16
    arr = k.type(k.resolve(comm.type_id))
    assert arr.kind == "array" and arr.nelems == 16
    assert k.type(arr.elem_type).name == "char" and k.type(arr.elem_type).bits == 8

    parent, _ = k.find_member(ts, "parent")
    assert k.type_name(parent.type_id) == "struct task_struct *"
    assert k.is_pointer(parent.type_id) and k.resolve(k.pointee(parent.type_id)) == ts
    assert k.size_of(parent.type_id) == 8 and k.int_info(parent.type_id) is None
    assert k.find_member(ts, "no_such_member") is None
    assert k.find_member(pid.type_id, "x") is None  # not a struct
    with pytest.raises(TypeError):
        k.members(pid.type_id)


def test_offsets_match_bpftool(k, raw_dump):
    for name in ("task_struct", "sk_buff", "file", "mm_struct", "inode"):
        tid = k.find(name, "struct")
        head, *lines = raw_dump[tid]
        assert f"STRUCT '{name}' size={k.size_of(tid)} " in head
        expected = []
        for line in lines:
            m = re.match(r"\t'(.*)' type_id=(\d+) bits_offset=(\d+)(?: bitfield_size=(\d+))?$",
                         line)
            expected.append(Member("" if m[1] == "(anon)" else m[1], int(m[2]), int(m[3]),
                                   int(m[4] or 0)))
        assert k.members(tid) == expected


def test_bitfield(k):
    ts = k.find("task_struct", "struct")
    m, off = k.find_member(ts, "sched_reset_on_fork")
    assert m.bitfield_size == 1 and off == m.bit_offset
    m2, off2 = k.find_member(ts, "sched_contributes_to_load")
    assert m2.bitfield_size == 1 and off2 == off + 1
    assert k.int_info(m.type_id) == (4, False)


def test_find_member_through_anonymous_unions(k, raw_dump):
    sk = k.find("sk_buff", "struct")
    # struct sk_buff { union { struct { next; prev; union { dev; ...} }; ... }; ...}
    dev, off = k.find_member(sk, "dev")
    assert dev.bit_offset == 0 and off == 128
    assert k.type_name(dev.type_id) == "struct net_device *"
    tstamp, off = k.find_member(sk, "tstamp")
    assert off == 256 and tstamp.bit_offset == 0
    # `protocol` sits in the anonymous half of struct_group(headers, ...)
    proto, off = k.find_member(sk, "protocol")
    headers, hoff = k.find_member(sk, "headers")
    hproto, inner = k.find_member(headers.type_id, "protocol")
    assert off == hoff + inner and proto.bit_offset == hproto.bit_offset
    assert proto.bit_offset < off
    # cross-check against a walk over bpftool's member lists
    for name in ("dev", "tstamp", "protocol", "mark", "pkt_type", "len"):
        assert k.find_member(sk, name)[1] == _raw_find_member(raw_dump, sk, name), name


def _raw_find_member(raw_dump, tid, name):
    """Bit offset of `name` in struct/union `tid`, from bpftool's raw dump only."""
    head, *lines = raw_dump[tid]
    while re.search(r"\] (TYPEDEF|CONST|VOLATILE) ", head):
        head, *lines = raw_dump[int(re.search(r"type_id=(\d+)", head)[1])]
    members = [re.match(r"\t'(.*)' type_id=(\d+) bits_offset=(\d+)", l).groups() for l in lines]
    for n, _, off in members:
        if n == name:
            return int(off)
    for n, t, off in members:
        if n == "(anon)" and re.search(r"\] (STRUCT|UNION) ", raw_dump[int(t)][0]):
            inner = _raw_find_member(raw_dump, int(t), name)
            if inner is not None:
                return int(off) + inner
    return None


def test_tracepoint_struct_matches_tracefs(k):
    fmt = "/sys/kernel/tracing/events/sched/sched_switch/format"
    try:
        text = open(fmt).read()
    except OSError:
        pytest.skip("tracefs not readable")
    sid = k.find("trace_event_raw_sched_switch", "struct")
    assert sid is not None
    n = 0
    for decl, off, size, signed in re.findall(
            r"field:([^;]+);\toffset:(\d+);\tsize:(\d+);\tsigned:(\d);", text):
        name = re.match(r".*?(\w+)(\[\d+\])?$", decl)[1]
        if name.startswith("common_"):
            continue
        m, bit = k.find_member(sid, name)
        assert (bit // 8, k.size_of(m.type_id)) == (int(off), int(size)), name
        info = k.int_info(m.type_id)
        if info:
            assert info[1] == bool(int(signed)), name
        n += 1
    assert n >= 6


def test_func_proto_vfs_read(k):
    params, ret = k.func_proto("vfs_read")
    assert [n for n, _ in params] == ["file", "buf", "count", "pos"]
    assert [k.type_name(t) for _, t in params] == ["struct file *", "char *", "size_t", "loff_t *"]
    assert k.type_name(ret) == "ssize_t"
    assert k.type_name(k.resolve(ret)) == "long int"  # DWARF spelling
    assert k.int_info(ret) == (8, True)
    assert k.type_name(k.find("vfs_read", "func")) == \
        "ssize_t vfs_read(struct file *, char *, size_t, loff_t *)"
    assert k.func_proto("no_such_function_hopefully") is None


def test_variadic_and_raw_tracepoint(k):
    fid = k.find("_printk", "func")
    if fid is None:
        pytest.skip("_printk not in BTF")
    assert k.type(k.type(fid).type).variadic
    assert k.func_proto("_printk")[0] == [("fmt", k.func_proto("_printk")[0][0][1])]
    assert k.type_name(fid) == "int _printk(const char *, ...)"
    tp = k.find("btf_trace_sched_switch", "typedef")
    assert tp is not None and k.is_pointer(tp)
    proto = k.type(k.resolve(k.pointee(tp)))
    assert proto.kind == "func_proto"
    assert [k.type_name(t) for _, t in proto.params][:2] == ["void *", "bool"]
    assert k.type_name(tp) == "btf_trace_sched_switch"
    assert k.type_name(k.resolve(tp)).startswith("void (*)(void *, bool, struct task_struct *")


def test_type_names(k):
    params, ret = k.func_proto("kstrdup")
    assert k.type_name(params[0][1]) == "const char *"
    assert k.type_name(ret) == "char *"
    fo = k.find("file_operations", "struct")
    read, _ = k.find_member(fo, "read")
    assert k.type_name(read.type_id) == "ssize_t (*)(struct file *, char *, size_t, loff_t *)"
    assert k.size_of(read.type_id) == 8
    assert k.type_name(k.find("unsigned int", "int")) == "unsigned int"
    assert k.type_name(k.find("bpf_map_type", "enum")) == "enum bpf_map_type"
    assert k.int_info(k.find("bool")) == (1, False)
    assert k.type(k.resolve(k.find("bool"))).is_bool
    assert k.int_info(k.find("u64")) == (8, False)
    assert k.int_info(k.find("s8")) == (1, True)


def test_enum_values(k):
    val, eid = k.enum_value("BPF_MAP_TYPE_HASH")
    assert val == 1 and k.type(eid).name == "bpf_map_type"
    assert k.int_info(eid) == (4, False)
    assert k.enum_value("BPF_MAP_TYPE_UNSPEC")[0] == 0
    assert k.enum_value("NO_SUCH_ENUMERATOR_HOPEFULLY") is None
    e = k.type(eid)
    assert ("BPF_MAP_TYPE_ARRAY", 2) in e.values


def test_signed_enum(k, raw_dump):
    for tid, (head, *lines) in raw_dump.items():
        if " ENUM " in head and "encoding=SIGNED" in head and "val=-" in "".join(lines):
            break
    else:
        pytest.skip("no signed enum")
    name, val = re.search(r"'(\w+)' val=(-\d+)", "".join(lines)).groups()
    assert k.enum_value(name)[0] == int(val)
    assert k.type(tid).signed and k.int_info(tid)[1] is True


# ------------------------------------------------- whole-file cross-check
_LINK = {0: "static", 1: "global", 2: "extern"}


def _render_raw(b, i):
    """Our decoding of type i, rendered like `bpftool btf dump ... format raw`."""
    t = b.type(i)
    head = f"[{i}] {t.kind.upper()} '{t.name or '(anon)'}'"
    if t.kind == "int":
        enc = ("SIGNED" if t.signed else "CHAR" if t.is_char else "BOOL" if t.is_bool
               else "(none)")
        return [f"{head} size={t.size} bits_offset={t.bit_offset} nr_bits={t.bits} encoding={enc}"]
    if t.kind in ("ptr", "const", "volatile", "restrict", "typedef", "type_tag"):
        return [f"{head} type_id={t.type}"]
    if t.kind == "array":
        return [f"{head} type_id={t.elem_type} index_type_id={t.index_type} nr_elems={t.nelems}"]
    if t.kind in ("struct", "union"):
        return [f"{head} size={t.size} vlen={t.vlen}"] + [
            f"\t'{m.name or '(anon)'}' type_id={m.type_id} bits_offset={m.bit_offset}"
            + (f" bitfield_size={m.bitfield_size}" if m.bitfield_size else "")
            for m in t.members]
    if t.kind in ("enum", "enum64"):
        suf = ("LL" if t.signed else "ULL") if t.kind == "enum64" else ""
        enc = "SIGNED" if t.signed else "UNSIGNED"
        return [f"{head} encoding={enc} size={t.size} vlen={t.vlen}"] + [
            f"\t'{n}' val={v}{suf}" for n, v in t.values]
    if t.kind == "fwd":
        return [f"{head} fwd_kind={'union' if t.kind_flag else 'struct'}"]
    if t.kind == "func":
        return [f"{head} type_id={t.type} linkage={_LINK[t.linkage]}"]
    if t.kind == "func_proto":
        return [f"{head} ret_type_id={t.type} vlen={t.vlen}"] + [
            f"\t'{n or '(anon)'}' type_id={p}" for n, p in t.params] + (
            ["\t'(anon)' type_id=0"] if t.variadic else [])
    if t.kind == "var":
        return [f"{head} type_id={t.type}, linkage={_LINK[t.linkage]}"]
    if t.kind == "datasec":
        return [f"{head} size={t.size} vlen={t.vlen}"] + [
            f"\ttype_id={ty} offset={off} size={sz} ({b.type(ty).kind.upper()} '{b.type(ty).name}')"
            for ty, off, sz in t.vars]
    if t.kind == "float":
        return [f"{head} size={t.size}"]
    if t.kind == "decl_tag":
        return [f"{head} type_id={t.type} component_idx={t.component_idx}"]
    raise AssertionError(t)


def test_every_type_matches_bpftool_raw(k, raw_dump):
    assert k.nr_types == max(raw_dump) + 1
    bad = [i for i in range(1, k.nr_types) if _render_raw(k, i) != raw_dump[i]]
    assert not bad, (bad[:5], _render_raw(k, bad[0]), raw_dump[bad[0]])


# ------------------------------------------------------------- split BTF
@pytest.fixture(scope="module")
def split(k):
    b = Builder(base=k)
    ts = k.find("task_struct", "struct")
    char = k.find("char", "int")
    int_ = k.find("int", "int")
    ids = {}
    ids["ptr_ts"] = b.add("ptr", "", ts)
    ids["anon_union"] = b.add("union", "", 4, [(b.s("foo_inner"), int_, 0),
                                              (b.s("foo_inner2"), int_, 0)])
    ids["foo_mod"] = b.add("struct", "foo_mod", 16, [
        (b.s("task"), ids["ptr_ts"], 0),
        (b.base_s("comm"), int_, 3 << 24 | 64),  # 3-bit bitfield at bit 64
        (0, ids["anon_union"], 96)], kflag=1)
    ids["ptr_foo"] = b.add("ptr", "", ids["foo_mod"])
    ids["proto"] = b.add("func_proto", "", int_, [(b.s("p"), ids["ptr_foo"])])
    ids["func"] = b.add("func", "foo_mod_fn", ids["proto"], vlen=1)
    ids["enum"] = b.add("enum", "foo_mod_enum", 4, [(b.s("FOO_MOD_A"), 7),
                                                    (b.s("FOO_MOD_NEG"), -3)], kflag=1)
    # a type whose name lives in the base's string section
    ids["basename"] = b.add("struct", b.base_s("sched_reset_on_fork"), 0)
    ids["ptr_char"] = b.add("ptr", "", char)
    ids["const_ptr"] = b.add("const", "", ids["ptr_char"])
    ids["arr4"] = b.add("array", "", 0, extra=struct.pack("<III", char, int_, 4))
    ids["ptr_arr"] = b.add("ptr", "", ids["arr4"])
    ids["void_proto"] = b.add("func_proto", "", 0)
    ids["ptr_void_fn"] = b.add("ptr", "", ids["void_proto"])
    return b.blob(), ids


def test_split_btf(k, split):
    data, ids = split
    m = BTF(data, base=k)
    assert m.first_id == k.nr_types and m.nr_types == k.nr_types + len(ids)
    sid = m.find("foo_mod", "struct")
    assert sid == ids["foo_mod"] and k.find("foo_mod") is None
    # base ids are delegated, base names are found through the split BTF
    assert m.find("task_struct", "struct") == k.find("task_struct", "struct")
    assert m.type(k.find("task_struct")) is k.type(k.find("task_struct"))
    assert m.type_name(m.find("foo_mod")) == "struct foo_mod"
    task, off = m.find_member(sid, "task")
    assert off == 0 and m.type_name(task.type_id) == "struct task_struct *"
    pid_off = k.find_member(k.find("task_struct"), "pid")[1]
    assert m.find_member(m.pointee(task.type_id), "pid")[1] == pid_off
    comm, off = m.find_member(sid, "comm")
    assert comm == Member("comm", k.find("int", "int"), 64, 3) and off == 64
    inner, off = m.find_member(sid, "foo_inner2")
    assert off == 96 and inner.bit_offset == 0
    assert m.func_proto("foo_mod_fn") == ([("p", ids["ptr_foo"])], k.find("int", "int"))
    assert m.type_name(ids["func"]) == "int foo_mod_fn(struct foo_mod *)"
    assert m.func_proto("vfs_read") == k.func_proto("vfs_read")
    assert m.enum_value("FOO_MOD_A") == (7, ids["enum"])
    assert m.enum_value("FOO_MOD_NEG") == (-3, ids["enum"])
    assert m.enum_value("BPF_MAP_TYPE_HASH") == k.enum_value("BPF_MAP_TYPE_HASH")
    assert m.int_info(ids["enum"]) == (4, True)
    assert m.find("sched_reset_on_fork", "struct") == ids["basename"]
    assert m.type_name(ids["const_ptr"]) == "char *const"
    assert m.type_name(ids["ptr_arr"]) == "char (*)[4]"
    assert m.size_of(ids["arr4"]) == 4
    assert m.type_name(ids["ptr_void_fn"]) == "void (*)(void)"
    with pytest.raises(BTFError):
        m.type(m.nr_types)


def test_split_btf_readable_by_bpftool(k, split, tmp_path):
    """Sanity-check the synthetic blob itself with libbpf's parser."""
    if not shutil.which("bpftool"):
        pytest.skip("bpftool not installed")
    data, ids = split
    path = tmp_path / "foo_mod"
    path.write_bytes(data)
    out = subprocess.run(["bpftool", "-B", VMLINUX, "btf", "dump", "file", str(path),
                          "format", "raw"], capture_output=True, text=True)
    if out.returncode:
        pytest.skip(f"bpftool cannot dump split BTF: {out.stderr.strip()}")
    m = BTF(data, base=k)
    text = out.stdout.splitlines()
    assert "\n".join(_render_raw(m, ids["foo_mod"])) in "\n".join(text)
    assert f"[{ids['func']}] FUNC 'foo_mod_fn' type_id={ids['proto']} linkage=global" in text


def test_module_lookup(k, split, tmp_path):
    data, ids = split
    (tmp_path / "vmlinux").write_bytes(k.data)
    (tmp_path / "foo_mod").write_bytes(data)
    kern = BTF(k.data, name="vmlinux", module_dir=str(tmp_path))  # fresh object: module cache is per object
    assert kern.module_names() == ["foo_mod"]
    assert kern.module("nope") is None
    mod = kern.module("foo_mod")
    assert mod is kern.module("foo_mod") and mod.base is kern
    btf, tid = kern.lookup("foo_mod_fn", "func")
    assert btf is mod and tid == ids["func"]
    assert kern.lookup("task_struct", "struct") == (kern, k.find("task_struct", "struct"))
    assert kern.lookup("no_such_thing_anywhere") is None


def test_real_module_btf(k):
    mods = k.module_names()
    if not mods:
        pytest.skip("no module BTF loaded")
    m = k.module(mods[0])
    assert m.nr_types >= k.nr_types
    for tid in range(m.first_id, m.nr_types):
        t = m.type(tid)
        if t.name and t.kind in ("struct", "func", "typedef"):
            assert m.find(t.name, t.kind) is not None
            m.type_name(tid)
            if t.kind == "struct":
                m.members(tid)
            break
