"""RxWatch: high-risk drug monitoring and prescribing safety for primary care."""

__version__ = "0.1.0"
