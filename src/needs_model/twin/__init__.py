"""The digital twin of Quang Nam: a simulated province recorded in agency extracts."""
