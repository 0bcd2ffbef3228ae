"""IR → standalone Python source: the unrolled form (`codegen`) and the
parametric form (`parametric`, a class per spec block), written through one
emitter (`pysource` for expressions and literals, `codetree` for code)."""
