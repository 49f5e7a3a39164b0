/* SPDX-License-Identifier: MIT */
/*
 * GET /admin: the dashboard (templates/admin.html), for the admin only. The page shows the
 * figures it is rendered with, then refreshes itself from /api/stats and
 * /api/submissions, and draws requests per second as an inline SVG chart.
 */
#ifndef MICA_HANDLERS_ADMIN_H
#define MICA_HANDLERS_ADMIN_H

#include "handlers/handler.h"

handler_fn admin_handle;

#endif
