"""Process plumbing every side of lanewarden uses; no domain.

Logging set-up (:mod:`plumbing.log`), the configuration base and loader
(:mod:`plumbing.config`), the ``lanewarden`` command root (:mod:`plumbing.cli`),
an asyncio loop in a thread (:mod:`plumbing.loop_thread`) and the systemd
notifier (:mod:`plumbing.systemd`). A leaf package: it imports no other package
of lanewarden.
"""
