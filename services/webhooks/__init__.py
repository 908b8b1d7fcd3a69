"""The webhooks service: posts an event's messages to the endpoints its organizers name."""
