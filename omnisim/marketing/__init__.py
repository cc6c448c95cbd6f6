"""Demand-side marketing: the media plan, word of mouth over the social graph, and the
membership programme (`docs/model.md`, "Media", "Word of mouth", "Members")."""
