/* SPDX-License-Identifier: MIT */
/*
 * POST /forms/NAME: form capture (SPEC §2). The form (urlencoded or multipart, files
 * included) is stored in SQLite through the store thread and committed before the answer:
 * 303 to a same-origin _redirect field, or templates/thanks.html rendered with the
 * fields. A filled-in honeypot field _gotcha gets the same answer with nothing stored.
 * A _redirect to another site is refused (400): no open redirect. Store failures → 503.
 */
#ifndef MICA_HANDLERS_FORMS_H
#define MICA_HANDLERS_FORMS_H

#include "handlers/handler.h"

handler_fn forms_handle;
resume_fn forms_done;

/* Whether target (a _redirect value) stays on this site, whose Host is host: a path
 * ("/thanks", not "//other"), a relative reference ("thanks.html") or an absolute http(s)
 * URL with this very host. */
bool forms_same_origin(struct slice target, struct slice host);

#endif
