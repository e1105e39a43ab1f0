"""Everything about evidence: the kinds and their labels (:mod:`.kinds`, the one table), the
stills of a case (:mod:`.captures`), the signed manifest of a case folder (:mod:`.manifest`), the
ledger that lists files in it (:mod:`.ledger`), the server's signing key (:mod:`.signing`) and
the no-clobber file writer (:mod:`.files`). Frame capture itself is media work
(kuaichu.media.frame_capture)."""
