"""Analysis of the runs' outputs: statistics and verdicts of the claims study."""
