"""IR + AST → source that reads like torchvision: one class per spec block,
whose `__init__` takes the block's parameters, loops for repetitions, one
constructor call per row.

How it stays exact. Generation is a pass over the IR alone: every instance
expanded, with the provenance the elaborator recorded on it (a block
instance's definition, call, bound parameter values and the expressions
passed; a layer's expressions per option; the root's file constants), so
nothing is re-bound, re-evaluated from the file or matched back by span. The
instances of a spec block are grouped, and every value their modules are
built with (a conv's channels, a stride, a repeat count, a child block's
arguments) becomes one Python expression that gives, for *every* instance,
the value the builder used. The expressions tried are the spec's own
(`{4*width}`, `{floor(theta*in.c)}`, `if:` tests, repeat counts, emitted
from the evaluator's AST by `pysource.py`), the block's parameters and input
channels (`in_c`), and `a + (i - 1) * b` in a loop (a dense block's growing
input). A value no expression gives becomes a constructor argument the
caller passes (an instance's decision); a child some instances have and
others not is built under the condition that tells them apart. Module names
come from the plan, so state_dict keys are the builder's. Anything this
cannot express raises `Unsupported` with the reason, and the caller writes
the unrolled form instead; the output is never executed to check it (the
tests prove that every bundled spec's and family's classes build the
builder's exact tree).

Modules: `values` (candidates, scope keys, parameters), `classes` (one
class and the expression of a value), `conditions`, `module` (every class
of a file; `layercode` and `flow` are its layer code and channel flow),
`writer` (the file).
"""

from .values import Unsupported, loop_stop
from .writer import module_names, write_module

__all__ = ["Unsupported", "loop_stop", "module_names", "write_module"]
