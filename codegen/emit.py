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
import signal
import struct
from functools import lru_cache

import llvmlite.binding as llvm

TRIPLE = "bpfel"


@lru_cache(maxsize=1)
def target_machine():
    llvm.initialize_all_targets()
    llvm.initialize_all_asmprinters()
    target = llvm.Target.from_triple(TRIPLE)
    return target.create_target_machine(cpu="v3", opt=2, reloc="static", codemodel="small")


def optimise(mod, level: int = 2) -> None:
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
    backend runs in a forked child: its failure becomes a BackendError here
    and the caller (an API user, the REPL) lives on. fork() of this process
    costs ~1-2 ms, small beside LLVM's own time.

    The child also has a time budget (BACKEND_SECONDS): some large programs
    send LLVM's BPF backend into minutes of work, and a compile must end.

    `debug` (if given) receives the optimised IR and the assembly."""
    want_debug = debug is not None
    target_machine()  # initialised once, here, so every child inherits it
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: compile, send the result, never return
        status = 0
        try:
            os.close(out_r)
            os.close(err_r)
            os.dup2(err_w, 2)
            signal.alarm(BACKEND_SECONDS)  # SIGALRM ends the child: reported by _backend_error
            extra: dict = {} if want_debug else None  # type: ignore[assignment]
            result = (_compile_here(ir_text, extra), extra)
            data = pickle.dumps(result)
            with os.fdopen(out_w, "wb") as f:
                f.write(data)
        except BaseException as e:  # noqa: BLE001 - reported to the parent through stderr
            try:
                os.write(err_w, f"error: {type(e).__name__}: {e}\n".encode())
            except OSError:
                pass
            status = 1
        os._exit(status)
    os.close(out_w)
    os.close(err_w)
    data = _read_all(out_r)
    err = _read_all(err_r).decode(errors="replace")
    _, wait_status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(wait_status) != 0 or not data:
        raise _backend_error(err, wait_status)
    sections, extra = pickle.loads(data)
    if want_debug:
        debug.update(extra)  # type: ignore[union-attr]
    return sections


def _read_all(fd: int) -> bytes:
    chunks = []
    with os.fdopen(fd, "rb") as f:
        while chunk := f.read(1 << 16):
            chunks.append(chunk)
    return b"".join(chunks)


def _backend_error(stderr: str, wait_status: int) -> BackendError:
    if os.WIFSIGNALED(wait_status) and os.WTERMSIG(wait_status) == signal.SIGALRM:
        return BackendError(f"it did not finish within the limit of {BACKEND_SECONDS} s")
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    text = lines[0] if lines else f"LLVM ended with status {os.waitstatus_to_exitcode(wait_status)}"
    m = re.search(r"in function (\w+)", text)
    message = re.sub(r"^(LLVM )?error: ", "", text)
    message = re.sub(r"^<unknown>:0:0: in function \S+ [^:]*: ", "", message)
    return BackendError(message, m.group(1) if m else "")


def _compile_here(ir_text: str, debug: dict | None) -> dict[str, bytes]:
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
