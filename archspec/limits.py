"""The budgets a spec is held to. A spec is untrusted input (pasted from a
paper, an issue or a chat; run by a CI job on a file nobody read), so every
dimension of it that costs time or memory has a limit, and going past one is a
located error, never a hang, a crash or a machine out of memory.

The figures leave a wide margin over every real network: the largest bundled
spec is 9 KB with 6 levels of YAML nesting and expands to 1,200 layers.
"""

from __future__ import annotations

MAX_SPEC_BYTES = 4_000_000  # a 50,000-line explicit spec is ~1 MB
MAX_YAML_DEPTH = 64  # nesting of YAML lists and mappings (real specs: < 10)
MAX_YAML_NODES = 200_000  # after aliases are expanded ("billion laughs")
MAX_EXPRESSION_CHARS = 2_000  # one layer expression or `{…}`
MAX_EXPRESSION_DEPTH = 100  # nesting of brackets and operators in one expression
MAX_MAGNITUDE = 10**15  # any number an expression computes
MAX_BLOCK_DEPTH = 64  # block calls inside block calls (recursion)
MAX_LAYERS = 100_000  # layers after expansion
MAX_ITERATIONS = 100_000  # repeat iterations in all, empty ones included (as many as layers)
MAX_CHANNELS = 1 << 20  # channels of any tensor
MAX_SPATIAL = 1 << 16  # height or width of any tensor
MAX_ERRORS = 200  # errors reported for one file (the rest are counted)
MAX_SUGGESTION_CANDIDATES = 2_000  # names compared for "did you mean"

# What `build()` may allocate: parameters and one batch-1 forward's
# activations at fp32, as a share of the machine's physical memory.
BUILD_MEMORY_SHARE = 0.5
