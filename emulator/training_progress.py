"""Progress of training epochs on stderr: a batch-level bar on a terminal, a line per epoch elsewhere.

``progress`` (as the training functions take it) is ``False`` (silent), ``True``
(a tqdm bar that advances every batch, so a long first epoch still moves) or
``"lines"`` (one line per epoch, for logs and pipes where a bar would be noise):

    approxdse: train epoch 3/30: loss 0.412, train acc 0.871, val acc 0.905 (2.1 s)
"""
from __future__ import annotations

import sys
from typing import Any


def progress_mode(flag: bool | None) -> bool | str:
    """What the CLI passes for ``--progress`` (True: a bar), ``--no-progress`` (False:
    nothing) or neither (None: a bar on a terminal, a line per epoch otherwise)."""
    if flag is not None:
        return bool(flag)
    return True if sys.stderr.isatty() else "lines"


class EpochProgress:
    """Reports batches and epochs of one training run (see the module docstring)."""

    def __init__(self, progress: bool | str, desc: str, start_epoch: int, epochs: int,
                 batches_per_epoch: int | None):
        self.mode = "lines" if progress == "lines" else ("bar" if progress else "off")
        self.desc = desc
        self.epochs = epochs
        self.epoch = start_epoch
        self._bar: Any = None
        if self.mode == "bar":
            from tqdm import tqdm

            per = batches_per_epoch or 1
            self._bar = tqdm(total=epochs * per, initial=start_epoch * per, leave=False, file=sys.stderr,
                             desc=f"{desc} epoch {start_epoch + 1}/{epochs}", unit="batch")
        elif self.mode == "lines":
            each = f", {batches_per_epoch} batches each" if batches_per_epoch else ""
            start = f", resuming at epoch {start_epoch + 1}" if start_epoch else ""
            self._line(f"{epochs} epochs{each}{start}")

    def _line(self, text: str) -> None:
        print(f"approxdse: {self.desc} {text}", file=sys.stderr, flush=True)

    def batch(self) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def epoch_done(self, record: Any) -> None:
        """After an epoch: ``record`` has ``epoch``, ``loss``, ``train_accuracy``, ``val_accuracy``, ``seconds``."""
        self.epoch = record.epoch
        if self._bar is not None:
            self._bar.set_postfix(loss=f"{record.loss:.3f}", val=f"{record.val_accuracy:.3f}")
            if record.epoch < self.epochs:
                self._bar.set_description(f"{self.desc} epoch {record.epoch + 1}/{self.epochs}")
        elif self.mode == "lines":
            self._line(f"epoch {record.epoch}/{self.epochs}: loss {record.loss:.3f}, train acc "
                       f"{record.train_accuracy:.3f}, val acc {record.val_accuracy:.3f} ({record.seconds:.1f} s)")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
