"""The live call, from a driver's report to the recording on disk.

``model`` holds :class:`Call` and its :class:`CallState`; ``sessions`` the registry of live
calls and connected sockets; ``fanout`` what the pages are told (the dispatcher's listener and
the case work's ``LiveCalls``); ``center`` the lifecycle (report, answer, hang-up);
``media_session`` the peer connections; ``recordings`` the finalizing after hang-up;
``wallboard`` the supervisors' read model; ``trail`` the call's entries in its case's trail.
"""
