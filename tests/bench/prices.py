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
    # Checked 2026-12-04 against the pages below (the same figures as written): standard queue, first 100
    # billion requests a month, every 64 KB chunk of a request (https://aws.amazon.com/sqs/pricing/, as quoted
    # for us-east-1 by cloudburn.io/blog/amazon-sqs-pricing, March 2026)
    "sqs_requests": 0.40,
    # x86_64, first 6 billion GB-seconds a month (https://aws.amazon.com/lambda/pricing/; its worked example
    # in US East (N. Virginia): $0.20 per million requests, $0.0000166667 a GB-second; read 2026-12-04)
    "lambda_requests": 0.20,
    "lambda_gb_second": 0.0000166667,
    # API Gateway HTTP API, first 300 million a month (https://aws.amazon.com/api-gateway/pricing/, US East
    # as quoted by learnaws.org/2021/01/10/api-gateway-pricing/ and apigatewaycost.com/aws; read 2026-12-04)
    "http_api_requests": 1.00,
}
