"""Training: the resumable loop, the classifier's batches, the estimator's patches."""
