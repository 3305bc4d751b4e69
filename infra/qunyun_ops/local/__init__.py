"""The local stack: DynamoDB Local, the webhook gateway, the scheduler and the function workers."""
