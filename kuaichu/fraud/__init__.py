"""Fraud signals (打击骗保, issue 13): flags per case that the officer, the supervisor and the
insurer see. :mod:`.rules` (pure), :mod:`.service` (the queries; the rules run in a thread),
:mod:`.web` (the case page's API, the supervisors' list of flagged cases)."""
