"""Pure rules: no I/O, no boto3."""
