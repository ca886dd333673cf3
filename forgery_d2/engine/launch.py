"""Starting the processes of a distributed run, on GPUs or on CPUs.

- With CUDA: detectron2's own :func:`detectron2.engine.launch` (NCCL, one process per GPU,
  ``--num-gpus`` / ``--num-machines`` / ``--machine-rank`` / ``--dist-url`` as in detectron2).
- Without CUDA: detectron2 v0.6's ``launch`` insists on CUDA (it asserts
  ``torch.cuda.is_available()`` and uses NCCL), so the CPU processes are started by torch's own
  launcher instead: ``torch.multiprocessing.spawn`` with the **gloo** backend, the same ranks
  (``machine_rank * processes_per_machine + local_rank``), the same ``dist_url`` rendezvous
  (``"auto"``: a free local port) and detectron2's per-machine process group, so
  ``detectron2.utils.comm`` (``get_rank``, ``get_local_rank``, ``synchronize``, ``gather``) works
  unchanged. No scheduler of our own: torch starts, joins and tears down the processes.
- Under ``torchrun`` (``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK`` / ``LOCAL_WORLD_SIZE`` in the
  environment): :func:`launch` initializes the process group from that environment (gloo on CPU,
  NCCL on GPU) and runs the function in this process; torchrun is then the launcher.
"""

import logging
import os
import socket
from datetime import timedelta

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from detectron2.engine import launch as d2_launch
from detectron2.utils import comm

__all__ = ["launch", "launched_by_torchrun", "DEFAULT_TIMEOUT"]

logger = logging.getLogger(__name__)

# Ranks wait for each other at the end (e.g. the last shard of a long screening run): be generous.
DEFAULT_TIMEOUT = timedelta(hours=12)


def launched_by_torchrun() -> bool:
    """True when this process was started by ``torchrun`` (its environment names the ranks)."""
    return all(
        key in os.environ for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE")
    )


def _set_local_group(num_machines, processes_per_machine, machine_rank):
    """detectron2's per-machine process group (``comm._LOCAL_PROCESS_GROUP``), as its launch
    makes it."""
    for i in range(num_machines):
        ranks = list(range(i * processes_per_machine, (i + 1) * processes_per_machine))
        group = dist.new_group(ranks)
        if i == machine_rank:
            comm._LOCAL_PROCESS_GROUP = group


def _cpu_worker(
    local_rank, main_func, world_size, processes_per_machine, machine_rank, dist_url, args, timeout
):
    rank = machine_rank * processes_per_machine + local_rank
    dist.init_process_group(
        backend="gloo", init_method=dist_url, world_size=world_size, rank=rank, timeout=timeout
    )
    _set_local_group(world_size // processes_per_machine, processes_per_machine, machine_rank)
    comm.synchronize()
    main_func(*args)
    _shut_down()


def _torchrun_worker(main_func, args, timeout):
    local_size = int(os.environ["LOCAL_WORLD_SIZE"])
    world_size = int(os.environ["WORLD_SIZE"])
    rank = int(os.environ["RANK"])
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    dist.init_process_group(backend=backend, init_method="env://", timeout=timeout)
    _set_local_group(world_size // local_size, local_size, rank // local_size)
    comm.synchronize()
    result = main_func(*args)
    _shut_down()
    return result


def _shut_down():
    """Wait for every rank, then tear the process group down before the interpreter exits.

    A gloo process group left to the interpreter's exit aborts the process now and then
    ("terminate called without an active exception": its worker threads are destroyed while still
    joinable; seen about 1 run in 6 of tests/test_distributed.py). Only on success: a rank that
    raised does not wait for the others, so torch's launcher reports its error at once."""
    comm.synchronize()
    dist.destroy_process_group()
    comm._LOCAL_PROCESS_GROUP = None  # destroyed with the rest


def launch(
    main_func,
    processes_per_machine,
    num_machines=1,
    machine_rank=0,
    dist_url="auto",
    args=(),
    timeout=DEFAULT_TIMEOUT,
):
    """Run ``main_func(*args)`` in ``processes_per_machine x num_machines`` processes (see the module
    docstring: detectron2's launch on GPUs, torch.multiprocessing + gloo on CPUs, or the
    environment of ``torchrun``). One process in all: called here, no process group."""
    if launched_by_torchrun():
        return _torchrun_worker(main_func, args, timeout)
    if torch.cuda.is_available():
        return d2_launch(
            main_func,
            processes_per_machine,
            num_machines=num_machines,
            machine_rank=machine_rank,
            dist_url=dist_url,
            args=args,
            timeout=timeout,
        )
    world_size = processes_per_machine * num_machines
    if world_size == 1:
        return main_func(*args)
    if dist_url == "auto":
        if num_machines != 1:
            raise ValueError(
                "dist_url 'auto' only works on one machine; give --dist-url tcp://HOST:PORT"
            )
        dist_url = f"tcp://127.0.0.1:{_free_port()}"
    logger.info(
        f"Starting {processes_per_machine} CPU processes on this machine (gloo, {dist_url}, "
        f"world size {world_size})"
    )
    mp.spawn(
        _cpu_worker,
        nprocs=processes_per_machine,
        daemon=False,
        args=(main_func, world_size, processes_per_machine, machine_rank, dist_url, args, timeout),
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("", 0))
        return sock.getsockname()[1]
