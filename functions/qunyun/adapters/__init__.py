"""Storage and the outside world: PynamoDB models and repositories, the secret store."""
