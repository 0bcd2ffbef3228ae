"""One rank of tests/test_distributed.py (run under `torch.distributed.run`,
gloo, CPU): a few SGD steps of a built spec under DDP — and under FSDP2's
`fully_shard` where this torch supports it on CPU — then checks that every
parameter is the same on all ranks. Rank 0 prints one JSON line per run.

    python -m torch.distributed.run --standalone --nproc_per_node 2 \\
        tests/distributed_worker.py resnet18:64 googlenet_aux nasnet_a_mobile
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import archspec  # noqa: E402

STEPS = 3
BATCH = 2


def load(arg: str) -> archspec.Network:
    """`name` or `name:size` (the spec at a smaller square input)."""
    name, _, size = arg.partition(":")
    return archspec.load(name, input=f"3x{size}x{size}" if size else None)


def toy_loss(out: torch.Tensor | tuple[torch.Tensor, ...]) -> torch.Tensor:
    outs = out if isinstance(out, tuple) else (out,)
    return sum((o.float() ** 2).mean() for o in outs)  # every head gets gradient


def train(model: nn.Module, net: archspec.Network, rank: int) -> list[float]:
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    gen = torch.Generator().manual_seed(100 + rank)  # each rank its own data
    losses = []
    for _ in range(STEPS):
        x = torch.randn(BATCH, *net.input.as_list(), generator=gen)
        opt.zero_grad()
        loss = toy_loss(model(x))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def mismatched(model: nn.Module, world: int) -> list[str]:
    """Names of parameters that differ between ranks (full tensors for DTensors)."""
    bad = []
    for name, param in model.named_parameters():
        tensor = param.detach()
        if hasattr(tensor, "full_tensor"):
            tensor = tensor.full_tensor()
        gathered = [torch.empty_like(tensor) for _ in range(world)]
        dist.all_gather(gathered, tensor.contiguous())
        if not all(torch.equal(gathered[0], other) for other in gathered[1:]):
            bad.append(name)
    return bad


def run(arg: str, wrapper: str, rank: int, world: int) -> dict:
    net = load(arg)
    torch.manual_seed(0)  # same initial weights on every rank
    model = net.build()
    before = [p.detach().clone() for p in model.parameters()]
    if wrapper == "ddp":
        model = nn.parallel.DistributedDataParallel(model)
    else:
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import fully_shard

        fully_shard(model, mesh=init_device_mesh("cpu", (world,)))
    losses = train(model, net, rank)
    params = list(model.parameters())
    moved = any(
        not torch.equal(b, p.detach().full_tensor() if hasattr(p, "full_tensor") else p.detach())
        for b, p in zip(before, params, strict=True)
    )
    return {"spec": arg, "wrapper": wrapper, "losses": losses, "moved": moved,
            "mismatched": mismatched(model, world)}  # fmt: skip


def main() -> None:
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.set_num_threads(1)  # two ranks share the test machine's cores
    for arg in sys.argv[1:]:
        for wrapper in ("ddp", "fsdp2"):
            if wrapper == "fsdp2" and arg != sys.argv[1]:
                continue  # one FSDP2 run is enough to show whether it works
            try:
                result = run(arg, wrapper, rank, world)
            except Exception as exc:  # reported, not raised: FSDP2 may not run on CPU
                result = {"spec": arg, "wrapper": wrapper, "error": repr(exc)[:500],
                          "trace": traceback.format_exc()[-1500:]}  # fmt: skip
            if rank == 0:
                print(json.dumps(result), flush=True)
            dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
