"""The reasoners' training loop (:func:`fit`) and its checkpoints, so a long run survives the end of a
working session.

A :class:`TrainingCheckpoint` is written every ``every`` seconds and at each epoch's end (to a
temporary file renamed into place: a run killed while writing keeps the previous checkpoint). It
holds everything the loop needs to go on exactly where it stopped: the model's trainable state, the
optimiser and learning-rate schedule, the epoch, the position in that epoch's shuffled order, the
random generators and the best epoch so far. It is keyed by the run's settings and the graph's
fingerprint: resuming with other settings, or after the graph changed, is refused with a message
saying to start afresh.

>>> import tempfile, torch
>>> folder = tempfile.mkdtemp()
>>> ck = TrainingCheckpoint(Path(folder) / "checkpoint.pt", {"epochs": 2})
>>> ck.load() is None
True
>>> ck.save({"epoch": 1, "weights": torch.ones(2)})
>>> TrainingCheckpoint(Path(folder) / "checkpoint.pt", {"epochs": 2}).load()["epoch"]
1
>>> TrainingCheckpoint(Path(folder) / "checkpoint.pt", {"epochs": 3}).load()
Traceback (most recent call last):
...
kg.errors.KGQAError: [E-GNN-RESUME] ...
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import torch
from torch import nn

from kg.errors import KGQAError

#: the checkpoint's file name inside the model folder
CHECKPOINT_FILE = "checkpoint.pt"


class TrainingCheckpoint:
    """The checkpoint file of one training run (``key``: its settings, JSON-serialisable)."""

    def __init__(self, path: Path, key: dict, *, every: float = 600.0):
        self.path = Path(path)
        self.key = json.loads(json.dumps(key, sort_keys=True, default=str))
        self.every = float(every)
        self._last = time.monotonic()

    def load(self) -> dict | None:
        """The saved state, or None when there is no checkpoint; refuses one from another run."""
        if not self.path.is_file():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=False)
        except Exception as err:  # noqa: BLE001 - a damaged file: say so, the user decides
            raise KGQAError(f"the checkpoint {self.path} cannot be read ({err}); delete it and train again without "
                            "--resume", code="E-GNN-RESUME") from err
        if state.get("key") != self.key:
            differ = sorted(k for k in set(self.key) | set(state.get("key") or {})
                            if (state.get("key") or {}).get(k) != self.key.get(k))
            raise KGQAError(f"the checkpoint {self.path} belongs to a run with other settings or another graph "
                            f"({', '.join(differ) or 'unknown'} differ); repeat that run's options to resume it, "
                            "or train without --resume to start afresh", code="E-GNN-RESUME")
        return state

    def due(self) -> bool:
        """Whether ``every`` seconds have passed since the last save."""
        return time.monotonic() - self._last >= self.every

    def save(self, state: dict) -> None:
        """Write ``state`` (plus the run's key) atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        torch.save({**state, "key": self.key}, tmp)
        os.replace(tmp, self.path)
        self._last = time.monotonic()

    def remove(self) -> None:
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


def fit(module, opt, sched, step, n: int, *, epochs, batch_size, rng, started, time_budget, log, evaluate,
         snapshot, restore, clip: float | None = None, checkpoint=None):
    """The training loop of both readers: shuffled batches, ``step(rows)`` returns a batch's loss; after each
    epoch ``evaluate()`` gives held-out ``(hits, by_hops)`` and the best epoch's ``snapshot()`` is restored at
    the end (held-out Hits@1 wobbles between epochs). Returns ``(hits, by_hops, epochs run)``.

    With a ``checkpoint`` (:class:`TrainingCheckpoint`) the loop saves where it
    is every few minutes and after each epoch, and starts from a saved state when there is one (the
    same batches in the same order as an uninterrupted run)."""
    best, done = (-1.0, {}, None, 0), 0
    first_epoch, first_row, perm, total = 0, 0, None, 0.0
    resumed = checkpoint.load() if checkpoint is not None else None
    if resumed is not None:
        restore(resumed["model"])
        opt.load_state_dict(resumed["opt"])
        sched.load_state_dict(resumed["sched"])
        rng.bit_generator.state = resumed["rng"]
        torch.set_rng_state(resumed["torch_rng"])
        best, done = tuple(resumed["best"]), resumed["done"]
        first_epoch, first_row, perm, total = resumed["epoch"], resumed["row"], resumed["perm"], resumed["total"]
        log(f"resuming at epoch {first_epoch + 1}, question {first_row:,} of {n:,}")

    def save(epoch, row, perm, total):
        checkpoint.save({"model": snapshot(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                         "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(), "best": list(best),
                         "done": done, "epoch": epoch, "row": row, "perm": perm, "total": total})

    stopped = False
    for epoch in range(first_epoch, epochs):
        module.train()
        if perm is None:
            perm = rng.permutation(n)
        for lo in range(first_row, n, batch_size):
            rows = perm[lo:lo + batch_size].tolist()
            loss = step(rows)
            opt.zero_grad()
            loss.backward()
            if clip:
                nn.utils.clip_grad_norm_(module.parameters(), clip)
            opt.step()
            total += float(loss.detach()) * len(rows)
            if (lo // batch_size) % 100 == 99:
                log(f"epoch {epoch + 1}: {lo + len(rows):,}/{n:,} questions, "
                    f"loss {total / (lo + len(rows)):.4f} ({time.monotonic() - started:.0f} s)")
            if checkpoint is not None and checkpoint.due() and lo + batch_size < n:
                save(epoch, lo + batch_size, perm, total)
            if time_budget and time.monotonic() - started > time_budget:
                if checkpoint is not None and lo + batch_size < n:
                    save(epoch, lo + batch_size, perm, total)
                    log("time budget reached; run again with --resume to continue")
                    stopped = True
                break
        if stopped:
            break
        done, first_row, perm = epoch + 1, 0, None
        sched.step()
        hits, by_hops = evaluate()
        log(f"epoch {epoch + 1}: loss {total / max(n, 1):.4f}, held-out Hits@1 {hits:.3f} "
            f"{by_hops} ({time.monotonic() - started:.0f} s)")
        total = 0.0
        if hits > best[0]:
            best = (hits, by_hops, snapshot(), epoch + 1)
        if checkpoint is not None and done < epochs:
            save(done, 0, None, 0.0)
        if time_budget and time.monotonic() - started > time_budget:
            log("time budget reached" + ("; run again with --resume to continue" if checkpoint is not None
                                         and done < epochs else ""))
            break
    hits, by_hops, state, kept = best
    if state is not None:
        restore(state)
        log(f"keeping epoch {kept} (held-out Hits@1 {hits:.3f})")
    else:  # stopped inside the first epoch: report what it learned so far
        hits, by_hops = evaluate()
    if checkpoint is not None and done >= epochs:
        checkpoint.remove()
    return hits, by_hops, done


__all__ = ["TrainingCheckpoint", "CHECKPOINT_FILE", "fit"]
