"""tipring/firmware/sip: the sans-IO SIP stack (messages, transactions, dialogs, registration, auth).

The message layer (`message.py`, `headers.py`, `uri.py`) is hand-written for tipring after
RFC 3261 §7, §20 and §25; see those modules. Nothing here touches a socket or a clock.
"""
