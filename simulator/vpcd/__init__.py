"""Bridge from simulated chips to pcscd through vsmartcard's vpcd reader driver."""

from simulator.vpcd.bridge import DEFAULT_BASE_PORT, DEFAULT_HOST, VPCDBridge, serve_card

__all__ = ["DEFAULT_BASE_PORT", "DEFAULT_HOST", "VPCDBridge", "serve_card"]
