"""Multi-process training through torch DDP, as launched by ``torchrun``.

``torchrun --nproc_per_node=4 -m jetscale.cli train ...`` sets RANK, WORLD_SIZE and
LOCAL_RANK; every process then reads the same deterministic batch stream and keeps
every W-th batch, DDP averages the gradients, and only rank 0 evaluates and writes.
Without those variables everything here is a no-op (one process).
"""

from __future__ import annotations

import dataclasses
import os

import torch
import torch.distributed as dist
from torch import nn


@dataclasses.dataclass(frozen=True)
class Distributed:
    """This process's place in a torchrun job (rank 0 of 1 without one)."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @classmethod
    def from_environment(cls) -> Distributed:
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        if world_size <= 1:
            return cls()
        rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
        if not dist.is_initialized():
            backend = "nccl" if torch.cuda.is_available() else "gloo"
            dist.init_process_group(backend=backend)
        return cls(rank=rank, local_rank=local_rank, world_size=world_size)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def device(self, requested: torch.device) -> torch.device:
        """One GPU per process: cuda:LOCAL_RANK when training on GPUs."""
        if self.world_size > 1 and requested.type == "cuda":
            torch.cuda.set_device(self.local_rank)
            return torch.device("cuda", self.local_rank)
        return requested

    def wrap(self, model: nn.Module) -> nn.Module:
        if self.world_size <= 1:
            return model
        device_ids = [self.local_rank] if next(model.parameters()).is_cuda else None
        return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)

    def barrier(self) -> None:
        if self.world_size > 1:
            dist.barrier()

    def close(self) -> None:
        if self.world_size > 1 and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()
