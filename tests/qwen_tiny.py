"""A tiny, randomly initialised Qwen3-TTS model folder that ``Qwen3TTSModel.from_pretrained``
loads on CPU in about a second (no weights exist here and nothing may be downloaded).

The folder has the layout of a released model (``Qwen/Qwen3-TTS-12Hz-1.7B-CustomVoice``
and its Base / VoiceDesign siblings)::

    config.json               model_type "qwen3_tts", tts_model_type custom_voice|base|voice_design
    generation_config.json    sampling defaults (the released values)
    model.safetensors         talker + code predictor (+ speaker encoder for "base")
    vocab.json, merges.txt    a byte-level BPE text tokenizer (Qwen2Tokenizer format)
    tokenizer_config.json     its special tokens (<|im_start|>, <|im_end|>, TTS pad/bos/eos)
    speech_tokenizer/         the 12 Hz codec: config.json, model.safetensors,
                              preprocessor_config.json (EncodecFeatureExtractor, 24 kHz)

What is real: every token id the inference code relies on (codec pad/bos/eos 2148-2150,
think/nothink 2154-2157, language ids from 2050, speaker ids from 3061, a talker vocab
of 3072 whose top 1024 entries are suppressed), the 12.5 Hz frame rate (decoder
upsampling 8*5*4*3*2*2 = 1920 samples per frame at 24 kHz, the Mimi encoder's default
ratios), the tokenizer's byte-level BPE (Qwen2's pre-tokenizer) with ``assistant`` as one token (the prompt
builder slices ``<|im_start|>assistant\\n`` as exactly 3 tokens). What is tiny: every
width (32-d talker, 16-d code predictor and codec), one layer each, and 4 code groups
instead of 16 (``num_code_groups`` = the decoder's ``num_quantizers``).

``size="1.7b"`` writes the same with the released 1.7B widths and depths (28-layer 2048-d
talker, 16 code groups, full-size codec; ~3.4 GB in bfloat16): random, but as slow and
as large as the real model, for throughput and memory on a GPU (bench/qwen_throughput.py);
it speaks every take to ``max_new_tokens``.

How it ends an utterance: random weights would almost never sample the codec EOS (1
chance in ~2049 a frame) and speak every take to ``max_new_tokens``, a runaway the
engine's output guard refuses. So a few weights are set by hand (:func:`_end_of_speech`):
the talker counts the text tokens against the frames it has spoken and never ends while
text is left, then ends with probability :data:`EOS_PROBABILITY` (0.15) a frame. A take
lasts one frame (0.08 s) per text token, plus 2, plus a geometric tail (mean 0.45 s).
The tokenizer's merges (:data:`PACE_MERGES`, learned from :data:`CORPUS`) make a token
~1.5 characters, so the tiny model speaks at Piper's pace (~19 characters a second, 3-4
words) and a clone's reference transcript lines up with its frames as a real one does
(a clone speaks the text its reference's frames do not cover). Measured on CPU, 20 seeds
each: 1 word 0.4-2.1 s (median 0.7), 3 words 1.0-2.0 s, 15 words 4.4-5.4 s, 42 words
10.6-12.7 s, clones alike; the guard (1/8 s a word to 1 s a word + 2 s) accepted all.
``eos_probability=None`` builds the old runaway. Its audio is noise, loud enough to pass
a silence check.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any, Literal

ModelKind = Literal["custom_voice", "base", "voice_design"]

# Token ids of the released checkpoints' config.json.
CODEC_PAD, CODEC_BOS, CODEC_EOS = 2148, 2149, 2150
CODEC_THINK, CODEC_NOTHINK, CODEC_THINK_BOS, CODEC_THINK_EOS = 2154, 2155, 2156, 2157
LANGUAGES = {
    "english": 2050,
    "german": 2051,
    "spanish": 2054,
    "chinese": 2055,
    "japanese": 2058,
    "french": 2061,
    "beijing_dialect": 2074,
}
SPEAKERS = {"ryan": 3061, "dylan": 3063, "vivian": 3065, "serena": 3066}
DIALECTS = {"ryan": False, "dylan": "beijing_dialect", "vivian": False, "serena": False}
Size = Literal["tiny", "1.7b"]
CODEC_SIZE = 2048  # entries per codebook (released value)
EOS_PROBABILITY = 0.15  # per step once the text has run out (build_tiny_qwen)
OUTPUT_GAIN = 0.01  # scales the codec's last convolution: sets the noise's loudness
TEMPERATURE, TOP_K = 0.9, 50  # the released talker sampling
GENERATION_CONFIG = {  # generation_config.json of the released models
    "do_sample": True,
    "top_k": TOP_K,
    "top_p": 1.0,
    "temperature": TEMPERATURE,
    "repetition_penalty": 1.05,
    "subtalker_dosample": True,
    "subtalker_top_k": 50,
    "subtalker_top_p": 1.0,
    "subtalker_temperature": 0.9,
    "max_new_tokens": 8192,
}
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|tts_pad|>", "<|tts_bos|>"]
SPECIAL_TOKENS += ["<|tts_eos|>"]


def _byte_symbols() -> list[str]:
    """GPT-2's printable stand-ins for the 256 byte values (byte-level BPE alphabet)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    symbols, extra = {}, 0
    for b in range(256):
        if b in keep:
            symbols[b] = chr(b)
        else:
            symbols[b] = chr(256 + extra)
            extra += 1
    return [symbols[b] for b in range(256)]


# Public-domain English (Carroll, 1865; Austen, 1813) that the tokenizer's merges are
# learned from: the first PACE_MERGES of them make ~1.5 characters a token, which at one
# codec frame a token (12.5 a second) is Piper's pace, ~19 characters a second.
CORPUS = (
    "Alice was beginning to get very tired of sitting by her sister on the bank, and of "
    "having nothing to do: once or twice she had peeped into the book her sister was "
    "reading, but it had no pictures or conversations in it, and what is the use of a "
    "book, thought Alice, without pictures or conversations? So she was considering in "
    "her own mind, as well as she could, for the hot day made her feel very sleepy and "
    "stupid, whether the pleasure of making a daisy-chain would be worth the trouble of "
    "getting up and picking the daisies, when suddenly a White Rabbit with pink eyes ran "
    "close by her. There was nothing so very remarkable in that; nor did Alice think it "
    "so very much out of the way to hear the Rabbit say to itself, Oh dear! Oh dear! I "
    "shall be late! But when the Rabbit actually took a watch out of its waistcoat-pocket, "
    "and looked at it, and then hurried on, Alice started to her feet, for it flashed "
    "across her mind that she had never before seen a rabbit with either a "
    "waistcoat-pocket, or a watch to take out of it, and burning with curiosity, she ran "
    "across the field after it, and fortunately was just in time to see it pop down a "
    "large rabbit-hole under the hedge. "
    "It is a truth universally acknowledged, that a single man in possession of a good "
    "fortune, must be in want of a wife. However little known the feelings or views of "
    "such a man may be on his first entering a neighbourhood, this truth is so well fixed "
    "in the minds of the surrounding families, that he is considered as the rightful "
    "property of some one or other of their daughters."
)
PACE_MERGES = 60
# Qwen2Tokenizer's pre-tokenizer: BPE merges never cross these pieces.
_PIECES = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def _learn_merges(corpus: str, n: int) -> list[tuple[str, str]]:
    """The first ``n`` byte-level BPE merges of ``corpus``: each time the most frequent
    adjacent pair of symbols within a piece (ties: the smaller pair), as GPT-2 learns them."""
    import regex

    symbols = _byte_symbols()
    words = Counter(
        tuple(symbols[b] for b in piece.encode("utf-8")) for piece in regex.findall(_PIECES, corpus)
    )
    merges: list[tuple[str, str]] = []
    while len(merges) < n:
        pairs: Counter[tuple[str, str]] = Counter()
        for word, count in words.items():
            for pair in zip(word, word[1:]):
                pairs[pair] += count
        if not pairs:
            break
        best = min(pairs, key=lambda pair: (-pairs[pair], pair))
        merges.append(best)
        merged: Counter[tuple[str, ...]] = Counter()
        for word, count in words.items():
            out, i = [], 0
            while i < len(word):
                if word[i : i + 2] == best:
                    out.append(best[0] + best[1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            merged[tuple(out)] += count
        words = merged
    return merges


def _write_text_tokenizer(folder: Path) -> dict[str, int]:
    """vocab.json + merges.txt + tokenizer_config.json; returns the special tokens' ids.
    ``assistant`` is one token (its merges rank first) and :data:`PACE_MERGES` merges
    learned from :data:`CORPUS` follow."""
    vocab = {s: i for i, s in enumerate(_byte_symbols())}
    merges = []
    word = "assistant"
    for i in range(1, len(word)):  # a s -> as, as s -> ass, ... -> assistant
        merges.append(f"{word[:i]} {word[i]}")
        vocab[word[: i + 1]] = len(vocab)
    for first, second in _learn_merges(CORPUS, PACE_MERGES):
        if first + second not in vocab:
            merges.append(f"{first} {second}")
            vocab[first + second] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", "utf-8")
    special = {tok: len(vocab) + i for i, tok in enumerate(SPECIAL_TOKENS)}
    added = {
        str(i): {
            "content": tok,
            "lstrip": False,
            "normalized": False,
            "rstrip": False,
            "single_word": False,
            "special": True,
        }
        for tok, i in special.items()
    }
    config = {
        "tokenizer_class": "Qwen2Tokenizer",
        "added_tokens_decoder": added,
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
        "bos_token": None,
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "unk_token": None,
        "errors": "replace",
        "clean_up_tokenization_spaces": False,
        "split_special_tokens": False,
        "model_max_length": 32768,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=1), "utf-8")
    return special


# Widths and depths per size; "1.7b" as in the released Qwen3-TTS-12Hz-1.7B configs.
DIMS: dict[str, dict[str, int]] = {
    "tiny": {
        "groups": 4, "hidden": 32, "inter": 64, "layers": 1, "heads": 2, "kv": 1, "head": 16,
        "text_hidden": 32, "text_vocab": 0, "cp_hidden": 16, "cp_inter": 32, "cp_layers": 1,
        "cp_heads": 2, "cp_kv": 1, "cp_head": 8, "codec": 16, "codec_layers": 1,
        "codec_heads": 2, "codec_head": 8, "latent": 16, "decoder": 32, "filters": 4,
        "se": 16,
    },
    "1.7b": {
        "groups": 16, "hidden": 2048, "inter": 6144, "layers": 28, "heads": 16, "kv": 8,
        "head": 128, "text_hidden": 2048, "text_vocab": 151936, "cp_hidden": 1024,
        "cp_inter": 3072, "cp_layers": 5, "cp_heads": 16, "cp_kv": 8, "cp_head": 128,
        "codec": 512, "codec_layers": 8, "codec_heads": 16, "codec_head": 64,
        "latent": 1024, "decoder": 1536, "filters": 64, "se": 512,
    },
}  # fmt: skip


def _talker_config(d: dict[str, int], text_vocab: int, kind: ModelKind) -> dict[str, object]:
    half = d["head"] // 2  # mRoPE sections over head_dim/2 frequencies: 64 -> [24, 20, 20]
    return {
        "vocab_size": 3072,
        "hidden_size": d["hidden"],
        "intermediate_size": d["inter"],
        "num_hidden_layers": d["layers"],
        "num_attention_heads": d["heads"],
        "num_key_value_heads": d["kv"],
        "head_dim": d["head"],
        "rope_scaling": {
            "interleaved": True,
            "mrope_section": [half - 2 * (half * 5 // 16), half * 5 // 16, half * 5 // 16],
            "rope_type": "default",
        },
        "rope_theta": 1000000,
        "max_position_embeddings": 32768,
        "num_code_groups": d["groups"],
        "text_hidden_size": d["text_hidden"],
        "text_vocab_size": max(text_vocab, d["text_vocab"]),
        "codec_eos_token_id": CODEC_EOS,
        "codec_think_id": CODEC_THINK,
        "codec_nothink_id": CODEC_NOTHINK,
        "codec_think_bos_id": CODEC_THINK_BOS,
        "codec_think_eos_id": CODEC_THINK_EOS,
        "codec_pad_id": CODEC_PAD,
        "codec_bos_id": CODEC_BOS,
        "codec_language_id": LANGUAGES,
        "spk_id": SPEAKERS if kind == "custom_voice" else {},
        "spk_is_dialect": DIALECTS if kind == "custom_voice" else {},
        "code_predictor_config": {
            "vocab_size": CODEC_SIZE,
            "hidden_size": d["cp_hidden"],
            "intermediate_size": d["cp_inter"],
            "num_hidden_layers": d["cp_layers"],
            "num_attention_heads": d["cp_heads"],
            "num_key_value_heads": d["cp_kv"],
            "head_dim": d["cp_head"],
            "rope_theta": 1000000,
            "max_position_embeddings": 65536,
            "num_code_groups": d["groups"],
        },
    }


def _speech_tokenizer_config(d: dict[str, int]) -> dict[str, object]:
    return {
        "encoder_valid_num_quantizers": d["groups"],
        "input_sample_rate": 24000,
        "output_sample_rate": 24000,
        "decode_upsample_rate": 1920,
        "encode_downsample_rate": 1920,
        "encoder_config": {  # Mimi, with its default 12.5 Hz ratios [8, 6, 5, 4] (x2)
            "num_filters": d["filters"],
            "hidden_size": d["codec"],
            "intermediate_size": 4 * d["codec"],
            "num_hidden_layers": d["codec_layers"],
            "num_attention_heads": d["codec_heads"] // 2,
            "num_key_value_heads": d["codec_heads"] // 2,
            "head_dim": d["codec_head"],
            "codebook_dim": d["codec"] // 2,
            "vector_quantization_hidden_dimension": d["codec"] // 2,
            "num_quantizers": 2 * d["groups"],
            "codebook_size": CODEC_SIZE,
            "upsample_groups": d["codec"],
        },
        "decoder_config": {
            "codebook_size": CODEC_SIZE,
            "codebook_dim": d["codec"],
            "hidden_size": d["codec"],
            "latent_dim": d["latent"],
            "intermediate_size": 2 * d["codec"],
            "num_hidden_layers": d["codec_layers"],
            "num_attention_heads": d["codec_heads"],
            "num_key_value_heads": d["codec_heads"],
            "head_dim": d["codec_head"],
            "num_quantizers": d["groups"],
            "sliding_window": 72,
            "upsample_rates": [8, 5, 4, 3],
            "upsampling_ratios": [2, 2],
            "decoder_dim": d["decoder"],
        },
    }


def _audible(decoder: Any) -> None:
    """Re-draw the codec decoder's weights so random codes decode to audible noise: its
    codebooks start at zero (trained ones are loaded) and std-0.02 convolutions shrink
    the signal ~1e9-fold over the upsampling stack; unit-gain (1/sqrt(fan-in)) ones keep
    it, and the last convolution sets the level (:data:`OUTPUT_GAIN`)."""
    import torch

    with torch.no_grad():
        for name, param in decoder.named_parameters():
            if name.endswith("embedding_sum"):
                param.normal_()
        for module in decoder.modules():
            if isinstance(module, torch.nn.Conv1d | torch.nn.ConvTranspose1d):
                fan_in = module.in_channels // module.groups * module.kernel_size[0]
                fan_in //= module.stride[0] if isinstance(module, torch.nn.ConvTranspose1d) else 1
                module.weight.normal_(0.0, fan_in**-0.5)
        decoder.decoder[-1].conv.weight.mul_(OUTPUT_GAIN)


# Residual-stream dimensions of the tiny talker that carry its end-of-speech signal.
_CONST, _PAD, _FLAG, _COUNT, _LEFT = range(5)
_MAX_POSITIONS = 4096  # the count stays exact (one frame moves it past the step) up to here


def _end_of_speech(talker: Any, pad_token_id: int, probability: float) -> None:
    """Set a few of ``talker``'s weights so it ends an utterance as a trained model does:
    never while text is left to speak, then with ``probability`` per step (at the
    released temperature 0.9). qwen-tts feeds the text two ways, and the talker reads both:

    * CustomVoice and VoiceDesign (non-streaming): the whole text sits in the prompt,
      each token beside the codec's ``codec_pad``. One attention head with a zero query
      attends evenly to every position; its value is +1 where ``codec_pad`` is (the text,
      plus 2) and -1 at each codec frame, so its output (the mean) turns negative once
      the frames spoken outnumber the text tokens. An MLP unit (SiLU with a huge gain, a
      step) turns "still positive" into an EOS logit far below any other.
    * Clones (streaming, in-context): text left over after the reference's frames comes
      one token a step, then ``<|tts_pad|>``. The text projection writes +B to one
      dimension for that token, -B for any other, and the EOS logit reads it: -40 while
      text comes, ``c`` after. (In the prompt, reference frames outnumber ``codec_pad``,
      so the count never holds a clone back.)

    Dimension :data:`_CONST` is a constant ``B`` (the text projection's bias) that dwarfs
    every random (std 0.02) dimension, so the RMS norms map the signal dimensions to
    near-constants; no other weight writes these five. The EOS logit is then ``c`` or
    far below, every codebook logit stays near 0, and top-k (50) sampling at temperature
    T picks EOS with probability e^(c/T) / (e^(c/T) + 49), solved for ``c`` at T = 0.9
    (the engine's cooler retries end a little sooner)."""
    import torch

    model, attention = talker.model, talker.model.layers[0].self_attn
    mlp = talker.model.layers[0].mlp
    width = model.norm.weight.numel()  # D
    big = 4.0 * math.sqrt(width)  # B
    gate = 4.0  # the pad unit's pre-activation: silu(4) = 3.93
    eos_logit = TEMPERATURE * math.log((TOP_K - 1) * probability / (1 - probability))
    text_logit = -40.0
    # At a frame the residual is (B, B, -B, count, left, ~0...): each RMS norm scales it
    # by sqrt(D) / rms, rms = B * sqrt(3 / D); h = (s, s, -s) with s = sqrt(D / 3).
    s = math.sqrt(width / 3)
    count_gain = 0.1  # o_proj: the count's mean (+-s per position) into _COUNT, kept small
    # The step: left = silu(k * count); the EOS logit falls by `slope` per unit of k *
    # count, 10 logits for the last frame of the longest prompt, and rises by at most
    # 0.28 * slope (silu's minimum) once the count is negative.
    slope = 0.18
    k = 10.0 * _MAX_POSITIONS / slope
    # _COUNT = count_gain * s * count; the next norm scales it by s / B
    gain = k * big / (count_gain * s * s)  # gate_proj weight: k * count from it
    down = 1e-3  # down_proj: _LEFT = down * silu(k * count) * s
    with torch.no_grad():
        # text side: _CONST = B everywhere; _PAD = +B for <|tts_pad|>, -B otherwise
        text = model.text_embedding.weight
        text[:, 0] = 0.0
        text[pad_token_id, 0] = 1.0
        fc1, fc2 = talker.text_projection.linear_fc1, talker.text_projection.linear_fc2
        fc1.weight[0, :] = 0.0
        fc1.weight[:, 0] = 0.0
        fc1.weight[0, 0] = gate
        fc1.bias[0] = 0.0
        fc2.weight[:5, :] = 0.0
        fc2.weight[:, 0] = 0.0
        fc2.weight[_PAD, 0] = 2 * big / torch.nn.functional.silu(torch.tensor(gate)).item()
        fc2.bias[:5] = 0.0
        fc2.bias[_CONST], fc2.bias[_PAD] = big, -big
        # codec side: _FLAG = +B beside codec_pad, -B for each codebook entry (a frame)
        codec = model.codec_embedding.weight
        codec[:, :5] = 0.0
        codec[CODEC_PAD, _FLAG] = big
        codec[:CODEC_SIZE, _FLAG] = -big
        for embedding in talker.code_predictor.model.codec_embedding:
            embedding.weight[:, :5] = 0.0
        for layer in model.layers:  # nothing else writes the signal dimensions
            layer.self_attn.o_proj.weight[:5, :] = 0.0
            layer.mlp.down_proj.weight[:5, :] = 0.0
            layer.input_layernorm.weight.fill_(1.0)
            layer.post_attention_layernorm.weight.fill_(1.0)
        model.norm.weight.fill_(1.0)
        # the count: head 0 (query 0: even attention), value = the normed _FLAG (+-s)
        head_dim = attention.head_dim
        attention.q_proj.weight[:head_dim, :] = 0.0
        attention.v_proj.weight[0, :] = 0.0
        attention.v_proj.weight[0, _FLAG] = 1.0
        attention.o_proj.weight[:, 0] = 0.0
        attention.o_proj.weight[_COUNT, 0] = count_gain
        # the step: unit 0 of the MLP, silu(k * count) * s, into _LEFT
        mlp.gate_proj.weight[0, :] = 0.0
        mlp.gate_proj.weight[0, _COUNT] = gain
        mlp.up_proj.weight[0, :] = 0.0
        mlp.up_proj.weight[0, _CONST] = 1.0
        mlp.down_proj.weight[:, 0] = 0.0
        mlp.down_proj.weight[_LEFT, 0] = down
        # the output head: EOS reads _CONST, _PAD and _LEFT; codebook entries none of them
        head = talker.codec_head.weight
        head[:, :5] = 0.0
        head[CODEC_EOS, :] = 0.0
        beta = (eos_logit + text_logit) / (2 * s)  # h = (s, +-s): beta*s +- alpha*s
        alpha = (eos_logit - text_logit) / (2 * s)
        head[CODEC_EOS, _CONST], head[CODEC_EOS, _PAD] = beta, alpha
        # the final norm scales _LEFT = down * silu(k * count) * s by s / B
        head[CODEC_EOS, _LEFT] = -slope * big / (down * s * s)


def build_tiny_qwen(
    folder: Path,
    kind: ModelKind = "custom_voice",
    *,
    seed: int = 0,
    size: Size = "tiny",
    eos_probability: float | None = EOS_PROBABILITY,
) -> Path:
    """Write a random Qwen3-TTS model of ``kind`` and ``size`` into ``folder`` (created)
    and return it. Same ``seed``, same weights. ``eos_probability``: the chance per
    generation step, once the text has run out, that the talker ends the utterance (at
    the released temperature 0.9; see the module docstring); None: it never does, and
    speaks every take until ``max_new_tokens`` (a runaway). ``size="1.7b"`` always speaks
    to the cap: in bfloat16 the frame count of :func:`_end_of_speech` is not exact (the
    throughput bench wants fixed lengths anyway). Needs torch, transformers
    and qwen_tts (import it with :func:`pipeline.tts.qwen_model.import_qwen_tts` first)."""
    import torch
    from qwen_tts.core import Qwen3TTSTokenizerV2Config, Qwen3TTSTokenizerV2Model
    from qwen_tts.core.models import Qwen3TTSConfig, Qwen3TTSForConditionalGeneration
    from transformers import EncodecFeatureExtractor

    d = DIMS[size]
    folder.mkdir(parents=True, exist_ok=True)
    special = _write_text_tokenizer(folder)
    text_vocab = max(special.values()) + 1
    config_dict: dict[str, object] = {
        "architectures": ["Qwen3TTSForConditionalGeneration"],
        "model_type": "qwen3_tts",
        "tokenizer_type": "qwen3_tts_tokenizer_12hz",
        "tts_model_size": "1b7",  # "0b6" would disable `instruct` for CustomVoice
        "tts_model_type": kind,
        "im_start_token_id": special["<|im_start|>"],
        "im_end_token_id": special["<|im_end|>"],
        "tts_pad_token_id": special["<|tts_pad|>"],
        "tts_bos_token_id": special["<|tts_bos|>"],
        "tts_eos_token_id": special["<|tts_eos|>"],
        "talker_config": _talker_config(d, text_vocab, kind),
        "speaker_encoder_config": {
            "enc_dim": d["hidden"],  # the x-vector is spliced into the talker's input
            "enc_channels": [d["se"]] * 4 + [3 * d["se"]],
            "enc_attention_channels": min(128, d["se"] // 2),
            "enc_res2net_scale": 8 if size != "tiny" else 4,
            "enc_se_channels": min(128, d["se"] // 2),
            "sample_rate": 24000,
        },
    }
    config = Qwen3TTSConfig(**config_dict)
    torch.manual_seed(seed)
    model = Qwen3TTSForConditionalGeneration(config)
    if eos_probability is not None and size == "tiny":
        if not 0 < eos_probability < 1:
            raise ValueError(f"eos_probability must be in (0, 1), not {eos_probability}")
        _end_of_speech(model.talker, special["<|tts_pad|>"], eos_probability)
    if size != "tiny":
        model = model.to(torch.bfloat16)  # as released: 3.4 GB instead of 6.8
    model.save_pretrained(folder)
    # The released config.json lists each sub-config's own fields only (the speaker
    # encoder's config class accepts nothing else): write it as such, not to_dict()'s dump.
    (folder / "config.json").write_text(json.dumps(config_dict, indent=1))
    (folder / "generation_config.json").write_text(json.dumps(GENERATION_CONFIG, indent=1))

    codec_dir = folder / "speech_tokenizer"
    codec_config = Qwen3TTSTokenizerV2Config(**_speech_tokenizer_config(d))
    codec_config.architectures = ["Qwen3TTSTokenizerV2Model"]
    codec = Qwen3TTSTokenizerV2Model(codec_config)
    _audible(codec.decoder)
    codec.save_pretrained(codec_dir)
    EncodecFeatureExtractor(feature_size=1, sampling_rate=24000).save_pretrained(codec_dir)
    return folder
