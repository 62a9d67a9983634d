"""The webhooks service: signed notifications to other systems when a job ends."""
