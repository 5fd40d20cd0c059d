"""Training on several processes: PyTorch's DistributedDataParallel (DDP) under torchrun.

    torchrun --standalone --nproc_per_node K -m assetvae train DATA --out RUN

torchrun starts K processes and tells each its place (RANK, WORLD_SIZE, LOCAL_RANK and the
rendezvous address) in the environment; ``Dist.from_env`` joins them into one process group:
gloo on the CPU, NCCL on CUDA (one GPU per process, cuda:LOCAL_RANK). Without torchrun (or
with one process) nothing changes: ``Dist()`` is the one process and every call is a no-op.

What makes K processes train as one process does:

- The config's batch size is the global batch. Every process draws the same permutation,
  augmentations and noise for the whole global batch from the (seed, epoch) generator and
  keeps its own rows of it (``rows``): rank r takes rows r, r+K, r+2K, ... Each process's loss is
  scaled by its share of the batch and DDP averages the gradients, so together they take the
  step one process takes on that batch, up to float summation order. The loss curve is one
  process's curve, and a run resumes with any number of processes. (torch's
  DistributedSampler is not used: it splits the epoch's permutation first, so K processes would
  see other batches than one process does, and a change of K would change the run.)
- Rank 0 alone logs and writes (checkpoint, metrics, previews, class model). The checkpoint
  holds the plain model's weights (not DDP's ``module.`` names) and the optimiser state, which
  is the same in every process, so one process loads it and resumes from it.
- The patch critic (--adv-weight) is a DDP module as well, so every process keeps the same one.
- Validation, previews and the final class fit (all training images encoded once, each class
  fitted over all of its images) run on rank 0; the others wait at the next collective.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist

from .errors import ConfigError


@dataclass(frozen=True)
class Dist:
    """This process's place in the process group (rank 0 of 1 when training alone)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls, device: torch.device) -> Dist:
        """Join the group torchrun describes in the environment (once per process)."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
        if device.type == "cuda":
            if local >= torch.cuda.device_count():
                raise ConfigError(
                    f"process {rank} wants cuda:{local}, but only "
                    f"{torch.cuda.device_count()} GPU(s) are visible; start at most "
                    "one process per GPU (torchrun --nproc_per_node)"
                )
            torch.cuda.set_device(local)
        elif device.type != "cpu":
            raise ConfigError(f"several processes train on cpu or cuda, not {device.type}")
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        return cls(rank, world, local)

    @property
    def main(self) -> bool:
        """Rank 0: the one process that logs and writes."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def device(self, device: torch.device) -> torch.device:
        """This process's device: its own GPU under torchrun on CUDA."""
        on_gpu = self.active and device.type == "cuda"
        return torch.device("cuda", self.local_rank) if on_gpu else device

    def rows(self, n: int) -> torch.Tensor | slice:
        """This process's rows of a global batch of n: r, r+K, ... (row 0, weighted 0 by
        ``share``, when n < K leaves it none, so every process still joins the step)."""
        if not self.active:
            return slice(None)
        mine = torch.arange(self.rank, n, self.world)
        return mine if len(mine) else torch.zeros(1, dtype=torch.long)

    def share(self, n: int) -> float:
        """What this process's loss (a mean over its rows) is scaled by, so that DDP's average
        of the processes' gradients is the gradient of the mean over all n rows."""
        mine = len(range(self.rank, n, self.world))
        return mine * self.world / n

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The model as the training step calls it: DDP when several processes train."""
        if not self.active:
            return model
        from torch.nn.parallel import DistributedDataParallel as DDP

        on_gpu = next(model.parameters()).device.type == "cuda"
        return DDP(model, device_ids=[self.local_rank] if on_gpu else None)

    def sum(self, values: dict[str, float]) -> dict[str, float]:
        """Per key, the sum over the processes (the same dict comes back to every process)."""
        if not self.active or not values:
            return values
        keys = list(values)  # the same order in every process: the same code made the dict
        t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=self._comm_device())
        dist.all_reduce(t)
        return dict(zip(keys, t.tolist()))

    def average(self, t: torch.Tensor) -> torch.Tensor:
        """The mean of a tensor over the processes (the same tensor in every process)."""
        if not self.active:
            return t
        t = t.detach().to(self._comm_device()).clone()
        dist.all_reduce(t)
        return t / self.world

    def agree(self, value: float) -> float:
        """Rank 0's value in every process (a decision all must take together)."""
        if not self.active:
            return value
        t = torch.tensor([float(value)], dtype=torch.float64, device=self._comm_device())
        dist.broadcast(t, 0)
        return float(t.item())

    @contextlib.contextmanager
    def rank0_first(self) -> Iterator[None]:
        """Rank 0 runs the block first (filling caches on disk), then the other processes."""
        if self.active and not self.main:
            dist.barrier()
        yield
        if self.active and self.main:
            dist.barrier()

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def close(self) -> None:
        """Leave the group together: every process waits here until all have arrived (rank 0
        fits the class model meanwhile), then the group is torn down. A process that tore its
        side down while a peer still worked could abort in gloo's threads (seen on a 2-core CI
        machine: "terminate called without an active exception")."""
        if self.active and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()

    def _comm_device(self) -> torch.device:
        # NCCL moves only GPU tensors; gloo only CPU ones.
        nccl = dist.get_backend() == "nccl"
        return torch.device("cuda", self.local_rank) if nccl else torch.device("cpu")
