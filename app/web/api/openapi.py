"""The API's OpenAPI 3.1 description, served at /api/openapi.json."""
from __future__ import annotations

PURPOSE_STATE = {
    "type": "object",
    "required": ["granted", "locked", "needs_reconfirmation", "notice_version", "last_changed_at", "source",
                 "objected"],
    "properties": {
        "granted": {"type": "boolean", "description": "May we act on this purpose now? False for every purpose "
                                                      "but the essential ones while the person is restricted."},
        "locked": {"type": "boolean", "description": "Essential communication that cannot be switched off."},
        "needs_reconfirmation": {"type": "boolean",
                                 "description": "Consent was given to an older notice; not assumed until confirmed."},
        "notice_version": {"type": "integer"},
        "last_changed_at": {"type": ["string", "null"], "format": "date-time"},
        "source": {"type": "string", "enum": ["default", "suppressed", "portal", "email_link", "one_click", "email_reply",
                                              "import", "api", "gpc", "staff", "parent"]},
        "parental_consent_required": {
            "type": "boolean",
            "description": "A child below the age of digital consent: a purpose based on consent is granted only "
                           "when a parent or guardian agreed (GDPR Art. 8). Optional field."},
        "objected": {"type": "boolean", "description": "The person objected to this processing (GDPR Art. 21) and "
                                                       "the objection was upheld: it must not be done, whatever "
                                                       "its legal basis."},
    },
}
ERROR = {"type": "object", "properties": {"error": {"type": "string"}, "detail": {"type": "string"},
                                           "status": {"type": "integer"}}}


def openapi_document(server_url: str) -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Privacy Control Centre consent API", "version": "1.0.0",
                 "description": "Ask before you email, track, push or share: the person's current choice per purpose."},
        "servers": [{"url": server_url}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "An API key created by an administrator."}},
            "schemas": {"PurposeState": PURPOSE_STATE, "Error": ERROR},
        },
        "security": [{"bearer": []}],
        "paths": {"/api/v1/consent": {"get": {
            "operationId": "getConsent",
            "summary": "Current consent of one person, per purpose",
            "parameters": [{"name": "email", "in": "query", "required": True,
                            "schema": {"type": "string", "format": "email"}}],
            "responses": {
                "200": {"description": "The person's choices", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["email", "suppressed", "erased", "restricted", "purposes"],
                    "properties": {"email": {"type": "string"}, "suppressed": {
                        "type": "boolean", "description": "On the suppression list (never to be sent marketing "
                                                          "again): every purpose but the essential ones is refused."},
                        "erased": {"type": "boolean", "description": "The person's data was erased: every purpose, "
                                                                     "essential included, is refused."},
                        "restricted": {"type": "boolean", "description": "The person's data is restricted (GDPR "
                                       "Art. 18): stored, not used. Every purpose but the essential ones is "
                                       "refused until the restriction is lifted; do not share, track, analyse or "
                                       "market to them."},
                        "purposes": {
                        "type": "object", "additionalProperties": {"$ref": "#/components/schemas/PurposeState"}}}}}}},
                "400": {"description": "No email given", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "401": {"description": "Missing, wrong or revoked API key", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "404": {"description": "Nobody with that address", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            },
        }}},
    }
