"""Shared code of every qunyun Lambda function: domain rules, services and adapters."""
