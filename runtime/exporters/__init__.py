"""Ways to hand a running program's maps to other systems (Prometheus)."""
