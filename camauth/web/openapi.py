"""The OpenAPI 3.1 document of camauth's API: the JSON API and the two OAuth
endpoints. schemathesis checks the running application against it in the tests,
so what it says is what the application does."""

from __future__ import annotations

from typing import Any

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_TEXT_200 = {"type": "string", "maxLength": 200}
_TIME = {"type": "string", "format": "date-time"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


def _oauth_error(description: str) -> dict[str, Any]:
    return _json(_ref("OAuthError"), description)


_API_ERRORS = {
    "401": {
        **_error("No token, or an unknown, expired or malformed one"),
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
    },
    "403": _error("The account owes an action that needs a browser first"),
}

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
    },
    "OAuthError": {
        "type": "object",
        "required": ["error", "error_description"],
        "properties": {
            "error": {"type": "string"},
            "error_description": {"type": "string"},
            "message": {"type": "string"},
        },
    },
    "Me": {
        "type": "object",
        "required": ["username", "full_name", "email", "scopes", "session"],
        "properties": {
            "username": {"type": "string"},
            "full_name": {"type": "string"},
            "email": {"type": ["string", "null"]},
            "scopes": {"type": "array", "items": {"type": "string"}},
            "session": {
                "type": "object",
                "required": ["id", "created_at", "expires_at"],
                "properties": {"id": {"type": "integer"}, "created_at": _TIME, "expires_at": _TIME},
            },
        },
    },
    "Session": {
        "type": "object",
        "required": [
            "id",
            "kind",
            "current",
            "client_id",
            "hostname",
            "scope",
            "ip",
            "user_agent",
            "created_at",
            "last_seen_at",
            "expires_at",
        ],
        "properties": {
            "id": {"type": "integer"},
            "kind": {"enum": ["browser", "api"]},
            "current": {"type": "boolean", "description": "the session making this request"},
            "client_id": {"type": "string", "description": "API sessions: the tool"},
            "hostname": {"type": "string", "description": "API sessions: the tool's host"},
            "scope": {"type": "string"},
            "ip": {"type": "string"},
            "user_agent": {"type": "string"},
            "created_at": _TIME,
            "last_seen_at": _TIME,
            "expires_at": _TIME,
        },
    },
}

_DEVICE_AUTHORIZATION = {
    "post": {
        "summary": "Start a device login (RFC 8628 §3.1)",
        "operationId": "deviceAuthorization",
        "security": [],
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["client_id"],
                        "properties": {
                            "client_id": {**_TEXT_200, "description": "names the tool"},
                            "scope": {"type": "string", "description": "space-separated"},
                            "hostname": _TEXT_200,
                            "message": _TEXT_200,
                        },
                    }
                }
            },
        },
        "responses": {
            "200": _json(
                {
                    "type": "object",
                    "required": [
                        "device_code",
                        "user_code",
                        "verification_uri",
                        "verification_uri_complete",
                        "expires_in",
                        "interval",
                    ],
                    "properties": {
                        "device_code": {"type": "string"},
                        "user_code": {"type": "string", "pattern": "^[B-Z]{4}-[B-Z]{4}$"},
                        "verification_uri": {"type": "string", "format": "uri"},
                        "verification_uri_complete": {"type": "string", "format": "uri"},
                        "expires_in": {"type": "integer"},
                        "interval": {"type": "integer"},
                    },
                },
                "The codes: the device code for the tool, the user code for the person",
            ),
            "400": _oauth_error("invalid_request or invalid_scope"),
            "401": _oauth_error("invalid_client: no client_id"),
            "403": _oauth_error("access_denied: a request from this network was reported"),
            "429": _oauth_error("slow_down: too many requests from this network"),
        },
    }
}

_TOKEN = {
    "post": {
        "summary": "Poll for the token (RFC 8628 §3.4)",
        "operationId": "token",
        "security": [],
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["grant_type", "device_code", "client_id"],
                        "properties": {
                            "grant_type": {"const": DEVICE_CODE_GRANT},
                            "device_code": _TEXT_200,
                            "client_id": _TEXT_200,
                        },
                    }
                }
            },
        },
        "responses": {
            "200": _json(
                {
                    "type": "object",
                    "required": ["access_token", "token_type", "expires_in", "scope"],
                    "properties": {
                        "access_token": {"type": "string"},
                        "token_type": {"const": "Bearer"},
                        "expires_in": {"type": "integer"},
                        "scope": {"type": "string"},
                    },
                },
                "Approved: the API session's token (given once)",
            ),
            "400": _oauth_error(
                "authorization_pending, slow_down, access_denied, expired_token, "
                "invalid_grant, invalid_request or unsupported_grant_type"
            ),
            "401": _oauth_error("invalid_client: no client_id"),
        },
    }
}

_PATHS: dict[str, Any] = {
    "/oauth/device_authorization": _DEVICE_AUTHORIZATION,
    "/oauth/token": _TOKEN,
    "/api/v1/me": {
        "get": {
            "summary": "Who the token belongs to",
            "operationId": "me",
            "responses": {"200": _json(_ref("Me"), "The token's owner"), **_API_ERRORS},
        }
    },
    "/api/v1/sessions": {
        "get": {
            "summary": "The owner's live sessions, browser and API",
            "operationId": "listSessions",
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "required": ["sessions"],
                        "properties": {"sessions": {"type": "array", "items": _ref("Session")}},
                    },
                    "Newest activity first",
                ),
                **_API_ERRORS,
            },
        }
    },
    "/api/v1/sessions/{id}": {
        "delete": {
            "summary": "End one of the owner's sessions",
            "operationId": "endSession",
            "parameters": [
                {
                    "name": "id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
                }
            ],
            "responses": {
                "204": {"description": "Ended"},
                "400": _error("The id is not a whole number"),
                "404": _error("No live session of the owner has this id"),
                **_API_ERRORS,
            },
        }
    },
    "/api/v1/session": {
        "delete": {
            "summary": "End the calling token's session (log out)",
            "operationId": "endThisSession",
            "responses": {"204": {"description": "Ended"}, **_API_ERRORS},
        }
    },
}


def openapi_document(server_url: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "camauth API",
            "version": "1",
            "description": "Device login (OAuth 2.0 device authorization grant) and API "
            "sessions. Errors are JSON: {error, message} (OAuth endpoints: "
            "{error, error_description}).",
        },
        "servers": [{"url": server_url}],
        "security": [{"bearer": []}],
        "paths": _PATHS,
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
