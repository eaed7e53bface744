"""Intake: store webhooks verified and recorded, thin deliveries fetched, partner callbacks verified, and the
returns stores report. One module per use case; handlers import only the one they run."""
