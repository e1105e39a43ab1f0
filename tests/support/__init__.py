"""Helpers shared by the test folders: one poller (:func:`eventually`), the servers the
end-to-end and browser tests run against, and the log checks that fail a test whose server
raised."""
