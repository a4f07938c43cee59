"""Test-only: let accelerate's FSDP path run on CPU processes (gloo), and build the environment
``accelerate launch --config_file config/fsdp.yaml`` gives its workers.

accelerate decides "FSDP" only for GPU-like devices; on CPUs with several processes it says
MULTI_CPU and ignores the FSDP plugin. torch's ``fully_shard`` itself runs on CPU with gloo, so
:func:`allow_fsdp_on_cpu` turns the MULTI_CPU decision into FSDP when a plugin was configured;
everything after that (wrapping, sharded state, checkpoints, gathering) is accelerate's and
torch's own code. :func:`torchrun` is the one command line the multi-process tests launch
their worker scripts with. Not a test module, and never imported by the package.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def allow_fsdp_on_cpu() -> None:
    """Patch ``AcceleratorState`` so an FSDP plugin on MULTI_CPU processes means FSDP."""
    from accelerate.state import AcceleratorState, PartialState
    from accelerate.utils import DistributedType

    original = AcceleratorState.__init__

    def init(self, *args, fsdp_plugin=None, **kwargs):
        original(self, *args, fsdp_plugin=fsdp_plugin, **kwargs)
        if fsdp_plugin is not None and self.distributed_type == DistributedType.MULTI_CPU:
            self.distributed_type = DistributedType.FSDP
            self.fsdp_plugin = fsdp_plugin
            # later AcceleratorState() calls copy PartialState's record over their own
            PartialState._shared_state["distributed_type"] = DistributedType.FSDP

    AcceleratorState.__init__ = init


def fsdp_launch_env(num_processes: int, config_file: Path = ROOT / "config" / "fsdp.yaml") -> dict[str, str]:
    """The FSDP_*/ACCELERATE_* variables accelerate's launcher derives from ``config_file``
    (its own parser and translation, so the test exercises the shipped config)."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils.launch import prepare_multi_gpu_env

    args = launch_command_parser().parse_args(
        [
            "--config_file",
            str(config_file),
            "--num_processes",
            str(num_processes),
            "--main_process_port",
            "0",
            "unused.py",
        ]
    )
    args, _, _ = _validate_launch_command(args)
    env = prepare_multi_gpu_env(args)
    return {k: v for k, v in env.items() if k.startswith(("FSDP_", "ACCELERATE_"))}


def free_port() -> int:
    """A TCP port nobody listens on now (the rendezvous port of one launch)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(script: Path, *args: str, procs: int = 2) -> list[str]:
    """``python -m torch.distributed.run`` starting ``procs`` CPU processes of ``script``: what
    ``accelerate launch`` runs for several GPUs (on CPUs accelerate itself would want mpirun)."""
    return [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(procs),
        "--master_port", str(free_port()), str(script), *args,
    ]  # fmt: skip
