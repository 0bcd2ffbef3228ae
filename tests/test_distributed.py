"""Distributed smoke test: `torch.distributed.run` with two CPU ranks (gloo)
trains a residual spec, a concat spec with auxiliary heads and a graph spec
for a few SGD steps under DDP (and one under FSDP2's `fully_shard`) and checks
the ranks end with the same parameters. The ranks live in
tests/distributed_worker.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
if not torch.distributed.is_available():  # pragma: no cover
    pytest.skip("torch built without torch.distributed", allow_module_level=True)

ROOT = Path(__file__).resolve().parent.parent
SPECS = ["resnet18:64", "googlenet_aux", "nasnet_a_mobile"]


@pytest.mark.slow
def test_ddp_and_fsdp2_keep_ranks_in_step() -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         str(ROOT / "tests" / "distributed_worker.py"), *SPECS],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    ddp = {r["spec"]: r for r in results if r["wrapper"] == "ddp"}
    assert set(ddp) == set(SPECS)
    for spec, result in ddp.items():
        assert "error" not in result, (spec, result.get("trace"))
        assert result["moved"], spec  # the steps did update the weights
        assert result["mismatched"] == [], spec
    (fsdp,) = [r for r in results if r["wrapper"] == "fsdp2"]
    if "error" in fsdp:  # FSDP2 on CPU/gloo depends on the torch build
        pytest.xfail(f"fully_shard did not run here: {fsdp['error']}")
    assert fsdp["moved"] and fsdp["mismatched"] == []
