"""Write the sample line of every built-in voice to ``assets/voices/<id>.ogg`` (Ogg
Vorbis, the engine's native rate, peak at -3 dBFS). Run after adding a voice:

    .venv/bin/python scripts/voice_samples.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from audiobook_app.voices import BUILTIN_VOICES, SAMPLE_LINE  # noqa: E402
from pipeline.tts import load_engine  # noqa: E402

PEAK = 10 ** (-3 / 20)


def main() -> None:
    out = REPO / "assets" / "voices"
    out.mkdir(parents=True, exist_ok=True)
    for voice in BUILTIN_VOICES:
        engine = load_engine(voice.config)
        audio = engine.synthesize(SAMPLE_LINE)
        audio = audio * (PEAK / max(float(np.abs(audio).max()), 1e-9))
        path = out / f"{voice.id}.ogg"
        sf.write(
            path, audio.astype(np.float32), engine.sample_rate_hz, format="OGG", subtype="VORBIS"
        )
        print(
            f"{path.relative_to(REPO)}: {len(audio) / engine.sample_rate_hz:.1f} s, {path.stat().st_size} bytes"
        )


if __name__ == "__main__":
    main()
