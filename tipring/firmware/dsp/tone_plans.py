"""National tone plans: call-progress tones, ring cadence and caller-ID method per country.

This is data, kept as a Python dict rather than TOML so that MicroPython (which has no tomllib)
imports it unchanged. Sources: ITU-T E.180 Supplement 2 ("Various tones used in national
networks", the 2003 list at itu.int/ITU-T/inr/forms/files/tones-0203.pdf) as collected in
Asterisk's `configs/samples/indications.conf.sample` (BT SIN 350 for the UK, ACIF S002 for
Australia), cross-checked in notes/hardware.md §2.3-§2.5. Levels are tipring's choices inside
the usual −10…−24 dBm0 band (Telcordia GR-506 for the US: dial −13, ringback −19, busy and
reorder −24 dBm0 per frequency); entries the ITU list leaves open are marked "[tipring]".

Shape of one plan::

    "US": {
        "name": "United States / NANP",
        "ring": {"hz": 20, "cadence": [2000, 4000]},        # ms on, off, on, off... repeating
        "callerid": {"method": "bell202", "when": "after_first_ring"},
        "tones": {"dial": TONE, "busy": TONE, ...},
    }

A TONE is a dict:

- ``"freqs"``: the frequencies (Hz) of its "on" parts; ``"level"``: dBm0 per frequency.
- ``"cadence"``: ms on/off/on/off... repeating; ``[]`` is a continuous tone.
- ``"intro"``: optional ms on/off... played once before the cadence (stutter and recall dial
  tones: the intro's bursts, then the steady tone).
- ``"repeat"``: False for a tone that plays its cadence once and then falls silent.
- ``"alt"``: optional list of ``(freqs, level offset dB)``, one per "on" part in turn, for tones
  whose bursts differ (UK special dial: 350+440 then 440; AU congestion: every other burst −10 dB).
- ``"am"``: optional ``(modulating Hz, depth)``: amplitude modulation (Japanese ringback).

``"callerid"``: ``method`` (what the line sends by default), ``when`` ("after_first_ring":
GR-30-CORE, ETSI variant (c), in the first long ring pause; "before_ring": ahead of the first
ring; "car": JCLIP, off-hook after the CAR signal, before the ringing), ``alert`` ("dt-as": the 2130+2750 Hz dual tone before the FSK) and ``line_reversal``
(the polarity reversed for the sequence) for the pre-ring variants. `callerid_timing` reads
it for a line; tipring/board/line_port.py carries it out.

Tone names: dial, stutter_dial (message waiting), recall_dial (after a flash), ringback, busy,
congestion (reorder), call_waiting (the subscriber alerting signal, SAS), confirm, howler
(receiver off-hook warning).
"""

_HOWLER = {"freqs": (1400, 2060, 2450, 2600), "level": -10, "cadence": [100, 100]}
_STUTTER6 = [100, 100] * 6
# GR-506 message-waiting / special-condition dial tone: ten 100 ms bursts, then steady (as the
# Panasonic KX-UT "Dial Tone 4" default 10 x 100/100 and Poly's STUTTER ".2(.1+.1)" play it;
# Asterisk's [us] has six)
_STUTTER10 = [100, 100] * 10
_STUTTER3 = [100, 100] * 3

PLANS = {
    "US": {
        "name": "United States / North America",
        "ring": {"hz": 20, "cadence": [2000, 4000]},
        "callerid": {"method": "bell202", "when": "after_first_ring"},
        "tones": {
            "dial": {"freqs": (350, 440), "level": -13, "cadence": []},
            "stutter_dial": {"freqs": (350, 440), "level": -13, "intro": _STUTTER10, "cadence": []},
            "recall_dial": {"freqs": (350, 440), "level": -13, "intro": _STUTTER3, "cadence": []},
            "ringback": {"freqs": (440, 480), "level": -19, "cadence": [2000, 4000]},
            "busy": {"freqs": (480, 620), "level": -24, "cadence": [500, 500]},
            "congestion": {"freqs": (480, 620), "level": -24, "cadence": [250, 250]},
            "call_waiting": {"freqs": (440,), "level": -13, "cadence": [300, 9700]},
            # GR-506 confirmation tone: three 100 ms bursts of dial tone
            "confirm": {"freqs": (350, 440), "level": -13, "cadence": [100, 100, 100, 100, 100, 100],
                        "repeat": False},
            "howler": _HOWLER,
        },
    },
    "UK": {
        "name": "United Kingdom",
        "ring": {"hz": 25, "cadence": [400, 200, 400, 2000]},
        # BT SIN 227: line reversal, >= 100 ms, DT-AS, >= 45 ms, FSK, >= 200 ms, first ring
        "callerid": {"method": "etsi-fsk", "when": "before_ring", "alert": "dt-as",
                     "line_reversal": True},
        "tones": {
            "dial": {"freqs": (350, 440), "level": -13, "cadence": []},
            # SIN 350 special dial tone: 350+440 for 750 ms, 440 alone for 750 ms
            "stutter_dial": {"freqs": (350, 440), "level": -13, "cadence": [750, 0, 750, 0],
                             "alt": [((350, 440), 0), ((440,), 0)]},
            "recall_dial": {"freqs": (350, 440), "level": -13, "cadence": [750, 0, 750, 0],
                            "alt": [((350, 440), 0), ((440,), 0)]},
            "ringback": {"freqs": (400, 450), "level": -19, "cadence": [400, 200, 400, 2000]},
            "busy": {"freqs": (400,), "level": -19, "cadence": [375, 375]},
            "congestion": {"freqs": (400,), "level": -19, "cadence": [400, 350, 225, 525]},
            "call_waiting": {"freqs": (400,), "level": -13, "cadence": [100, 4000]},
            "confirm": {"freqs": (1400,), "level": -13, "cadence": [300, 300], "repeat": False},
            "howler": _HOWLER,
        },
    },
    "DE": {
        "name": "Germany",
        "ring": {"hz": 25, "cadence": [1000, 4000]},
        "callerid": {"method": "etsi-fsk", "when": "after_first_ring"},   # ETSI variant (c) [U]
        "tones": {
            "dial": {"freqs": (425,), "level": -13, "cadence": []},
            "stutter_dial": {"freqs": (400, 425), "level": -13, "cadence": []},  # "special dial"
            "recall_dial": {"freqs": (425,), "level": -13, "intro": _STUTTER3, "cadence": []},
            "ringback": {"freqs": (425,), "level": -19, "cadence": [1000, 4000]},
            "busy": {"freqs": (425,), "level": -19, "cadence": [480, 480]},
            "congestion": {"freqs": (425,), "level": -19, "cadence": [240, 240]},
            "call_waiting": {"freqs": (425,), "level": -13, "cadence": [200, 200, 200, 5000]},
            "confirm": {"freqs": (425,), "level": -13, "cadence": [100, 100, 100, 100, 100, 100],
                        "repeat": False},                                   # [tipring]
            "howler": _HOWLER,
        },
    },
    "FR": {
        "name": "France",
        "ring": {"hz": 50, "cadence": [1500, 3500]},
        "callerid": {"method": "etsi-fsk", "when": "after_first_ring"},   # [U]
        "tones": {
            "dial": {"freqs": (440,), "level": -13, "cadence": []},
            "stutter_dial": {"freqs": (440,), "level": -13, "intro": _STUTTER6, "cadence": []},
            "recall_dial": {"freqs": (350, 440), "level": -13, "intro": _STUTTER3, "cadence": []},
            "ringback": {"freqs": (440,), "level": -19, "cadence": [1500, 3500]},
            "busy": {"freqs": (440,), "level": -19, "cadence": [500, 500]},
            "congestion": {"freqs": (440,), "level": -19, "cadence": [250, 250]},
            "call_waiting": {"freqs": (440,), "level": -13, "cadence": [300, 10000]},
            "confirm": {"freqs": (440,), "level": -13, "cadence": [100, 100, 100, 100, 100, 100],
                        "repeat": False},                                   # [tipring]
            "howler": _HOWLER,                                              # [tipring]
        },
    },
    "CN": {
        "name": "China",
        "ring": {"hz": 25, "cadence": [1000, 4000]},
        "callerid": {"method": "bell202", "when": "after_first_ring"},    # per spandsp adsi.h
        "tones": {
            "dial": {"freqs": (450,), "level": -13, "cadence": []},
            "stutter_dial": {"freqs": (450,), "level": -13, "intro": _STUTTER6, "cadence": []},  # [tipring]
            "recall_dial": {"freqs": (450,), "level": -13, "intro": _STUTTER3, "cadence": []},   # [tipring]
            "ringback": {"freqs": (450,), "level": -19, "cadence": [1000, 4000]},
            "busy": {"freqs": (450,), "level": -19, "cadence": [350, 350]},
            "congestion": {"freqs": (450,), "level": -19, "cadence": [700, 700]},
            "call_waiting": {"freqs": (450,), "level": -13, "cadence": [400, 4000]},
            "confirm": {"freqs": (450,), "level": -13, "cadence": [100, 100, 100, 100, 100, 100],
                        "repeat": False},                                   # [tipring]
            "howler": _HOWLER,                                              # [tipring]
        },
    },
    "JP": {
        "name": "Japan",
        "ring": {"hz": 16, "cadence": [1000, 2000]},
        # NTT "Number Display" (JCLIP): line reversal, CAR (16 Hz 0.5 s on / 0.5 s off), the
        # phone's off-hook primary response, V.23 with JCLIP framing, the phone on-hook, then
        # ringing (tipring/firmware/line/jclip.py has the sequence and its sources)
        "callerid": {"method": "jclip", "when": "car", "line_reversal": True},
        "tones": {
            "dial": {"freqs": (400,), "level": -13, "cadence": []},
            "stutter_dial": {"freqs": (400,), "level": -13, "intro": _STUTTER6, "cadence": []},
            "recall_dial": {"freqs": (400,), "level": -13, "intro": [200, 200] * 3, "cadence": []},
            "ringback": {"freqs": (400,), "level": -19, "cadence": [1000, 2000], "am": (16, 0.9)},
            "busy": {"freqs": (400,), "level": -19, "cadence": [500, 500]},
            "congestion": {"freqs": (400,), "level": -19, "cadence": [500, 500]},
            "call_waiting": {"freqs": (400,), "level": -13, "cadence": [500, 8000], "am": (16, 0.9)},
            "confirm": {"freqs": (400,), "level": -13, "cadence": [100, 100, 100, 100, 100, 100],
                        "repeat": False},                                   # [tipring]
            "howler": _HOWLER,                                              # [tipring]
        },
    },
    "AU": {
        "name": "Australia",
        "ring": {"hz": 25, "cadence": [400, 200, 400, 2000]},
        "callerid": {"method": "bell202", "when": "after_first_ring"},    # per spandsp adsi.h
        "tones": {
            "dial": {"freqs": (413, 438), "level": -13, "cadence": []},
            "stutter_dial": {"freqs": (413, 438), "level": -13, "cadence": [100, 40]},
            "recall_dial": {"freqs": (413, 438), "level": -13, "intro": _STUTTER3, "cadence": []},
            "ringback": {"freqs": (413, 438), "level": -19, "cadence": [400, 200, 400, 2000]},
            "busy": {"freqs": (425,), "level": -19, "cadence": [375, 375]},
            # ACIF S002: every other burst 10 dB down
            "congestion": {"freqs": (425,), "level": -19, "cadence": [375, 375, 375, 375],
                           "alt": [((425,), 0), ((425,), -10)]},
            "call_waiting": {"freqs": (425,), "level": -13, "cadence": [200, 200, 200, 4400]},
            "confirm": {"freqs": (425,), "level": -13, "cadence": [100, 100, 100, 100, 100, 100],
                        "repeat": False},                                   # [tipring]
            "howler": _HOWLER,                                              # [tipring]
        },
    },
}

TONE_NAMES = ("dial", "stutter_dial", "recall_dial", "ringback", "busy", "congestion",
              "call_waiting", "confirm", "howler")
COUNTRIES = tuple(sorted(PLANS))
CALLERID_METHODS = ("bell202", "etsi-fsk", "etsi-dtmf", "jclip")
CALLERID_WHEN = ("before_ring", "after_first_ring", "car")


def plan(country: str) -> dict:
    """The tone plan for `country` (ISO 3166 alpha-2, case-insensitive; "GB" is "UK")."""
    key = country.upper()
    if key == "GB":
        key = "UK"
    try:
        return PLANS[key]
    except KeyError:
        raise ValueError("unknown country %r (known: %s)" % (country, ", ".join(COUNTRIES)))


def callerid_timing(country: str, method: str) -> dict:
    """When and how a line of `country` sends caller ID with `method` (the line's caller_id):
    ``when`` ("before_ring" or "after_first_ring"), ``alert`` ("dt-as" or None), and
    ``line_reversal`` (bool). The plan's entry when the line uses the plan's method; DTMF
    caller ID always goes before the first ring after a line reversal, no alert (the ETSI
    DTMF variants, notes/hardware.md §2.5); another FSK method goes after the first ring
    (GR-30-CORE; ETSI variant (c))."""
    cid = plan(country)["callerid"]
    if method == "dtmf":
        return {"when": "before_ring", "alert": None, "line_reversal": True}
    if method == "jclip":            # JCLIP is its own sequence wherever the line is
        return {"when": "car", "alert": None, "line_reversal": True}
    if method == cid["method"]:
        return {"when": cid["when"], "alert": cid.get("alert"),
                "line_reversal": bool(cid.get("line_reversal"))}
    return {"when": "after_first_ring", "alert": None, "line_reversal": False}


def tone(country: str, name: str) -> dict:
    """One tone entry of a country's plan."""
    tones = plan(country)["tones"]
    try:
        return tones[name]
    except KeyError:
        raise ValueError("unknown tone %r (known: %s)" % (name, ", ".join(TONE_NAMES)))
