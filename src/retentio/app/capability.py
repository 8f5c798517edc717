"""The application capability: one declaration (see retentio.capabilities)."""

from retentio.capabilities import Capability

_S = "retentio.app.service:"

CAPABILITY = Capability(
    "app",
    "Web application and REST API: users, roles, tokens, portfolio, account 360, worklist",
    cli="retentio.cli.app_cmd",
    commands={
        "serve": "Run the web application and the REST API (FastAPI under uvicorn).",
        "users": "Users of the web application and the REST API: create, list, disable, API tokens.",
        "db": "The application-state database (users, tasks, notes ...).",
    },
    service={
        "users_create": _S + "users_create",
        "users_list": _S + "users_list",
        "users_disable": _S + "users_disable",
        "users_token": _S + "users_token",
        "tokens_revoke": _S + "tokens_revoke",
        "authenticate": _S + "authenticate",
        "authenticate_token": _S + "authenticate_token",
        "portfolio": _S + "portfolio",
        "account_360": _S + "account_360",
        "worklist": _S + "worklist",
        "account_owner": _S + "account_owner",
        "assign_csm": _S + "assign_csm",
        "work_tasks": _S + "work_tasks",
        "work_task_create": _S + "work_task_create",
        "work_task_update": _S + "work_task_update",
        "work_notes": _S + "work_notes",
        "work_note_create": _S + "work_note_create",
        "work_pulse": _S + "work_pulse",
        "work_pulse_create": _S + "work_pulse_create",
        "audit": _S + "audit",
    },
)
