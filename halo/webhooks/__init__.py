"""Webhooks: a workspace's endpoints receive signed POSTs of the events they subscribe to.

- ``halo.webhooks.events``: the event names and ``webhook_event_record``, which every app's services call in
  the transaction of the change (a conversation opened, a message stored, a handoff, a ticket changed). The
  event is recorded as one outbox row per subscribed endpoint, so it is delivered after commit, at least
  once, under one stable event id, or not at all if the change rolls back.
- ``halo.webhooks.services``: endpoints — create (the secret is returned once), delete, pause, resume — and
  an admin's redelivery; the workspace's routing table (``Workspace.webhook_routes``) is rebuilt with each.
- ``halo.webhooks.delivery``: the outbox handler — signs the body (``Halo-Signature``), POSTs it through the
  outbound client, writes the delivery log, honours ``Retry-After``, and pauses an endpoint that has failed
  for a day, emailing the workspace's admins.

Endpoints are a workspace integration that every app emits to, so the table and the machinery live in
``halo``, below every app: an app imports ``halo.webhooks.events``, never the reverse.
"""
