/* SPDX-License-Identifier: MIT */
/* GET /status: templates/status.html rendered with the server's live figures (SPEC §2). */
#ifndef MICA_HANDLERS_STATUS_H
#define MICA_HANDLERS_STATUS_H

#include "handlers/handler.h"

int status_handle(struct env *env, const struct request *req, struct response *resp);

/* "2 h 03 min 17 s" (or "3 d 2 h 03 min 17 s", "17 s") for a number of seconds. */
void status_format_uptime(unsigned long long s, char *out, size_t cap);

#endif
