"""tipring: analog telephone adapter firmware (FXS line + SIP user agent)."""

__version__ = "0.1.0"
