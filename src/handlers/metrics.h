/* SPDX-License-Identifier: MIT */
/*
 * GET /metrics (config `metrics`: true): the counters in the Prometheus text exposition
 * format (version 0.0.4). It is an admin route: with an admin configured it needs the
 * admin's credentials (Prometheus scrapes with basic_auth); without one it answers only
 * clients on the loopback interface, so a local scraper works and nobody else sees it.
 */
#ifndef MICA_HANDLERS_METRICS_H
#define MICA_HANDLERS_METRICS_H

#include "handlers/handler.h"

handler_fn metrics_handle;

#endif
