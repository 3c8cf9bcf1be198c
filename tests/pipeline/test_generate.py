"""Generate stage against the real Piper voice: storage, resume, parallel workers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pipeline.config import VoiceConfig
from pipeline.generate import generate, pending_segments
from pipeline.models import Segment, SegmentKind
from pipeline.store import SegmentStore
from pipeline.tts import engine_settings, load_engine

TEXTS = [
    "The whale surfaced at dawn.",
    "Call me Ishmael.",
    "It was a bright cold day in April, and the clocks were striking thirteen.",
    "She laughed.",
]


def _segments(texts: list[str], voice: VoiceConfig) -> list[Segment]:
    from pipeline.segment import segment_id

    settings = engine_settings(voice)
    return [
        Segment(
            segment_id(t, voice.narrator, voice.engine, settings),
            1,
            i,
            SegmentKind.BODY,
            t,
            voice.narrator,
            voice.engine,
            250,
        )
        for i, t in enumerate(texts)
    ]


def test_piper_engine_speaks_at_native_rate_without_normalisation():
    engine = load_engine(VoiceConfig(), threads=1)
    audio = engine.synthesize("Hello there. This is the second sentence.")
    assert engine.sample_rate_hz == 22050
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert 1.5 < len(audio) / 22050 < 6.0
    # normalize_audio=False: Piper's raw level, not every sentence pushed to 1.0
    assert 0.05 < np.abs(audio).max() < 0.99


def test_generate_stores_every_segment_and_resumes_without_resynthesis(tmp_path):
    voice = VoiceConfig()
    store = SegmentStore(tmp_path)
    segs = _segments(TEXTS, voice)
    first = generate(segs[:2], store, {"narrator": voice}, jobs=1)
    assert (first.segments_synthesized, first.segments_reused) == (2, 0)
    synthesized: list[str] = []
    second = generate(
        segs, store, {"narrator": voice}, jobs=1, on_segment=lambda s, d: synthesized.append(s.id)
    )
    assert (second.segments_synthesized, second.segments_reused) == (2, 2)
    assert synthesized == [s.id for s in segs[2:]]
    assert store.stored_ids() == {s.id for s in segs}
    assert second.audio_s > 1.0 and second.real_time_factor > 0
    assert pending_segments(segs, store) == []


def test_parallel_generation_matches_serial_audio_length(tmp_path):
    voice = VoiceConfig()
    serial, parallel = SegmentStore(tmp_path / "a"), SegmentStore(tmp_path / "b")
    segs = _segments(TEXTS, voice)
    generate(segs, serial, {"narrator": voice}, jobs=1)
    stats = generate(segs, parallel, {"narrator": voice}, jobs=2)
    assert stats.segments_synthesized == len(TEXTS)
    for seg in segs:
        # Same model, same text: durations agree within 15 % (VITS duration noise).
        assert parallel.duration_s(seg.id) == pytest.approx(serial.duration_s(seg.id), rel=0.15)


def test_duplicate_segments_are_synthesized_once(tmp_path):
    voice = VoiceConfig()
    segs = _segments(["Again.", "Again."], voice)
    stats = generate(segs, SegmentStore(tmp_path), {"narrator": voice}, jobs=1)
    assert (stats.segments_total, stats.segments_synthesized) == (1, 1)


def test_unknown_voice_is_a_clear_engine_error(tmp_path):
    from pipeline.errors import EngineError

    voice = VoiceConfig(narrator=str(tmp_path / "missing.onnx"))
    with pytest.raises(EngineError, match="not found"):
        load_engine(voice)


_FORK_SERVER_SCRIPT = """
import json, sys
import numpy as np
from pipeline.config import VoiceConfig
from pipeline.generate import _synthesize_in_worker, _worker_ready, start_fork_server, start_workers
from pipeline.tts import load_engine

if __name__ == "__main__":
    preloaded = VoiceConfig(noise_scale=0.0, noise_w_scale=0.0)  # deterministic, so outputs compare exactly
    other = VoiceConfig(noise_scale=0.0, noise_w_scale=0.0, length_scale=1.2)
    start_fork_server(voice=preloaded)
    result = {}
    for name, voice in (("preloaded", preloaded), ("other", other)):
        pool = start_workers(voice, 2)
        inherited = [pool.submit(_worker_ready).result() for _ in range(4)]
        audio, rate = pool.submit(_synthesize_in_worker, sys.argv[1], voice).result()
        pool.shutdown()
        here = load_engine(voice, threads=1).synthesize(sys.argv[1])
        result[name] = {"inherited": inherited, "same_audio": bool(np.array_equal(audio, here)), "rate": rate}
    print(json.dumps(result))
"""


def test_workers_start_with_the_voice_their_fork_server_preloaded(tmp_path):
    """The fork server loads the voice once; workers forked from it synthesize with that
    very engine (the same audio as a freshly loaded one), and a pool for another voice
    loads its own. Runs in a fresh interpreter: a fork server is started once per process."""
    script = tmp_path / "fork_server_voice.py"
    script.write_text(_FORK_SERVER_SCRIPT)
    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, str(script), TEXTS[2]],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(repo)},
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["preloaded"] == {"inherited": [True] * 4, "same_audio": True, "rate": 22050}
    assert result["other"] == {"inherited": [False] * 4, "same_audio": True, "rate": 22050}


def test_each_segment_is_spoken_by_its_roles_voice_serial_and_parallel(tmp_path):
    """A cast book: segments name their role; generate speaks each with that role's voice
    (here the narrator and a pitched variant; noise off so audio compares exactly)."""
    from dataclasses import replace

    narrator = VoiceConfig(noise_scale=0.0, noise_w_scale=0.0)
    hyde = VoiceConfig(noise_scale=0.0, noise_w_scale=0.0, pitch_semitones=-4.0)
    voices = {"narrator": narrator, "Hyde": hyde}
    segs = _segments(TEXTS[:2], narrator) + [
        replace(s, voice="Hyde", index=s.index + 2) for s in _segments(TEXTS[2:], hyde)
    ]
    expected = {
        s.id: load_engine(voices.get(s.voice, narrator), threads=1).synthesize(s.text) for s in segs
    }
    for jobs in (1, 2):
        store = SegmentStore(tmp_path / f"jobs{jobs}")
        stats = generate(segs, store, voices, jobs=jobs)
        assert stats.segments_synthesized == 4
        for seg in segs:
            audio, rate = store.read(seg.id)
            assert rate == 22050
            assert np.allclose(audio, expected[seg.id], atol=2e-5), (jobs, seg.voice)
