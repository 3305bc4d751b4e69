"""In-memory units of work, for unit tests of the services whose logic pays for tests without DynamoDB.
Every integration test runs on DynamoDB Local; these stand in only where the storage is beside the point."""
