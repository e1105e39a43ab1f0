"""The socket.io edge: one namespace per role (driver, officer, supervisor), the message
schemas they validate against, and the ordered emitter the services send through.

The namespaces only validate, authorize and translate errors; the work is in
:mod:`kuaichu.calls`. See docs/protocol.md.
"""
