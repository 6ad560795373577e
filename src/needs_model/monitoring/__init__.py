"""Watching the champions as the population changes: drift of inputs and scores against the
year the champion was trained up to (`drift`, with Evidently), performance once labels
mature (`performance`), a status with its reasons (`status`), and the command's
orchestration (`run`)."""
