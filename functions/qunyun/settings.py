"""Environment variables, parsed once into a typed settings object."""

from __future__ import annotations

import os
from functools import cache

from pydantic import BaseModel


class Settings(BaseModel):
    stack_name: str = "qunyun"
    region: str = "us-east-1"
    # DynamoDB Local on the local stack and in tests; None means the region's real endpoint.
    dynamodb_endpoint: str | None = None
    # The local stack keeps channel credentials and tenant secrets in this file; on AWS they live in
    # SSM Parameter Store as SecureStrings.
    secrets_file: str | None = None
    templates_dir: str = "templates"
    signature_window_seconds: int = 300
    max_body_bytes: int = 64 * 1024

    def table(self, name: str) -> str:
        return f"{self.stack_name}-{name}"


@cache
def get_settings() -> Settings:
    env = os.environ
    return Settings(
        stack_name=env.get("STACK_NAME", "qunyun"),
        region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
        dynamodb_endpoint=env.get("DYNAMODB_ENDPOINT") or None,
        secrets_file=env.get("QUNYUN_SECRETS_FILE") or None,
        templates_dir=env.get("QUNYUN_TEMPLATES_DIR", "templates"),
    )
