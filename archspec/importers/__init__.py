"""`archspec import`: existing networks → short, folded specs.

prototxt.py  Caffe's text format → messages with spans (a Lark grammar)
caffe.py     a Caffe deploy file → a shape-annotated layer graph
folding.py   a layer graph → a spec: conv/BN/act chains fused, repeated
             regions folded into parameterised blocks, rows and repeats
command.py   the `import` subcommand (the PyTorch path is
             `archspec.compiler.io.module_import`, which needs torch)
"""
