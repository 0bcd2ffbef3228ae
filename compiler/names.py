"""Names the torch backend reserves, as data: the elaborator is handed them so
no spec node takes a name its module could not have. Torch-free on purpose
(the static tools read it without importing torch); a test holds it equal to
what `nn.Module` really defines.
"""

from __future__ import annotations

# Public attributes of every `torch.nn.Module` (torch 2.x): a submodule of that
# name would shadow them.
MODULE_ATTRIBUTES = frozenset(
    [
        "T_destination",
        "add_module",
        "apply",
        "bfloat16",
        "buffers",
        "call_super_init",
        "children",
        "compile",
        "cpu",
        "cuda",
        "double",
        "dump_patches",
        "eval",
        "extra_repr",
        "float",
        "forward",
        "get_buffer",
        "get_extra_state",
        "get_parameter",
        "get_submodule",
        "half",
        "ipu",
        "load_state_dict",
        "modules",
        "mtia",
        "named_buffers",
        "named_children",
        "named_modules",
        "named_parameters",
        "parameters",
        "register_backward_hook",
        "register_buffer",
        "register_forward_hook",
        "register_forward_pre_hook",
        "register_full_backward_hook",
        "register_full_backward_pre_hook",
        "register_load_state_dict_post_hook",
        "register_load_state_dict_pre_hook",
        "register_module",
        "register_parameter",
        "register_state_dict_post_hook",
        "register_state_dict_pre_hook",
        "requires_grad_",
        "set_extra_state",
        "set_submodule",
        "share_memory",
        "state_dict",
        "to",
        "to_empty",
        "train",
        "training",
        "type",
        "xpu",
        "zero_grad",
    ]
)

# What `torch.fx.GraphModule` adds (graph blocks are built as one).
GRAPH_MODULE_ATTRIBUTES = frozenset(
    [
        "add_submodule",
        "code",
        "delete_all_unused_submodules",
        "delete_submodule",
        "graph",
        "meta",
        "print_readable",
        "recompile",
        "shape_env",
        "to_folder",
    ]
)

# Keyword arguments of the combinators in `layers.py` (children come as
# keywords too), and `self`, which a generated `__init__` cannot take.
COMBINATOR_ARGUMENTS = frozenset({"scale_", "post_", "drop_path_", "self"})

RESERVED = MODULE_ATTRIBUTES | GRAPH_MODULE_ATTRIBUTES | COMBINATOR_ARGUMENTS
