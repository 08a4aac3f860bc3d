"""Kasbah: infrastructure as code for phased AI datacenter campuses."""

__version__ = "0.1.0"
