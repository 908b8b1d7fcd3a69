"""What the notifications service publishes: nothing. What it sent, to
whom, when and how it went is in its own database."""
