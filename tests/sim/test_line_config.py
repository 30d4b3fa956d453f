"""The line's own config keys on a running firmware: the off-hook and reorder timeouts
(Cisco's "off hook warning" / reorder delay), applied at start and live from the console
without re-registering the line (only the account keys make a registration)."""

from tipring.firmware import config as config_mod
from tests.sim.test_idle import sim_config, vloop  # noqa: F401 (vloop: fixture)


def _cfg(**keys):
    cfg = sim_config()
    for k, v in keys.items():
        cfg = config_mod.set_value(cfg, "line.1.%s" % k, str(v))
    return cfg


def test_offhook_timeout_s_sends_the_howler_after_that_long(vloop):
    fw = vloop.make(_cfg(offhook_timeout_s=5))
    fw.board.handsets[1].offhook()
    vloop.run_for(4.5)
    assert fw.board.ports[1].fxs.state == "dial_tone"
    vloop.run_for(1.0)
    assert fw.board.ports[1].fxs.state == "howler"


def test_a_line_setting_changed_live_applies_at_once_and_does_not_re_register(vloop):
    cfg = config_mod.set_value(sim_config(), "line.1.register", "true")
    fw = vloop.make(cfg)
    reg = fw.registrations.get(1)
    assert reg is not None
    new = config_mod.set_value(config_mod.set_value(fw.cfg, "line.1.offhook_timeout_s", "7"),
                               "line.1.reorder_timeout_s", "9")
    notes = fw.apply_config(config_mod.set_value(new, "line.1.dnd", "true"))
    assert fw.registrations.get(1) is reg and not any("re-registering" in n for n in notes)
    fxs = fw.board.ports[1].fxs
    assert (fxs.offhook_timeout, fxs.reorder_timeout) == (7.0, 9.0)
    notes = fw.apply_config(config_mod.set_value(fw.cfg, "line.1.expires", "600"))
    assert "line 1: re-registering" in notes and fw.registrations.get(1) is not reg


def test_timeouts_out_of_range_are_refused_with_the_allowed_range():
    cfg = sim_config()
    for key in ("offhook_timeout_s", "reorder_timeout_s"):
        try:
            config_mod.set_value(cfg, "line.1.%s" % key, "2")
        except config_mod.ConfigError as e:
            assert key in str(e) and "5" in str(e)
        else:
            raise AssertionError("%s = 2 accepted" % key)


def test_a_line_removed_from_the_config_de_registers_and_leaves_the_ua(vloop):
    """`revert` (or any new config) without a [[line]]: that account's registration sends its
    REGISTER with expires 0 and no refresh of it runs again."""
    from tests.sim.test_idle import sim_config as cfg_of
    cfg = config_mod.set_value(config_mod.set_value(cfg_of(lines=2), "line.1.register", "true"),
                               "line.2.register", "true")
    fw = vloop.make(cfg)
    reg2 = fw.registrations.get(2)
    assert reg2 is not None and reg2 in fw.ua.tus
    data = fw.cfg.to_toml_dict()
    data["line"] = [ln for ln in data["line"] if ln["port"] == 1]
    notes = fw.apply_config(config_mod.validate(data))
    assert "line 2: removed; de-registering" in notes
    assert 2 not in fw.registrations and reg2 not in fw.ua.tus
    assert reg2.state in ("unregistering", "stopped"), reg2.state
    assert fw.registrations.get(1) is not None and fw.registrations[1] in fw.ua.tus
