"""Pure verification and parsing of inbound webhooks (WordPress sites and DMS feeds)."""
