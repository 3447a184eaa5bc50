"""Repository functions: (conn, ...) -> dict | list[dict]. No Flask in here."""
