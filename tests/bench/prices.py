"""AWS on-demand prices in one region, the only place the benchmarks' costs come from.

Region us-east-1 (N. Virginia), read 2026-12-04 from the AWS pricing pages (DynamoDB on-demand since its
November 2024 reduction; first price tier everywhere, no free tier, x86 Lambda). USD per million of each
meter, except Lambda's duration: USD per GB-second.
"""

REGION = "us-east-1"
READ_ON = "2026-12-04"
PRICES = {
    "dynamodb_write_request_units": 0.625,  # a write request unit: 1 KB written (2 in a transaction)
    "dynamodb_read_request_units": 0.125,  # a read request unit: 4 KB read strongly consistent
    "sqs_requests": 0.40,  # standard queue, every 64 KB chunk of a request
    "lambda_requests": 0.20,
    "lambda_gb_second": 0.0000166667,
    "http_api_requests": 1.00,  # API Gateway HTTP API, first 300 million a month
}
