/* SPDX-License-Identifier: MIT */
/*
 * The chunked transfer coding (RFC 9112 §7.1), decoded as a byte-at-a-time state machine
 * for the framing and in bulk for the chunk data:
 *
 *   chunked-body = *chunk last-chunk trailer-section CRLF
 *   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   last-chunk   = 1*("0") [ chunk-ext ] CRLF
 *
 * Everything the decoder needs between calls is in struct chunked, so a body split
 * anywhere decodes exactly as it does whole, and each byte is looked at once. Errors are
 * decided by the byte that makes the input invalid, never by where a read ended.
 *
 * The framing is checked harder than the head is. The head parser accepts a bare LF as a
 * line end (RFC 9112 §2.2 allows it); here a bare LF, a bare CR, whitespace the grammar
 * does not allow, or anything after the chunk size but an extension is a 400, because a
 * body that two parsers read differently is exactly how requests are smuggled past a proxy.
 */
#include "http/body.h"

#include <string.h>

#include "http/chars.h"
#include "util/ascii.h"

/* Where the decoder stands; stored in struct chunked's state byte. */
enum chunked_state {
    ST_SIZE_START,   /* the first hex digit of a chunk-size */
    ST_SIZE,         /* more hex digits, or what follows the size */
    ST_SIZE_WS,      /* BWS after the size or an extension: only ";" may follow */
    ST_EXT_NAME_WS,  /* after ";": BWS, then the extension name */
    ST_EXT_NAME,     /* inside chunk-ext-name */
    ST_EXT_NAME_END, /* BWS after the name: "=" or ";" must follow */
    ST_EXT_VAL_WS,   /* after "=": BWS, then a token or a quoted-string */
    ST_EXT_TOKEN,    /* inside a token value */
    ST_EXT_QUOTED,   /* inside a quoted-string value */
    ST_EXT_ESCAPE,   /* after a backslash in the quoted-string */
    ST_EXT_END,      /* after the closing quote */
    ST_SIZE_LF,      /* after the CR ending the size line */
    ST_DATA,         /* inside chunk-data, chunk_left bytes to go */
    ST_DATA_CR,      /* the CR after chunk-data */
    ST_DATA_LF,      /* the LF after chunk-data */
    ST_TRAILER,      /* the start of a trailer field line, or the final CRLF */
    ST_TRAILER_NAME, /* inside a trailer field name */
    ST_TRAILER_VAL,  /* inside a trailer field value */
    ST_TRAILER_LF,   /* the LF ending a trailer field line */
    ST_FINAL_LF,     /* the LF of the final CRLF */
    ST_DONE,
    ST_ERROR,
};

/* flags: the status of a rejected body, so a call after CHUNKED_ERROR repeats it. */
enum {
    FLAG_413 = 1,
};

/* Chunk sizes must fit in 63 bits: 16 * x + 15 < 2^63 needs x < 2^59. */
enum { SIZE_SHIFT_LIMIT = 59 };

static bool is_ws(char c)
{
    return c == ' ' || c == '\t';
}

static enum chunked_status reject(struct chunked *st, struct request_error *err, int status,
                                  const char *reason)
{
    st->state = ST_ERROR;
    st->flags = status == 413 ? FLAG_413 : 0;
    err->status = status;
    err->reason = reason;
    return CHUNKED_ERROR;
}

/* The error for a CR or LF where the framing allows neither. */
static enum chunked_status reject_line_end(struct chunked *st, struct request_error *err, char c)
{
    return reject(st, err, 400,
                  c == '\n' ? "bare LF in chunk framing" : "bare CR in chunk framing");
}

/* The size line is complete: decide where its CRLF leads, and bound the total early. */
static enum chunked_status size_done(struct chunked *st, uint64_t max_bytes,
                                     struct request_error *err)
{
    /* Refuse as soon as the size is known, before any of the data is received. */
    if (st->total > max_bytes || st->chunk_left > max_bytes - st->total)
        return reject(st, err, 413, "chunked body over the size limit");
    return CHUNKED_NEED_MORE;
}

/*
 * One byte of the size line (RFC 9112 §7.1, §7.1.1):
 *   chunk-size [ chunk-ext ] CRLF
 *   chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
 *   chunk-ext-val = token / quoted-string
 * BWS is only allowed where the grammar puts it: before ";" and "=" and after them, so
 * "1 0", "1 \r\n" and "1;a \r\n" are all refused.
 */
static enum chunked_status size_line_byte(struct chunked *st, char c, uint64_t max_bytes,
                                          struct request_error *err)
{
    if (c == '\n')
        return reject_line_end(st, err, c);
    if (c == '\r') {
        const bool ends_value = st->state == ST_SIZE || st->state == ST_EXT_NAME ||
                                st->state == ST_EXT_TOKEN || st->state == ST_EXT_END;
        if (st->state == ST_SIZE_WS || st->state == ST_EXT_NAME_END)
            return reject(st, err, 400, "whitespace before CRLF in chunk size line");
        if (ends_value) {
            if (st->state == ST_SIZE && size_done(st, max_bytes, err) == CHUNKED_ERROR)
                return CHUNKED_ERROR;
            st->state = ST_SIZE_LF;
            return CHUNKED_NEED_MORE;
        }
    }
    /* RFC 9112 §7.1.1: a server may bound extensions; the bound covers the whole line but
     * its CRLF. */
    if (++st->line_bytes > CHUNK_LINE_MAX)
        return reject(st, err, 400, "chunk extension too long");
    switch ((enum chunked_state)st->state) {
    case ST_SIZE_START:
    case ST_SIZE: {
        const int d = ascii_hex_digit((unsigned char)c);
        if (d >= 0) {
            if (st->chunk_left >> SIZE_SHIFT_LIMIT)
                return reject(st, err, 400, "chunk size overflows");
            st->chunk_left = st->chunk_left << 4 | (uint64_t)d;
            st->state = ST_SIZE;
            return CHUNKED_NEED_MORE;
        }
        if (st->state == ST_SIZE_START)
            return reject(st, err, 400, "invalid chunk size");
        if (c != ';' && !is_ws(c))
            return reject(st, err, 400, "invalid character after chunk size");
        if (size_done(st, max_bytes, err) == CHUNKED_ERROR)
            return CHUNKED_ERROR;
        st->state = c == ';' ? ST_EXT_NAME_WS : ST_SIZE_WS;
        return CHUNKED_NEED_MORE;
    }
    case ST_SIZE_WS:
        if (c == ';')
            st->state = ST_EXT_NAME_WS;
        else if (!is_ws(c))
            return reject(st, err, 400, "invalid character after chunk size");
        return CHUNKED_NEED_MORE;
    case ST_EXT_NAME_WS:
        if (chars_is_tchar((unsigned char)c))
            st->state = ST_EXT_NAME;
        else if (!is_ws(c))
            return reject(st, err, 400, "chunk extension without name");
        return CHUNKED_NEED_MORE;
    case ST_EXT_NAME:
    case ST_EXT_NAME_END:
        if (c == '=')
            st->state = ST_EXT_VAL_WS;
        else if (c == ';')
            st->state = ST_EXT_NAME_WS;
        else if (is_ws(c))
            st->state = ST_EXT_NAME_END;
        else if (!(st->state == ST_EXT_NAME && chars_is_tchar((unsigned char)c)))
            return reject(st, err, 400, "invalid chunk extension name");
        return CHUNKED_NEED_MORE;
    case ST_EXT_VAL_WS:
        if (c == '"')
            st->state = ST_EXT_QUOTED;
        else if (chars_is_tchar((unsigned char)c))
            st->state = ST_EXT_TOKEN;
        else if (!is_ws(c))
            return reject(st, err, 400, "invalid chunk extension value");
        return CHUNKED_NEED_MORE;
    case ST_EXT_TOKEN:
    case ST_EXT_END:
        if (c == ';')
            st->state = ST_EXT_NAME_WS;
        else if (is_ws(c))
            st->state = ST_SIZE_WS;
        else if (!(st->state == ST_EXT_TOKEN && chars_is_tchar((unsigned char)c)))
            return reject(st, err, 400, "invalid chunk extension value");
        return CHUNKED_NEED_MORE;
    case ST_EXT_QUOTED:
        /* RFC 9110 §5.6.4: quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE. */
        if (c == '"')
            st->state = ST_EXT_END;
        else if (c == '\\')
            st->state = ST_EXT_ESCAPE;
        else if (!chars_is_qdtext((unsigned char)c))
            return reject(st, err, 400, "control character in chunk extension");
        return CHUNKED_NEED_MORE;
    case ST_EXT_ESCAPE:
        /* quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text ) */
        if (!chars_is_value((unsigned char)c))
            return reject(st, err, 400, "control character in chunk extension");
        st->state = ST_EXT_QUOTED;
        return CHUNKED_NEED_MORE;
    default:
        break;
    }
    return reject(st, err, 400, "corrupt chunked state"); /* not reached */
}

/*
 * One byte of the trailer section (RFC 9112 §7.1.2): *( field-line CRLF ) CRLF, each field
 * line checked as the head parser checks one (a tchar name right before ":", a value of
 * field characters) and then discarded.
 */
static enum chunked_status trailer_byte(struct chunked *st, char c, struct request_error *err)
{
    /* The bound covers the field lines with their CRLFs, not the final CRLF. */
    const bool is_final_crlf = (st->state == ST_TRAILER && c == '\r') || st->state == ST_FINAL_LF;
    if (!is_final_crlf && ++st->line_bytes > CHUNK_TRAILER_MAX)
        return reject(st, err, 400, "trailer section too large");
    switch ((enum chunked_state)st->state) {
    case ST_TRAILER:
        if (c == '\r')
            st->state = ST_FINAL_LF;
        else if (chars_is_tchar((unsigned char)c))
            st->state = ST_TRAILER_NAME;
        else if (c == '\n')
            return reject_line_end(st, err, c);
        else if (is_ws(c)) /* RFC 9112 §5.2: obs-fold, refused as in the head */
            return reject(st, err, 400, "obs-fold in trailer section");
        else if (c == ':')
            return reject(st, err, 400, "empty trailer field name");
        else
            return reject(st, err, 400, "invalid trailer field name");
        return CHUNKED_NEED_MORE;
    case ST_TRAILER_NAME:
        if (c == ':')
            st->state = ST_TRAILER_VAL;
        else if (is_ws(c)) /* RFC 9112 §5.1 */
            return reject(st, err, 400, "whitespace before colon in trailer field");
        else if (c == '\r' || c == '\n')
            return reject(st, err, 400, "trailer field line without colon");
        else if (!chars_is_tchar((unsigned char)c))
            return reject(st, err, 400, "invalid trailer field name");
        return CHUNKED_NEED_MORE;
    case ST_TRAILER_VAL:
        if (c == '\r')
            st->state = ST_TRAILER_LF;
        else if (c == '\n')
            return reject_line_end(st, err, c);
        else if (!chars_is_value((unsigned char)c)) /* RFC 9110 §5.5 */
            return reject(st, err, 400, "control character in trailer field");
        return CHUNKED_NEED_MORE;
    case ST_TRAILER_LF:
    case ST_FINAL_LF:
        if (c != '\n')
            return reject_line_end(st, err, '\r');
        st->state = st->state == ST_FINAL_LF ? ST_DONE : ST_TRAILER;
        return CHUNKED_NEED_MORE;
    default:
        break;
    }
    return reject(st, err, 400, "corrupt chunked state"); /* not reached */
}

/* One byte of framing outside the size line and the trailer section. */
static enum chunked_status framing_byte(struct chunked *st, char c, struct request_error *err)
{
    switch ((enum chunked_state)st->state) {
    case ST_SIZE_LF:
        if (c != '\n')
            return reject_line_end(st, err, '\r');
        st->line_bytes = 0;
        /* A zero size is the last-chunk; the trailer section follows. */
        st->state = st->chunk_left ? ST_DATA : ST_TRAILER;
        return CHUNKED_NEED_MORE;
    case ST_DATA_CR:
        /* RFC 9112 §7.1: chunk-data is followed by CRLF; more data than the size said is
         * the classic smuggling mismatch. */
        if (c != '\r')
            return reject(st, err, 400,
                          c == '\n' ? "bare LF in chunk framing" : "missing CRLF after chunk data");
        st->state = ST_DATA_LF;
        return CHUNKED_NEED_MORE;
    case ST_DATA_LF:
        if (c != '\n')
            return reject_line_end(st, err, '\r');
        st->state = ST_SIZE_START;
        return CHUNKED_NEED_MORE;
    default:
        break;
    }
    return reject(st, err, 400, "corrupt chunked state"); /* not reached */
}

void chunked_init(struct chunked *c)
{
    *c = (struct chunked){.state = ST_SIZE_START};
}

enum chunked_status chunked_decode(struct chunked *st, char *buf, size_t len, uint64_t max_bytes,
                                   size_t *consumed, size_t *data_len, struct request_error *err)
{
    size_t p = 0, out = 0;
    enum chunked_status rc = CHUNKED_NEED_MORE;
    *consumed = 0;
    *data_len = 0;
    if (st->state == ST_DONE)
        return CHUNKED_DONE;
    if (st->state == ST_ERROR) {
        err->status = st->flags & FLAG_413 ? 413 : 400;
        err->reason = "chunked body already rejected";
        return CHUNKED_ERROR;
    }
    while (p < len && rc == CHUNKED_NEED_MORE) {
        if (st->state == ST_DATA) {
            /* The data moves towards the front; out <= p always, so memmove. */
            const size_t n = st->chunk_left < len - p ? (size_t)st->chunk_left : len - p;
            memmove(buf + out, buf + p, n);
            out += n;
            p += n;
            st->chunk_left -= n;
            st->total += n;
            if (st->chunk_left == 0)
                st->state = ST_DATA_CR;
            continue;
        }
        const char c = buf[p++];
        /* The states are ordered: the size line, then the other framing, then the
         * trailer section. */
        if (st->state <= ST_EXT_END)
            rc = size_line_byte(st, c, max_bytes, err);
        else if (st->state >= ST_TRAILER)
            rc = trailer_byte(st, c, err);
        else
            rc = framing_byte(st, c, err);
        if (st->state == ST_DONE)
            rc = CHUNKED_DONE;
    }
    *consumed = p;
    *data_len = out;
    return rc;
}
