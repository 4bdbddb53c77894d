"""One training loop for every learner: data batches with sample ids, hooks, optimisation, readouts."""
