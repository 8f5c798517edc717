"""Playbooks: a trigger evaluated at ``as_of``, then ordered actions delivered exactly once
through an outbox (metrics.md §12; docs/playbooks.md).

Modules: ``spec`` (YAML files, validation), ``sources`` (the account and portfolio figures
triggers read: the one adapter to features, health and risk), ``triggers``, ``evaluate``
(runs, dedupe, caps, clearing, enqueueing), ``actions`` (what each action does),
``delivery`` (the worker: lease, send, retry, dead letter), ``service`` (the facade
functions).  Nothing heavy is imported here.
"""
