"""The numeric precision a fine-tune trains in, chosen per family and recorded in every result.

Three policies (``families.NAME.precision``):

* ``bf16``: bf16 weights and bf16 AdamW state, no fp32 master copy (the authors' setup:
  accelerate ``mixed_precision: 'no'`` on bf16-loaded weights). 2 + 2 + 4 bytes per parameter
  for weights, gradients and Adam moments; small updates at lr 1e-5 round away on many weights.
* ``fp32``: fp32 weights, gradients, optimizer state and compute.
* ``autocast_bf16``: fp32 master weights and optimizer state, matmuls in bf16 under
  ``torch.autocast`` (CPU or CUDA). On a CPU with native bf16 (avx512_bf16/AMX, Arm bf16) a
  SmolLM2 step is about 1.5x faster than fp32 while updates stay fp32-exact in the weights.

``auto`` resolves to ``autocast_bf16`` where the device computes bf16 natively, else ``fp32``.
A requested ``autocast_bf16`` on hardware without native bf16 falls back to ``fp32`` and the
reason is recorded, so a result never claims a precision it did not use.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dataeff.core.errors import DataeffError

POLICIES = ("bf16", "fp32", "autocast_bf16")

#: CPU feature flags (``/proc/cpuinfo``) that give native bf16 matmuls: x86 AVX512-BF16 and AMX,
#: Arm's BF16 extension. Without them bf16 is emulated and slower than fp32.
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")


def cpu_bf16_support(cpuinfo: str | None = None) -> tuple[bool, str]:
    """Whether this CPU computes bf16 natively, and the evidence (the flag found, or why not)."""
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        if not path.is_file():
            return False, "no /proc/cpuinfo to read the CPU's bf16 support from"
        cpuinfo = path.read_text(errors="replace")
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            flags.update(value.split())
    for flag in CPU_BF16_FLAGS:
        if flag in flags:
            return True, f"CPU flag {flag}"
    return False, f"CPU has none of the bf16 flags {', '.join(CPU_BF16_FLAGS)}"


def device_bf16_support(device: str) -> tuple[bool, str]:
    """Native bf16 on ``device`` ("cpu", "cuda", "cuda:0", ...)."""
    if device.startswith("cuda"):
        import torch

        if torch.cuda.is_bf16_supported(including_emulation=False):
            return True, f"CUDA device {torch.cuda.get_device_name()}"
        return False, "CUDA device without native bf16"
    return cpu_bf16_support()


@dataclass(frozen=True)
class Precision:
    """A resolved policy: what was asked for, what is used, and the dtypes that follow."""

    requested: str
    used: str
    reason: str
    device_type: str

    @property
    def weights_dtype(self) -> str:
        return "bfloat16" if self.used == "bf16" else "float32"

    @property
    def optimizer_state_dtype(self) -> str:
        return self.weights_dtype

    @property
    def compute_dtype(self) -> str:
        return "float32" if self.used == "fp32" else "bfloat16"

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """The context the forward pass (and its loss) runs in."""
        if self.used != "autocast_bf16":
            return contextlib.nullcontext()
        import torch

        # cache_enabled=False: each weight is cast once per forward anyway, and the cache would keep
        # a bf16 copy of every (FSDP-gathered) weight until the forward ends: 2 bytes per parameter.
        return torch.autocast(self.device_type, dtype=torch.bfloat16, cache_enabled=False)

    def record(self) -> dict[str, Any]:
        """The JSON form written into metrics.json."""
        return asdict(self) | {
            "weights_dtype": self.weights_dtype,
            "compute_dtype": self.compute_dtype,
            "optimizer_state_dtype": self.optimizer_state_dtype,
        }


def resolve_precision(requested: str, device: str, support: tuple[bool, str] | None = None) -> Precision:
    """Turn a family's ``precision`` setting into the policy used on ``device``.

    ``support`` (native bf16, evidence) is looked up when not given; tests pass it.
    """

    if requested not in (*POLICIES, "auto"):
        raise DataeffError(
            f"unknown precision '{requested}'",
            field="families.NAME.precision",
            fix=f"use one of auto, {', '.join(POLICIES)}",
        )
    device_type = "cuda" if device.startswith("cuda") else "cpu"
    if requested in ("bf16", "fp32"):
        return Precision(requested, requested, "as configured", device_type)
    native, why = support if support is not None else device_bf16_support(device)
    if native:
        how = "as configured" if requested == "autocast_bf16" else "auto: native bf16"
        return Precision(requested, "autocast_bf16", f"{how} ({why})", device_type)
    return Precision(requested, "fp32", f"bf16 autocast unavailable: {why}", device_type)
