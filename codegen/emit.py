"""LLVM IR -> verified, optimised module -> BPF ELF object -> instructions.

Each probe function lives in its own ELF section (`prog/<name>`), so its
instructions are that section's bytes. Map references are `ld_imm64`
pseudo instructions carrying map indices (see artifact.py), so a program
needs no relocations; any relocation section is a compiler bug.
"""

from __future__ import annotations

import os
import pickle
import re
import _signal  # (`signal` imports `enum`: ~0.5 ms of a compile)
import struct
from functools import lru_cache

TRIPLE = "bpfel"


@lru_cache(maxsize=1)
def target_machine():
    import llvmlite.binding as llvm

    llvm.initialize_all_targets()
    llvm.initialize_all_asmprinters()
    target = llvm.Target.from_triple(TRIPLE)
    return target.create_target_machine(cpu="v3", opt=2, reloc="static", codemodel="small")


def optimise(mod, level: int = 2) -> None:
    import llvmlite.binding as llvm

    tm = target_machine()
    pto = llvm.create_pipeline_tuning_options(speed_level=level)
    pb = llvm.create_pass_builder(tm, pto)
    mpm = pb.getModulePassManager()
    mpm.run(mod, pb)


class BackendError(Exception):
    """LLVM could not compile the module. `function` names the program
    (a probe's function) it was compiling, when LLVM said so."""

    def __init__(self, message: str, function: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.function = function


BACKEND_SECONDS = 30  # the most time LLVM may take to lower one program


def compile_ir(ir_text: str, debug: dict | None = None) -> dict[str, bytes]:
    """Compile a module's IR text; returns {section name: instruction bytes}.

    LLVM's BPF backend ends the process on some errors (a memset it cannot
    expand, a stack over 512 bytes) instead of returning one. So the
    backend runs in a forked child (_Backend): its failure becomes a BackendError
    here and the caller (an API user, the REPL) lives on. The child is the one
    start_backend() started, if any, or one forked now from this process, which
    then loads LLVM and makes the target machine once, for every later child.

    The child also has a time budget (BACKEND_SECONDS): some large programs
    send LLVM's BPF backend into minutes of work, and a compile must end.

    `debug` (if given) receives the optimised IR and the assembly."""
    global _started
    backend, _started = _started, None
    if backend is None:
        target_machine()  # initialised once, here, so every child inherits it
        backend = _Backend()
    sections, extra = backend.compile(ir_text, debug is not None)
    if debug is not None:
        debug.update(extra)
    return sections


def start_backend() -> None:
    """Fork the child that will compile the next module now, before this process
    parses and checks the program: while it does, the child loads LLVM (~25 ms)
    and makes its target machine, on the other CPU. Forked early, the process is
    small (a fork of the whole compiler with LLVM loaded, and the child's exit,
    cost ~5 ms), and this process never loads LLVM. Nothing happens if one is
    already waiting. A program with errors never sends it IR: the child ends when
    this process does (the end of its pipe), or at stop_backend()."""
    global _started
    if _started is None:
        _started = _Backend()


def stop_backend() -> None:
    """End the child start_backend() started, if it is still waiting."""
    global _started
    backend, _started = _started, None
    if backend is not None:
        backend.close()


_started: _Backend | None = None  # the child start_backend() forked, waiting for IR
_MAX_FD = os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 1 << 16


class _Backend:
    """A forked child that compiles one module: it reads (IR text, whether to send the
    optimised IR and assembly too) from a pipe, answers with the pickled
    ({section: bytes}, debug texts) on another and its errors on a third, and exits."""

    def __init__(self) -> None:
        in_r, self.in_w = os.pipe()
        self.out_r, out_w = os.pipe()
        self.err_r, err_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # keeps only its standard streams and its three pipes' ends: one
            start = 3          # of this process's pipes (a -c command's go-ahead) must end with it
            for fd in sorted((in_r, out_w, err_w)):
                os.closerange(start, fd)
                start = fd + 1
            os.closerange(start, _MAX_FD)
            _child(in_r, out_w, err_w)  # never returns
        for fd in (in_r, out_w, err_w):
            os.close(fd)

    def compile(self, ir_text: str, want_debug: bool) -> tuple[dict[str, bytes], dict]:
        with os.fdopen(self.in_w, "wb") as f:
            f.write(pickle.dumps((ir_text, want_debug)))
        data = _read_all(self.out_r)
        err = _read_all(self.err_r).decode(errors="replace")
        _, wait_status = os.waitpid(self.pid, 0)
        if os.waitstatus_to_exitcode(wait_status) != 0 or not data:
            raise _backend_error(err, wait_status)
        return pickle.loads(data)

    def close(self) -> None:
        for fd in (self.in_w, self.out_r, self.err_r):
            os.close(fd)
        os.waitpid(self.pid, 0)


def _child(in_r: int, out_w: int, err_w: int) -> None:
    """The backend child: load LLVM, wait for the IR, compile, send the result, exit."""
    status = 0
    try:
        os.dup2(err_w, 2)
        target_machine()
        with os.fdopen(in_r, "rb") as f:
            request = f.read()
        if request:  # nothing: the program was not compiled (an error, or the child was stopped)
            ir_text, want_debug = pickle.loads(request)
            _signal.alarm(BACKEND_SECONDS)  # SIGALRM ends the child: reported by _backend_error
            extra: dict = {} if want_debug else None  # type: ignore[assignment]
            data = pickle.dumps((_compile_here(ir_text, extra), extra or {}))
            with os.fdopen(out_w, "wb") as f:
                f.write(data)
    except BaseException as e:  # noqa: BLE001 - reported to the parent through stderr
        try:
            os.write(err_w, f"error: {type(e).__name__}: {e}\n".encode())
        except OSError:
            pass
        status = 1
    os._exit(status)


def _read_all(fd: int) -> bytes:
    chunks = []
    with os.fdopen(fd, "rb") as f:
        while chunk := f.read(1 << 16):
            chunks.append(chunk)
    return b"".join(chunks)


def _backend_error(stderr: str, wait_status: int) -> BackendError:
    if os.WIFSIGNALED(wait_status) and os.WTERMSIG(wait_status) == _signal.SIGALRM:
        return BackendError(f"it did not finish within the limit of {BACKEND_SECONDS} s")
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    text = lines[0] if lines else f"LLVM ended with status {os.waitstatus_to_exitcode(wait_status)}"
    m = re.search(r"in function (\w+)", text)
    message = re.sub(r"^(LLVM )?error: ", "", text)
    message = re.sub(r"^<unknown>:0:0: in function \S+ [^:]*: ", "", message)
    return BackendError(message, m.group(1) if m else "")


def _compile_here(ir_text: str, debug: dict | None) -> dict[str, bytes]:
    import llvmlite.binding as llvm

    tm = target_machine()
    mod = llvm.parse_assembly(ir_text)
    mod.triple = TRIPLE
    mod.data_layout = str(tm.target_data)
    mod.verify()
    optimise(mod)
    if debug is not None:
        debug["ir"] = str(mod)
        debug["asm"] = tm.emit_assembly(mod)
    return elf_sections(tm.emit_object(mod), prefix="prog/")


def elf_sections(obj: bytes, prefix: str) -> dict[str, bytes]:
    """The contents of the ELF64 sections whose names start with prefix."""
    if obj[:4] != b"\x7fELF" or obj[4] != 2:
        raise ValueError("not an ELF64 object")
    shoff, = struct.unpack_from("<Q", obj, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", obj, 0x3A)
    headers = []
    for i in range(shnum):
        name, stype, _flags, _addr, offset, size = struct.unpack_from("<IIQQQQ", obj, shoff + i * shentsize)
        headers.append((name, stype, offset, size))
    symtab = next(((offset, size) for _n, stype, offset, size in headers if stype == SHT_SYMTAB), (0, 0))
    str_off = headers[shstrndx][2]

    def name_of(idx: int) -> str:
        end = obj.index(b"\0", str_off + idx)
        return obj[str_off + idx:end].decode()

    out: dict[str, bytes] = {}
    relocs: dict[str, tuple[int, int]] = {}
    for name, stype, offset, size in headers:
        sname = name_of(name)
        if sname.startswith(".rel") and sname[4:].lstrip("a").startswith(prefix):
            relocs[sname[4:].lstrip("a")[len(prefix):]] = (offset, size)
        elif sname.startswith(prefix):
            out[sname[len(prefix):]] = obj[offset:offset + size]
    index = {name_of(h[0]): i for i, h in enumerate(headers)}
    for sname, (offset, size) in relocs.items():
        out[sname] = _callback_addresses(obj, out[sname], offset, size, symtab, sname, index[prefix + sname])
    return out


SHT_SYMTAB = 2
R_BPF_64_64 = 1
LD_IMM64 = 0x18
BPF_PSEUDO_FUNC = 4


def _callback_addresses(obj: bytes, insns: bytes, rel_off: int, rel_size: int, symtab: tuple[int, int],
                        section: str, shndx: int) -> bytes:
    """Resolve the one relocation a program may have: the address of a callback
    (bpf_for_each_map_elem's) in the same section, which LLVM leaves as
    `ld_imm64 rX, <section> + offset`. The kernel wants `ld_imm64` with
    src_reg=BPF_PSEUDO_FUNC and imm = the callee's instruction, relative."""
    out = bytearray(insns)
    for r_offset, r_info in struct.iter_unpack("<QQ", obj[rel_off:rel_off + rel_size]):
        sym, rtype = r_info >> 32, r_info & 0xFFFFFFFF
        _name, _info, _other, sym_shndx, value, _size = struct.unpack_from("<IBBHQQ", obj, symtab[0] + sym * 24)
        code, regs, off, addend = struct.unpack_from("<BBhi", out, r_offset)
        if rtype != R_BPF_64_64 or code != LD_IMM64 or sym_shndx != shndx:
            raise RuntimeError(f"unexpected relocation (type {rtype}) in program {section}")
        target = (value + addend) // 8
        struct.pack_into("<BBhi", out, r_offset, code, (regs & 0x0F) | BPF_PSEUDO_FUNC << 4, off,
                         target - (r_offset // 8 + 1))
    return bytes(out)
