"""The evaluation: sweeps and their records, statistics, tables, figures, the gate and grid
studies."""
