"""Streaming measurements against direct numpy / pyloudnorm on synthetic signals."""

from __future__ import annotations

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from pipeline.audio import (
    FLOOR_DB,
    TP_CONTEXT,
    ChapterMeter,
    TruePeakMeter,
    integrated_lufs,
    measure_file,
    noise_floor_db,
    rms_db,
    true_peak_dbtp,
    true_peak_envelope,
    true_peak_envelope_over,
)

FS = 44100


def blocks(x: np.ndarray, size: int) -> list[np.ndarray]:
    return [x[i : i + size] for i in range(0, len(x), size)]


def taper(x: np.ndarray, n: int = 2000) -> np.ndarray:
    """Fade in/out so an abrupt start does not add Gibbs overshoot at the edges."""
    w = np.ones(len(x))
    w[:n], w[-n:] = np.linspace(0, 1, n), np.linspace(1, 0, n)
    return (x * w).astype(np.float32)


def speechy(seconds: float, seed: int, rate: int = FS) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    env = (0.5 + 0.5 * np.sin(2 * np.pi * 4 * np.arange(n) / rate)) ** 2
    x = 0.2 * rng.standard_normal(n) * env
    x[:rate] *= 0.01  # a quiet second the relative gate must drop
    return x.astype(np.float32)


@pytest.mark.parametrize(
    ("signal", "rate"),
    [
        (speechy(12, 1), FS),
        (speechy(9.37, 2, 22050), 22050),
        (taper(0.5 * np.sin(2 * np.pi * 997 * np.arange(FS * 5) / FS)), FS),
        (np.concatenate([np.zeros(FS * 3), speechy(6, 3)]).astype(np.float32), FS),
    ],
)
def test_streaming_lufs_matches_pyloudnorm(signal: np.ndarray, rate: int) -> None:
    expected = pyloudnorm.Meter(rate).integrated_loudness(signal.astype(np.float64))
    assert integrated_lufs(blocks(signal, 4097), rate) == pytest.approx(expected, abs=0.1)
    assert integrated_lufs(signal, rate) == pytest.approx(expected, abs=0.1)


def test_lufs_of_silence_is_floor() -> None:
    assert integrated_lufs(np.zeros(FS * 2, np.float32), FS) == FLOOR_DB


def test_rms_matches_numpy() -> None:
    x = speechy(7, 4)
    expected = 10 * np.log10(np.mean(x.astype(np.float64) ** 2))
    assert rms_db(blocks(x, 1000)) == pytest.approx(expected, abs=1e-6)
    sine = np.sin(2 * np.pi * 1000 * np.arange(FS) / FS)
    assert rms_db(sine) == pytest.approx(-3.0103, abs=0.001)


def test_true_peak_sees_inter_sample_peaks() -> None:
    # A full-scale sine at fs/4 sampled 45 degrees off its crest: samples at +-0.707.
    x = taper(np.sin(2 * np.pi * (FS / 4) * np.arange(FS) / FS + np.pi / 4))
    sample_peak = 20 * np.log10(np.abs(x).max())
    assert sample_peak == pytest.approx(-3.01, abs=0.01)
    assert true_peak_dbtp(x) == pytest.approx(0.0, abs=0.1)
    assert true_peak_dbtp(x) > sample_peak + 2.9


@pytest.mark.parametrize("size", [1, 17, 4096, 65536, 10**6])
def test_true_peak_independent_of_block_edges(size: int) -> None:
    x = speechy(3, 5)
    x[FS + 4095 : FS + 4099] = [0.5, -0.9, 0.9, -0.5]  # a peak straddling a 4096 edge
    reference = 20 * np.log10(np.abs(resample_poly(x.astype(np.float64), 4, 1)).max())
    chunks = blocks(x, size) if size > 1 else blocks(x[:20000], 1) + [x[20000:]]
    assert true_peak_dbtp(chunks) == pytest.approx(reference, abs=0.05)


@pytest.mark.parametrize("seed", range(4))
def test_true_peak_meter_skips_spans_but_is_exact(seed: int) -> None:
    """The meter interpolates only spans that could raise its peak; the result equals the
    maximum of the whole-signal envelope exactly, also for a lone peak late in the signal
    or one hiding in the context samples of a block edge."""
    x = speechy(seed + 11, 6) * 0.3
    rng = np.random.default_rng(seed)
    for at in rng.integers(TP_CONTEXT, len(x) - TP_CONTEXT, 3):
        x[at : at + 4] = [0.5, -0.9, 0.9, -0.5][: len(x[at : at + 4])]
    x[65536 - 2 : 65536 + 2] = [0.6, -0.95, 0.95, -0.6]  # straddles a block edge
    padded = np.concatenate((np.zeros(TP_CONTEXT), x.astype(np.float64), np.zeros(TP_CONTEXT)))
    exact = float(true_peak_envelope(padded, TP_CONTEXT, TP_CONTEXT).max())
    meter = TruePeakMeter()
    for block in blocks(x, 65536):
        meter.push(block)
    meter.finish()
    assert meter.peak == exact


@pytest.mark.parametrize("threshold", [0.05, 0.3, 0.8])
def test_envelope_over_threshold_is_exact_above_it(threshold: float) -> None:
    x = speechy(21, 3) * 0.4
    x[5000:5004] = [0.5, -0.9, 0.9, -0.5]
    padded = np.concatenate((np.zeros(TP_CONTEXT), x.astype(np.float64), np.zeros(TP_CONTEXT)))
    full = true_peak_envelope(padded, TP_CONTEXT, TP_CONTEXT)
    over = true_peak_envelope_over(padded, TP_CONTEXT, TP_CONTEXT, threshold)
    above = full > threshold
    assert above.any() and not above.all()
    assert np.array_equal(over[above], full[above])
    assert (over[~above] <= threshold).all()


def test_noise_floor_is_quietest_half_second() -> None:
    rng = np.random.default_rng(6)
    x = (0.1 * rng.standard_normal(FS * 6)).astype(np.float32)
    x[2 * FS : 3 * FS] = db_amp(-70) * rng.standard_normal(FS)  # RMS -70 dB for 1 s
    assert noise_floor_db(blocks(x, 3000), FS) == pytest.approx(-70.0, abs=0.5)


def db_amp(db: float) -> float:
    return 10 ** (db / 20)


def test_chapter_meter_room_tone_and_duration() -> None:
    rng = np.random.default_rng(7)
    tone = lambda n: (db_amp(-72) * rng.standard_normal(n)).astype(np.float32)  # noqa: E731
    x = np.concatenate([tone(int(0.75 * FS)), speechy(4, 8)[FS:], tone(2 * FS)])
    meter = ChapterMeter(FS)
    for b in blocks(x, 5000):
        meter.push(b)
    m = meter.result()
    assert m.duration_s == pytest.approx(len(x) / FS)
    assert m.head_tone_s == pytest.approx(0.75, abs=0.02)
    assert m.tail_tone_s == pytest.approx(2.0, abs=0.03)
    assert m.noise_floor_db == pytest.approx(-72.0, abs=0.5)
    assert m.rms_db == pytest.approx(rms_db(x), abs=1e-6)


def test_measure_file_reads_wav_in_blocks(tmp_path) -> None:
    x = speechy(5, 9)
    sf.write(tmp_path / "x.wav", x, FS, subtype="FLOAT")
    m = measure_file(tmp_path / "x.wav")
    assert m.rms_db == pytest.approx(rms_db(x), abs=1e-6)
    assert m.true_peak_dbtp == pytest.approx(true_peak_dbtp(x), abs=1e-6)
    assert m.lufs == pytest.approx(
        pyloudnorm.Meter(FS).integrated_loudness(x.astype(np.float64)), abs=0.1
    )


def test_a_long_chapter_mp3_is_measured_as_decoded_not_as_estimated(tmp_path):
    """Our chapter MP3s (LAME via lameenc, no Xing header) make libsndfile estimate their
    length from the file size: 300 s read as 300.84 s. Measuring must stop where decoding
    stops, or the estimate's surplus (zeros) is counted as tail room tone: 0.27 % of a
    chapter's length, 4.9 s on a 30-minute chapter, and ACX's 1-5 s tail fails."""
    from pathlib import Path

    import mutagen.mp3

    from pipeline.audio import measure_file
    from pipeline.encode import Mp3Writer, Tags

    rate, seconds = 44100, 300
    noise = (0.1 * np.random.default_rng(0).standard_normal(rate * seconds)).astype(np.float32)
    noise[-2 * rate :] = 0.0  # a 2 s tail
    writer = Mp3Writer(Path(tmp_path / "chapter.mp3"), rate, Tags("t", "b", "a", "n", 1))
    for start in range(0, len(noise), 65536):
        writer.write(noise[start : start + 65536])
    path = writer.close()
    assert sf.info(str(path)).frames / rate > seconds + 0.5  # libsndfile's estimate
    measured = measure_file(path)
    assert measured.duration_s == pytest.approx(mutagen.mp3.MP3(path).info.length, abs=0.03)
    assert measured.tail_tone_s == pytest.approx(2.0, abs=0.05)


def test_short_term_loudness_follows_the_level_every_3_s() -> None:
    """A 1 kHz sine reads -3.01 LUFS at full scale (BS.1770's reference); 6 s at
    amplitude 0.1 then 6 s at 0.01 give four 3 s values, 20 LU apart, and the trailing
    partial window is left out."""
    from pipeline.audio import ChapterMeter

    rate = 48000
    t = np.arange(6 * rate) / rate
    tone = np.sin(2 * np.pi * 1000 * t).astype(np.float32)
    meter = ChapterMeter(rate)
    for block in (0.1 * tone, 0.01 * tone, 0.01 * tone[:rate]):
        meter.push(block)
    curve = meter.result().short_term_lufs
    assert len(curve) == 4
    assert curve[0] == pytest.approx(-23.0, abs=0.3) and curve[1] == pytest.approx(-23.0, abs=0.3)
    assert curve[2] == pytest.approx(-43.0, abs=0.3) and curve[3] == pytest.approx(-43.0, abs=0.3)
