"""Numeric constants of the kernel ABI used by the bpf/perf/ringbuf layer.

Values come from include/uapi/linux/bpf.h and include/uapi/linux/perf_event.h.
Each enum is a class of plain integers (not enum.IntEnum: building these
~200 members as IntEnums took ~3 ms of every start); every member is also
exported as a module constant (``kernel_consts.BPF_MAP_CREATE`` ==
``BpfCmd.BPF_MAP_CREATE``), and ``name_of(BpfCmd, 5)`` is "BPF_PROG_LOAD".
"""

import os

# ---------------------------------------------------------------- syscalls

# (bpf, perf_event_open) syscall numbers per architecture.
_SYSCALLS = {
    "x86_64": (321, 298),
    "aarch64": (280, 241),
    "riscv64": (280, 241),
    "ppc64le": (361, 319),
    "s390x": (351, 331),
}
NR_bpf, NR_perf_event_open = _SYSCALLS.get(os.uname().machine, (321, 298))

# Kernel-internal errno that leaks to user space ("Unknown error 524").
ENOTSUPP = 524


# ---------------------------------------------------------------- bpf(2)

class BpfCmd:
    BPF_MAP_CREATE = 0
    BPF_MAP_LOOKUP_ELEM = 1
    BPF_MAP_UPDATE_ELEM = 2
    BPF_MAP_DELETE_ELEM = 3
    BPF_MAP_GET_NEXT_KEY = 4
    BPF_PROG_LOAD = 5
    BPF_OBJ_PIN = 6
    BPF_OBJ_GET = 7
    BPF_PROG_ATTACH = 8
    BPF_PROG_DETACH = 9
    BPF_PROG_TEST_RUN = 10
    BPF_PROG_GET_NEXT_ID = 11
    BPF_MAP_GET_NEXT_ID = 12
    BPF_PROG_GET_FD_BY_ID = 13
    BPF_MAP_GET_FD_BY_ID = 14
    BPF_OBJ_GET_INFO_BY_FD = 15
    BPF_PROG_QUERY = 16
    BPF_RAW_TRACEPOINT_OPEN = 17
    BPF_BTF_LOAD = 18
    BPF_BTF_GET_FD_BY_ID = 19
    BPF_TASK_FD_QUERY = 20
    BPF_MAP_LOOKUP_AND_DELETE_ELEM = 21
    BPF_MAP_FREEZE = 22
    BPF_BTF_GET_NEXT_ID = 23
    BPF_MAP_LOOKUP_BATCH = 24
    BPF_MAP_LOOKUP_AND_DELETE_BATCH = 25
    BPF_MAP_UPDATE_BATCH = 26
    BPF_MAP_DELETE_BATCH = 27
    BPF_LINK_CREATE = 28
    BPF_LINK_UPDATE = 29
    BPF_LINK_GET_FD_BY_ID = 30
    BPF_LINK_GET_NEXT_ID = 31
    BPF_ENABLE_STATS = 32
    BPF_ITER_CREATE = 33
    BPF_LINK_DETACH = 34
    BPF_PROG_BIND_MAP = 35
    BPF_TOKEN_CREATE = 36


class MapType:
    BPF_MAP_TYPE_UNSPEC = 0
    BPF_MAP_TYPE_HASH = 1
    BPF_MAP_TYPE_ARRAY = 2
    BPF_MAP_TYPE_PROG_ARRAY = 3
    BPF_MAP_TYPE_PERF_EVENT_ARRAY = 4
    BPF_MAP_TYPE_PERCPU_HASH = 5
    BPF_MAP_TYPE_PERCPU_ARRAY = 6
    BPF_MAP_TYPE_STACK_TRACE = 7
    BPF_MAP_TYPE_CGROUP_ARRAY = 8
    BPF_MAP_TYPE_LRU_HASH = 9
    BPF_MAP_TYPE_LRU_PERCPU_HASH = 10
    BPF_MAP_TYPE_LPM_TRIE = 11
    BPF_MAP_TYPE_ARRAY_OF_MAPS = 12
    BPF_MAP_TYPE_HASH_OF_MAPS = 13
    BPF_MAP_TYPE_DEVMAP = 14
    BPF_MAP_TYPE_SOCKMAP = 15
    BPF_MAP_TYPE_CPUMAP = 16
    BPF_MAP_TYPE_XSKMAP = 17
    BPF_MAP_TYPE_SOCKHASH = 18
    BPF_MAP_TYPE_CGROUP_STORAGE = 19
    BPF_MAP_TYPE_REUSEPORT_SOCKARRAY = 20
    BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE = 21
    BPF_MAP_TYPE_QUEUE = 22
    BPF_MAP_TYPE_STACK = 23
    BPF_MAP_TYPE_SK_STORAGE = 24
    BPF_MAP_TYPE_DEVMAP_HASH = 25
    BPF_MAP_TYPE_STRUCT_OPS = 26
    BPF_MAP_TYPE_RINGBUF = 27
    BPF_MAP_TYPE_INODE_STORAGE = 28
    BPF_MAP_TYPE_TASK_STORAGE = 29
    BPF_MAP_TYPE_BLOOM_FILTER = 30
    BPF_MAP_TYPE_USER_RINGBUF = 31
    BPF_MAP_TYPE_CGRP_STORAGE = 32
    BPF_MAP_TYPE_ARENA = 33


PERCPU_MAP_TYPES = frozenset({
    MapType.BPF_MAP_TYPE_PERCPU_HASH,
    MapType.BPF_MAP_TYPE_PERCPU_ARRAY,
    MapType.BPF_MAP_TYPE_LRU_PERCPU_HASH,
    MapType.BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE,
})


class ProgType:
    BPF_PROG_TYPE_UNSPEC = 0
    BPF_PROG_TYPE_SOCKET_FILTER = 1
    BPF_PROG_TYPE_KPROBE = 2
    BPF_PROG_TYPE_SCHED_CLS = 3
    BPF_PROG_TYPE_SCHED_ACT = 4
    BPF_PROG_TYPE_TRACEPOINT = 5
    BPF_PROG_TYPE_XDP = 6
    BPF_PROG_TYPE_PERF_EVENT = 7
    BPF_PROG_TYPE_CGROUP_SKB = 8
    BPF_PROG_TYPE_CGROUP_SOCK = 9
    BPF_PROG_TYPE_LWT_IN = 10
    BPF_PROG_TYPE_LWT_OUT = 11
    BPF_PROG_TYPE_LWT_XMIT = 12
    BPF_PROG_TYPE_SOCK_OPS = 13
    BPF_PROG_TYPE_SK_SKB = 14
    BPF_PROG_TYPE_CGROUP_DEVICE = 15
    BPF_PROG_TYPE_SK_MSG = 16
    BPF_PROG_TYPE_RAW_TRACEPOINT = 17
    BPF_PROG_TYPE_CGROUP_SOCK_ADDR = 18
    BPF_PROG_TYPE_LWT_SEG6LOCAL = 19
    BPF_PROG_TYPE_LIRC_MODE2 = 20
    BPF_PROG_TYPE_SK_REUSEPORT = 21
    BPF_PROG_TYPE_FLOW_DISSECTOR = 22
    BPF_PROG_TYPE_CGROUP_SYSCTL = 23
    BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE = 24
    BPF_PROG_TYPE_CGROUP_SOCKOPT = 25
    BPF_PROG_TYPE_TRACING = 26
    BPF_PROG_TYPE_STRUCT_OPS = 27
    BPF_PROG_TYPE_EXT = 28
    BPF_PROG_TYPE_LSM = 29
    BPF_PROG_TYPE_SK_LOOKUP = 30
    BPF_PROG_TYPE_SYSCALL = 31
    BPF_PROG_TYPE_NETFILTER = 32


class AttachType:
    BPF_CGROUP_INET_INGRESS = 0
    BPF_CGROUP_INET_EGRESS = 1
    BPF_CGROUP_INET_SOCK_CREATE = 2
    BPF_CGROUP_SOCK_OPS = 3
    BPF_SK_SKB_STREAM_PARSER = 4
    BPF_SK_SKB_STREAM_VERDICT = 5
    BPF_CGROUP_DEVICE = 6
    BPF_SK_MSG_VERDICT = 7
    BPF_CGROUP_INET4_BIND = 8
    BPF_CGROUP_INET6_BIND = 9
    BPF_CGROUP_INET4_CONNECT = 10
    BPF_CGROUP_INET6_CONNECT = 11
    BPF_CGROUP_INET4_POST_BIND = 12
    BPF_CGROUP_INET6_POST_BIND = 13
    BPF_CGROUP_UDP4_SENDMSG = 14
    BPF_CGROUP_UDP6_SENDMSG = 15
    BPF_LIRC_MODE2 = 16
    BPF_FLOW_DISSECTOR = 17
    BPF_CGROUP_SYSCTL = 18
    BPF_CGROUP_UDP4_RECVMSG = 19
    BPF_CGROUP_UDP6_RECVMSG = 20
    BPF_CGROUP_GETSOCKOPT = 21
    BPF_CGROUP_SETSOCKOPT = 22
    BPF_TRACE_RAW_TP = 23
    BPF_TRACE_FENTRY = 24
    BPF_TRACE_FEXIT = 25
    BPF_MODIFY_RETURN = 26
    BPF_LSM_MAC = 27
    BPF_TRACE_ITER = 28
    BPF_CGROUP_INET4_GETPEERNAME = 29
    BPF_CGROUP_INET6_GETPEERNAME = 30
    BPF_CGROUP_INET4_GETSOCKNAME = 31
    BPF_CGROUP_INET6_GETSOCKNAME = 32
    BPF_XDP_DEVMAP = 33
    BPF_CGROUP_INET_SOCK_RELEASE = 34
    BPF_XDP_CPUMAP = 35
    BPF_SK_LOOKUP = 36
    BPF_XDP = 37
    BPF_SK_SKB_VERDICT = 38
    BPF_SK_REUSEPORT_SELECT = 39
    BPF_SK_REUSEPORT_SELECT_OR_MIGRATE = 40
    BPF_PERF_EVENT = 41
    BPF_TRACE_KPROBE_MULTI = 42
    BPF_LSM_CGROUP = 43
    BPF_STRUCT_OPS = 44
    BPF_NETFILTER = 45
    BPF_TCX_INGRESS = 46
    BPF_TCX_EGRESS = 47
    BPF_TRACE_UPROBE_MULTI = 48


class LinkType:
    BPF_LINK_TYPE_UNSPEC = 0
    BPF_LINK_TYPE_RAW_TRACEPOINT = 1
    BPF_LINK_TYPE_TRACING = 2
    BPF_LINK_TYPE_CGROUP = 3
    BPF_LINK_TYPE_ITER = 4
    BPF_LINK_TYPE_NETNS = 5
    BPF_LINK_TYPE_XDP = 6
    BPF_LINK_TYPE_PERF_EVENT = 7
    BPF_LINK_TYPE_KPROBE_MULTI = 8
    BPF_LINK_TYPE_STRUCT_OPS = 9
    BPF_LINK_TYPE_NETFILTER = 10
    BPF_LINK_TYPE_TCX = 11
    BPF_LINK_TYPE_UPROBE_MULTI = 12


BPF_OBJ_NAME_LEN = 16

# BPF_MAP_UPDATE_ELEM flags
BPF_ANY = 0
BPF_NOEXIST = 1
BPF_EXIST = 2
BPF_F_LOCK = 4

# BPF_MAP_CREATE map_flags
BPF_F_NO_PREALLOC = 1 << 0
BPF_F_NO_COMMON_LRU = 1 << 1
BPF_F_NUMA_NODE = 1 << 2
BPF_F_RDONLY = 1 << 3
BPF_F_WRONLY = 1 << 4
BPF_F_STACK_BUILD_ID = 1 << 5
BPF_F_ZERO_SEED = 1 << 6
BPF_F_RDONLY_PROG = 1 << 7
BPF_F_WRONLY_PROG = 1 << 8
BPF_F_CLONE = 1 << 9
BPF_F_MMAPABLE = 1 << 10

# BPF_PROG_LOAD prog_flags
BPF_F_STRICT_ALIGNMENT = 1 << 0
BPF_F_ANY_ALIGNMENT = 1 << 1
BPF_F_SLEEPABLE = 1 << 4

# verifier log levels
BPF_LOG_LEVEL1 = 1
BPF_LOG_LEVEL2 = 2
BPF_LOG_STATS = 4

# BPF_PROG_TEST_RUN flags
BPF_F_TEST_RUN_ON_CPU = 1 << 0

# ld_imm64 src_reg values
BPF_PSEUDO_MAP_FD = 1
BPF_PSEUDO_MAP_VALUE = 2
BPF_PSEUDO_BTF_ID = 3
BPF_PSEUDO_FUNC = 4
BPF_PSEUDO_MAP_IDX = 5
BPF_PSEUDO_MAP_IDX_VALUE = 6
# call src_reg values
BPF_PSEUDO_CALL = 1
BPF_PSEUDO_KFUNC_CALL = 2

# ring buffer record header bits (struct bpf_ringbuf_hdr.len)
BPF_RINGBUF_BUSY_BIT = 1 << 31
BPF_RINGBUF_DISCARD_BIT = 1 << 30
BPF_RINGBUF_HDR_SZ = 8
# bpf_ringbuf_output()/submit() flags
BPF_RB_NO_WAKEUP = 1 << 0
BPF_RB_FORCE_WAKEUP = 1 << 1


# ---------------------------------------------------------------- perf_event_open(2)

class PerfType:
    PERF_TYPE_HARDWARE = 0
    PERF_TYPE_SOFTWARE = 1
    PERF_TYPE_TRACEPOINT = 2
    PERF_TYPE_HW_CACHE = 3
    PERF_TYPE_RAW = 4
    PERF_TYPE_BREAKPOINT = 5


class PerfHwConfig:
    PERF_COUNT_HW_CPU_CYCLES = 0
    PERF_COUNT_HW_INSTRUCTIONS = 1
    PERF_COUNT_HW_CACHE_REFERENCES = 2
    PERF_COUNT_HW_CACHE_MISSES = 3
    PERF_COUNT_HW_BRANCH_INSTRUCTIONS = 4
    PERF_COUNT_HW_BRANCH_MISSES = 5
    PERF_COUNT_HW_BUS_CYCLES = 6
    PERF_COUNT_HW_STALLED_CYCLES_FRONTEND = 7
    PERF_COUNT_HW_STALLED_CYCLES_BACKEND = 8
    PERF_COUNT_HW_REF_CPU_CYCLES = 9


class PerfSwConfig:
    PERF_COUNT_SW_CPU_CLOCK = 0
    PERF_COUNT_SW_TASK_CLOCK = 1
    PERF_COUNT_SW_PAGE_FAULTS = 2
    PERF_COUNT_SW_CONTEXT_SWITCHES = 3
    PERF_COUNT_SW_CPU_MIGRATIONS = 4
    PERF_COUNT_SW_PAGE_FAULTS_MIN = 5
    PERF_COUNT_SW_PAGE_FAULTS_MAJ = 6
    PERF_COUNT_SW_ALIGNMENT_FAULTS = 7
    PERF_COUNT_SW_EMULATION_FAULTS = 8
    PERF_COUNT_SW_DUMMY = 9
    PERF_COUNT_SW_BPF_OUTPUT = 10
    PERF_COUNT_SW_CGROUP_SWITCHES = 11


# perf_event_open flags
PERF_FLAG_FD_NO_GROUP = 1 << 0
PERF_FLAG_FD_OUTPUT = 1 << 1
PERF_FLAG_PID_CGROUP = 1 << 2
PERF_FLAG_FD_CLOEXEC = 1 << 3

# sizeof(struct perf_event_attr) generations
PERF_ATTR_SIZE_VER0 = 64
PERF_ATTR_SIZE_VER5 = 112
PERF_ATTR_SIZE_VER8 = 136

# breakpoint types (attr.bp_type)
HW_BREAKPOINT_R = 1
HW_BREAKPOINT_W = 2
HW_BREAKPOINT_RW = 3
HW_BREAKPOINT_X = 4


def _ioc(direction: int, typ: str, nr: int, size: int) -> int:
    # asm-generic/ioctl.h: dir:2 size:14 type:8 nr:8
    return (direction << 30) | (size << 16) | (ord(typ) << 8) | nr


_IOC_NONE, _IOC_WRITE, _IOC_READ = 0, 1, 2

PERF_EVENT_IOC_ENABLE = _ioc(_IOC_NONE, "$", 0, 0)                # 0x2400
PERF_EVENT_IOC_DISABLE = _ioc(_IOC_NONE, "$", 1, 0)               # 0x2401
PERF_EVENT_IOC_REFRESH = _ioc(_IOC_NONE, "$", 2, 0)
PERF_EVENT_IOC_RESET = _ioc(_IOC_NONE, "$", 3, 0)
PERF_EVENT_IOC_PERIOD = _ioc(_IOC_WRITE, "$", 4, 8)
PERF_EVENT_IOC_SET_OUTPUT = _ioc(_IOC_NONE, "$", 5, 0)
PERF_EVENT_IOC_SET_FILTER = _ioc(_IOC_WRITE, "$", 6, 8)
PERF_EVENT_IOC_ID = _ioc(_IOC_READ, "$", 7, 8)
PERF_EVENT_IOC_SET_BPF = _ioc(_IOC_WRITE, "$", 8, 4)              # 0x40042408
PERF_EVENT_IOC_PAUSE_OUTPUT = _ioc(_IOC_WRITE, "$", 9, 4)
PERF_EVENT_IOC_QUERY_BPF = _ioc(_IOC_READ | _IOC_WRITE, "$", 10, 8)
PERF_EVENT_IOC_MODIFY_ATTRIBUTES = _ioc(_IOC_WRITE, "$", 11, 8)


def members(enum: type) -> dict[str, int]:
    """An enum class's members by name."""
    return {name: value for name, value in vars(enum).items() if not name.startswith("_")}


def name_of(enum: type, value: int) -> str:
    """The name of an enum's member with this value ("" if none)."""
    names = _NAMES.get(enum)
    if names is None:
        names = _NAMES[enum] = {}
        for name, v in reversed(list(members(enum).items())):
            names[v] = name     # the first member of a value wins, as before
    return names.get(value, "")


_NAMES: dict = {}


# Export every enum member as a plain module constant.
for _enum in (BpfCmd, MapType, ProgType, AttachType, LinkType,
              PerfType, PerfHwConfig, PerfSwConfig):
    globals().update(members(_enum))
del _enum
