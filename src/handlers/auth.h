/* SPDX-License-Identifier: MIT */
/*
 * The admin's identity (SPEC §2, issue #5): admin.user and admin.password_hash from the
 * configuration; HTTP Basic credentials, or a session cookie set by the login form.
 *
 * Sessions are cookies "mica_session=<expiry>.<id>.<mac>": id is 16 random bytes naming the
 * session, and the MAC is HMAC-SHA256 over the user, the epoch (revoked.h), the expiry and
 * the id, keyed by a key derived from a secret kept in data_dir/session.key (created on
 * first start, mode 0600) and from the password hash: changing the password invalidates
 * every session, restarting does not. Logging out revokes the session's id on the server
 * (kept in data_dir/session.revoked until the cookie would have expired), so a copy of the
 * cookie is refused too, by every worker, after a reload and after a restart; other
 * sessions go on. Cookies from before ids ("<expiry>.<mac>") are refused: log in again.
 * They last 12 hours and are HttpOnly, SameSite=Strict, and Secure under TLS. Comparisons
 * are constant-time.
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
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "handlers/handler.h"

struct auth;

/* The process's auth state for cfg (which it borrows). Reads or creates data_dir/session.key
 * and data_dir/session.revoked when an admin is configured. Returns 0, or -1 with err
 * naming the file. */
int auth_new(struct auth **a, const struct config *cfg, char err[256]);

/* The same for a reloaded cfg: the revoked sessions are shared with prev (borrowed; either
 * may be freed first), so logouts made through either are known to both. */
int auth_reload(struct auth **a, const struct config *cfg, struct auth *prev, char err[256]);
void auth_free(struct auth *a);

/* Whether an admin is configured. */
bool auth_enabled(const struct auth *a);

/* Sets env->user when req carries a valid session cookie or Basic credentials. Call it once
 * per request, before routing: auth_guard and auth_login_page rely on env->user, and a wrong
 * Basic password is counted as a failed login each time it is checked. */
void auth_identify(struct env *env, const struct request *req);

/*
 * The guard of admin routes: 0 to go on (env->user is set), or the status already put in
 * resp: 404 without admin, 403 for a cross-site POST, 429 while an address is locked out,
 * 401 with WWW-Authenticate (Basic) otherwise. json: /api routes answer in JSON.
 */
int auth_guard(struct env *env, const struct request *req, struct response *resp, bool json);

/* GET /login: templates/login.html. POST /login: env->form's user and password → 303 to
 * /admin with the cookie, 401 and the form again, or 429. POST /logout: revokes the
 * sessions of the request's cookies, clears the cookie, 303 to /login. All three answer
 * 404 without admin. */
handler_fn auth_login_page;
handler_fn auth_login;
handler_fn auth_logout;
resume_fn auth_logout_done; /* after the store's thread wrote the logged-out sessions */

/*
 * For tests: the pure parts, exposed so tests/unit/test_auth.c can check them without a
 * server. The handlers above are the only callers in the server.
 */
enum {
    AUTH_SESSION_S = 43200,       /* a session lasts 12 hours */
    AUTH_COOKIE_MAX = 96,         /* "<expiry>.<22 base64url>.<43 base64url>" and a NUL */
    AUTH_BASIC_MAX = 1024,        /* longest Basic token accepted, in base64 characters */
    AUTH_USER_MAX = 255,          /* longest admin.user accepted */
    AUTH_LIMIT_FAILURES = 5,      /* failed logins from one address ... */
    AUTH_LIMIT_WINDOW_MS = 60000, /* ... within this window lock it out */
    AUTH_MEMO_MS = 60000,         /* accepted Basic credentials are remembered this long */
};

/* Writes the cookie value of a new session (a new random id) for the admin, expiring at
 * `expires` (wall-clock seconds), into out. Returns its length, or 0 without an admin or
 * random bytes. */
size_t auth_cookie_make(const struct auth *a, time_t expires, char out[AUTH_COOKIE_MAX]);

/* Whether value is a well-formed cookie value made by auth_cookie_make with this key and
 * epoch, not expired at `now` (its expiry is later than now), and not revoked. */
bool auth_cookie_verify(const struct auth *a, struct slice value, time_t now);

/* Revokes the session of cookie value, durably (revoked.h), when it verifies at now.
 * Returns 1 when it did, 0 when value was no live session, or -errno when the revocation
 * could not be written (logged; it holds until the process ends). */
int auth_revoke(struct auth *a, struct slice value, time_t now);

/* How many revoked sessions are remembered. */
size_t auth_revoked_count(const struct auth *a);

/* Finds the first mica_session among the "name=value; name=value" pairs of a Cookie header
 * (RFC 6265 §5.4) and sets *value to it (borrowed from header). False when absent. */
bool auth_cookie_find(struct slice header, struct slice *value);

/* Whether an Origin header's host and port (defaults by scheme) are those of the Host
 * header (whose default port is 443 under TLS, else 80). "null", a malformed origin or a
 * missing Host (ptr NULL) are not. */
bool auth_same_origin(struct slice origin, struct slice host, bool is_tls);

/* Decodes an Authorization value "Basic <base64(user:password)>" strictly into out and
 * points *user and *password into it (NUL-terminated). False for any other scheme, a token
 * over AUTH_BASIC_MAX characters, non-canonical base64, no colon, or control characters. */
bool auth_parse_basic(struct slice header, char out[AUTH_BASIC_MAX], const char **user,
                      const char **password);

/* Whether user[0..len) is admin.user; the time taken does not depend on where they differ,
 * nor on their lengths. */
bool auth_user_equal(const struct auth *a, const char *user, size_t len);

/* The failed-login limiter for a client address (IPv6: its /64). auth_limit_check returns
 * 0, or while locked out the seconds to wait (at least 1). */
void auth_limit_fail(struct auth *a, const char *ip, uint64_t now_ms);
unsigned auth_limit_check(struct auth *a, const char *ip, uint64_t now_ms);
void auth_limit_reset(struct auth *a, const char *ip);

#endif
