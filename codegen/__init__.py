"""Typed AST -> BPF object. Imports llvmlite, so the runtime imports this
package only when it has to compile."""

import llvmlite

# Use LLVM's opaque `ptr` everywhere; llvmlite's IR layer defaults to typed
# pointers, and the flag must be set before llvmlite.ir is imported.
llvmlite.ir_layer_typed_pointers_enabled = False
