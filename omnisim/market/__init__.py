"""The market's environment: events outside the brand's control (shocks)."""
