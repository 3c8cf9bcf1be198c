"""PipelineConfig: YAML overrides, validation errors that name the key."""

from __future__ import annotations

import pytest

from pipeline.config import PipelineConfig, load_config
from pipeline.errors import ConfigError


def test_defaults_meet_acx_targets():
    cfg = PipelineConfig()
    assert -23 <= cfg.mastering.target_rms_db <= -18
    assert cfg.mastering.true_peak_ceiling_dbtp <= -3
    assert 500 <= cfg.mastering.head_room_tone_ms <= 1000
    assert 1000 <= cfg.mastering.tail_room_tone_ms <= 5000
    assert cfg.output.mp3_bitrate_kbps >= 192 and cfg.output.formats == ("m4b", "mp3")


def test_yaml_overrides_only_what_it_names(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        "voice:\n  length_scale: 1.2\npauses:\n  paragraph_ms: 900\nlexicon:\n  Ishmael: ISH-may-el\n"
    )
    cfg = load_config(path)
    assert cfg.voice.length_scale == 1.2 and cfg.voice.narrator == "en_US-joe-medium"
    assert (
        cfg.pauses.paragraph_ms == 900
        and cfg.pauses.sentence_ms == PipelineConfig().pauses.sentence_ms
    )
    assert cfg.lexicon == {"Ishmael": "ISH-may-el"}


@pytest.mark.parametrize(
    "yaml_text, message",
    [
        ("voice:\n  lenght_scale: 1.2\n", r"voice\.lenght_scale: Extra inputs"),
        ("mastering:\n  target_rms_db: -10\n", r"mastering\.target_rms_db"),
        ("output:\n  formats: [ogg]\n", r"output: Value error, formats must be some of"),
        ("voice: [\n", "is not valid YAML"),
    ],
)
def test_bad_config_names_the_problem(tmp_path, yaml_text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_with_overrides_validates():
    cfg = PipelineConfig().with_overrides(output={"formats": ("mp3",)})
    assert cfg.output.formats == ("mp3",)
    with pytest.raises(ConfigError, match="formats must be some of"):
        PipelineConfig().with_overrides(output={"formats": ("m4b", "aiff")})
