"""The voice library (what the Voices page calls) against a real database, Redis,
storage and ``audiobook worker --burst`` processes: an author clones a voice from a real
recording (Piper speech, ~12 s, as FLAC) and only they see it; every refusal of a
recording says why; a trial on a Piper variant runs on the ``tts`` queue and gives
playable MP3 of plausible length; a trial on a Qwen3-TTS voice goes to the ``gpu`` queue
(and, with the tiny random model of ``tests/qwen_tiny.py`` and a gpu worker on CPU,
completes); a voice design is refused without its models and, with them, gives takes
one of which becomes a designed voice.

The tiny model's random weights never end an utterance, so the engine's output guard
refuses what it says as a runaway: on the gpu worker a Qwen3-TTS trial and a design
run all the way through the model and end failed *with the engine's message*, which is
what the author sees; the taking of a design is tested from stored takes.
"""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
from sqlmodel import select

from audiobook_app import voice_library
from audiobook_app.accounts.users import sign_up
from audiobook_app.db.migrate import ensure_schema, upgrade
from audiobook_app.db.models import File, Voice
from audiobook_app.db.session import session_scope
from audiobook_app.jobs import queue
from audiobook_app.storage import build_storage, user_key
from audiobook_app.voice_library.design import store_design_samples
from audiobook_app.voices import BUILTIN_VOICES
from pipeline.config import VoiceConfig
from pipeline.errors import ConfigError, NotFoundError, ReferenceAudioError, VoiceRequestError
from pipeline.reference_audio import MAX_BYTES
from pipeline.tts import load_engine
from tests.conftest import unavailable
from tests.platform.harness import Platform

PASSWORD = "correct horse battery"
TEXT = (
    "The old lighthouse keeper climbed the narrow stairs every evening, carrying a lamp "
    "and a small notebook. He wrote down the color of the sky, the shape of the waves, "
    "and the names of the ships that passed the rocky point before the night came."
)
TRY_TEXT = "Good evening. This is how the keeper of the northern light will read your book."
BUILTIN_IDS = [v.id for v in BUILTIN_VOICES]


@pytest.fixture(scope="module")
def speech() -> tuple[np.ndarray, int]:
    """Piper reading TEXT (45 words, about 12.6 s), float32 at 22050 Hz."""
    engine = load_engine(VoiceConfig())
    return engine.synthesize(TEXT), engine.sample_rate_hz


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
    settings = platform.settings()
    (upgrade if settings.database_url.startswith("postgresql") else ensure_schema)(
        settings.database_url
    )
    with session_scope(settings.database_url) as session:
        alice = sign_up(session, settings, "alice@example.com", PASSWORD).id
        bob = sign_up(session, settings, "bob@example.com", PASSWORD).id
    return settings, queue.connect(settings), build_storage(settings), alice, bob


def call(settings, fn, *args):
    """``fn(session, *args)`` in one transaction."""
    with session_scope(settings.database_url) as session:
        return fn(session, *args)


def burst(platform: Platform, queues: str) -> None:
    """Run ``audiobook worker --queues QUEUES --burst`` until the queues are empty."""
    proc = platform.cli("worker", "--queues", queues, "--burst", "--name", queues, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


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

    clone_trial = call(
        settings, voice_library.start_trial, conn, settings, alice, entry.id, TRY_TEXT
    )
    call(settings, voice_library.start_trial, conn, speakers, alice, "qwen:vivian", TRY_TEXT)
    assert queue.queue(conn, settings, "gpu").count == 2
    assert queue.queue(conn, settings, "tts").count == 0

    burst(platform, "gpu")  # this platform's workers have no Qwen3-TTS model folders
    trials = {t.voice_id: t for t in call(settings, voice_library.list_trials, alice)}
    assert trials[entry.id].id == clone_trial and trials[entry.id].status == "failed"
    assert "AUDIOBOOK_QWEN_BASE_DIR" in trials[entry.id].error
    assert trials["qwen:vivian"].status == "failed"
    assert "AUDIOBOOK_QWEN_CUSTOM_VOICE_DIR" in trials["qwen:vivian"].error


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
def test_a_designed_take_becomes_the_authors_voice(lib, speech, tmp_path):
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


def test_qwen_trials_and_a_design_run_through_the_model_on_a_gpu_worker(
    tiny_models, tmp_path, sqlite_url, speech
):
    env = {
        "AUDIOBOOK_QWEN_CUSTOM_VOICE_DIR": str(tiny_models["custom_voice"]),
        "AUDIOBOOK_QWEN_BASE_DIR": str(tiny_models["base"]),
        "AUDIOBOOK_QWEN_VOICE_DESIGN_DIR": str(tiny_models["voice_design"]),
    }
    platform = Platform(tmp_path, sqlite_url, extra=env)
    settings = platform.settings()
    ensure_schema(settings.database_url)
    with session_scope(settings.database_url) as session:
        alice = sign_up(session, settings, "alice@example.com", PASSWORD).id
    conn, storage = queue.connect(settings), build_storage(settings)
    entry = clone((settings, conn, storage, alice, 0), speech)
    listed = [v.id for v in call(settings, voice_library.list_voices, settings, alice)]
    speakers = ["qwen:dylan", "qwen:ryan", "qwen:serena", "qwen:vivian"]
    assert listed == [*BUILTIN_IDS, *speakers, entry.id]
    for voice_id in (entry.id, "qwen:ryan"):
        call(settings, voice_library.start_trial, conn, settings, alice, voice_id, TRY_TEXT)
    design_id = call(
        settings, voice_library.start_design, conn, settings, storage, alice, "calm", TRY_TEXT
    )
    assert queue.queue(conn, settings, "gpu").count == 3

    burst(platform, "gpu")
    for trial in call(settings, voice_library.list_trials, alice):
        assert trial.status == "failed" and "runaway output" in trial.error, trial
    cached = list((tmp_path / "work" / "voices").glob("reference-*.wav"))
    assert [p.read_bytes() for p in cached] == [
        call(settings, lambda s: storage.get_bytes(s.get(Voice, int(entry.id[1:])).reference_key))
    ]
    view = call(settings, voice_library.design_status, conn, storage, alice, design_id)
    assert view.status == "failed" and "runaway output" in view.error, view
