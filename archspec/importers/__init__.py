"""`archspec import`: existing networks → short, folded specs.

prototxt.py  Caffe's text format → messages with spans (a Lark grammar)
caffe.py     a Caffe deploy file → a shape-annotated layer graph
graph.py     the layer graph both importers build (`Graph`, `ImportError_`),
             its costs by the op registry, conv/BN/act fusion
structure.py the graph as nested sequences, residuals and concats (`structure`)
render.py    layers and regions as spec text (`render_node`, `Renderer`, `dump`)
fold.py      repeated regions → parameterised blocks (`find_units`, `parameterise`)
names.py     safe spec names from the source's names (`identifier`)
write.py     a layer graph → a checked spec (`write_spec`, `SpecWriter`)
command.py   the `import` subcommand (the PyTorch path is
             `archspec.compiler.io.module_import`, which needs torch)
"""
