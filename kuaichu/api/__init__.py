"""The open API for insurers (issue 13): /api/v1 with its OpenAPI 3.1 document and docs page,
API keys per insurer, and webhooks through an outbox.

* :mod:`.keys` — API keys (hashed, one insurer each, revocable).
* :mod:`.service` — what the API answers (scoped by kuaichu.insurers.scope, every read in
  the case's audit trail); :mod:`.web` — its HTTP edge; :mod:`.openapi`, :mod:`.docs`.
* :mod:`.cursor`, :mod:`.signature` — wire formats (the feed's cursor, the webhooks' HMAC).
* :mod:`.webhooks` — events written in the steps' transactions, delivered by a
  :class:`~kuaichu.notify.worker.DeliveryWorker`, logged and replayable.
* :mod:`.commands` — ``python server.py apikey …`` and ``webhook …``.
"""
