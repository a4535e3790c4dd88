"""Roost: six serverless systems on one core, run locally on embedded adapters or on AWS."""

__version__ = "0.1.0"
