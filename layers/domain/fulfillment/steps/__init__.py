"""The fulfillment workflow's steps (one module per state machine task), its waits and their answers,
cancellation and compensation, and an operator's re-run. Every step is safe to run again: it finds the
order already where it would take it and does nothing twice; side effects carry keys derived from the order."""
