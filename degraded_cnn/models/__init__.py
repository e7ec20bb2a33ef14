"""The networks: the classifier, the estimator, the gate; loading and running them."""
