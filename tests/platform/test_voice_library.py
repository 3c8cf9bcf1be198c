"""The voice library (what the Voices page calls) against a real database, Redis,
storage and ``audiobook worker`` processes: an author clones a voice from a real
recording (Piper speech, ~12 s, as FLAC) and only they see it; a longer one (~47 s)
keeps its first sentences that fit in 30 s as the reference, with their transcript;
every refusal of a recording says why; a trial on a Piper variant runs on the ``tts``
queue and gives playable MP3 of plausible length; a trial on a Qwen3-TTS voice goes to
the ``gpu`` queue, and is refused at once while no gpu worker runs; a voice design is
refused without its models.

With the tiny Qwen3-TTS models of ``tests/qwen_tiny.py`` (random, but they end an
utterance about as soon as Piper would) and a real gpu worker on the CPU, a clone trial,
a CustomVoice speaker trial and a design complete with audio of plausible length, and a
book whose cast gives one character a cloned voice is converted end to end: that
character's lines on the gpu worker at 24 kHz, the narration on a tts worker with Piper
at 22050 Hz, one playable chapter. Tests that only check what is queued register an
idle stand-in gpu worker (:func:`idle_gpu_worker`: a GPU machine busy elsewhere).
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
from collections.abc import Iterator
from difflib import SequenceMatcher
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
from rq import Worker
from rq.job import Job as RQJob
from rq.serializers import JSONSerializer
from sqlmodel import select

from audiobook_app import library, voice_library
from audiobook_app.db.models import (
    Book,
    Chapter,
    File,
    FilePurpose,
    Job,
    Segment,
    Task,
    TaskKind,
    Voice,
)
from audiobook_app.jobs import queue
from audiobook_app.storage import take_key, user_key
from audiobook_app.voice_library.clones import MAX_REFERENCE_S
from audiobook_app.voice_library.design import store_design_samples
from audiobook_app.voices import BUILTIN_VOICES
from pipeline.config import STORAGE_REF, PipelineConfig, VoiceConfig
from pipeline.errors import (
    ConfigError,
    NotFoundError,
    NoWorkerError,
    ReferenceAudioError,
    VoiceRequestError,
)
from pipeline.reference_audio import MAX_BYTES
from pipeline.tts import load_engine
from pipeline.verify import take_id
from tests.conftest import unavailable
from tests.platform.harness import Platform, call, two_authors, wait_for
from tests.test_cli import DIALOGUE

TEXT = (
    "The old lighthouse keeper climbed the narrow stairs every evening, carrying a lamp "
    "and a small notebook. He wrote down the color of the sky, the shape of the waves, "
    "and the names of the ships that passed the rocky point before the night came."
)
TRY_TEXT = "Good evening. This is how the keeper of the northern light will read your book."
BUILTIN_IDS = [v.id for v in BUILTIN_VOICES]
# A ~47 s recording: ten sentences, 0.5 s of silence between them.
SENTENCES = [
    "The harbour master rang the bell at six, and the fishing boats went out one by one.",
    "A thin mist hung over the water, and the gulls followed the boats past the lighthouse.",
    "By noon the wind had turned, and the sea was rough along the whole of the northern coast.",
    "The keeper wrote the weather in his book and trimmed the wick before the light went on.",
    "His daughter brought him bread and cheese, and a letter from her brother in the city.",
    "In the evening the boats came home heavy with fish, and the village smelled of smoke.",
    "Nobody noticed the small boat that drifted in last, with its sail torn and its lamp out.",
    "The keeper saw it from the gallery and ran down the stairs with a rope over his shoulder.",
    "Two young men climbed out onto the rocks, soaked to the skin and shaking with cold.",
    "They slept that night by the stove in the lamp room, and in the morning they were gone.",
]
GAP_S = 0.5


def _piper(
    pytestconfig: pytest.Config, name: str, texts: list[str]
) -> tuple[np.ndarray, int, list[tuple[float, float]]]:
    """Piper reading ``texts`` (GAP_S of silence between them), float32 at 22050 Hz, and
    where each is spoken (seconds: its first and last 10 ms frame over -50 dBFS). Kept in
    pytest's cache between runs (keyed by the texts: a change synthesizes anew; Piper
    samples its timing, so two syntheses differ)."""
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    path = pytestconfig.cache.mkdir("piper-speech") / f"{name}-{digest}.wav"
    layout = path.with_suffix(".json")
    if path.is_file() and layout.is_file():
        audio, rate = sf.read(path, dtype="float32")
        return audio, rate, [tuple(span) for span in json.loads(layout.read_text())]
    engine = load_engine(VoiceConfig())
    rate = engine.sample_rate_hz
    gap = np.zeros(round(GAP_S * rate), dtype=np.float32)
    parts, spans, at = [], [], 0.0
    for text in texts:
        said = engine.synthesize(text)
        loud = np.flatnonzero(_frame_dbfs(said, rate) >= -50) * 0.01
        spans.append((at + float(loud[0]), at + float(loud[-1]) + 0.01))
        parts += [said, gap]
        at += said.size / rate + GAP_S
    audio = np.concatenate(parts[:-1]).astype(np.float32)
    sf.write(path, audio, rate, subtype="FLOAT")
    layout.write_text(json.dumps(spans))
    return audio, rate, spans


def _frame_dbfs(audio: np.ndarray, rate: int) -> np.ndarray:
    """The RMS of each 10 ms frame of ``audio``, in dBFS."""
    size = rate // 100
    frames = audio[: audio.size // size * size].reshape(-1, size)
    return 10 * np.log10(np.mean(np.square(frames), axis=1) + 1e-12)


@pytest.fixture(scope="module")
def speech(pytestconfig: pytest.Config) -> tuple[np.ndarray, int]:
    """Piper reading TEXT (45 words, about 12.6 s), float32 at 22050 Hz."""
    audio, rate, _ = _piper(pytestconfig, "keeper", [TEXT])
    return audio, rate


@pytest.fixture(scope="module")
def long_speech(pytestconfig: pytest.Config) -> tuple[np.ndarray, int, list[tuple[float, float]]]:
    """Piper reading SENTENCES (about 47 s), float32 at 22050 Hz, and where each sentence
    is spoken (seconds)."""
    return _piper(pytestconfig, "harbour", SENTENCES)


def encode(audio: np.ndarray, rate: int, fmt: str = "FLAC") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, audio, rate, format=fmt, subtype="PCM_16")
    return buffer.getvalue()


@pytest.fixture
def database(request: pytest.FixtureRequest) -> str:
    """A throwaway database: SQLite, or PostgreSQL for tests marked :data:`BOTH_DATABASES`."""
    kind = getattr(request, "param", "sqlite")
    return request.getfixturevalue("sqlite_url" if kind == "sqlite" else "pg_url")


BOTH_DATABASES = pytest.mark.parametrize("database", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def platform(tmp_path: Path, database: str):
    plat = Platform(tmp_path, database)
    yield plat
    plat.stop()


@pytest.fixture
def lib(platform: Platform):
    """(settings, redis, storage, alice's id, bob's id) for this platform."""
    return two_authors(platform)


def idle_gpu_worker(conn, settings) -> Worker:
    """A gpu worker registered in Redis that never takes a job (a GPU machine busy
    elsewhere): requests for the gpu queue are accepted and stay queued. Call
    ``register_death()`` when done."""
    worker = Worker(
        [queue.queue(conn, settings, "gpu")], connection=conn, serializer=JSONSerializer
    )
    worker.register_birth()
    return worker


@pytest.fixture
def idle_gpu(lib) -> Iterator[Worker]:
    """:func:`idle_gpu_worker` for this test's platform."""
    settings, conn, *_ = lib
    worker = idle_gpu_worker(conn, settings)
    yield worker
    worker.register_death()


def burst(platform: Platform, queues: str) -> str:
    """Run ``audiobook worker --queues QUEUES --burst`` (named after its queues) until the
    queues are empty; its log."""
    name = queues.replace(",", "+")
    proc = platform.cli("worker", "--queues", queues, "--burst", "--name", name, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stderr


def clone(lib, speech, user: int | None = None, transcript: str | None = TEXT):
    settings, _, storage, alice, _ = lib
    data = encode(*speech)
    return call(
        settings,
        voice_library.create_clone,
        settings,
        storage,
        user or alice,
        "Keeper",
        data,
        "keeper.flac",
        transcript,
    )


@BOTH_DATABASES
def test_a_clone_of_a_real_recording_is_stored_and_only_its_author_sees_it(lib, speech, tmp_path):
    settings, conn, storage, alice, bob = lib
    entry = clone(lib, speech)
    assert (entry.kind, entry.engine, entry.name, entry.owned) == (
        "cloned",
        "qwen3-tts",
        "Keeper",
        True,
    )
    assert entry.sample_url.startswith("/files/")
    row = call(settings, lambda s: s.get(Voice, int(entry.id[1:])))
    assert row.owner_id == alice and row.reference_text == " ".join(TEXT.split())
    assert row.reference_key == row.sample_key
    assert row.reference_key.startswith(user_key(alice, "voices", str(row.id)) + "/")
    reference, rate = sf.read(io.BytesIO(storage.get_bytes(row.reference_key)), dtype="float32")
    assert rate == 24000 and reference.ndim == 1
    assert abs(len(reference) / rate - len(speech[0]) / speech[1]) < 0.01
    original = user_key(alice, "voices", str(row.id), "original.flac")
    assert storage.get_bytes(original) == encode(*speech)

    mine = call(settings, voice_library.list_voices, settings, alice)
    assert [v.id for v in mine] == [*BUILTIN_IDS, entry.id]
    assert [v.id for v in call(settings, voice_library.list_voices, settings, bob)] == BUILTIN_IDS
    for fn, args in (
        (voice_library.get_voice, (settings, bob, entry.id)),
        (voice_library.voice_config, (settings, storage, bob, entry.id, tmp_path)),
        (voice_library.delete_voice, (storage, bob, entry.id)),
        (voice_library.start_trial, (conn, settings, bob, entry.id, TRY_TEXT)),
    ):
        with pytest.raises(NotFoundError, match=entry.id):
            call(settings, fn, *args)

    with pytest.raises(ConfigError, match="AUDIOBOOK_QWEN_BASE_DIR"):
        call(settings, voice_library.voice_config, settings, storage, alice, entry.id, tmp_path)
    gpu_settings = settings.model_copy(update={"qwen_base_dir": tmp_path / "base"})
    config = call(
        settings, voice_library.voice_config, gpu_settings, storage, alice, entry.id, tmp_path
    )
    assert (config.engine, config.narrator, config.model_dir) == (
        "qwen3-tts",
        "",
        str(tmp_path / "base"),
    )
    assert config.reference_text == row.reference_text
    cached = Path(config.reference_audio)
    assert cached.parent == tmp_path and cached.read_bytes() == storage.get_bytes(row.reference_key)
    fetched_at = cached.stat().st_mtime_ns
    again = call(
        settings, voice_library.voice_config, gpu_settings, storage, alice, entry.id, tmp_path
    )
    assert again == config and cached.stat().st_mtime_ns == fetched_at  # fetched once

    assert call(settings, voice_library.delete_voice, storage, alice, entry.id) == 2
    assert [v.id for v in call(settings, voice_library.list_voices, settings, alice)] == BUILTIN_IDS
    assert storage.list_keys(user_key(alice, "voices") + "/") == []
    assert call(settings, lambda s: s.exec(select(File)).all()) == []


def test_each_refused_recording_says_why_and_nothing_is_kept(lib, speech):
    settings, _, storage, alice, _ = lib
    audio, rate = speech
    cases = {
        "too_big": (b"\0" * (MAX_BYTES + 1), "at most 50 MB"),
        "not_audio": (b"Chapter one. It was a dark night.\n" * 40, "not an audio recording"),
        "too_short": (encode(audio[: 5 * rate], rate), "needs at least 10 s"),
        "too_long": (encode(np.tile(audio, 25), rate), "at most 300 s"),
        "silent": (encode(np.zeros(12 * rate, dtype=np.float32), rate), "silent"),
        "clipped": (encode(np.clip(audio * 40, -1, 1), rate), "clipped"),
    }
    for reason, (data, message) in cases.items():
        with pytest.raises(ReferenceAudioError, match=message) as refused:
            call(
                settings,
                voice_library.create_clone,
                settings,
                storage,
                alice,
                "Keeper",
                data,
                "keeper.wav",
                TEXT,
            )
        assert refused.value.reason == reason
    with pytest.raises(VoiceRequestError, match="name"):
        call(settings, voice_library.create_clone, settings, storage, alice, " ", b"", "a.wav", "")
    assert call(settings, lambda s: s.exec(select(Voice)).all()) == []
    assert storage.list_keys("users/") == []


def test_a_clone_sent_without_transcript_is_transcribed(lib, speech):
    settings, *_ = lib
    entry = clone(lib, speech, transcript="  ")
    row = call(settings, lambda s: s.get(Voice, int(entry.id[1:])))
    heard = set(row.reference_text.lower().replace(",", "").replace(".", "").split())
    said = set(TEXT.lower().replace(",", "").replace(".", "").split())
    assert len(heard & said) >= 0.9 * len(said), row.reference_text


@BOTH_DATABASES
def test_a_piper_variant_is_tried_on_the_tts_queue(platform, lib):
    settings, conn, storage, alice, bob = lib
    for text, message in (("   ", "type something"), ("x" * 501, "501 characters")):
        with pytest.raises(VoiceRequestError, match=message):
            call(settings, voice_library.start_trial, conn, settings, alice, "joe-deep", text)
    trial_id = call(
        settings, voice_library.start_trial, conn, settings, alice, "joe-deep", TRY_TEXT
    )
    assert queue.queue(conn, settings, "tts").count == 1
    assert queue.queue(conn, settings, "gpu").count == 0
    queued = call(settings, voice_library.get_trial, alice, trial_id)
    assert (queued.status, queued.voice_name, queued.audio_url) == (
        "queued",
        BUILTIN_VOICES[1].label,
        "",
    )
    with pytest.raises(NotFoundError):
        call(settings, voice_library.get_trial, bob, trial_id)

    burst(platform, "tts")
    trial = call(settings, voice_library.get_trial, alice, trial_id)
    assert trial.status == "done", trial.error
    words = len(TRY_TEXT.split())
    assert words / 4 < trial.duration_s < words / 1.5  # 1.5 to 4 words per second
    assert trial.audio_url.startswith("/files/") and trial.download_url.endswith("?download=1")
    stored = call(settings, lambda s: s.get(File, int(trial.audio_url.rsplit("/", 1)[1])))
    assert (stored.owner_id, stored.mime) == (alice, "audio/mpeg")
    audio, rate = sf.read(io.BytesIO(storage.get_bytes(stored.key)), dtype="float32")
    assert rate == 22050 and abs(len(audio) / rate - trial.duration_s) < 0.15
    assert -4.0 < 20 * np.log10(np.abs(audio).max()) < -2.0  # normalised to -3 dBFS peak
    assert [t.id for t in call(settings, voice_library.list_trials, alice)] == [trial_id]
    assert call(settings, voice_library.list_trials, bob) == []


def _speaker_config(folder: Path) -> Path:
    """A CustomVoice model folder's config.json (all the listing reads) with two speakers."""
    folder.mkdir(parents=True)
    spk = {"ryan": 3061, "vivian": 3065}
    (folder / "config.json").write_text(json.dumps({"talker_config": {"spk_id": spk}}))
    return folder


def test_qwen_voices_are_tried_on_the_gpu_queue(platform, lib, speech, tmp_path):
    settings, conn, storage, alice, _ = lib
    entry = clone(lib, speech)
    speakers = settings.model_copy(
        update={"qwen_custom_voice_dir": _speaker_config(tmp_path / "custom")}
    )
    listed = [v.id for v in call(settings, voice_library.list_voices, speakers, alice)]
    assert listed == [*BUILTIN_IDS, "qwen:ryan", "qwen:vivian", entry.id]
    with pytest.raises(NotFoundError):
        call(settings, voice_library.get_voice, settings, alice, "qwen:ryan")  # not configured

    idle = idle_gpu_worker(conn, settings)  # accepted: a gpu worker is registered
    clone_trial = call(
        settings, voice_library.start_trial, conn, settings, alice, entry.id, TRY_TEXT
    )
    call(settings, voice_library.start_trial, conn, speakers, alice, "qwen:vivian", TRY_TEXT)
    assert queue.queue(conn, settings, "gpu").count == 2
    assert queue.queue(conn, settings, "tts").count == 0
    idle.register_death()

    burst(platform, "gpu")  # this platform's workers have no Qwen3-TTS model folders
    trials = {t.voice_id: t for t in call(settings, voice_library.list_trials, alice)}
    assert trials[entry.id].id == clone_trial and trials[entry.id].status == "failed"
    assert "AUDIOBOOK_QWEN_BASE_DIR" in trials[entry.id].error
    assert trials["qwen:vivian"].status == "failed"
    assert "AUDIOBOOK_QWEN_CUSTOM_VOICE_DIR" in trials["qwen:vivian"].error


def test_qwen_trials_and_designs_are_refused_while_no_gpu_worker_runs(platform, lib, speech):
    """Queued with nobody to take them they would say "Speaking…" forever: refused at
    once, naming the command that starts a gpu worker, and nothing is recorded."""
    settings, conn, storage, alice, _ = lib
    entry = clone(lib, speech)
    gpu = settings.model_copy(update={"qwen_voice_design_dir": platform.root})
    gpu = gpu.model_copy(update={"qwen_base_dir": platform.root})
    platform.start_worker("cpu,tts")  # a worker that serves other queues does not count
    wait_for(
        lambda: Worker.all(queue=queue.queue(conn, settings, "tts")), 60, "the worker to register"
    )
    for start in (
        lambda: call(settings, voice_library.start_trial, conn, settings, alice, entry.id, "Hi."),
        lambda: call(
            settings, voice_library.start_design, conn, gpu, storage, alice, "calm", "Hi."
        ),
    ):
        with pytest.raises(NoWorkerError, match=r"`audiobook worker --queues gpu`"):
            start()
    assert call(settings, voice_library.list_trials, alice) == []
    assert queue.queue(conn, settings, "gpu").count == 0
    assert storage.list_keys(user_key(alice, "designs") + "/") == []
    # a Piper voice needs no gpu worker; a registered gpu worker lets Qwen requests in
    call(settings, voice_library.start_trial, conn, settings, alice, "joe-deep", "Hi.")
    idle = idle_gpu_worker(conn, settings)
    call(settings, voice_library.start_trial, conn, settings, alice, entry.id, "Hi.")
    idle.register_death()
    with pytest.raises(NoWorkerError):  # gone again
        call(settings, voice_library.start_trial, conn, settings, alice, entry.id, "Hi.")
    assert queue.queue(conn, settings, "gpu").count == 1
    assert len(call(settings, voice_library.list_trials, alice)) == 2


def test_designing_needs_the_voice_design_and_base_models(lib):
    settings, conn, storage, alice, _ = lib
    with pytest.raises(ConfigError, match="AUDIOBOOK_QWEN_VOICE_DESIGN_DIR"):
        call(
            settings,
            voice_library.start_design,
            conn,
            settings,
            storage,
            alice,
            "warm baritone, fifties, slight Scottish accent",
            TRY_TEXT,
        )
    assert voice_library.design_unavailable(settings)
    for description, text, message in (("", TRY_TEXT, "describe"), ("calm", "", "type")):
        with pytest.raises(VoiceRequestError, match=message):
            call(
                settings,
                voice_library.start_design,
                conn,
                settings,
                storage,
                alice,
                description,
                text,
            )


@BOTH_DATABASES
def test_a_designed_take_becomes_the_authors_voice(lib, idle_gpu, speech, tmp_path):
    settings, conn, storage, alice, bob = lib
    models = {"qwen_voice_design_dir": tmp_path / "design", "qwen_base_dir": tmp_path / "base"}
    gpu = settings.model_copy(update=models)
    assert voice_library.design_unavailable(gpu) == ""
    description = "warm baritone, fifties, slight Scottish accent"
    design_id = call(
        settings, voice_library.start_design, conn, gpu, storage, alice, description, TRY_TEXT
    )
    assert queue.queue(conn, settings, "gpu").count == 1
    view = call(settings, voice_library.design_status, conn, storage, alice, design_id)
    assert (view.status, view.description, view.text, view.samples) == (
        "running",
        description,
        TRY_TEXT,
        [],
    )
    with pytest.raises(NotFoundError):
        call(settings, voice_library.design_status, conn, storage, bob, design_id)

    audio, rate = speech  # three takes, as the design job stores them (24 kHz)
    takes = [soxr.resample(audio * gain, rate, 24000) for gain in (0.5, 0.7, 0.9)]
    call(settings, store_design_samples, storage, alice, design_id, takes)
    view = call(settings, voice_library.design_status, conn, storage, alice, design_id)
    assert view.status == "ready" and [s.index for s in view.samples] == [0, 1, 2]
    assert all(s.url.startswith("/files/") for s in view.samples)
    take_key = f"{user_key(alice, 'designs', design_id)}/sample-1.wav"
    take = storage.get_bytes(take_key)

    with pytest.raises(NotFoundError):
        call(settings, voice_library.choose_design_sample, storage, bob, design_id, 1, "Angus")
    entry = call(
        settings, voice_library.choose_design_sample, storage, alice, design_id, 1, "Angus"
    )
    assert (entry.kind, entry.engine, entry.name, entry.description) == (
        "designed",
        "qwen3-tts",
        "Angus",
        description,
    )
    config = call(settings, voice_library.voice_config, gpu, storage, alice, entry.id, tmp_path)
    assert Path(config.reference_audio).read_bytes() == take
    assert config.reference_text == TRY_TEXT and config.model_dir == str(tmp_path / "base")
    assert storage.list_keys(user_key(alice, "designs") + "/") == []  # the other takes went
    with pytest.raises(NotFoundError):
        call(settings, voice_library.design_status, conn, storage, alice, design_id)


def test_qwen_trials_and_a_design_complete_on_a_gpu_worker(tiny_platform, tmp_path, speech):
    """A real ``audiobook worker --queues gpu`` with the tiny models (on the CPU, one
    thread) speaks a clone trial and a CustomVoice speaker trial (MP3 at 24 kHz, as long
    as Piper's reading, give or take) and the takes of a design; a take becomes a
    designed voice, which speaks too."""
    platform = tiny_platform
    settings, conn, storage, alice, _ = lib = two_authors(platform)
    entry = clone(lib, speech)
    listed = [v.id for v in call(settings, voice_library.list_voices, settings, alice)]
    speakers = ["qwen:dylan", "qwen:ryan", "qwen:serena", "qwen:vivian"]
    assert listed == [*BUILTIN_IDS, *speakers, entry.id]
    platform.start_worker("gpu", "gpu")
    gpu = queue.queue(conn, settings, "gpu")
    wait_for(lambda: Worker.all(queue=gpu), 60, "the gpu worker to register")

    ids = [
        call(settings, voice_library.start_trial, conn, settings, alice, voice_id, TRY_TEXT)
        for voice_id in (entry.id, "qwen:ryan")
    ]
    design_id = call(
        settings, voice_library.start_design, conn, settings, storage, alice, "calm", TRY_TEXT
    )

    def ended(trial_ids: list[int]) -> list:
        trials = [call(settings, voice_library.get_trial, alice, i) for i in trial_ids]
        return trials if all(t.status != "queued" for t in trials) else []

    for trial in wait_for(lambda: ended(ids), 240, "the trials to end"):
        _assert_spoken(storage, settings, trial, platform)
    cached = list((tmp_path / "work" / "voices").glob("reference-*.wav"))
    reference_key = call(settings, lambda s: s.get(Voice, int(entry.id[1:])).reference_key)
    assert [p.read_bytes() for p in cached] == [storage.get_bytes(reference_key)]

    def designed():
        view = call(settings, voice_library.design_status, conn, storage, alice, design_id)
        return view if view.status != "running" else None

    view = wait_for(designed, 120, "the design's takes")
    assert view.status == "ready" and len(view.samples) == 3, view
    prefix = user_key(alice, "designs", design_id)
    takes = [storage.get_bytes(f"{prefix}/sample-{i}.wav") for i in range(3)]
    assert len(set(takes)) == 3  # three different takes
    for take in takes:
        audio, rate = sf.read(io.BytesIO(take), dtype="float32")
        assert rate == 24000 and _plausible(TRY_TEXT, len(audio) / rate)
    designed_voice = call(
        settings, voice_library.choose_design_sample, storage, alice, design_id, 2, "Calm"
    )
    trial_id = call(
        settings, voice_library.start_trial, conn, settings, alice, designed_voice.id, TRY_TEXT
    )
    [trial] = wait_for(lambda: ended([trial_id]), 120, "the designed voice's trial")
    _assert_spoken(storage, settings, trial, platform)


def _plausible(text: str, seconds: float) -> bool:
    """``seconds`` is a plausible reading of ``text``: 1.5 to 5 words a second (Piper reads
    3 to 4; the tiny model about as fast, plus a pause of up to a second or two)."""
    words = len(text.split())
    return words / 5 <= seconds <= words / 1.5 + 2


def _assert_spoken(storage, settings, trial, platform: Platform, text: str = TRY_TEXT) -> None:
    """``trial`` is done, with MP3 audio at 24 kHz of a plausible length for ``text``."""
    assert trial.status == "done", (trial, platform.logs())
    assert _plausible(text, trial.duration_s), trial
    stored = call(settings, lambda s: s.get(File, int(trial.audio_url.rsplit("/", 1)[1])))
    audio, rate = sf.read(io.BytesIO(storage.get_bytes(stored.key)), dtype="float32")
    assert (stored.mime, rate) == ("audio/mpeg", 24000)
    assert abs(len(audio) / rate - trial.duration_s) < 0.15
    assert -4.0 < 20 * np.log10(np.abs(audio).max()) < -2.0  # normalised to -3 dBFS peak


def test_a_long_recording_keeps_its_first_sentences_within_30_s(lib, long_speech):
    """A 47 s upload: the original is kept whole; the reference is cut in the pause after
    the last sentence that ends within 30 s, and its transcript is Whisper's for those
    sentences (the typed one, for the whole clip, no longer fits)."""
    settings, _, storage, alice, _ = lib
    audio, rate, spoken = long_speech
    assert 44 < len(audio) / rate < 50
    data = encode(audio, rate)
    entry = call(
        settings,
        voice_library.create_clone,
        settings,
        storage,
        alice,
        "Harbour",
        data,
        "harbour.flac",
        " ".join(SENTENCES),
    )
    row = call(settings, lambda s: s.get(Voice, int(entry.id[1:])))
    assert storage.get_bytes(user_key(alice, "voices", str(row.id), "original.flac")) == data
    reference, ref_rate = sf.read(io.BytesIO(storage.get_bytes(row.reference_key)), dtype="float32")
    seconds = len(reference) / ref_rate
    assert ref_rate == 24000 and 10 <= seconds <= MAX_REFERENCE_S

    # the cut falls in the silence between two sentences: the reference has all of the
    # one and nothing of the next
    kept = sum(onset < seconds for onset, _ in spoken)
    assert 2 <= kept < len(SENTENCES), (seconds, spoken)
    assert spoken[kept - 1][1] + 0.05 < seconds < spoken[kept][0] - 0.05, (seconds, spoken)
    upload = soxr.resample(audio[: 5 * rate], rate, ref_rate)  # before the cut: the upload
    assert np.allclose(reference[: 4 * ref_rate], upload[: 4 * ref_rate], atol=2e-3)
    # its transcript: the words of those sentences (Whisper mishears a few), no more
    heard = _words(row.reference_text)
    said, more = _words(" ".join(SENTENCES[:kept])), _words(" ".join(SENTENCES[: kept + 1]))
    similar = SequenceMatcher(None, heard, said, autojunk=False).ratio()
    assert similar > 0.85, (similar, row.reference_text)
    assert abs(len(heard) - len(said)) <= 0.05 * len(said) + 2 < len(more) - len(said)
    assert row.reference_text != " ".join(SENTENCES)


def _words(text: str) -> list[str]:
    return [w for w in (w.strip(".,;:!?\"'").lower() for w in text.split()) if w]


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    """Tiny random Qwen3-TTS model folders of each kind (tests/qwen_tiny.py)."""
    for module in ("torch", "transformers", "qwen_tts"):
        if importlib.util.find_spec(module) is None:
            unavailable(f"{module} is not installed (requirements-dev.txt)")
    from pipeline.tts.qwen_model import import_qwen_tts
    from tests.qwen_tiny import build_tiny_qwen

    import_qwen_tts()  # qwen_tts with stand-ins for its unused sox/torchaudio imports
    root = tmp_path_factory.mktemp("qwen")
    kinds = ("custom_voice", "base", "voice_design")
    return {kind: build_tiny_qwen(root / kind, kind) for kind in kinds}


@pytest.fixture
def tiny_platform(tmp_path: Path, sqlite_url: str, tiny_models: dict[str, Path]):
    """A platform whose workers have the tiny Qwen3-TTS model folders."""
    env = {
        "AUDIOBOOK_QWEN_CUSTOM_VOICE_DIR": str(tiny_models["custom_voice"]),
        "AUDIOBOOK_QWEN_BASE_DIR": str(tiny_models["base"]),
        "AUDIOBOOK_QWEN_VOICE_DESIGN_DIR": str(tiny_models["voice_design"]),
    }
    plat = Platform(tmp_path, sqlite_url, extra=env)
    yield plat
    plat.stop()


def test_a_book_with_a_cloned_character_is_read_by_the_gpu_and_tts_workers(
    tiny_platform, tiny_models, speech
):
    """Mrs. Grey is cast with a clone (the tiny Base model): her three lines are
    synthesize tasks on the gpu queue, which only the gpu worker serves (24 kHz); the
    narration and Mr. Hale are Piper's on the tts worker (22050 Hz); the cpu worker's
    master hears the chapter, and her lines (random speech: misheard) are retaken twice
    by retake tasks on the gpu queue, heard again each time, then flagged; the one
    chapter is mastered from both voices and plays."""
    platform = tiny_platform
    settings, conn, storage, alice, _ = lib = two_authors(platform)
    entry = clone(lib, speech)
    row = call(settings, lambda s: s.get(Voice, int(entry.id[1:])))
    grey = VoiceConfig(
        engine="qwen3-tts",
        narrator="",
        model_dir=str(tiny_models["base"]),
        reference_audio=STORAGE_REF + row.reference_key,
        reference_text=row.reference_text,
    )
    config = PipelineConfig.model_validate(
        {"cast": {"mode": "full", "characters": {"Mrs. Grey": grey.model_dump()}}}
    )
    book_id = library.add_manuscript(conn, settings, storage, alice, "visit.txt", DIALOGUE.encode())
    burst(platform, "cpu")  # the inspect job
    book = platform.read(lambda s: s.get(Book, book_id))
    assert book.status == "ready" and {s["name"] for s in book.speakers} == {
        "Mrs. Grey",
        "Mr. Hale",
    }, book.error
    job_id = library.start(conn, settings, alice, book_id, chosen=[1], config=config)

    log = burst(platform, "cpu,tts")  # prepare, and every Piper segment
    tasks = _synth_tasks(platform, job_id)
    on_gpu = [t for t in tasks if t.queue == "gpu"]
    assert on_gpu and len(on_gpu) < len(tasks), tasks
    assert all(t.status == "queued" for t in on_gpu), (tasks, log[-3000:])
    assert all(t.status == "completed" for t in tasks if t.queue != "gpu"), tasks

    log = burst(platform, "gpu")  # Mrs. Grey's lines
    for task in _synth_tasks(platform, job_id):
        assert task.status == "completed", (task, log[-3000:])
        rq_job = RQJob.fetch(task.rq_job_id, connection=conn, serializer=JSONSerializer)
        assert rq_job.worker_name.startswith("gpu-" if task.queue == "gpu" else "cpu+tts-")
    # the master hears the chapter on the cpu worker: the tiny model's random speech
    # fails, and a Qwen3-TTS take cannot be made there, so each round of retakes is a
    # retake task on the gpu queue, after which the chapter's master hears it again
    for round_ in (1, 2):
        log = burst(platform, "cpu,tts")
        [retake] = [t for t in _tasks(platform, job_id, TaskKind.RETAKE) if t.batch == round_]
        assert retake.queue == "gpu" and retake.status == "queued", (retake, log[-3000:])
        assert platform.read(lambda s: s.get(Job, job_id)).status == "processing"
        log = burst(platform, "gpu")
        [retake] = [t for t in _tasks(platform, job_id, TaskKind.RETAKE) if t.batch == round_]
        assert retake.status == "completed", (retake, log[-3000:])
        rq_job = RQJob.fetch(retake.rq_job_id, connection=conn, serializer=JSONSerializer)
        assert rq_job.worker_name.startswith("gpu-")
    log = burst(platform, "cpu,tts")  # the last hearing, master and assemble
    job = platform.read(lambda s: s.get(Job, job_id))
    assert job.status == "completed", (job.status, job.error, log[-3000:])
    masters = _tasks(platform, job_id, TaskKind.MASTER)
    assert sorted(t.batch or 0 for t in masters) == [0, 1, 2]  # one chapter, heard 3 times
    report = json.loads(
        storage.get_bytes(
            next(f.key for f in _files(platform, job_id) if f.purpose == FilePurpose.REPORT)
        )
    )
    [chapter_report] = report["chapters"]

    def rates(seg: dict) -> list[int]:  # of each take, as stored
        keys = [take_key(alice, book_id, take_id(seg["segment_id"], n)) for n in range(3)]
        return [sf.info(io.BytesIO(storage.get_bytes(k))).samplerate for k in keys]

    retaken = [s for s in chapter_report["segments"] if len(s["takes"]) == 3]
    grey = [s for s in retaken if rates(s) == [24000] * 3]  # hers: every take by Qwen3-TTS
    assert grey and all(s["flagged"] for s in grey), chapter_report["segments"]

    segments = platform.read(
        lambda s: list(s.exec(select(Segment).where(Segment.job_id == job_id)).all())
    )
    rates = [sf.info(io.BytesIO(storage.get_bytes(seg.audio_key))).samplerate for seg in segments]
    assert sorted(set(rates)) == [22050, 24000] and rates.count(24000) == 3  # her 3 lines
    spoken = sum(seg.duration_s or 0 for seg in segments)
    [chapter] = platform.read(
        lambda s: list(s.exec(select(Chapter).where(Chapter.job_id == job_id)).all())
    )
    audio, rate = sf.read(io.BytesIO(storage.get_bytes(chapter.audio_key)), dtype="float32")
    assert chapter.audio_key.endswith(".mp3") and audio.size and rate in (22050, 24000, 44100)
    assert spoken < len(audio) / rate < spoken + 0.6 * len(segments) + 5  # + pauses
    assert np.abs(audio).max() > 0.1


def _synth_tasks(platform: Platform, job_id: str) -> list[Task]:
    return _tasks(platform, job_id, TaskKind.SYNTHESIZE)


def _tasks(platform: Platform, job_id: str, kind: TaskKind) -> list[Task]:
    return platform.read(
        lambda s: list(s.exec(select(Task).where(Task.job_id == job_id, Task.kind == kind)).all())
    )


def _files(platform: Platform, job_id: str) -> list[File]:
    return platform.read(lambda s: list(s.exec(select(File).where(File.job_id == job_id)).all()))
