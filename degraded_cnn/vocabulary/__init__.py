"""The paper's vocabulary, defined once: degradations, modes, recipes."""
