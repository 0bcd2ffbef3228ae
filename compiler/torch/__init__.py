"""IR → `torch.nn.Module`: the plan every backend shares (module names, in-place
safety), the parts and joins in torch (`forms`), archspec's own layers and
combinators (`layers`), the builder, and the inference build (BN folding)."""
