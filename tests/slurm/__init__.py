"""A local Slurm cluster for the Slurm test (see cluster.py)."""
