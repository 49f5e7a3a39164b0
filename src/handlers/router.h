/* SPDX-License-Identifier: MIT */
/*
 * The route table: which handler answers a request, with which methods, and whether it
 * reads a form body or waits for the store.
 *
 * Routes match the normalised path (after percent-decoding and dot-segment removal), so
 * "/st%61tus" and "/a/../status" reach /status too. A path no route claims goes to the
 * static file handler (or the page handler for *.tpl.html). A method the route does not
 * allow gets 405 with Allow, OPTIONS gets 204 with Allow (RFC 9110 §9.3.7) or a CORS
 * preflight answer, and TRACE and CONNECT are refused everywhere. Admin routes pass
 * auth_guard before anything else, their body included.
 *
 * A request goes through up to three steps, driven by the connection:
 *   router_begin   routes it; most requests are answered here (ROUTER_DONE);
 *   router_body    for form routes (ROUTER_BODY): the decoded body, as it arrives;
 *   router_finish  the body is complete: the handler runs (ROUTER_DONE), or it posted a
 *                  job to the store and the connection waits (ROUTER_ASYNC) until
 *   router_resume  the job is back: the handler finishes the response (ROUTER_DONE).
 * Between steps the connection keeps the struct route_call and the request head.
 */
#ifndef MICA_HANDLERS_ROUTER_H
#define MICA_HANDLERS_ROUTER_H

#include "handlers/handler.h"

struct route_call;
struct store_job;

enum router_step { ROUTER_DONE, ROUTER_BODY, ROUTER_ASYNC };

enum router_step router_begin(struct env *env, const struct request *req, struct response *resp,
                              struct route_call **call);

/* Feeds decoded body bytes. 0, or the status to answer (the connection then closes). */
int router_body(struct route_call *call, const char *data, size_t len);

/* The body is complete. When the body was bad, resp gets the error (ROUTER_DONE). */
enum router_step router_finish(struct env *env, const struct request *req, struct response *resp,
                               struct route_call *call);

/* The store job the call waited for is back (the call owns it again). */
enum router_step router_resume(struct env *env, const struct request *req, struct response *resp,
                               struct route_call *call, struct store_job *job);

/* The call and the owner (env->owner when the handler ran) a finished job belongs to. */
struct route_call *router_job_call(struct store_job *job);
void *router_call_owner(const struct route_call *call);

/* A finished job whose client left while it waited (closed, timed out, shut down): frees
 * its call; the uploads of a submission the store took stay with its row. */
void router_abandon(struct store_job *job);

/* Frees the call: its form (uploads not kept are deleted) and its job, if any. */
void router_call_free(struct route_call *call);

#endif
