"""The DNS keys: `sip.dns_servers` and `sip.dns_timeout_s` validated like every other key, and
settable from the console's `set` text."""

import subprocess
import sys

import pytest

from tipring.firmware import config

BASE = {"line": [{"port": 1, "user": "1001", "registrar": "pbx.example.net"}]}


def with_sip(**sip):
    return config.validate(dict(BASE, sip=sip))


def test_defaults_are_the_system_resolver_and_five_seconds():
    cfg = with_sip()
    assert cfg.sip["dns_servers"] == [] and cfg.sip["dns_timeout_s"] == 5


def test_servers_are_ip_addresses_with_an_optional_port():
    cfg = with_sip(dns_servers=["127.0.0.1:5353", "192.0.2.53", "[::1]:53", "2001:db8::53"], dns_timeout_s=3)
    assert cfg.sip["dns_servers"] == ["127.0.0.1:5353", "192.0.2.53", "[::1]:53", "2001:db8::53"]
    assert cfg.sip["dns_timeout_s"] == 3
    assert with_sip(dns_servers="127.0.0.1").sip["dns_servers"] == ["127.0.0.1"]   # one, as text


@pytest.mark.parametrize("value", [["dns.example"], ["127.0.0.1:0"], ["127.0.0.1:x"], "dns.example", [53],
                                   ["192.0.2.1"] * 5, ["[::1"]])
def test_bad_servers_are_named_with_what_is_allowed(value):
    with pytest.raises(config.ConfigError) as e:
        with_sip(dns_servers=value)
    (problem,) = e.value.problems
    assert problem.startswith("sip.dns_servers: ") and 'allowed: a list of DNS server IPs, "IP" or "IP:PORT"' in problem


@pytest.mark.parametrize("value", [0, 31, "5", True])
def test_bad_timeouts_are_refused(value):
    with pytest.raises(config.ConfigError) as e:
        with_sip(dns_timeout_s=value)
    assert e.value.problems == ["sip.dns_timeout_s: %s is not allowed; allowed: an integer from 1 to 30"
                                % ('"5"' if value == "5" else "true" if value is True else value)]


def test_console_set_takes_a_list_or_comma_separated_text():
    cfg = with_sip()
    assert config.set_value(cfg, "sip.dns_servers", '["127.0.0.1:5353"]').sip["dns_servers"] == ["127.0.0.1:5353"]
    assert config.set_value(cfg, "sip.dns_servers", "192.0.2.1, 192.0.2.2:5300").sip["dns_servers"] == \
        ["192.0.2.1", "192.0.2.2:5300"]
    assert config.set_value(cfg, "sip.dns_servers", "[]").sip["dns_servers"] == []
    with pytest.raises(config.ConfigError):
        config.set_value(cfg, "sip.dns_servers", "dns.example")
    assert cfg.sip["dns_servers"] == []           # the running config untouched


def test_check_config_names_the_dns_keys(tmp_path):
    p = tmp_path / "t.toml"
    p.write_text('[sip]\ndns_servers = ["resolver.example"]\ndns_timeout_s = 60\n'
                 '[[line]]\nport = 1\nuser = "1001"\nregistrar = "pbx.example.net"\n')
    r = subprocess.run([sys.executable, "-m", "tipring", "check-config", str(p)], capture_output=True, text=True)
    assert r.returncode != 0
    assert "sip.dns_servers" in r.stdout + r.stderr and "sip.dns_timeout_s" in r.stdout + r.stderr
