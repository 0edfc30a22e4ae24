"""aifedge: active inference for cloud-edge computing, built around pymdp."""

__version__ = "0.1.0"
