"""Subcommands of ``lanewarden`` that run the fleet: the demo and the lane and crash benches."""
