"""`archspec import`: existing networks → short, folded specs.

prototxt.py  Caffe's text format → messages with spans (a Lark grammar)
caffe.py     a Caffe deploy file → a shape-annotated layer graph
graph.py     the layer graph both importers build (`LayerGraph`, `ImportError_`), its
             nodes' attributes configured by their ops (`configured`), its costs
             by the op registry, conv/BN/act fusion
structure.py the graph as nested sequences, residuals and concats (`structure`)
defaults.py  the spec's `defaults:`, chosen by majority (`choose_defaults`)
render.py    layout: each layer as its op spells it (`spell_node` → `Op.spell`),
             regions as YAML values (`Renderer`), block-style lines (`dump`)
fold.py      repeated regions → parameterised blocks (`find_units`, `parameterise`)
names.py     safe spec names from the source's names (`identifier`)
write.py     a layer graph → a checked spec (`write_spec`, `SpecWriter`)
command.py   the `import` subcommand (the PyTorch path is
             `archspec.compiler.io.module_import`, which needs torch)
"""
