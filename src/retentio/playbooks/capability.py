from retentio.capabilities import Capability

CAPABILITY = Capability(
    "playbooks",
    "Playbooks, tasks and alerts (metrics.md §12)",
    cli="retentio.cli.playbooks_cmd",
    commands={
        "playbooks": "Playbooks: triggers evaluated as of a day, actions delivered exactly once.",
        "worker": "Deliver the playbooks' outbox: retries with backoff, attempts recorded, dead letters.",
    },
    service={
        "playbooks_list": "retentio.playbooks.service:playbooks_list",
        "playbooks_validate": "retentio.playbooks.service:playbooks_validate",
        "playbooks_run": "retentio.playbooks.service:playbooks_run",
        "playbooks_runs": "retentio.playbooks.service:playbooks_runs",
        "playbooks_retry": "retentio.playbooks.service:playbooks_retry",
        "playbooks_init": "retentio.playbooks.service:playbooks_init",
        "worker_once": "retentio.playbooks.service:worker_once",
        "worker_loop": "retentio.playbooks.service:worker_loop",
        "account_tags": "retentio.playbooks.service:account_tags",
        "notifications": "retentio.playbooks.service:notifications",
    },
)
