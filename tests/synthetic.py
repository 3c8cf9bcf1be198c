"""Synthetic, speech-like audio for assembly tests and benchmarks (no TTS needed)."""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

RATE = 22050  # Piper's native rate


def speech_like(seconds: float, seed: int, rate: int = RATE) -> np.ndarray:
    """Voiced harmonics + noise under a syllable envelope, peak 0.3..0.9 (TTS-like)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    phase = 2 * np.pi * np.cumsum(rng.uniform(100, 140) + 15 * np.sin(2 * np.pi * 0.7 * t)) / rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 16))
    noise = lfilter([1.0], [1.0, -0.9], rng.standard_normal(n)) * 0.15
    env = np.zeros(n)
    pos = int(0.03 * rate)
    while pos < n - int(0.05 * rate):
        length = min(int(rng.uniform(0.15, 0.45) * rate), n - pos)
        env[pos : pos + length] = np.hanning(length) ** 0.5 * rng.uniform(0.4, 1.0)
        pos += length + int(rng.uniform(0.04, 0.2) * rate)
    x = (0.6 * voiced + noise) * env
    return (x * rng.uniform(0.3, 0.9) / np.abs(x).max()).astype(np.float32)
