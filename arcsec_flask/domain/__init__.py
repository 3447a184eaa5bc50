"""The pure domain: night dates, time zones, ids, key and name rules, named errors.

Nothing here imports Flask or SQLite (tests/test_layers.py checks it).
"""
