"""What the engine asks of the world: ports and the outbox that carries requests."""
