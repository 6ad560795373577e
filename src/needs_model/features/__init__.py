"""Point-in-time features and labels per service, and the monthly snapshots training reads."""
