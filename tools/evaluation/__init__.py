"""Evaluations that print measured figures beside the baselines they beat, from the same run."""
