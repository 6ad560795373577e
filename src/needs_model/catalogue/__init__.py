"""What each service is: its subject, horizon, legal basis and dated parameters, rules,
features and their plain-language definitions."""
