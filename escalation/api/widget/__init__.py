"""The widget API (``/api/widget/v1/``): the public endpoints the chat widget calls from customers' sites.

Who may call what:

- ``config`` and ``POST conversations`` are public, identified by the workspace's ``app_id``. A signed-in
  user sends ``user_id`` + ``user_hash`` (hex HMAC-SHA256 of ``user_id`` under the workspace's identity
  secret); a wrong or missing hash is a 401 ``invalid_user_hash`` — an unverified visitor never becomes an
  identified contact. An anonymous visitor sends the random ``visitor_id`` the widget keeps (or gets one).
- ``config`` and ``POST conversations`` take an optional ``agent`` (an agent id of the workspace) so that
  one embed can talk to, say, "Sales" and another to "Support"; without it the workspace's first agent
  answers (404 ``no_agent`` if it has none). A conversation keeps its agent. An id that is not one of this
  workspace's agents (another workspace's, unknown, not an integer) is a 404 ``unknown_agent``.
- Conversation endpoints need that conversation's token (``Authorization: Bearer <token>`` or
  ``?token=``), which authorises that conversation only; a missing token is a 401 ``token_required``, a
  token of another conversation reads as 404.

The modules: ``auth`` (the conversation token and the rate limit), ``cors`` (the view base: CORS for the
workspace's allowed origins), ``identity`` (who the caller is), ``params`` (the ids in requests),
``serializers`` (shapes), ``views`` (each calls one function of ``escalation.flow`` or a selector) and
``urls``.
"""
