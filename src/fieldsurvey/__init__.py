"""fieldsurvey: workforce survey research for the anti-trafficking and victim-services field."""

__version__ = "0.1.0"
