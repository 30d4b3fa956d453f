"""Config validation: every wrong key reported at once, by key, with the allowed values."""

import os
import subprocess
import sys

import pytest

from tipring.firmware import config

GOOD = """
[board]
kind = "sim"
control = "127.0.0.1:7001"
country = "us"

[sip]
bind = "127.0.0.1:5070"
transport = "udp"
user_agent = "tipring"

[[line]]
port = 1
user = "1001"
password = "secret1001"
registrar = "127.0.0.1:5060"
domain = "127.0.0.1"
expires = 3600
dial_plan = "(*xx|[3469]11|0|00|[2-9]xxx|1xxx|xx.)"
caller_id = "bell202"

[console]
listen = "tcp:127.0.0.1:7100"
"""


def write(tmp_path, text, name="t.toml"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_the_interfaces_example_is_valid(tmp_path):
    cfg = config.load(write(tmp_path, GOOD))
    assert cfg.sip["transport"] == "udp"
    assert cfg.line(1)["user"] == "1001"
    assert cfg.line(1)["domain"] == "127.0.0.1"


def test_every_problem_is_reported_at_once_with_key_value_and_allowed(tmp_path):
    bad = (GOOD.replace('transport = "udp"', 'transport = "carrier-pigeon"')
               .replace("expires = 3600", "expires = -5")
               .replace('country = "us"', 'country = "xx"\ncolour = "blue"'))
    with pytest.raises(config.ConfigError) as e:
        config.load(write(tmp_path, bad))
    text = str(e.value)
    assert 'sip.transport: "carrier-pigeon" is not allowed; allowed: udp, tcp' in text
    assert "line.1.expires: -5 is not allowed; allowed: an integer from 10 to 86400" in text
    assert "board.country" in text and "us, uk, de, fr, cn, jp, au" in text
    assert "board.colour: unknown key" in text
    assert len(e.value.problems) == 4


def test_password_is_never_echoed(tmp_path):
    bad = GOOD.replace('password = "secret1001"', 'password = 1234567')
    with pytest.raises(config.ConfigError) as e:
        config.load(write(tmp_path, bad))
    assert "line.1.password: **** is not allowed" in str(e.value)
    assert "1234567" not in str(e.value)


def test_toml_syntax_error_and_missing_file_are_clear(tmp_path):
    with pytest.raises(config.ConfigError) as e:
        config.load(write(tmp_path, "[sip\nbind="))
    assert "not valid TOML" in str(e.value)
    with pytest.raises(config.ConfigError) as e:
        config.load(str(tmp_path / "nope.toml"))
    assert "cannot read" in str(e.value)


def test_duplicate_line_ports_and_missing_required(tmp_path):
    text = GOOD + '\n[[line]]\nport = 1\nuser = "1002"\n'
    with pytest.raises(config.ConfigError) as e:
        config.load(write(tmp_path, text))
    s = str(e.value)
    assert "line.1.port: 1 is used by another line" in s
    assert "line.1.registrar: missing; it is required" in s


def test_set_value_validates_like_the_file_and_leaves_the_running_config_alone(tmp_path):
    cfg = config.load(write(tmp_path, GOOD))
    new = config.set_value(cfg, "sip.transport", "tcp")
    assert new.sip["transport"] == "tcp" and cfg.sip["transport"] == "udp"
    new = config.set_value(cfg, "line.1.user", "1002")
    assert new.line(1)["user"] == "1002"
    with pytest.raises(config.ConfigError) as e:
        config.set_value(cfg, "line.1.expires", "soon")
    assert "line.1.expires" in str(e.value)
    with pytest.raises(KeyError):
        config.set_value(cfg, "sip.colour", "blue")
    assert cfg.sip["transport"] == "udp"


@pytest.mark.parametrize("addr,ok", [("127.0.0.1:5060", True), ("[::1]:5060", True),
                                     ("pbx.example.com", True), ("::1:5060", False),
                                     ("host:99999", False), ("", False), ("a b:1", False)])
def test_hostport(addr, ok):
    if ok:
        config.parse_hostport(addr, 5060)
    else:
        with pytest.raises(ValueError):
            config.parse_hostport(addr, 5060)


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "tipring", *args], capture_output=True, text=True, timeout=60)


def test_check_config_cli_exit_codes(tmp_path):
    good = write(tmp_path, GOOD, "good.toml")
    bad = write(tmp_path, GOOD.replace('"udp"', '"carrier-pigeon"'), "bad.toml")
    g = run_cli("check-config", good)
    assert g.returncode == 0, g.stdout + g.stderr
    b = run_cli("check-config", bad)
    assert b.returncode == 1 and "sip.transport" in b.stdout


def test_bad_command_line_and_bad_config_for_run_exit_2(tmp_path):
    assert run_cli("frobnicate").returncode == 2
    bad = write(tmp_path, GOOD.replace('"udp"', '"carrier-pigeon"'), "bad.toml")
    r = run_cli("run", "--config", bad)
    assert r.returncode == 2 and "sip.transport" in r.stderr


def test_tls_transport_and_its_ca_file(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    text = GOOD.replace('transport = "udp"', 'transport = "tls"\ntls_ca_file = "%s"\ntls_verify = true' % ca)
    cfg = config.load(write(tmp_path, text))
    assert cfg.sip["transport"] == "tls" and cfg.sip["tls_ca_file"] == str(ca) and cfg.sip["tls_verify"] is True
    assert config.load(write(tmp_path, GOOD, "plain.toml")).sip["tls_ca_file"] is None
    missing = GOOD.replace('transport = "udp"', 'transport = "tls"\ntls_ca_file = "%s"\ntls_verify = "yes"'
                           % (tmp_path / "gone.pem"))
    r = subprocess.run([sys.executable, "-m", "tipring", "check-config", write(tmp_path, missing, "bad.toml")],
                       capture_output=True, text=True)
    assert r.returncode == 1
    assert "sip.tls_ca_file" in r.stderr + r.stdout and "no such file" in r.stderr + r.stdout
    assert "sip.tls_verify" in r.stderr + r.stdout
    bad = GOOD.replace('transport = "udp"', 'transport = "sctp"')
    with pytest.raises(config.ConfigError) as e:
        config.load(write(tmp_path, bad, "sctp.toml"))
    assert 'sip.transport: "sctp" is not allowed; allowed: udp, tcp, tls' in str(e.value)


def test_nat_recovery_and_prack_keys_are_validated_with_what_is_allowed():
    raw = {"sip": {"nat_keepalive_s": -1},
           "line": [{"port": 1, "user": "1001", "registrar": "127.0.0.1:5060", "registrar_backup": "pbx2:99999",
                     "registrar_ping_s": "often", "prack": "yes"}]}
    with pytest.raises(config.ConfigError) as e:
        config.validate(raw)
    text = str(e.value)
    assert "sip.nat_keepalive_s: -1 is not allowed; allowed: an integer from 0 to 3600" in text
    assert 'line.1.registrar_backup: "pbx2:99999" is not allowed; allowed: HOST:PORT' in text
    assert 'line.1.registrar_ping_s: "often" is not allowed; allowed: an integer from 0 to 3600' in text
    assert 'line.1.prack: "yes" is not allowed; allowed: true or false' in text
    ok = config.validate({"line": [{"port": 1, "user": "1001", "registrar": "127.0.0.1:5060",
                                    "registrar_backup": "127.0.0.1:5062"}]})
    ln = ok.lines[0]
    assert ok.sip["nat_keepalive_s"] == 0 and ln["registrar_ping_s"] == 20 and ln["prack"] is True


def test_line_service_keys_of_issue_15_default_and_are_checked(tmp_path):
    ln = config.load(write(tmp_path, GOOD)).line(1)
    assert (ln["pulse_pps_min"], ln["pulse_pps_max"]) == (8, 22)
    assert (ln["mwi_subscribe"], ln["mwi_uri"], ln["mwi_expires"]) == (False, "", 3600)
    good = GOOD.replace('caller_id = "bell202"', 'caller_id = "bell202"\npulse_pps_min = 6\npulse_pps_max = 12\n'
                        'mwi_subscribe = true\nmwi_uri = "sip:*97@127.0.0.1"\nmwi_expires = 600')
    ln = config.load(write(tmp_path, good)).line(1)
    assert (ln["pulse_pps_min"], ln["mwi_subscribe"], ln["mwi_uri"]) == (6, True, "sip:*97@127.0.0.1")
    bad = GOOD.replace('caller_id = "bell202"', 'caller_id = "bell202"\npulse_pps_min = 22\npulse_pps_max = 40\n'
                       'mwi_subscribe = "yes"\nmwi_uri = "*97"\nmwi_expires = 5')
    with pytest.raises(config.ConfigError) as e:
        config.load(write(tmp_path, bad))
    text = str(e.value)
    assert "line.1.pulse_pps_max: 40 is not allowed; allowed: an integer from 5 to 30" in text
    assert "line.1.mwi_subscribe" in text and "line.1.mwi_expires: 5 is not allowed" in text
    assert 'line.1.mwi_uri: "*97" is not allowed; allowed: a SIP URI' in text
    bad = GOOD.replace('caller_id = "bell202"', 'caller_id = "bell202"\npulse_pps_min = 22\npulse_pps_max = 20')
    with pytest.raises(config.ConfigError) as e:
        config.load(write(tmp_path, bad))
    assert "line.1.pulse_pps_min: 22 is not allowed; allowed: less than line.1.pulse_pps_max (20)" in str(e.value)


@pytest.mark.parametrize("value, ok", [("off", True), ("optional", True), ("REQUIRED", True),
                                       ("on", False), (True, False), ("", False)])
def test_srtp_mode_per_line(tmp_path, value, ok):
    pytest.importorskip("pylibsrtp")
    text = GOOD.replace('caller_id = "bell202"', "caller_id = \"bell202\"\nsrtp = %s"
                        % ("true" if value is True else '"%s"' % value))
    if ok:
        assert config.load(write(tmp_path, text)).line(1)["srtp"] == value.lower()
    else:
        with pytest.raises(config.ConfigError) as e:
            config.load(write(tmp_path, text))
        assert "line.1.srtp" in str(e.value) and "off, optional, required" in str(e.value)
    assert config.load(write(tmp_path, GOOD, "plain.toml")).line(1)["srtp"] == "off"


SYSTEM_PYTHON = "/usr/bin/python3"


def _lacks_pylibsrtp(python):
    if not os.path.exists(python):
        return False
    r = subprocess.run([python, "-c", "import sys, tomllib; import pylibsrtp"], capture_output=True)
    return b"No module named 'pylibsrtp'" in r.stderr


@pytest.mark.skipif(not _lacks_pylibsrtp(SYSTEM_PYTHON), reason="no Python 3.11 without pylibsrtp here")
def test_check_config_says_srtp_needs_pylibsrtp_where_it_is_missing(tmp_path):
    """A real interpreter without pylibsrtp (Debian's python3, not the venv): SRTP asked for is
    a config error naming the package; srtp = "off" is fine there."""
    path = write(tmp_path, GOOD.replace('caller_id = "bell202"', 'caller_id = "bell202"\nsrtp = "optional"'))
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    r = subprocess.run([SYSTEM_PYTHON, "-m", "tipring", "check-config", path], capture_output=True,
                       text=True, timeout=60, cwd=root)
    assert r.returncode == 1 and "line.1.srtp" in r.stdout and "pylibsrtp" in r.stdout, r.stdout + r.stderr
    plain = write(tmp_path, GOOD, "plain.toml")
    r = subprocess.run([SYSTEM_PYTHON, "-m", "tipring", "check-config", plain], capture_output=True,
                       text=True, timeout=60, cwd=root)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("value, ok", [("pcmu,pcma", "pcmu,pcma"), ("G722, PCMU", "g722,pcmu"),
                                       ("pcma", "pcma"), ("g722,pcmu,pcma", "g722,pcmu,pcma"),
                                       ("g729", None), ("pcmu,pcmu", None), ("", None),
                                       (["pcmu"], None), ("pcmu,", None)])
def test_codecs_per_line(tmp_path, value, ok):
    if ok and "g722" in ok:
        pytest.importorskip("G722")
    text = GOOD.replace('caller_id = "bell202"', 'caller_id = "bell202"\ncodecs = %s'
                        % ('["pcmu"]' if isinstance(value, list) else '"%s"' % value))
    if ok:
        assert config.load(write(tmp_path, text)).line(1)["codecs"] == ok
    else:
        with pytest.raises(config.ConfigError) as e:
            config.load(write(tmp_path, text))
        assert "line.1.codecs" in str(e.value) and "pcmu, pcma, g722" in str(e.value)
    assert config.load(write(tmp_path, GOOD, "plain.toml")).line(1)["codecs"] == "pcmu,pcma"


def _lacks_g722(python):
    if not os.path.exists(python):
        return False
    r = subprocess.run([python, "-c", "import sys, tomllib; import G722"], capture_output=True)
    return b"No module named 'G722'" in r.stderr


@pytest.mark.skipif(not _lacks_g722(SYSTEM_PYTHON), reason="no Python 3.11 without g722 here")
def test_check_config_says_g722_needs_the_package_where_it_is_missing(tmp_path):
    """A real interpreter without the g722 package: a line asking for G.722 is a config error
    naming the package; G.711 lines are fine there."""
    path = write(tmp_path, GOOD.replace('caller_id = "bell202"',
                                        'caller_id = "bell202"\ncodecs = "g722,pcmu"'))
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    r = subprocess.run([SYSTEM_PYTHON, "-m", "tipring", "check-config", path], capture_output=True,
                       text=True, timeout=60, cwd=root)
    assert r.returncode == 1 and "line.1.codecs" in r.stdout and "pip install g722" in r.stdout, \
        r.stdout + r.stderr
    plain = write(tmp_path, GOOD.replace('caller_id = "bell202"',
                                         'caller_id = "bell202"\ncodecs = "pcma,pcmu"'), "plain.toml")
    r = subprocess.run([SYSTEM_PYTHON, "-m", "tipring", "check-config", plain], capture_output=True,
                       text=True, timeout=60, cwd=root)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("value, ok", [("t38", "t38"), ("T38", "t38"), ("passthrough", "passthrough"),
                                       ("PassThrough", "passthrough"), ("g711", None), ("", None),
                                       (True, None)])
def test_fax_mode_per_line(tmp_path, value, ok):
    from tipring.firmware.media import t38_gateway
    if ok == "t38" and t38_gateway.available() is not None:
        pytest.skip("libspandsp not installed")
    text = GOOD.replace('caller_id = "bell202"', 'caller_id = "bell202"\nfax = %s'
                        % ("true" if value is True else '"%s"' % value))
    if ok:
        assert config.load(write(tmp_path, text)).line(1)["fax"] == ok
    else:
        with pytest.raises(config.ConfigError) as e:
            config.load(write(tmp_path, text))
        assert "line.1.fax" in str(e.value) and "t38, passthrough" in str(e.value)
    assert config.load(write(tmp_path, GOOD, "plain.toml")).line(1)["fax"] == "t38"
