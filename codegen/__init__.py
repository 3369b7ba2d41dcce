"""Typed AST -> BPF object. The runtime imports only `codegen.artifact` (pure
data) from here, which must work where llvmlite is not installed (a
runtime-only install running compiled files: runtime/artifact_file.py)."""

try:
    import llvmlite
except ModuleNotFoundError:  # no compiler: only codegen.artifact is usable
    llvmlite = None
else:
    # Use LLVM's opaque `ptr` everywhere; llvmlite's IR layer defaults to typed
    # pointers, and the flag must be set before llvmlite.ir is imported.
    llvmlite.ir_layer_typed_pointers_enabled = False
