/* SPDX-License-Identifier: MIT */
/*
 * The route table: which handler answers a request, and with which methods.
 *
 * Routes match the normalised path (after percent-decoding and dot-segment removal), so
 * "/st%61tus" and "/a/../status" reach /status too. A path no route claims goes to the
 * static file handler. A method the route does not allow gets 405 with Allow, OPTIONS gets
 * 204 with Allow (RFC 9110 §9.3.7), and TRACE and CONNECT are refused everywhere.
 */
#ifndef MICA_HANDLERS_ROUTER_H
#define MICA_HANDLERS_ROUTER_H

#include "handlers/handler.h"

/* Answers req into resp; returns the status. Never fails: errors become error responses. */
int router_dispatch(struct env *env, const struct request *req, struct response *resp);

#endif
