"""The local stack: the HTTP API of template.yaml served on loopback, routed and turned
into payload 2.0 events as API Gateway would, handed to the real handlers, with an
embedded DynamoDB (moto), an SMS outbox and one movable clock. ``python -m local``."""
