"""A cache prefetch hint for compiled kernels.

At a million consumers the journey kernel's time goes mostly into cache misses: each event reads
a consumer's state from a dozen arrays, at random places. The events of a bucket are known in
advance, so the kernel asks the processor to start loading the state of the consumer a few
events ahead while it works on the current one (``llvm.prefetch``, a hint with no effect on
results).
"""

from __future__ import annotations

from llvmlite import ir
from numba import config, types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def _prefetch(typingctx, arr, index):
    """Hint that ``arr[index]`` (for a 2-D array, row ``index``) will be read soon."""
    if not isinstance(arr, types.Array) or not isinstance(index, types.Integer):
        return None
    sig = types.void(arr, index)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        idx = [context.cast(builder, args[1], signature.args[1], types.intp)]
        idx += [context.get_constant(types.intp, 0)] * (aryty.ndim - 1)
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, idx, wraparound=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        # read, high temporal locality, data cache
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen


def _no_prefetch(arr, index) -> None:
    """With ``NUMBA_DISABLE_JIT=1`` (coverage runs) the kernels run as Python: no hint."""


prefetch = _no_prefetch if config.DISABLE_JIT else _prefetch
