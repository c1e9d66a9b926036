"""The REST API (FastAPI under ``/api/v1``): the service layer's network face."""
