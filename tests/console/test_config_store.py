"""Atomic save, backup, mode 0600, fallback at start-up, and console password hashes."""

import os
import stat

import pytest

from tipring.firmware import config
from tipring.firmware.config_store import (check_password, hash_password, load_with_fallback, remove_saved,
                                   save_config)


def cfg_with(**changes):
    cfg = config.builtin_default()
    for key, value in changes.items():
        cfg = config.set_value(cfg, key.replace("__", "."), str(value))
    return cfg


def test_save_writes_a_file_that_loads_back_equal(tmp_path):
    path = str(tmp_path / "tipring.toml")
    cfg = cfg_with(line__1__expires=600)
    save_config(cfg, path)
    assert config.load(path).to_toml_dict() == cfg.to_toml_dict()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert not os.path.exists(path + ".tmp")
    assert not os.path.exists(path + ".bak")  # nothing before it to keep


def test_save_keeps_the_previous_good_file_as_backup(tmp_path):
    path = str(tmp_path / "tipring.toml")
    old, new = cfg_with(line__1__expires=600), cfg_with(line__1__expires=900)
    save_config(old, path)
    save_config(new, path)
    assert config.load(path).get("line.1.expires") == 900
    assert config.load(path + ".bak").get("line.1.expires") == 600
    assert stat.S_IMODE(os.stat(path + ".bak").st_mode) == 0o600


def test_a_bad_previous_file_does_not_replace_the_backup(tmp_path):
    path = str(tmp_path / "tipring.toml")
    save_config(cfg_with(line__1__expires=600), path)
    save_config(cfg_with(line__1__expires=700), path)     # .bak = 600
    with open(path, "w") as f:
        f.write("[sip]\ntransport = 'carrier-pigeon'\n")    # someone hand-edited it badly
    save_config(cfg_with(line__1__expires=800), path)
    assert config.load(path).get("line.1.expires") == 800
    assert config.load(path + ".bak").get("line.1.expires") == 600


def test_save_tightens_a_loose_mode(tmp_path):
    path = str(tmp_path / "tipring.toml")
    with open(path + ".tmp", "w") as f:
        f.write("stale")
    os.chmod(path + ".tmp", 0o644)
    save_config(cfg_with(), path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_save_into_a_missing_directory_raises_and_changes_nothing(tmp_path):
    with pytest.raises(OSError):
        save_config(cfg_with(), str(tmp_path / "nope" / "tipring.toml"))


def test_load_with_fallback_uses_a_good_main_file(tmp_path):
    path = str(tmp_path / "tipring.toml")
    save_config(cfg_with(line__1__expires=600), path)
    cfg, notes = load_with_fallback(path)
    assert cfg.get("line.1.expires") == 600 and notes == []


@pytest.mark.parametrize("damage", [
    b"[sip\nbind = ",                                   # torn TOML
    b"",                                                # empty file
    b"\xff\xfe\x00garbage",                             # not text
    b"[sip]\ntransport = 'carrier-pigeon'\n",           # valid TOML, invalid config
])
def test_start_up_falls_back_to_the_backup_loudly(tmp_path, damage):
    path = str(tmp_path / "tipring.toml")
    save_config(cfg_with(line__1__expires=600), path)
    save_config(cfg_with(line__1__expires=900), path)
    with open(path, "wb") as f:
        f.write(damage)
    cfg, notes = load_with_fallback(path)
    assert cfg.get("line.1.expires") == 600
    assert cfg.path == path                             # a later save repairs the main file
    assert notes and "CONFIG FALLBACK" in notes[0] and path + ".bak" in notes[0]
    save_config(cfg, path)
    assert config.load(path).get("line.1.expires") == 600


def test_both_files_bad_lists_the_problems_of_both(tmp_path):
    path = str(tmp_path / "tipring.toml")
    with open(path, "w") as f:
        f.write("[sip]\ntransport = 'carrier-pigeon'\n")
    with open(path + ".bak", "w") as f:
        f.write("[board]\ncountry = 'atlantis'\n")
    with pytest.raises(config.ConfigError) as e:
        load_with_fallback(path)
    text = str(e.value)
    assert "sip.transport" in text and "board.country" in text
    assert path + ".bak" in text


def test_missing_main_file_falls_back_too(tmp_path):
    path = str(tmp_path / "tipring.toml")
    save_config(cfg_with(line__1__expires=600), path)
    save_config(cfg_with(line__1__expires=900), path)
    os.unlink(path)
    cfg, notes = load_with_fallback(path)
    assert cfg.get("line.1.expires") == 600 and notes


def test_remove_saved_erases_file_backup_and_temp(tmp_path):
    path = str(tmp_path / "tipring.toml")
    save_config(cfg_with(line__1__expires=600), path)
    save_config(cfg_with(line__1__expires=900), path)
    assert set(remove_saved(path)) == {path, path + ".bak"}
    assert os.listdir(tmp_path) == []


def test_password_hash_format_and_check():
    h = hash_password("correct horse", iterations=1000, salt=b"\x01" * 16)
    scheme, iters, salt, digest = h.split("$")
    assert (scheme, iters, salt) == ("pbkdf2-sha256", "1000", "01" * 16) and len(digest) == 64
    assert check_password("correct horse", h)
    assert not check_password("correct horsf", h)
    assert hash_password("x", iterations=1000) != hash_password("x", iterations=1000)  # salted


@pytest.mark.parametrize("stored", ["", "plain", "md5$1$00$00", "pbkdf2-sha256$x$00$00",
                                    "pbkdf2-sha256$1000$zz$00", "pbkdf2-sha256$0$00$00", None])
def test_check_password_refuses_malformed_hashes(stored):
    assert check_password("anything", stored) is False


def test_a_hash_is_accepted_by_the_config_validator():
    h = hash_password("secret99", iterations=1000)
    cfg = config.set_value(config.builtin_default(), "console.password_hash", h)
    assert cfg.console["password_hash"] == h
    assert cfg.masked()["console"]["password_hash"] == "****"
