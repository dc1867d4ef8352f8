"""The OpenAPI schema's error responses, added to every operation in one place
(drf-spectacular postprocessing hook) so that fuzzers and client generators see every
4xx an operation can answer, in the one error shape, with its codes."""

from __future__ import annotations

from typing import Any

from .messages import ERROR_MESSAGES

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "enum": sorted(ERROR_MESSAGES)},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
                "request": {"type": "object"},
                "session": {"type": "object"},
            },
        }
    },
}

# Conflicts by the action an operation takes (the last part of its path).
CONFLICTS = {
    "chat-requests/": ["request_already_pending"],
    "cancel/": ["request_not_pending"],
    "accept/": ["request_not_pending", "already_responded"],
    "decline/": ["request_not_pending", "already_responded"],
    "end/": ["session_not_active"],
}


def _codes(status: str, path: str, method: str, operation: dict[str, Any], role_only: bool) -> list[str]:
    authenticated = any(requirement for requirement in operation.get("security", []))
    has_input = any(p.get("in") == "query" for p in operation.get("parameters", [])) or "requestBody" in operation
    if status == "400":
        return (["invalid_credentials"] if path.endswith("/auth/token/") else []) + ["invalid"] if has_input else []
    if status == "401":
        return ["not_authenticated", "invalid_token"] if authenticated else []
    if status == "403":
        return (["wrong_role"] if role_only else []) + (["early_end_disabled"] if path.endswith("/end/") else [])
    if status == "404":
        return ["not_found"] if "{" in path else []
    if status == "409":
        return next((codes for suffix, codes in CONFLICTS.items() if method == "post" and path.endswith(suffix)), [])
    if status == "429":
        return ["throttled"] if path.endswith("/auth/token/") else []
    if status == "503":
        return ["unavailable"]
    return []


def add_error_responses(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    reference = {"$ref": "#/components/schemas/Error"}
    views = {(path, method.lower()): view for path, _, method, view in getattr(generator, "endpoints", [])}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            permissions = getattr(getattr(views.get((path, method)), "cls", None), "permission_classes", [])
            role_only = any(getattr(permission, "role", "") for permission in permissions)
            responses = operation.setdefault("responses", {})
            for status in ("400", "401", "403", "404", "409", "429", "503"):
                codes = _codes(status, path, method, operation, role_only)
                if not codes:
                    continue
                responses[status] = {
                    "description": "Error codes: " + ", ".join(f"`{code}`" for code in codes),
                    "content": {"application/json": {"schema": reference}},
                }
                if status in ("429", "503"):
                    responses[status]["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
    return result
