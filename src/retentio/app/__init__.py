"""The application: REST API (``/api/v1``) and server-rendered web dashboard, on the service facade.

``retentio.app.server:create_app(workspace)`` builds the FastAPI application; ``retentio
serve`` runs it under uvicorn.  Nothing heavy is imported here.
"""
