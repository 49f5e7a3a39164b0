/* SPDX-License-Identifier: MIT */
/*
 * The two form body parsers; see form.h for the contract.
 *
 * urlencoded_parse is a loop over '&'-separated pairs, decoded in place.
 *
 * The multipart parser is a state machine fed bytes as they arrive. A body looks like this
 * (RFC 2046 §5.1.1; "--b" is the dash-boundary, and every delimiter is CRLF "--b"):
 *
 *     preamble CRLF --b padding CRLF headers CRLF CRLF content CRLF --b padding CRLF
 *     headers CRLF CRLF content CRLF --b-- epilogue
 *
 * The one hard part is finding the delimiter when a chunk may end anywhere inside it. The
 * parser remembers only how many bytes of "\r\n--b" it has matched (`match`), never the
 * bytes themselves: they are the delimiter's own bytes. If the match then fails, those
 * bytes were content and are delivered from m->delim. Because CR is the delimiter's first
 * byte and occurs nowhere else in it (a boundary has no CR), a failed match cannot hide the
 * start of another one, and the search simply resumes at the byte that failed.
 *
 * Two places begin with a match of 2 that stands for a CRLF not present in the input
 * (`skip` = 2 says those bytes are not content if the match fails): the start of the body,
 * where "--b" may come first with no preamble, and the start of a part's content, where
 * the CRLF ending the header block may also be the delimiter's (a part with no content,
 * RFC 2046's body-part := MIME-part-headers [CRLF *OCTET]).
 *
 * Header blocks are copied into m->head, checked byte by byte as they arrive (so an error
 * is found at the same byte whatever the chunking), then parsed whole; name and file name
 * are decoded in place there. A non-file field's value is collected in m->value, whose
 * storage is the part of m->head after the header block: small values need no malloc.
 */
#include "http/form.h"

#include <assert.h>
#include <string.h>

#include "http/chars.h"
#include "util/ascii.h"

#ifdef MICA_SMALL_BUFFERS
enum { VALUE_INLINE_MAX = 16 }; /* the asan build takes the heap path for most values */
#else
enum { VALUE_INLINE_MAX = MULTIPART_HEAD_MAX }; /* all the room the header block left */
#endif

static const char reason_callback[] = "stopped by the form handler";
static const char reason_too_many[] = "too many form fields";
static const char reason_field_large[] = "form field too large";

static bool fail(struct request_error *err, int status, const char *reason)
{
    err->status = status;
    err->reason = reason;
    return false;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static bool in_set(unsigned char c, const char *set)
{
    return c != 0 && strchr(set, c) != NULL;
}

/* bchars, RFC 2046 §5.1.1 (space allowed, but not last). */
static bool is_bchar(unsigned char c)
{
    return ascii_is_alnum(c) || in_set(c, "'()+_,-./:=? ");
}

/* attr-char, RFC 8187 §3.2.1. */
static bool is_attr_char(unsigned char c)
{
    return ascii_is_alnum(c) || in_set(c, "!#$&+-.^_`|~");
}

/* Decodes "%XX" at s (len bytes available) into *out; false if it is not a valid escape. */
static bool decode_escape(const char *s, size_t len, char *out)
{
    if (len < 3)
        return false;
    const int hi = ascii_hex_digit((unsigned char)s[1]), lo = ascii_hex_digit((unsigned char)s[2]);
    if (hi < 0 || lo < 0)
        return false;
    *out = (char)(hi << 4 | lo);
    return true;
}

/* application/x-www-form-urlencoded. */

/*
 * Decodes one name or value in place: '+' is a space, then %XX a byte (WHATWG URL
 * standard, "application/x-www-form-urlencoded parsing", steps 3.3-3.4; so %2B stays '+').
 * WHATWG keeps a '%' that starts no valid escape; we refuse it. False on a bad escape.
 */
static bool urlencoded_decode(char *s, size_t len, size_t *out_len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (!decode_escape(s + i, len - i, &c))
                return false;
            i += 2;
        }
        s[o++] = c;
    }
    *out_len = o;
    return true;
}

bool urlencoded_parse(char *body, size_t len, const struct form_limits *limits, form_field_fn field,
                      void *ctx, struct request_error *err)
{
    size_t n_fields = 0;
    size_t pos = 0;
    while (pos < len) {
        char *const pair = body + pos;
        const char *amp = memchr(pair, '&', len - pos);
        const size_t pair_len = amp ? (size_t)(amp - pair) : len - pos;
        pos += pair_len + 1;
        if (pair_len == 0)
            continue; /* "a=1&&b=2": empty sequences are skipped */
        if (++n_fields > limits->max_fields)
            return fail(err, 413, reason_too_many);

        /* Split on the first '='; without one, the whole pair is the name. */
        const char *eq = memchr(pair, '=', pair_len);
        size_t name_len = eq ? (size_t)(eq - pair) : pair_len;
        char *const value = eq ? pair + name_len + 1 : pair + pair_len;
        size_t value_len = eq ? pair_len - name_len - 1 : 0;
        if (!urlencoded_decode(pair, name_len, &name_len) ||
            !urlencoded_decode(value, value_len, &value_len))
            return fail(err, 400, "bad percent-escape in form field");
        if (name_len > limits->max_field_bytes || value_len > limits->max_field_bytes)
            return fail(err, 413, reason_field_large);

        const int rc = field(ctx, slice_make(pair, name_len), slice_make(value, value_len));
        if (rc != 0)
            return fail(err, rc, reason_callback);
    }
    return true;
}

/* Parameters of Content-Type and Content-Disposition field values. */

/* Removes leading OWS from *s. */
static void skip_ows(struct slice *s)
{
    while (s->len > 0 && is_ows(s->ptr[0])) {
        s->ptr++;
        s->len--;
    }
}

/* Takes the longest run of tchars from the front of *s (possibly empty). */
static struct slice take_token(struct slice *s)
{
    size_t n = 0;
    while (n < s->len && chars_is_tchar((unsigned char)(unsigned char)s->ptr[n]))
        n++;
    const struct slice tok = slice_make(s->ptr, n);
    s->ptr += n;
    s->len -= n;
    return tok;
}

/* Takes a quoted-string (RFC 9110 §5.6.4) from the front of *s, quotes included. */
static bool take_quoted(struct slice *s, struct slice *out)
{
    size_t i = 1; /* s->ptr[0] is the opening quote */
    for (;;) {
        if (i >= s->len)
            return false;
        const unsigned char c = (unsigned char)s->ptr[i];
        if (c == '"')
            break;
        if (c == '\\') {
            /* quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text ) */
            if (i + 1 >= s->len || !chars_is_value((unsigned char)(unsigned char)s->ptr[i + 1]))
                return false;
            i += 2;
            continue;
        }
        if (!chars_is_qdtext((unsigned char)c))
            return false;
        i++;
    }
    *out = slice_make(s->ptr, i + 1);
    s->ptr += i + 1;
    s->len -= i + 1;
    return true;
}

/* A parameter as written: its value is a token or a quoted-string with its quotes. */
struct param {
    struct slice name;
    struct slice raw;
};

/*
 * Takes the next parameter from *s, which holds what follows a media type or disposition
 * type: parameters = *( OWS ";" OWS [ parameter ] ), parameter = token "=" ( token /
 * quoted-string ) (RFC 9110 §5.6.6; RFC 6266 §4.1 is the same for Content-Disposition).
 * Returns 1 with *p filled, 0 at the end, -1 if malformed.
 */
static int param_next(struct slice *s, struct param *p)
{
    for (;;) {
        skip_ows(s);
        if (s->len == 0)
            return 0;
        if (s->ptr[0] != ';')
            return -1;
        s->ptr++;
        s->len--;
        skip_ows(s);
        if (s->len > 0 && s->ptr[0] != ';')
            break;
    }
    p->name = take_token(s);
    if (p->name.len == 0 || s->len == 0 || s->ptr[0] != '=')
        return -1;
    s->ptr++;
    s->len--;
    if (s->len > 0 && s->ptr[0] == '"')
        return take_quoted(s, &p->raw) ? 1 : -1;
    p->raw = take_token(s);
    return p->raw.len > 0 ? 1 : -1;
}

/*
 * Writes the value of a parameter as written (token, or quoted-string with quoted-pairs)
 * to dst, which may be raw.ptr itself: the value is never longer. Returns its length, or
 * SIZE_MAX if it needs more than cap bytes (nothing past dst[cap] is written).
 */
static size_t param_value(struct slice raw, char *dst, size_t cap)
{
    if (raw.len == 0 || raw.ptr[0] != '"') {
        if (raw.len > cap)
            return SIZE_MAX;
        memmove(dst, raw.ptr, raw.len);
        return raw.len;
    }
    size_t o = 0;
    for (size_t i = 1; i + 1 < raw.len; i++) {
        char c = raw.ptr[i];
        if (c == '\\')
            c = raw.ptr[++i]; /* take_quoted saw a character after every backslash */
        if (o == cap)
            return SIZE_MAX;
        dst[o++] = c;
    }
    return o;
}

/* Takes "type/subtype" from the front of *s, after any OWS. */
static bool take_media_type(struct slice *s, struct slice *type)
{
    skip_ows(s);
    const char *start = s->ptr;
    if (take_token(s).len == 0 || s->len == 0 || s->ptr[0] != '/')
        return false;
    s->ptr++;
    s->len--;
    if (take_token(s).len == 0)
        return false;
    *type = slice_make(start, (size_t)(s->ptr - start));
    return true;
}

enum form_kind form_classify(struct slice content_type)
{
    struct slice s = content_type, type;
    if (!take_media_type(&s, &type))
        return FORM_OTHER;
    skip_ows(&s);
    if (s.len > 0 && s.ptr[0] != ';')
        return FORM_OTHER;
    /* RFC 9110 §8.3.1: type and subtype are case-insensitive. */
    if (slice_case_eq(type, SLICE_LIT("application/x-www-form-urlencoded")))
        return FORM_URLENCODED;
    if (slice_case_eq(type, SLICE_LIT("multipart/form-data")))
        return FORM_MULTIPART;
    return FORM_OTHER;
}

/* RFC 2046 §5.1.1: boundary := 0*69<bchars> bcharsnospace, and at least one. */
static bool boundary_valid(const char *b, size_t len)
{
    if (len == 0 || len > MULTIPART_BOUNDARY_MAX || b[len - 1] == ' ')
        return false;
    for (size_t i = 0; i < len; i++)
        if (!is_bchar((unsigned char)b[i]))
            return false;
    return true;
}

/* Strict UTF-8 (RFC 3629 §4): no overlong forms, surrogates or code points past U+10FFFF. */
static bool utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        const unsigned c = s[i];
        size_t extra;
        unsigned long cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            extra = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            extra = 2, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            extra = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (len - i - 1 < extra)
            return false;
        for (size_t k = 1; k <= extra; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += extra + 1;
    }
    return true;
}

/*
 * Decodes an ext-value (RFC 8187 §3.2.1: charset "'" [ language ] "'" value-chars) in
 * place at s and gives the length of the value. Only the UTF-8 charset is accepted (the
 * one RFC 8187 §3.2.1 requires recipients to support), and the bytes must be UTF-8.
 */
static bool ext_value_decode(char *s, size_t len, size_t *out_len)
{
    const char *q1 = memchr(s, '\'', len);
    if (!q1 || !slice_case_eq(slice_make(s, (size_t)(q1 - s)), SLICE_LIT("UTF-8")))
        return false;
    const char *const end = s + len;
    const char *p = q1 + 1;
    while (p < end && (ascii_is_alnum((unsigned char)*p) || *p == '-'))
        p++; /* the language tag, which we do not need */
    if (p == end || *p != '\'')
        return false;
    size_t o = 0;
    for (p++; p < end; p++) {
        char c = *p;
        if (c == '%') {
            if (!decode_escape(p, (size_t)(end - p), &c))
                return false;
            p += 2;
        } else if (!is_attr_char((unsigned char)c)) {
            return false;
        }
        s[o++] = c;
    }
    *out_len = o;
    return utf8_valid((const unsigned char *)s, o);
}

/* multipart/form-data. */

enum multipart_state {
    MP_PREAMBLE,    /* before the first delimiter: ignored */
    MP_AFTER_DELIM, /* just after a delimiter: "--" closes, else padding CRLF */
    MP_CLOSE,       /* after "-" following a delimiter */
    MP_PADDING,     /* transport-padding, waiting for CR */
    MP_PADDING_LF,  /* the CR of the delimiter line seen, waiting for LF */
    MP_HEADERS,     /* a part's header block */
    MP_BODY,        /* a part's content */
    MP_DONE,        /* the close-delimiter was seen */
    MP_ERROR,       /* m->error says why */
};

static void mp_fail(struct multipart *m, int status, const char *reason)
{
    m->error.status = status;
    m->error.reason = reason;
    m->state = MP_ERROR;
}

static bool mp_callback(struct multipart *m, int rc)
{
    if (rc != 0)
        mp_fail(m, rc, reason_callback);
    return rc == 0;
}

/* multipart_init's way out: m stays in the error state, so feeding it fails again. */
static bool init_fail(struct multipart *m, struct request_error *err, int status,
                      const char *reason)
{
    mp_fail(m, status, reason);
    *err = m->error;
    return false;
}

bool multipart_init(struct multipart *m, struct slice content_type,
                    const struct form_limits *limits, const struct form_callbacks *callbacks,
                    void *ctx, struct request_error *err)
{
    assert(callbacks->field && callbacks->file_begin && callbacks->file_data &&
           callbacks->file_end);
    *m = (struct multipart){.limits = *limits, .cb = *callbacks, .ctx = ctx};
    buf_init(&m->value, NULL, 0, 0);
    memcpy(m->delim, "\r\n--", 4);

    struct slice s = content_type, type;
    if (!take_media_type(&s, &type) || !slice_case_eq(type, SLICE_LIT("multipart/form-data")))
        return init_fail(m, err, 415, "Content-Type is not multipart/form-data");
    bool has_boundary = false;
    struct param p;
    int r;
    while ((r = param_next(&s, &p)) > 0) {
        if (!slice_case_eq(p.name, SLICE_LIT("boundary")))
            continue;
        if (has_boundary)
            return init_fail(m, err, 400, "duplicate multipart boundary");
        has_boundary = true;
        const size_t n = param_value(p.raw, m->delim + 4, MULTIPART_BOUNDARY_MAX);
        if (n == SIZE_MAX || !boundary_valid(m->delim + 4, n))
            return init_fail(m, err, 400, "invalid multipart boundary");
        m->delim_len = 4 + n;
    }
    if (r < 0)
        return init_fail(m, err, 400, "malformed Content-Type parameters");
    if (!has_boundary)
        return init_fail(m, err, 400, "no multipart boundary");
    /* The body may open with "--b" itself: start as if a CRLF had been matched. */
    m->state = MP_PREAMBLE;
    m->match = 2;
    m->skip = 2;
    return true;
}

/* Delivers content bytes of the current part (or drops preamble); false once failed. */
static bool emit(struct multipart *m, const char *data, size_t n)
{
    if (n == 0 || m->state == MP_PREAMBLE)
        return true;
    if (m->is_file) {
        /* Up to the limit, then 413: what was delivered does not depend on the chunking. */
        const uint64_t room = m->limits.max_file_bytes - m->part_bytes;
        const size_t give = n > room ? (size_t)room : n;
        m->part_bytes += give;
        if (give > 0 && !mp_callback(m, m->cb.file_data(m->ctx, data, give)))
            return false;
        if (give < n)
            mp_fail(m, 413, "uploaded file too large");
        return give == n;
    }
    if (n > m->limits.max_field_bytes - m->value.len) {
        mp_fail(m, 413, reason_field_large);
        return false;
    }
    if (!buf_append(&m->value, data, n)) {
        mp_fail(m, 503, "out of memory buffering a form field");
        return false;
    }
    return true;
}

/* A complete delimiter: the current part, if any, is complete. */
static void delimiter_found(struct multipart *m)
{
    m->match = 0;
    m->skip = 0;
    if (m->state == MP_BODY) {
        int rc;
        if (m->is_file) {
            rc = m->cb.file_end(m->ctx);
        } else {
            rc = m->cb.field(m->ctx, m->name, buf_slice(&m->value));
            buf_free(&m->value);
        }
        if (!mp_callback(m, rc))
            return;
    }
    m->state = MP_AFTER_DELIM;
}

/*
 * Content (or preamble) up to the next delimiter. Returns the bytes consumed: all of them,
 * or up to the end of a delimiter, or any number after an error.
 */
static size_t scan_content(struct multipart *m, const char *p, size_t len)
{
    size_t i = 0;
    /* A match carried over from the previous chunk goes on byte by byte. */
    while (m->match > 0 && i < len) {
        if (p[i] == m->delim[m->match]) {
            i++;
            if (++m->match == m->delim_len) {
                delimiter_found(m);
                return i;
            }
            continue;
        }
        /* Not a delimiter: the bytes matched were content. p[i] is looked at again below. */
        const bool ok = emit(m, m->delim + m->skip, m->match - m->skip);
        m->match = 0;
        m->skip = 0;
        if (!ok)
            return i;
    }
    if (m->match > 0)
        return len;

    const size_t start = i;
    while (i < len) {
        const char *cr = memchr(p + i, '\r', len - i);
        if (!cr)
            break;
        const size_t at = (size_t)(cr - p);
        const size_t n = len - at < m->delim_len ? len - at : m->delim_len;
        if (memcmp(cr, m->delim, n) != 0) {
            i = at + 1;
            continue;
        }
        if (!emit(m, p + start, at - start))
            return len;
        if (n < m->delim_len) {
            m->match = n; /* the chunk ends inside what may be a delimiter */
            return len;
        }
        delimiter_found(m);
        return at + n;
    }
    emit(m, p + start, len - start);
    return len;
}

/* The transport-padding and CRLF after a delimiter, or the "--" that closes the body. */
static void delimiter_line_byte(struct multipart *m, char c)
{
    static const char reason[] = "malformed multipart delimiter line";
    switch (m->state) {
    case MP_AFTER_DELIM:
        if (c == '-')
            m->state = MP_CLOSE;
        else if (is_ows(c))
            m->state = MP_PADDING;
        else if (c == '\r')
            m->state = MP_PADDING_LF;
        else
            mp_fail(m, 400, reason);
        break;
    case MP_CLOSE:
        if (c == '-')
            m->state = MP_DONE; /* RFC 2046 §5.1.1: the epilogue is ignored */
        else
            mp_fail(m, 400, reason);
        break;
    case MP_PADDING:
        if (c == '\r')
            m->state = MP_PADDING_LF;
        else if (!is_ows(c))
            mp_fail(m, 400, reason);
        break;
    case MP_PADDING_LF:
        if (c != '\n') {
            mp_fail(m, 400, reason);
            break;
        }
        m->state = MP_HEADERS;
        m->head_len = 0;
        m->line_len = 0;
        m->saw_cr = false;
        break;
    default:
        assert(!"not a delimiter-line state");
    }
}

/* The header fields a form-data part may use (RFC 7578 §4.8: all others are ignored). */
struct part_headers {
    struct slice disposition;
    struct slice content_type;
};

/* Checks one header line (CRLF excluded) and records it; false after mp_fail. */
static bool header_line(struct multipart *m, struct slice line, struct part_headers *h)
{
    static const char malformed[] = "malformed part header field";
    if (line.len > 0 && is_ows(line.ptr[0])) {
        mp_fail(m, 400, "obs-fold in part headers"); /* RFC 9112 §5.2 */
        return false;
    }
    struct slice rest = line;
    const struct slice name = take_token(&rest);
    if (name.len == 0 || rest.len == 0 || rest.ptr[0] != ':') {
        mp_fail(m, 400, malformed); /* no whitespace before the colon, RFC 9112 §5.1 */
        return false;
    }
    rest.ptr++;
    rest.len--;
    for (size_t i = 0; i < rest.len; i++) {
        if (!chars_is_value((unsigned char)(unsigned char)rest.ptr[i])) {
            mp_fail(m, 400, malformed);
            return false;
        }
    }
    struct slice *slot = NULL;
    if (slice_case_eq(name, SLICE_LIT("Content-Disposition")))
        slot = &h->disposition;
    else if (slice_case_eq(name, SLICE_LIT("Content-Type")))
        slot = &h->content_type;
    if (!slot)
        return true;
    if (slot->ptr) {
        mp_fail(m, 400, "duplicate header in part");
        return false;
    }
    *slot = slice_trim(rest);
    return true;
}

/* The name and file name of a part, decoded in place in m->head. */
struct disposition {
    struct slice name;
    struct slice filename;
    bool has_name, has_filename;
};

/* Decodes one parameter's value in place in m->head. */
static struct slice value_in_place(struct multipart *m, struct slice raw)
{
    char *dst = m->head + (raw.ptr - m->head);
    return slice_make(dst, param_value(raw, dst, raw.len));
}

/*
 * Content-Disposition: form-data; name="..."; filename="..." (RFC 7578 §4.2, RFC 6266 §4.1).
 * filename* (RFC 8187) wins over filename (RFC 6266 §4.3), though RFC 7578 §4.2 tells
 * senders not to use it. False after mp_fail.
 */
static bool parse_disposition(struct multipart *m, struct slice s, struct disposition *d)
{
    static const char malformed[] = "malformed Content-Disposition";
    const struct slice type = take_token(&s);
    if (!slice_case_eq(type, SLICE_LIT("form-data"))) {
        mp_fail(m, 400, "part is not Content-Disposition: form-data");
        return false;
    }
    struct slice name = {0}, filename = {0}, filename_ext = {0};
    struct param p;
    int r;
    while ((r = param_next(&s, &p)) > 0) {
        struct slice *slot = NULL;
        if (slice_case_eq(p.name, SLICE_LIT("name")))
            slot = &name;
        else if (slice_case_eq(p.name, SLICE_LIT("filename")))
            slot = &filename;
        else if (slice_case_eq(p.name, SLICE_LIT("filename*")))
            slot = &filename_ext;
        if (!slot)
            continue;
        if (slot->ptr) {
            mp_fail(m, 400, "duplicate Content-Disposition parameter");
            return false;
        }
        *slot = p.raw;
    }
    if (r < 0) {
        mp_fail(m, 400, malformed);
        return false;
    }
    if (!name.ptr) {
        mp_fail(m, 400, "part without a name");
        return false;
    }
    d->name = value_in_place(m, name);
    d->has_name = true;
    d->has_filename = filename.ptr || filename_ext.ptr;
    if (filename_ext.ptr) {
        char *dst = m->head + (filename_ext.ptr - m->head);
        size_t n;
        if (filename_ext.ptr[0] == '"' || !ext_value_decode(dst, filename_ext.len, &n)) {
            mp_fail(m, 400, "malformed filename* parameter");
            return false;
        }
        d->filename = slice_make(dst, n);
    } else if (filename.ptr) {
        d->filename = value_in_place(m, filename);
    }
    return true;
}

/* The header block of a part is complete (head[0..head_len) ends with CRLF CRLF). */
static void headers_done(struct multipart *m)
{
    if (++m->n_parts > m->limits.max_fields) {
        mp_fail(m, 413, reason_too_many);
        return;
    }
    struct part_headers h = {0};
    const char *p = m->head;
    const char *const end = m->head + m->head_len - 2; /* before the empty line */
    while (p < end) {
        /* Every CR here ends a line: a bare CR was refused as it arrived. */
        const char *eol = memchr(p, '\r', (size_t)(end - p));
        if (!header_line(m, slice_make(p, (size_t)(eol - p)), &h))
            return;
        p = eol + 2;
    }
    if (!h.disposition.ptr) {
        mp_fail(m, 400, "part without Content-Disposition");
        return;
    }
    struct disposition d = {0};
    if (!parse_disposition(m, h.disposition, &d))
        return;
    if (d.name.len > m->limits.max_field_bytes) {
        mp_fail(m, 413, reason_field_large);
        return;
    }
    m->name = d.name;
    m->is_file = d.has_filename;
    m->part_bytes = 0;
    m->state = MP_BODY;
    m->match = 2; /* the CRLF ending the block may be the delimiter's (see the top) */
    m->skip = 2;
    if (!m->is_file) {
        const size_t room = sizeof(m->head) - m->head_len;
        buf_init(&m->value, m->head + m->head_len,
                 room < VALUE_INLINE_MAX ? room : VALUE_INLINE_MAX, 0);
        return;
    }
    /* RFC 7578 §4.4: the default part Content-Type is text/plain. */
    const struct slice type = h.content_type.ptr ? h.content_type : SLICE_LIT("text/plain");
    mp_callback(m, m->cb.file_begin(m->ctx, m->name, d.filename, type));
}

/* A part's header block, byte by byte until its empty line. Returns the bytes consumed. */
static size_t scan_headers(struct multipart *m, const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        const char c = p[i];
        if (m->head_len == sizeof(m->head)) {
            mp_fail(m, 400, "part headers too large");
            return i;
        }
        m->head[m->head_len++] = c;
        if (m->saw_cr) {
            if (c != '\n') {
                mp_fail(m, 400, "bare CR in part headers");
                return i;
            }
            m->saw_cr = false;
            if (m->line_len == 0) {
                headers_done(m);
                return i + 1;
            }
            m->line_len = 0;
        } else if (c == '\r') {
            m->saw_cr = true;
        } else if (c == '\n') {
            mp_fail(m, 400, "part header line not ended by CRLF"); /* RFC 2046 §5.1.1 */
            return i;
        } else {
            m->line_len++;
        }
    }
    return len;
}

/* Runs the state machine over p[0..len) until it is consumed, done or failed. */
static void run(struct multipart *m, const char *p, size_t len)
{
    size_t i = 0;
    while (i < len && m->state != MP_DONE && m->state != MP_ERROR) {
        switch (m->state) {
        case MP_PREAMBLE:
        case MP_BODY:
            i += scan_content(m, p + i, len - i);
            break;
        case MP_HEADERS:
            i += scan_headers(m, p + i, len - i);
            break;
        default:
            delimiter_line_byte(m, p[i]);
            i++;
            break;
        }
    }
}

static enum multipart_status outcome(const struct multipart *m, struct request_error *err)
{
    if (m->state == MP_DONE)
        return MULTIPART_DONE;
    if (m->state == MP_ERROR) {
        *err = m->error;
        return MULTIPART_ERROR;
    }
    return MULTIPART_MORE;
}

enum multipart_status multipart_feed(struct multipart *m, const char *data, size_t len,
                                     struct request_error *err)
{
    if (m->state == MP_DONE || m->state == MP_ERROR)
        return outcome(m, err);
    /* Parse up to the limit, then refuse: the outcome does not depend on the chunking. */
    const uint64_t room = m->limits.max_total_bytes - m->total_bytes;
    const size_t n = len > room ? (size_t)room : len;
    m->total_bytes += n;
    run(m, data, n);
    if (n < len && m->state != MP_DONE && m->state != MP_ERROR)
        mp_fail(m, 413, "form body too large");
    return outcome(m, err);
}

enum multipart_status multipart_end(struct multipart *m, struct request_error *err)
{
    if (m->state != MP_DONE && m->state != MP_ERROR)
        mp_fail(m, 400, "multipart body ends before its closing delimiter");
    return outcome(m, err);
}

void multipart_free(struct multipart *m)
{
    buf_free(&m->value);
}
