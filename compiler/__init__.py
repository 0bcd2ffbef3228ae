"""archspec's torch backends: IR → `torch.nn.Module` and IR → standalone source.

Everything in the project that imports torch lives in this package.
"""
