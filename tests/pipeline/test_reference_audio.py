"""Voice-clone reference checks and local transcription, on real speech.

The speech is the project's Piper voice reading :data:`TEXT` (45 words, about 12.6 s at
22050 Hz), synthesized once per module; every clip is encoded here in the format under
test (WAV, FLAC, MP3 with soundfile; M4A as AAC in MP4 with PyAV).
"""

from __future__ import annotations

import io
import pickle
import re
import string

import av
import numpy as np
import pytest
import soundfile as sf

from pipeline import reference_audio
from pipeline.config import VoiceConfig
from pipeline.errors import EngineError, InputError, ReferenceAudioError
from pipeline.reference_audio import (
    MAX_BYTES,
    MAX_CLIPPED_SHARE,
    check_reference,
    clipped_share,
    to_wav_24k,
)
from pipeline.transcribe import transcribe
from pipeline.tts import load_engine

TEXT = (
    "The old lighthouse keeper climbed the narrow stairs every evening, carrying a lamp "
    "and a small notebook. He wrote down the color of the sky, the shape of the waves, "
    "and the names of the ships that passed the rocky point before the night came."
)
DURATION_TOLERANCE_S = 0.2


class Speech:
    def __init__(self, audio: np.ndarray, rate: int) -> None:
        self.audio = audio
        self.rate = rate

    @property
    def duration_s(self) -> float:
        return self.audio.shape[0] / self.rate


@pytest.fixture(scope="module")
def speech() -> Speech:
    engine = load_engine(VoiceConfig())
    audio = engine.synthesize(TEXT)
    assert audio.dtype == np.float32
    return Speech(audio, engine.sample_rate_hz)


def encode(audio: np.ndarray, rate: int, fmt: str) -> bytes:
    """``audio`` (float32, shape (n,) or (n, channels)) as a file of format ``fmt``."""
    if fmt == "M4A":
        return encode_m4a(audio, rate)
    buffer = io.BytesIO()
    subtype = {"WAV": "PCM_16", "FLAC": "PCM_16"}.get(fmt)
    sf.write(buffer, audio, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


def encode_m4a(audio: np.ndarray, rate: int) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=rate, layout="mono")
        for start in range(0, audio.shape[0], 1024):
            block = np.ascontiguousarray(audio[None, start : start + 1024], dtype=np.float32)
            frame = av.AudioFrame.from_ndarray(block, format="fltp", layout="mono")
            frame.sample_rate = rate
            frame.pts = start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


def refusal(data: bytes, filename: str, reason: str) -> str:
    with pytest.raises(ReferenceAudioError) as caught:
        check_reference(data, filename)
    assert caught.value.reason == reason, str(caught.value)
    return str(caught.value)


# --- Accepted -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "filename", "expected"),
    [
        ("WAV", "voice.wav", "wav"),
        ("FLAC", "voice.flac", "flac"),
        ("MP3", "voice.mp3", "mp3"),
        ("M4A", "voice.m4a", "m4a"),
        ("FLAC", "voice.wav", "flac"),  # a wrong extension: the bytes decide
        ("MP3", "voice", "mp3"),  # no extension
    ],
)
def test_accepts_each_format_with_its_duration(
    speech: Speech, fmt: str, filename: str, expected: str
) -> None:
    clip = check_reference(encode(speech.audio, speech.rate, fmt), filename)
    assert clip.format == expected
    assert clip.sample_rate_hz == speech.rate
    assert clip.audio.dtype == np.float32 and clip.audio.ndim == 1
    assert clip.duration_s == pytest.approx(clip.audio.shape[0] / clip.sample_rate_hz)
    assert abs(clip.duration_s - speech.duration_s) <= DURATION_TOLERANCE_S
    peak = float(np.max(np.abs(speech.audio)))
    assert clip.peak_dbfs == pytest.approx(20 * np.log10(peak), abs=1.0)
    rms = float(np.sqrt(np.mean(speech.audio.astype(np.float64) ** 2)))
    assert clip.rms_dbfs == pytest.approx(20 * np.log10(rms), abs=0.5)


def test_stereo_is_mixed_to_mono(speech: Speech) -> None:
    stereo = np.stack([speech.audio, 0.5 * speech.audio], axis=1)
    clip = check_reference(encode(stereo, speech.rate, "WAV"), "stereo.wav")
    assert clip.audio.ndim == 1
    np.testing.assert_allclose(clip.audio, 0.75 * speech.audio, atol=1e-3)


def test_peak_normalised_speech_is_not_clipped(speech: Speech) -> None:
    loud = speech.audio / np.max(np.abs(speech.audio))  # touches full scale, flattens nothing
    clip = check_reference(encode(loud, speech.rate, "WAV"), "loud.wav")
    assert clip.peak_dbfs > -0.01


# --- Refused --------------------------------------------------------------------------


def test_too_big_is_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("decoded a file that is too big")

    monkeypatch.setattr(reference_audio.av, "open", no_decoding)
    message = refusal(bytes(MAX_BYTES + 1), "huge.wav", "too_big")
    assert f"({MAX_BYTES + 1:,} bytes)" in message and "at most 50 MB" in message


def test_text_named_wav_is_not_audio() -> None:
    text = ("Chapter one. It was a dark and stormy night.\n" * 300).encode()
    message = refusal(text, "notes.wav", "not_audio")
    assert "notes.wav is not an audio recording" in message
    assert f"{len(text):,} bytes" in message


def test_random_bytes_are_not_audio() -> None:
    noise = np.random.default_rng(7).integers(0, 256, 500_000, dtype=np.uint8).tobytes()
    message = refusal(noise, "upload.mp3", "not_audio")
    assert "not an audio recording" in message


def test_other_audio_format_is_refused_by_name(speech: Speech) -> None:
    message = refusal(encode(speech.audio, speech.rate, "OGG"), "voice.ogg", "not_audio")
    assert "Ogg" in message and "WAV, MP3, M4A" in message


def test_too_short(speech: Speech) -> None:
    six_s = speech.audio[: 6 * speech.rate]
    message = refusal(encode(six_s, speech.rate, "WAV"), "short.wav", "too_short")
    assert "6.0 s long" in message and "at least 10 s" in message


def test_cut_short_file_says_so(speech: Speech) -> None:
    # An MP3's Xing header counts its frames; a WAV's data size is capped by the file
    # size when read, so a cut WAV is simply short.
    mp3 = encode(speech.audio, speech.rate, "MP3")
    message = refusal(mp3[: len(mp3) // 3], "cut.mp3", "too_short")
    found = re.search(r"is (\d\.\d) s long \(its header says (\d+\.\d) s: the file looks", message)
    assert found is not None, message
    assert float(found.group(1)) == pytest.approx(speech.duration_s / 3, abs=0.5)
    assert float(found.group(2)) == pytest.approx(speech.duration_s, abs=0.1)


def test_just_under_the_minimum_does_not_print_the_minimum(speech: Speech) -> None:
    tiled = np.tile(speech.audio, 2)[: int(9.99 * speech.rate)]
    message = refusal(encode(tiled, speech.rate, "WAV"), "short.wav", "too_short")
    assert "9.99 s long" in message


def test_too_long(speech: Speech) -> None:
    repeats = int(np.ceil(301 * speech.rate / speech.audio.shape[0]))
    long = np.tile(speech.audio, repeats)[: 301 * speech.rate]
    message = refusal(encode(long, speech.rate, "WAV"), "long.wav", "too_long")
    assert "301.0 s long" in message and "at most 300 s" in message


def test_digital_silence(speech: Speech) -> None:
    silence = np.zeros(12 * speech.rate, dtype=np.float32)
    message = refusal(encode(silence, speech.rate, "WAV"), "mute.wav", "silent")
    assert "every sample is zero" in message and "at least 5 s" in message


def test_noise_at_minus_70_dbfs_is_silent(speech: Speech) -> None:
    rms = 10 ** (-70 / 20)
    noise = np.random.default_rng(3).normal(0.0, rms, 12 * speech.rate).astype(np.float32)
    message = refusal(encode(noise, speech.rate, "WAV"), "hiss.wav", "silent")
    level = re.search(r"level is (-\d+\.\d) dBFS", message)
    assert level is not None and float(level.group(1)) == pytest.approx(-70.0, abs=0.5)
    assert "-50 dBFS" in message


def test_mostly_silent(speech: Speech) -> None:
    quiet = np.zeros(12 * speech.rate, dtype=np.float32)
    quiet[: 2 * speech.rate] = speech.audio[: 2 * speech.rate]
    message = refusal(encode(quiet, speech.rate, "WAV"), "pause.wav", "silent")
    assert re.search(r"only \d\.\d s of its 12\.0 s", message), message


@pytest.mark.parametrize("fmt", ["WAV", "MP3"])
def test_clipped(speech: Speech, fmt: str) -> None:
    driven = np.clip(speech.audio * 8.0, -1.0, 1.0)  # +13.4 dB over full scale
    message = refusal(encode(driven, speech.rate, fmt), f"hot.{fmt.lower()}", "clipped")
    share = re.search(r"(\d+\.\d)% of its samples", message)
    assert share is not None and float(share.group(1)) / 100 > MAX_CLIPPED_SHARE
    assert "at most 0.1%" in message


def test_clipped_share_counts_runs_only() -> None:
    x = np.zeros((1, 1000), dtype=np.float32)
    x[0, 10] = 1.0  # a lone full-scale peak
    x[0, 20:22] = -1.0  # a run of 2
    assert clipped_share(x) == 0.0
    x[0, 100:105] = 1.0  # a run of 5
    assert clipped_share(x) == pytest.approx(5 / 1000)


def test_error_is_input_error_and_pickles() -> None:
    err = ReferenceAudioError("The recording is 6.2 s long.", "too_short")
    assert isinstance(err, InputError)
    back = pickle.loads(pickle.dumps(err))
    assert back.reason == "too_short" and str(back) == str(err)


# --- Normalised reference ---------------------------------------------------------------


def test_to_wav_24k_round_trips(speech: Speech) -> None:
    clip = check_reference(encode(speech.audio, speech.rate, "FLAC"), "voice.flac")
    wav = to_wav_24k(clip)
    info = sf.info(io.BytesIO(wav))
    assert (info.samplerate, info.channels, info.subtype, info.format) == (
        24000,
        1,
        "PCM_16",
        "WAV",
    )
    assert abs(info.frames - round(clip.audio.shape[0] * 24000 / speech.rate)) <= 1
    again = check_reference(wav, "voice_24k.wav")
    assert again.sample_rate_hz == 24000
    assert again.duration_s == pytest.approx(clip.duration_s, abs=0.001)
    assert again.rms_dbfs == pytest.approx(clip.rms_dbfs, abs=0.1)


# --- Transcription ----------------------------------------------------------------------


def words(text: str) -> list[str]:
    """Lower-case words without punctuation; hyphens split words (STACK.md "ASR")."""
    text = text.lower().replace("-", " ")
    return text.translate(str.maketrans("", "", string.punctuation)).split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    ref, hyp = words(reference), words(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
        previous = current
    return previous[-1] / len(ref)


def test_word_error_rate_helper() -> None:
    assert word_error_rate("the cat sat", "The cat sat.") == 0.0
    assert word_error_rate("the cat sat", "the bat sat down") == pytest.approx(2 / 3)


def test_transcribes_the_piper_clip(speech: Speech) -> None:
    clip = check_reference(encode(speech.audio, speech.rate, "MP3"), "voice.mp3")
    text = transcribe(clip.audio, clip.sample_rate_hz)
    assert word_error_rate(TEXT, text) < 0.25, text


def test_transcribe_empty_audio_is_empty() -> None:
    assert transcribe(np.zeros(0, dtype=np.float32), 22050) == ""


def test_missing_model_is_an_engine_error(tmp_path: object, speech: Speech) -> None:
    with pytest.raises(EngineError, match="never downloaded"):
        transcribe(speech.audio, speech.rate, model_path=str(tmp_path))
