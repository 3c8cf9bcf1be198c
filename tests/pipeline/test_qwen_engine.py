"""The Qwen3-TTS engine against a real (tiny, randomly initialised) model on CPU.

``tests/qwen_tiny.py`` writes model folders that ``Qwen3TTSModel.from_pretrained`` loads
as it loads a released one. Their talker is random but ends an utterance as a trained
one does: never while text is left, then with probability 0.15 a frame, so a take lasts
about as long as Piper reading it and passes the default :class:`OutputGuard`. A variant
that never ends (``eos_probability=None``: every result runs to its batch's
``max_new_tokens`` cap, a genuine runaway) tests the caps and the runaway refusal. The
one stand-in is a wrapper of the model's generate call that injects bad results, since
real weights cannot produce a cut-off or a silent take on demand.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile

from pipeline.config import PipelineConfig, VoiceConfig
from pipeline.errors import ConfigError, EngineError
from pipeline.tts import engine_sample_rate, engine_settings, load_engine
from pipeline.tts.qwen import (
    NATIVE_RATE_HZ,
    OutputGuard,
    QwenEngine,
    design_voice_samples,
    plan_batches,
    qwen_settings,
    qwen_status,
    speech_units,
)
from tests.conftest import unavailable
from tests.synthetic import speech_like

OFF = OutputGuard(enabled=False)
SAMPLES_PER_FRAME = 1920  # 24 kHz / 12.5 Hz


@pytest.fixture(scope="module")
def qwen(tmp_path_factory) -> Iterator[dict[str, Path]]:
    """Tiny model folders by kind (fails under CI, which installs torch and qwen-tts).
    One torch thread: with two on two busy cores, the threads' spin-waits cost ~10x."""
    for module in ("torch", "transformers", "qwen_tts"):
        if importlib.util.find_spec(module) is None:
            unavailable(
                f"{module} is not installed (requirements-dev.txt, requirements-nodeps.txt)"
            )
    import torch

    from pipeline.tts.qwen_model import import_qwen_tts
    from tests.qwen_tiny import build_tiny_qwen

    import_qwen_tts()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("qwen")
    kinds = ("custom_voice", "base", "voice_design")
    folders = {kind: build_tiny_qwen(root / kind, kind) for kind in kinds}  # type: ignore[arg-type]
    # a CustomVoice model whose talker never ends: every take runs to the cap
    folders["runaway"] = build_tiny_qwen(root / "runaway", "custom_voice", eos_probability=None)
    yield folders
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ref") / "narrator.wav"
    soundfile.write(path, speech_like(3.0, seed=1), 22050)
    return path


def _speaker(folder: Path, **kw) -> VoiceConfig:
    return VoiceConfig(engine="qwen3-tts", narrator="ryan", model_dir=str(folder), **kw)


def _clone(folder: Path, reference: Path, text: str = "A reference sentence.") -> VoiceConfig:
    return VoiceConfig(
        engine="qwen3-tts",
        narrator="",
        model_dir=str(folder),
        reference_audio=str(reference),
        reference_text=text,
    )


class Spy:
    """Wraps one of the model's generate methods, records each call, calls through (or,
    with ``inject``, returns what ``inject`` makes of the real result)."""

    def __init__(self, model, method: str, inject=None):
        import torch

        self.calls: list[dict] = []
        self._torch, self._inject = torch, inject
        self._real = getattr(model, method)
        setattr(model, method, self)

    def __call__(self, texts, **kwargs):
        self.calls.append({"texts": list(texts), "seed": self._torch.initial_seed(), **kwargs})
        audios, rate = self._real(texts, **kwargs)
        if self._inject:
            audios = self._inject(len(self.calls) - 1, list(texts), audios)
        return audios, rate


# --- loading -------------------------------------------------------------------------


def test_loads_on_the_gpu_in_bfloat16_or_else_on_the_cpu_in_float32(qwen):
    import torch

    engine = load_engine(_speaker(qwen["custom_voice"], instruct="Calm."))
    same = _speaker(qwen["custom_voice"], instruct="Calm.", language="english")
    assert isinstance(engine, QwenEngine)
    assert (engine.name, engine.voice, engine.sample_rate_hz) == ("qwen3-tts", "ryan", 24000)
    cuda = torch.cuda.is_available()
    assert str(engine.model.device) == ("cuda:0" if cuda else "cpu")
    assert engine.model.model.dtype == (torch.bfloat16 if cuda else torch.float32)
    assert engine.settings == {
        "engine": "qwen3-tts",
        "model": "custom_voice",
        "language": "english",
        "speaker": "ryan",
        "instruct": "Calm.",
    }
    assert qwen_settings(same.model_copy(update={"narrator": "Ryan"})) == engine.settings


def test_qwen_tts_import_leaves_no_stand_ins_behind(qwen):
    for name in ("sox", "torchaudio", "torchaudio.compliance.kaldi"):
        module = sys.modules.get(name)
        assert module is None or "stand-in" not in (module.__doc__ or "")


@pytest.mark.parametrize(
    ("remove", "message"),
    [
        ("speech_tokenizer", "lacks speech_tokenizer/"),
        ("generation_config.json", "lacks generation_config.json"),
        ("model.safetensors", "has no *.safetensors weights"),
    ],
)
def test_an_incomplete_model_folder_is_refused_saying_what_is_missing(
    qwen, tmp_path, remove, message
):
    folder = shutil.copytree(qwen["custom_voice"], tmp_path / "model")
    target = folder / remove
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    with pytest.raises(EngineError, match=message.replace("*", r"\*")):
        QwenEngine.load(_speaker(folder))


def test_missing_or_unset_model_folder_and_wrong_kind_are_engine_errors(qwen, tmp_path, reference):
    with pytest.raises(EngineError, match="does not exist"):
        QwenEngine.load(_speaker(tmp_path / "nowhere"))
    with pytest.raises(EngineError, match="no Qwen3-TTS model folder configured"):
        QwenEngine.load(VoiceConfig(engine="qwen3-tts", narrator="ryan"))
    with pytest.raises(
        EngineError, match="'custom_voice' Qwen3-TTS model; this voice needs a 'base'"
    ):
        QwenEngine.load(_clone(qwen["custom_voice"], reference))


def test_unknown_speaker_or_language_and_ambiguous_voices_are_config_errors(qwen, reference):
    with pytest.raises(ConfigError, match="speaker 'nobody' is not one of: .*ryan"):
        QwenEngine.load(_speaker(qwen["custom_voice"]).model_copy(update={"narrator": "nobody"}))
    with pytest.raises(ConfigError, match="language 'Klingon'"):
        QwenEngine.load(_speaker(qwen["custom_voice"], language="Klingon"))
    both = _speaker(qwen["base"], reference_audio=str(reference), reference_text="Hi.")
    with pytest.raises(ConfigError, match="not both"):
        QwenEngine.load(both)
    with pytest.raises(ConfigError, match="needs reference_text"):
        QwenEngine.load(_clone(qwen["base"], reference, text=" "))


# --- batching and length caps ----------------------------------------------------------


def test_plan_batches_sorts_by_length_caps_the_size_and_splits_where_lengths_jump():
    texts = ["x" * n for n in (300, 10, 50, 20, 40, 30, 130, 70)]
    assert plan_batches(texts, max_batch=3) == [[1, 3, 5], [4, 2, 7], [6], [0]]
    assert plan_batches(texts, max_batch=8) == [[1, 3, 5, 4, 2], [7, 6], [0]]
    assert plan_batches([], max_batch=4) == []
    with pytest.raises(ValueError):
        plan_batches(texts, max_batch=0)


def test_max_new_tokens_follows_the_longest_text_not_the_2048_default():
    guard = OutputGuard()
    assert speech_units("Yes.") == 1 and speech_units("你好世界") == 4
    # 1 word: at most 1 s/word + 2 s slack = 3 s = 37.5 frames -> 37 + 2 steps
    assert guard.max_new_tokens(["Yes."]) == 39
    assert guard.max_new_tokens(["Yes.", " ".join(["word"] * 40)]) == 527  # 42 s
    assert guard.max_new_tokens(["天" * 40]) == 527  # CJK: a character is a word
    assert guard.max_new_tokens(["Yes."] * 8) == 39  # a batch: its longest text counts


def test_batches_come_back_in_input_order_each_capped_by_its_longest_text(qwen):
    engine = QwenEngine.load(_speaker(qwen["runaway"]), max_batch=2, guard=OFF)
    spy = Spy(engine.model, "generate_custom_voice")
    texts = ["One two three four five.", "Hi.", "One two three.", "Yes.", "", "Go now."]
    audios = engine.synthesize_batch(texts)

    assert [c["texts"] for c in spy.calls] == [
        ["Hi.", "Yes."],
        ["Go now.", "One two three."],
        ["One two three four five."],
    ]
    assert engine.batches_run == 3
    assert audios[4].size == 0  # empty text: no synthesis
    for call in spy.calls:
        assert call["max_new_tokens"] == OFF.max_new_tokens(call["texts"])
        assert call["speaker"] == "ryan" and call["language"] == "English"
        for text in call["texts"]:  # this talker speaks to the cap (first step: prompt)
            assert (
                audios[texts.index(text)].size == (call["max_new_tokens"] - 1) * SAMPLES_PER_FRAME
            )
    assert all(a.dtype == np.float32 and a.ndim == 1 for a in audios)
    assert audios[0].size > audios[2].size > audios[1].size  # 5 words > 3 words > 1 word


@pytest.mark.parametrize("rate", [44100, 22050])
def test_output_is_resampled_to_the_requested_rate(qwen, rate):
    voice = _speaker(qwen["custom_voice"])
    native = QwenEngine.load(voice, guard=OFF).synthesize("Hello.")
    engine = QwenEngine.load(voice, guard=OFF, sample_rate_hz=rate)
    audio = engine.synthesize("Hello.")  # same text, same seed: the same take
    assert engine.sample_rate_hz == rate and audio.dtype == np.float32
    assert abs(audio.size - native.size * rate / NATIVE_RATE_HZ) <= 1
    rms = [float(np.sqrt(np.mean(np.square(a)))) for a in (native, audio)]
    assert rms[1] == pytest.approx(rms[0], rel=0.1)


# --- how long the tiny model speaks -----------------------------------------------------

PIPER_TEXT = (
    "The old lighthouse keeper climbed the narrow stairs every evening, carrying a lamp "
    "and a small notebook. He wrote down the color of the sky, the shape of the waves, "
    "and the names of the ships that passed the rocky point before the night came."
)
LINES = [
    "Yes.",
    "You are late,",
    "The kettle has boiled twice.",
    "Good evening. This is how the keeper of the northern light will read your book.",
    "The keeper climbed the steps of the tower at dusk and trimmed the wick. " * 3,
]


@pytest.fixture(scope="module")
def piper_reference(tmp_path_factory) -> Path:
    """Piper reading PIPER_TEXT (12.3 s, 22050 Hz WAV): a real clone reference. Without
    Piper's sampling noise, so that it lasts the same every run (154 codec frames for
    the transcript's 156 tokens: the tiny model's clone speaks each line whole)."""
    path = tmp_path_factory.mktemp("piper") / "keeper.wav"
    engine = load_engine(VoiceConfig(noise_scale=0.0, noise_w_scale=0.0))
    soundfile.write(path, engine.synthesize(PIPER_TEXT), engine.sample_rate_hz)
    return path


def test_the_tiny_talker_ends_once_the_text_is_spoken_with_probability_0_15(qwen):
    """Its EOS logit is far below every other while text is left, then constant: top-k
    sampling at the released temperature picks it 15 % of the time."""
    import torch

    engine = QwenEngine.load(_speaker(qwen["custom_voice"]), guard=OFF)
    logits: list[torch.Tensor] = []
    engine.model.model.talker.codec_head.register_forward_hook(
        lambda module, args, out: logits.append(out[0, -1].detach().clone())
    )
    audio = engine.synthesize(LINES[3])
    frames = audio.size // SAMPLES_PER_FRAME
    assert len(logits) == frames + 1  # one logit row per frame, and the EOS step
    eos = [float(row[2150]) for row in logits]
    spoken = [i for i, logit in enumerate(eos) if logit > -10]
    assert spoken == list(range(spoken[0], frames + 1))  # once eligible, it stays so
    assert all(logit < -100 for logit in eos[: spoken[0]])
    tokens = len(engine.model.processor.tokenizer(LINES[3])["input_ids"])
    assert spoken[0] == tokens + 2  # the text's tokens, then codec_pad's two extra
    for row in logits[spoken[0] + 1 :]:
        allowed = torch.cat([row[:2048], row[2150:2151]]) / 0.9
        top = torch.softmax(torch.topk(allowed, 50).values, dim=0)
        assert top[0] == pytest.approx(0.15, abs=0.01)  # EOS: the top logit, 15 %


@pytest.mark.parametrize("kind", ["speaker", "clone"])
def test_takes_last_about_as_long_as_piper_reading_them(qwen, piper_reference, kind):
    """Every line passes the default guard at its first attempt, longer lines last
    longer, and the same seed gives the same take."""
    voice = (
        _speaker(qwen["custom_voice"])
        if kind == "speaker"
        else _clone(qwen["base"], piper_reference, PIPER_TEXT)
    )
    engine = QwenEngine.load(voice)
    audios = engine.synthesize_batch(LINES)
    assert engine.batches_run == len(plan_batches(LINES, engine.max_batch))  # no retries
    seconds = [a.size / NATIVE_RATE_HZ for a in audios]
    piper = [0.6, 0.8, 1.8, 3.8, 13.0]  # Piper's own readings, measured
    for line, audio, took, reference in zip(LINES, audios, seconds, piper):
        assert OutputGuard().problem(line, audio, NATIVE_RATE_HZ) is None
        assert reference / 2 < took < reference * 2 + 1.5, (line, took)
    assert max(seconds[:3]) < seconds[3] < seconds[4]
    take = engine.synthesize(LINES[2])
    assert np.array_equal(QwenEngine.load(voice).synthesize(LINES[2]), take)


# --- the failure guard ---------------------------------------------------------------


def test_a_runaway_result_is_retried_then_refused_naming_the_text(qwen):
    engine = QwenEngine.load(_speaker(qwen["runaway"]), guard=OutputGuard(retries=2))
    spy = Spy(engine.model, "generate_custom_voice")
    with pytest.raises(EngineError, match=r"'Stop\.' after 3 attempts: runaway output \(3\.0 s"):
        engine.synthesize("Stop.")
    assert len(spy.calls) == 3
    assert len({c["seed"] for c in spy.calls}) == 3  # a new seed each time...
    assert [c.get("temperature") for c in spy.calls] == [None, 0.9 * 0.85, 0.9 * 0.85**2]


def _good(text: str, seed: int) -> np.ndarray:
    return speech_like(0.4 * speech_units(text) + 0.3, seed=seed, rate=NATIVE_RATE_HZ)


def test_a_cut_off_or_silent_result_is_synthesized_again_alone(qwen):
    def inject(call, texts, audios):
        if call == 0:  # first text cut off, second silent, third fine
            return [np.zeros(100, np.float32), np.zeros(48000, np.float32), _good(texts[2], 3)]
        return [_good(t, call) for t in texts]

    engine = QwenEngine.load(_speaker(qwen["custom_voice"]))
    spy = Spy(engine.model, "generate_custom_voice", inject)
    texts = ["Alpha beta.", "Gamma delta.", "Epsilon zeta."]
    audios = engine.synthesize_batch(texts)
    assert [c["texts"] for c in spy.calls] == [texts, texts[:2]]
    assert spy.calls[1]["max_new_tokens"] == OutputGuard().max_new_tokens(texts[:2])
    assert np.array_equal(audios[2], _good(texts[2], 3))
    assert all(np.array_equal(audios[i], _good(texts[i], 1)) for i in (0, 1))


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (np.zeros(48000, np.float32), "near-silent output"),
        (np.ones(100, np.float32) * 0.1, "output cut short"),
    ],
)
def test_a_result_that_stays_bad_raises_after_the_retries(qwen, bad, reason):
    engine = QwenEngine.load(_speaker(qwen["custom_voice"]), guard=OutputGuard(retries=1))
    spy = Spy(
        engine.model, "generate_custom_voice", lambda call, texts, audios: [bad for _ in texts]
    )
    with pytest.raises(EngineError, match=f"'Two words.' after 2 attempts: {reason}"):
        engine.synthesize("Two words.")
    assert len(spy.calls) == 2


def test_a_batch_out_of_gpu_memory_is_split_in_halves(qwen):
    import torch

    def oom(call, texts, audios):
        if len(texts) > 1 or texts == ["Four."]:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (injected)")
        return audios

    engine = QwenEngine.load(_speaker(qwen["custom_voice"]), guard=OFF)
    spy = Spy(engine.model, "generate_custom_voice", oom)
    audios = engine.synthesize_batch(["One.", "Two.", "Three."])
    assert [c["texts"] for c in spy.calls] == [
        ["One.", "Two.", "Three."],
        ["One."],
        ["Two.", "Three."],
        ["Two."],
        ["Three."],
    ]
    assert all(a.size > 0 for a in audios)
    with pytest.raises(EngineError, match="ran out of GPU memory on 'Four.'"):
        engine.synthesize("Four.")


def test_importing_the_engine_module_loads_no_torch():
    """engine_settings() and the web tier use pipeline.tts.qwen without a GPU stack."""
    code = "import sys, pipeline.tts.qwen; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


# --- clones and settings -------------------------------------------------------------


def test_a_clone_builds_its_prompt_once_and_reuses_it(qwen, reference, monkeypatch):
    from qwen_tts import Qwen3TTSModel

    built = []
    real = Qwen3TTSModel.create_voice_clone_prompt

    def counting(self, *args, **kwargs):
        built.append(kwargs)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Qwen3TTSModel, "create_voice_clone_prompt", counting)
    engine = QwenEngine.load(_clone(qwen["base"], reference), guard=OFF)
    spy = Spy(engine.model, "generate_voice_clone")
    engine.synthesize_batch(["First line.", "Second line here."])
    engine.synthesize("Third.")

    assert len(built) == 1 and built[0]["ref_text"] == "A reference sentence."
    audio, rate = built[0]["ref_audio"]  # read and resampled by us, not by librosa
    assert rate == 24000 and audio.size == pytest.approx(3.0 * 24000, abs=2)
    assert len(spy.calls) == 2
    assert all(c["voice_clone_prompt"] is engine.clone_prompt for c in spy.calls)
    assert engine.voice == "clone of narrator.wav"


def test_settings_hash_the_reference_bytes_and_text_not_the_path(qwen, reference, tmp_path):
    voice = _clone(qwen["base"], reference)
    settings = qwen_settings(voice)
    assert settings == qwen_settings(voice) == engine_settings(voice)
    assert set(settings) == {"engine", "model", "language", "reference"}
    assert str(reference) not in str(settings) and settings["model"] == "base"

    moved = shutil.copy(reference, tmp_path / "elsewhere.wav")
    assert qwen_settings(_clone(qwen["base"], Path(moved))) == settings
    other = tmp_path / "other.wav"
    soundfile.write(other, speech_like(3.0, seed=2), 22050)
    assert qwen_settings(_clone(qwen["base"], other)) != settings
    assert qwen_settings(_clone(qwen["base"], reference, text="Other words.")) != settings
    assert engine_sample_rate(voice) == 24000
    with pytest.raises(ConfigError, match="cannot read the clone's reference audio"):
        qwen_settings(_clone(qwen["base"], tmp_path / "missing.wav"))


# --- voice design and status ---------------------------------------------------------


def test_design_voice_samples_gives_n_distinct_takes(qwen):
    text = "Hello there, and welcome to the reading room."
    takes = design_voice_samples(qwen["voice_design"], "A warm, low voice.", text, n=3)
    assert len(takes) == 3 and all(t.dtype == np.float32 and t.size > 0 for t in takes)
    assert not np.array_equal(takes[0], takes[1])
    guard = OutputGuard()  # the default guard passed them: plausible lengths
    assert all(guard.problem(text, t, NATIVE_RATE_HZ) is None for t in takes)
    with pytest.raises(EngineError, match="needs a 'voice_design' one"):
        design_voice_samples(qwen["custom_voice"], "A voice.", "Hi.")


def test_status_reports_the_folder_and_the_gpu(qwen, tmp_path):
    usable, detail = qwen_status(qwen["custom_voice"], require_gpu=False)
    assert usable and detail.startswith(f"custom_voice model at {qwen['custom_voice']}")
    usable, detail = qwen_status(tmp_path / "none", require_gpu=False)
    assert not usable and "does not exist" in detail
    import torch

    if not torch.cuda.is_available():
        usable, detail = qwen_status(qwen["custom_voice"])
        assert not usable and "no GPU" in detail


def test_convert_with_a_qwen_character_beside_piper_workers(qwen, tmp_path):
    """One machine, the CLI's path: a character cast with a Qwen3-TTS speaker is spoken in
    this process in batches (a GPU engine never forks), the narration by two Piper
    workers; each segment is stored at its engine's rate and the chapter is assembled
    from both (resampled to one mastering rate)."""
    from pipeline.convert import convert
    from pipeline.store import SegmentStore
    from tests.test_cli import DIALOGUE

    book = tmp_path / "visit.txt"
    book.write_text(DIALOGUE, encoding="utf-8")
    grey = _speaker(qwen["custom_voice"]).model_copy(update={"narrator": "vivian"})
    config = PipelineConfig.model_validate(
        {"cast": {"mode": "full", "characters": {"Mrs. Grey": grey.model_dump()}}}
    ).with_overrides(output={"formats": ["mp3"]})
    result = convert(book, tmp_path / "out", config, jobs=2)
    store = SegmentStore(tmp_path / "out" / ".work" / "segments")
    rates: dict[str, set[int]] = {}
    for seg in result.plans[0].segments:
        rates.setdefault(seg.voice, set()).add(store.read(seg.id)[1])
    assert rates == {"narrator": {22050}, "Mrs. Grey": {24000}}
    assert sum(s.voice == "Mrs. Grey" for s in result.plans[0].segments) == 3
    # Mr. Hale is not cast: his lines stay in the narration's runs (13 segments with both)
    assert result.generation.segments_synthesized == len(result.plans[0].segments) == 10
    (mp3,) = result.outputs.files["mp3"]
    assert mp3.stat().st_size > 50_000
