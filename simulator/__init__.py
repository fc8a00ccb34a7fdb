"""dualcard."""
