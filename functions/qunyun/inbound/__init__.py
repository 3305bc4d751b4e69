"""Platform callbacks, verified by each platform's own scheme (reference/inbound.md): WeCom's and DingTalk's
encrypted callbacks, Feishu's Encrypt Key and signature, Slack's v0 signature, Telegram's secret token.

Pure functions over the request's parts: no I/O, so each scheme is tested against the platform's published
sample vectors."""
