"""One FXS line, sans-IO: hook/pulse/flash decoding (`hook`, `pulse`) and ring cadences
(`ring_cadence`). Nothing here touches a pin, a thread or the wall clock; callers pass `now`.
"""
