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
ratios), the tokenizer's byte-level BPE with ``assistant`` as one token (the prompt
builder slices ``<|im_start|>assistant\\n`` as exactly 3 tokens). What is tiny: every
width (32-d talker, 16-d code predictor and codec), one layer each, and 4 code groups
instead of 16 (``num_code_groups`` = the decoder's ``num_quantizers``).

``size="1.7b"`` writes the same with the released 1.7B widths and depths (28-layer 2048-d
talker, 16 code groups, full-size codec; ~3.4 GB in bfloat16): random, but as slow and
as large as the real model, for throughput and memory on a GPU (bench/qwen_throughput.py).

Caveat: random weights almost never sample the codec EOS (1 chance in ~2049 per frame),
so a tiny model always speaks until ``max_new_tokens``: its output length is set by the
caller's cap, and its audio is noise, loud enough to pass a silence check.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import torch

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
OUTPUT_GAIN = 0.01  # scales the codec's last convolution: sets the noise's loudness
GENERATION_CONFIG = {  # generation_config.json of the released models
    "do_sample": True,
    "top_k": 50,
    "top_p": 1.0,
    "temperature": 0.9,
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


def _write_text_tokenizer(folder: Path) -> dict[str, int]:
    """vocab.json + merges.txt + tokenizer_config.json; returns the special tokens' ids."""
    vocab = {s: i for i, s in enumerate(_byte_symbols())}
    merges = []
    word = "assistant"
    for i in range(1, len(word)):  # a s -> as, as s -> ass, ... -> assistant
        merges.append(f"{word[:i]} {word[i]}")
        vocab[word[: i + 1]] = len(vocab)
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


def _audible(decoder: torch.nn.Module) -> None:
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


def build_tiny_qwen(
    folder: Path, kind: ModelKind = "custom_voice", *, seed: int = 0, size: Size = "tiny"
) -> Path:
    """Write a random Qwen3-TTS model of ``kind`` and ``size`` into ``folder`` (created)
    and return it. Same ``seed``, same weights. Needs torch, transformers and qwen_tts
    (import it with :func:`pipeline.tts.qwen_model.import_qwen_tts` first)."""
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
