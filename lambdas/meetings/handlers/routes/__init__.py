"""The API's routes, one router per resource (handlers/api.py includes them in order)."""
