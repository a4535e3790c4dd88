"""Helpers shared by test folders: `from support.server import serve_roost` (tests/ is on
sys.path under pytest, through tests/conftest.py)."""
