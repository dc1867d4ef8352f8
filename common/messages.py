"""Every user-facing string of the pairing flow, in one table.

The Indonesian request messages are fixed by the client contract (section 4).
"""

REQUEST_MESSAGES: dict[str, str] = {
    "cancelled": "Permintaan dibatalkan oleh customer",
    "taken": "Permintaan diterima oleh Bestie lain",
    "expired": "Permintaan kedaluwarsa",
}

PUSH_NEW_REQUEST_TITLE = "Permintaan chat baru"
PUSH_NEW_REQUEST_BODY = "Ada customer yang ingin mengobrol selama {minutes} menit."

EARLY_END_REASONS: dict[str, str] = {
    "customer_abusive": "Customer kasar atau melecehkan",
    "customer_left": "Customer sudah pergi",
    "out_of_scope": "Di luar lingkup layanan",
    "other": "Lainnya",
}

# The same reasons as staff pages and the admin name them: staff pages are in English,
# with the business's own Indonesian terms (mitra, Bestie, Sesi Aktif) kept as they are.
STAFF_REASON_LABELS: dict[str, str] = {
    "time_up": "Time up",
    "customer_abusive": "Customer abusive",
    "customer_left": "Customer left",
    "out_of_scope": "Out of scope",
    "other": "Other",
}

ERROR_MESSAGES: dict[str, str] = {
    "invalid": "Some fields are invalid.",
    "invalid_credentials": "Wrong username or password.",
    "throttled": "Too many attempts. Try again later.",
    "not_authenticated": "Authentication credentials were not provided.",
    "invalid_token": "The token is invalid.",
    "wrong_role": "This account's role may not use this endpoint.",
    "not_found": "Not found.",
    "method_not_allowed": "Method not allowed.",
    "unsupported_media_type": "Send the body as application/json.",
    "request_already_pending": "You already have a pending chat request.",
    "request_not_pending": "This chat request is no longer pending.",
    "already_responded": "You have already responded to this chat request.",
    "already_reviewed": "This force-close has already been reviewed.",
    "nothing_chosen": "Tick at least one force-close to mark reviewed.",
    "early_end_disabled": "Ending a session early is disabled.",
    "session_not_active": "This session is not active.",
    "server_error": "Something went wrong on our side.",
    "unavailable": "The service is briefly unavailable; nothing was changed. Try again.",
}
