"""One model trained by many processes: torchrun's environment, the process group, the device.

``torchrun --standalone --nproc_per_node N -m melodyrnn train ...`` (or ``--nnodes`` with a
rendezvous on a cluster) starts N processes with ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``
set; :func:`setup` joins them into one process group (gloo on CPU, nccl on GPU) and picks the
device of this process. Without those variables (or with one process) nothing is initialised
and training runs as a single process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from melodyrnn.errors import ConfigError

DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class Processes:
    """Where this process stands: its rank among ``world`` processes and its device."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        """The process that writes checkpoints, metrics and the progress bar."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value.strip() else default
    except ValueError:
        raise ConfigError(f"the environment variable {name}={value!r} is not a number") from None


def choose_device(device: str | None, local_rank: int = 0) -> torch.device:
    """``auto`` (default): this process's GPU when there is one, else the CPU."""
    name = (device or "auto").lower()
    if name not in DEVICES and not name.startswith("cuda:"):
        raise ConfigError(
            f"{{device}} must be one of {', '.join(DEVICES)}, got {device!r}",
            parameters=("device",),
        )
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(
                "{device} cuda asked for, but torch sees no GPU", parameters=("device",)
            )
        return torch.device(
            name if ":" in name else f"cuda:{local_rank % torch.cuda.device_count()}"
        )
    return torch.device("cpu")


def setup(device: str | None = None) -> Processes:
    """Join torchrun's process group (once per process) and pick this process's device."""
    world = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    local_rank = _env_int("LOCAL_RANK", 0)
    chosen = choose_device(device, local_rank)
    if world > 1:
        if chosen.type == "cuda":
            torch.cuda.set_device(chosen)
        if not dist.is_initialized():
            dist.init_process_group("nccl" if chosen.type == "cuda" else "gloo")
        world, rank = dist.get_world_size(), dist.get_rank()
    return Processes(rank=rank, world=world, local_rank=local_rank, device=chosen)


def shutdown() -> None:
    """Leave the process group (at the end of a distributed run)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def all_sum(value: float, processes: Processes) -> float:
    """``value`` summed over every process (itself when there is one)."""
    if not processes.distributed:
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=processes.device)
    dist.all_reduce(tensor)
    return float(tensor.item())


def any_process(flag: bool, processes: Processes) -> bool:
    """True on every process if ``flag`` is true on any of them."""
    return all_sum(float(bool(flag)), processes) > 0
