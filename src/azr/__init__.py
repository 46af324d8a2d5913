"""azr: Absolute Zero self-play reinforcement learning with verifiable rewards and zero external data."""

__version__ = "0.1.0"
