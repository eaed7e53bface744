"""The return workflow (its own state machine): request → authorize (RMA) → goods received → inspected →
disposed → refunded or replaced (or refused) → closed. One module per step; each is safe to run again."""
