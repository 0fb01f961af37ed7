"""Outgoing webhooks' low-level parts: Standard Webhooks signatures (``signing``), the
SSRF guard on subscription URLs and at delivery (``address``), one pinned POST with a total
deadline (``transport``), and the retry schedule (``backoff``)."""
