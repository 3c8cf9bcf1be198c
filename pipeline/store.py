"""The segment store: each synthesized segment's audio, on disk, keyed by segment id.

This is the generate stage's checkpoint. A segment is written the moment it is
synthesized (to a temporary name, then renamed, so a crash never leaves a half-written
file under a real name); a rerun finds it and does not synthesize it again. Audio is
mono FLAC, 24-bit, at the engine's native rate (Piper: 22050 Hz), so a 10-hour book
takes about 1 GB instead of 3 GB of float WAV.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf


class SegmentStore:
    """A folder of ``<segment id>.flac`` files. Safe against kills: writes are atomic."""

    SUFFIX = ".flac"

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, segment_id: str) -> Path:
        """Where the audio of ``segment_id`` lives (whether or not it exists yet)."""
        return self.root / f"{segment_id}{self.SUFFIX}"

    def has(self, segment_id: str) -> bool:
        """True when the segment's audio has been stored completely."""
        return self.path(segment_id).is_file()

    def put(self, segment_id: str, audio: np.ndarray, sample_rate_hz: int) -> Path:
        """Store mono float audio (shape ``(n,)``, range [-1, 1]) atomically; return its path."""
        final = self.path(segment_id)
        tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
        sf.write(tmp, np.clip(audio, -1.0, 1.0), sample_rate_hz, format="FLAC", subtype="PCM_24")
        os.replace(tmp, final)
        return final

    def read(self, segment_id: str) -> tuple[np.ndarray, int]:
        """Return ``(float32 samples of shape (n,), sample_rate_hz)``; KeyError if absent."""
        if not self.has(segment_id):
            raise KeyError(segment_id)
        audio, rate = sf.read(self.path(segment_id), dtype="float32", always_2d=False)
        return audio, rate

    def duration_s(self, segment_id: str) -> float:
        """Duration of a stored segment in seconds, read from the file header only."""
        return sf.info(str(self.path(segment_id))).duration

    def stored_ids(self) -> set[str]:
        """Ids of every completely stored segment."""
        return {p.stem for p in self.root.glob(f"*{self.SUFFIX}") if not p.name.startswith(".")}
