"""Resumable checkpoints that every rank writes into one directory, made visible atomically.

Layout: ``CKPT/step-000050/`` holds accelerate's state (weights or each rank's shard, optimizer
shards, scheduler, every rank's RNG state), each rank's best-weights shard ``best_rank{r}.pt`` and
``trainer_state.json``; ``CKPT/latest.json`` names the complete one. A checkpoint is written into
``step-000050.tmp`` by all ranks, renamed by rank 0 after a barrier, and only then does
``latest.json`` (written atomically) point to it, so a job killed at any moment leaves either the
previous checkpoint or the new one, never a half-written one, and never one rank's shard only.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from dataeff.core.io import atomic_write_json
from dataeff.training.state import TrainState

LATEST = "latest.json"


class Checkpointer:
    """Save, find and resume the checkpoint of one fine-tune (collective: every rank calls)."""

    def __init__(self, accelerator: Any, directory: str | Path, fingerprint: str) -> None:
        self.accelerator = accelerator
        self.directory = Path(directory)
        self.fingerprint = fingerprint

    def _barrier(self) -> None:
        self.accelerator.wait_for_everyone()

    @property
    def _main(self) -> bool:
        return self.accelerator.is_main_process

    def latest(self) -> Path | None:
        """The complete checkpoint this run may resume, or None (one of another run is removed)."""
        import json

        self._barrier()
        pointer = self.directory / LATEST
        info = json.loads(pointer.read_text()) if pointer.is_file() else None
        usable = (
            info is not None and info.get("fingerprint") == self.fingerprint and (self.directory / info["dir"]).is_dir()
        )
        leftover = self.directory.exists()
        # Every rank has looked before rank 0 may remove anything, so all decide alike.
        self._barrier()
        if usable:
            return self.directory / info["dir"]
        if leftover:
            if info is not None:
                self.accelerator.print(f"ignoring checkpoint {self.directory}: written with other settings or data")
            self.remove()
        return None

    def resume(self) -> tuple[TrainState, dict[str, Any] | None] | None:
        """Load the latest checkpoint into the prepared model/optimizer/scheduler/RNG; returns
        the training state and this rank's best-weights shard, or None when there is none."""
        import torch

        path = self.latest()
        if path is None:
            return None
        self.accelerator.load_state(str(path / "accelerate"))
        state = TrainState.from_json((path / "trainer_state.json").read_text())
        state.resumed_from = state.step
        best_file = path / f"best_rank{self.accelerator.process_index}.pt"
        best = torch.load(best_file, map_location="cpu") if best_file.is_file() else None
        self.accelerator.print(f"resuming from checkpoint at step {state.step}")
        return state, best

    def save(self, state: TrainState, best: dict[str, Any] | None) -> Path:
        """Write a checkpoint of ``state`` (all ranks into one directory) and make it the latest."""
        import torch

        name = f"step-{state.step:06d}"
        tmp, final = self.directory / f"{name}.tmp", self.directory / name
        self._barrier()
        if self._main:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
        self._barrier()
        self.accelerator.save_state(str(tmp / "accelerate"))
        if best is not None:
            torch.save(best, tmp / f"best_rank{self.accelerator.process_index}.pt")
        self._barrier()  # every rank's files are in tmp
        if self._main:
            (tmp / "trainer_state.json").write_text(state.to_json())
            shutil.rmtree(final, ignore_errors=True)
            tmp.rename(final)
            atomic_write_json(
                self.directory / LATEST, {"dir": name, "step": state.step, "fingerprint": self.fingerprint}
            )
            for old in self.directory.glob("step-*"):
                if old.name != name:
                    shutil.rmtree(old, ignore_errors=True)
        self._barrier()
        return final

    def remove(self) -> None:
        """Delete every checkpoint (after a finished run, or one of other settings)."""
        self._barrier()
        if self._main:
            shutil.rmtree(self.directory, ignore_errors=True)
        self._barrier()
