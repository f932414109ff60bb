"""torch.distributed under torchrun: which rank we are, and a barrier (no-ops in one process).

Tied processes. `interp sweep --nproc-per-node K` starts each trial as `python -m interp.train.dist SWEEP_PID
python -m torch.distributed.run ...`: this module's `__main__` asks Linux to SIGTERM it when the sweep dies
(prctl PR_SET_PDEATHSIG; torchrun then stops its workers) and execs torchrun in place, with TIED_ENV naming
torchrun's pid. torchrun starts each worker in its own session, so a kill -9 of torchrun would orphan them:
`init_distributed` therefore ties every worker that sees TIED_ENV to torchrun with SIGKILL. A process whose
parent is already gone when it ties itself exits at once. Elsewhere (not Linux) tying is a no-op.
"""

from __future__ import annotations

import os
import signal
import sys
from dataclasses import dataclass

TIED_ENV = "INTERP_TIED_TO_PID"  # set for torchrun's workers: the pid of the torchrun agent they belong to
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def tie_to_parent(expected_ppid: int, sig: int) -> bool:
    """Ask the kernel to send `sig` to this process when its parent dies; exit(1) if the parent is not
    `expected_ppid` any more (it died before we tied). False where unsupported (not Linux)."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    if os.getppid() != expected_ppid:
        os._exit(1)
    return True


def _tie_worker() -> None:
    """A torchrun worker started by `interp sweep`: die with its torchrun agent (even a kill -9 of it)."""
    pid = os.environ.get(TIED_ENV, "")
    if pid.isdigit():
        tie_to_parent(int(pid), signal.SIGKILL)


def init_distributed(device: str) -> Dist:
    """Initialise torch.distributed when launched by torchrun (WORLD_SIZE > 1): gloo on CPU, nccl on CUDA."""
    _tie_worker()
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    import torch.distributed as dist

    backend = "nccl" if device.startswith("cuda") else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return Dist(rank=dist.get_rank(), world=dist.get_world_size(), local_rank=int(os.environ.get("LOCAL_RANK", 0)))


def barrier(d: Dist) -> None:
    if d.world > 1:
        import torch.distributed as dist

        dist.barrier()


def all_same(d: Dist, value: float, device: str) -> float:
    """The mean of `value` over ranks (identity in one process)."""
    if d.world <= 1:
        return value
    import torch
    import torch.distributed as dist

    t = torch.tensor([value], device=device)
    dist.all_reduce(t)
    return t.item() / d.world



def _exec_tied(argv: list[str]) -> None:
    """`python -m interp.train.dist PARENT_PID CMD...`: tie to PARENT_PID (SIGTERM on its death), then exec CMD
    with TIED_ENV = this pid (exec keeps the pid, so CMD's children see CMD as their tied parent)."""
    parent, cmd = int(argv[0]), argv[1:]
    tie_to_parent(parent, signal.SIGTERM)
    os.environ[TIED_ENV] = str(os.getpid())
    os.execv(cmd[0], cmd)


if __name__ == "__main__":
    _exec_tied(sys.argv[1:])
