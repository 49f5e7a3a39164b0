/* SPDX-License-Identifier: MIT */
/*
 * The JSON API (SPEC §2): /api/status (public), /api/stats and /api/submissions (admin).
 * Errors are {"error":"…"}; an unknown /api/ path is a JSON 404.
 */
#ifndef MICA_HANDLERS_API_H
#define MICA_HANDLERS_API_H

#include "handlers/handler.h"

handler_fn api_status;
handler_fn api_stats;
handler_fn api_submissions;
resume_fn api_submissions_done;
handler_fn api_not_found;

#endif
