"""What auditors read: model cards, data sheets, global and per-citizen explanations, as
self-contained HTML (`needs-model report`, `needs-model explain`, `/v1/reports`)."""
