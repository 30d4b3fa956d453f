"""Registrar behaviours Kamailio will not produce on demand, played by SIPp scenarios
(tests/peers/sipp/reg_*.xml): 423 + Min-Expires, 403, 503 + Retry-After, a SHA-256 challenge,
a stale nonce."""

import hashlib
import re
import shutil

import pytest

from tests.peers.firmware import RunningFirmware
from tests.peers.kamailio import free_port
from tests.peers.sipp import Sipp

pytestmark = [pytest.mark.peers,
              pytest.mark.skipif(not shutil.which("sipp"), reason="sipp not installed (tools/setup --test)")]


def config(registrar_port, expires=60):
    return {"board": {"kind": "sim", "control": "127.0.0.1:%d" % free_port()},
            "sip": {"bind": "127.0.0.1:%d" % free_port()},
            "line": [{"port": 1, "user": "1001", "password": "secret1001",
                      "registrar": "127.0.0.1:%d" % registrar_port, "expires": expires}]}


def run(tmp_path, scenario, expires=60):
    port = free_port()
    sipp = Sipp(str(tmp_path), scenario, port)
    fw = RunningFirmware(str(tmp_path), config(port, expires))
    return sipp, fw


def test_423_retries_with_min_expires(tmp_path):
    sipp, fw = run(tmp_path, "reg_423.xml", expires=60)
    with sipp, fw:
        ok = fw.wait_event(lambda e: e["event"] == "registered", 10)
        assert ok and ok["expires"] == 120
        assert sipp.wait(10) == 0, sipp.errors()
        assert not fw.named("registration_failed")


def test_403_stops_and_reports_without_hammering(tmp_path):
    sipp, fw = run(tmp_path, "reg_403.xml")
    with sipp, fw:
        fail = fw.wait_event(lambda e: e["event"] == "registration_failed", 10)
        assert fail["status"] == 403 and fail["retry_in"] >= 1800
        assert sipp.wait(15) == 0, sipp.errors()
        assert len(re.findall(r"^REGISTER ", sipp.messages(), re.M)) == 1


def test_503_with_retry_after_is_honoured(tmp_path):
    sipp, fw = run(tmp_path, "reg_503.xml")
    with sipp, fw:
        fail = fw.wait_event(lambda e: e["event"] == "registration_failed", 10)
        assert fail["status"] == 503 and fail["retry_in"] == 3
        ok = fw.wait_event(lambda e: e["event"] == "registered", 10)
        assert ok and ok["expires"] == 600
        assert sipp.wait(10) == 0, sipp.errors()


def _params(header):
    return dict((k, v.strip('"')) for k, v in re.findall(r'(\w+)=("[^"]*"|[^,\s]+)', header))


def test_sha256_challenge_answered_with_sha256_and_correct_digest(tmp_path):
    sipp, fw = run(tmp_path, "reg_sha256.xml")
    with sipp, fw:
        assert fw.wait_event(lambda e: e["event"] == "registered", 10)
        assert sipp.wait(10) == 0, sipp.errors()
        auth = re.search(r"^Authorization: Digest (.*)$", sipp.messages(), re.M).group(1)
        p = _params(auth)
        assert p["algorithm"] == "SHA-256" and p["qop"] == "auth" and p["username"] == "1001"
        h = lambda s: hashlib.sha256(s.encode()).hexdigest()
        ha1 = h("1001:tipring.test:secret1001")
        ha2 = h("REGISTER:" + p["uri"])
        want = h(":".join([ha1, p["nonce"], p["nc"], p["cnonce"], "auth", ha2]))
        assert p["response"] == want


def test_stale_nonce_is_answered_at_once_and_is_not_a_failure(tmp_path):
    sipp, fw = run(tmp_path, "reg_stale.xml")
    with sipp, fw:
        assert fw.wait_event(lambda e: e["event"] == "registered", 10)
        assert sipp.wait(10) == 0, sipp.errors()
        assert not fw.named("registration_failed")


def test_received_and_rport_of_the_200_become_the_contact_registered_again_once(tmp_path):
    sipp, fw = run(tmp_path, "reg_nat.xml", expires=600)
    with sipp, fw:
        ok = fw.wait_event(lambda e: e["event"] == "registered", 10)
        assert ok and ok["contact"] == "sip:1001@192.0.2.10:40123" and ok["expires"] == 600
        assert sipp.wait(10) == 0, sipp.errors()      # SIPp checked the second REGISTER's Contact
        assert len(re.findall(r"^REGISTER ", sipp.messages(), re.M)) == 2
        nat = fw.named("nat")
        assert len(nat) == 1 and nat[0]["contact"] == "sip:1001@192.0.2.10:40123"
        assert not fw.named("registration_failed")
