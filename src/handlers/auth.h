/* SPDX-License-Identifier: MIT */
/*
 * The admin's identity (SPEC §2, issue #5): admin.user and admin.password_hash from the
 * configuration; HTTP Basic credentials, or a session cookie set by the login form.
 *
 * Sessions are cookies "mica_session=<expiry>.<mac>" where the MAC is HMAC-SHA256 over the
 * user and the expiry, keyed by a key derived from a secret kept in data_dir/session.key
 * (created on first start, mode 0600) and from the password hash: changing the password
 * invalidates every session, restarting does not. They last 12 hours and are HttpOnly,
 * SameSite=Strict, and Secure under TLS. Comparisons are constant-time.
 *
 * Verifying a password is slow on purpose (yescrypt): successful Basic credentials are
 * remembered for a minute so that a dashboard polling /api/stats does not pay it each time,
 * and five failed attempts in a minute from one address get 429 before any verification.
 * POSTs to /login, /logout and admin routes whose Origin is another site get 403.
 * With no admin configured, every admin route answers 404.
 */
#ifndef MICA_HANDLERS_AUTH_H
#define MICA_HANDLERS_AUTH_H

#include <stdbool.h>

#include "handlers/handler.h"

struct auth;

/* The process's auth state for cfg (which it borrows). Reads or creates data_dir/session.key
 * when an admin is configured. Returns 0, or -1 with err naming the file. */
int auth_new(struct auth **a, const struct config *cfg, char err[256]);
void auth_free(struct auth *a);

/* Whether an admin is configured. */
bool auth_enabled(const struct auth *a);

/* Sets env->user when req carries a valid session cookie or Basic credentials. */
void auth_identify(struct env *env, const struct request *req);

/*
 * The guard of admin routes: 0 to go on (env->user is set), or the status already put in
 * resp: 404 without admin, 403 for a cross-site POST, 429 while an address is locked out,
 * 401 with WWW-Authenticate (Basic) otherwise. json: /api routes answer in JSON.
 */
int auth_guard(struct env *env, const struct request *req, struct response *resp, bool json);

/* GET /login: templates/login.html. POST /login: env->form's user and password → 303 to
 * /admin with the cookie, 401 and the form again, or 429. POST /logout: clears the cookie,
 * 303 to /login. All three answer 404 without admin. */
handler_fn auth_login_page;
handler_fn auth_login;
handler_fn auth_logout;

#endif
