"""Re-read the environment in a running process.

Settings, the table binding, the secret readers, the pepper, the SMS sender and the tenant cache are read once
and kept (that is what makes a warm Lambda fast). The local stack and the tests change the
environment (a moto endpoint, a queue URL) and call ``reload()`` so every part sees it."""

from __future__ import annotations


def reload() -> None:
    from smsconsent import aws, keys, list_sync, publishing, sender, settings, store, tenants
    from smsconsent.store import batch

    settings.reset()
    aws.reset()
    store.bind()
    batch.reset()
    keys.reset()
    sender.get.cache_clear()
    sender.queue_client.cache_clear()
    tenants.clear_cache()
    publishing.reset()
    list_sync.reset()
