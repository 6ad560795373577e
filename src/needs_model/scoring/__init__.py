"""Batch scoring with the served models, exact explanations, pre-filled dossiers, forecasts."""
