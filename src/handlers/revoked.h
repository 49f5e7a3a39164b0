/* SPDX-License-Identifier: MIT */
/*
 * Server-side session state for handlers/auth: the sessions logged out before their
 * cookie expired, and the epoch every cookie is signed with.
 *
 * A session cookie names a random id and its expiry, signed (see auth.h). Logging out adds
 * the id here, with that expiry, so the cookie is refused even though its signature is
 * still good; the id is dropped once the cookie would have expired anyway. The epoch is a
 * random value inside every signature: a new epoch ends every session at once. It is how
 * this module fails safe — when data_dir/session.revoked is missing, unreadable or corrupt
 * (so earlier logouts are unknown), and when more than REVOKED_MAX sessions would have to
 * be remembered.
 *
 * data_dir/session.revoked is text, rewritten whole (a temporary file, fsync, rename) on
 * every logout before the response, and read at start:
 *     mica-revoked 1
 *     epoch <22 base64url characters>
 *     <22 base64url characters: a session id> <expiry: seconds since the epoch>
 *     ...
 *
 * One struct revoked is shared by the process's struct auth instances (a reload that
 * changes the admin makes a new one) and by every worker: the list and the epoch are
 * behind a mutex held for a binary search or an insertion, never across I/O; writing the
 * file is serialised by a second mutex. Functions here other than revoked_open and
 * revoked_put may be called from any thread.
 */
#ifndef MICA_HANDLERS_REVOKED_H
#define MICA_HANDLERS_REVOKED_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

enum {
    REVOKED_ID_LEN = 22,    /* a session id: 16 random bytes in base64url, no padding */
    REVOKED_EPOCH_LEN = 22, /* the epoch: the same */
    REVOKED_MAX = 4096,     /* ids remembered at most; one more starts a new epoch */
};

struct revoked;

/*
 * Reads data_dir/session.revoked (data_dir exists), dropping ids expired at `now`. When the
 * file is missing it is created with a new epoch; when it cannot be read or parsed, one
 * error line is logged and it is replaced by a new epoch (every earlier session ends). A
 * file that cannot be written is logged, not fatal: the state then lives in memory only.
 * Returns NULL with err only when out of memory, out of random bytes or the path is too
 * long. The caller holds the one reference.
 */
struct revoked *revoked_open(const char *data_dir, time_t now, char err[256]);

/* Takes another reference; revoked_put drops one, and the last frees r. NULL is ignored. */
void revoked_get(struct revoked *r);
void revoked_put(struct revoked *r);

/* Copies the current epoch into epoch (not NUL-terminated). */
void revoked_epoch(struct revoked *r, char epoch[REVOKED_EPOCH_LEN]);

/* Whether id is revoked; copies the current epoch into epoch in the same critical section. */
bool revoked_check(struct revoked *r, const char id[REVOKED_ID_LEN], char epoch[REVOKED_EPOCH_LEN]);

/*
 * Revokes id until `expires`, in memory (every thread sees it at once): drops ids expired
 * at `now`, adds id (or, when REVOKED_MAX ids are still live, starts a new epoch instead
 * and logs it). True when something changed that revoked_save must write.
 */
bool revoked_mark(struct revoked *r, const char id[REVOKED_ID_LEN], time_t expires, time_t now);

/* Whether a change in memory is not in the file yet (a write failed, or is still to come). */
bool revoked_unsaved(struct revoked *r);

/* Rewrites the file from memory when something is unsaved (blocking: a temporary file,
 * fsync, rename). 0 once everything marked before the call is durable, or -errno when it
 * could not be written (logged; what was marked holds in memory until the process ends). */
int revoked_save(struct revoked *r);

/* revoked_mark, then revoked_save. */
int revoked_add(struct revoked *r, const char id[REVOKED_ID_LEN], time_t expires, time_t now);

/* How many ids are remembered (for tests). */
size_t revoked_count(struct revoked *r);

#endif
