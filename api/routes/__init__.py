"""One router per OpenAPI tag; `api.main.create_app` includes them all."""
