/* SPDX-License-Identifier: MIT */
/* Accept-Encoding negotiation; see encoding.h. */
#include "http/encoding.h"

#include <stdbool.h>

const char *encoding_name(enum encoding e)
{
    switch (e) {
    case ENC_GZIP:
        return "gzip";
    case ENC_BR:
        return "br";
    default:
        return NULL;
    }
}

/* A qvalue (RFC 9110 §12.4.2) in thousandths: "0", "0.5", "1", "1.000"; -1 if malformed. */
static int parse_q(struct slice v)
{
    if (v.len == 0 || v.len > 5 || (v.ptr[0] != '0' && v.ptr[0] != '1'))
        return -1;
    int q = (v.ptr[0] - '0') * 1000;
    if (v.len == 1)
        return q;
    if (v.ptr[1] != '.')
        return -1;
    int scale = 100;
    for (size_t i = 2; i < v.len; i++, scale /= 10) {
        if (v.ptr[i] < '0' || v.ptr[i] > '9')
            return -1;
        q += (v.ptr[i] - '0') * scale;
    }
    return q > 1000 ? -1 : q;
}

/* One list element "coding;q=0.5" → its coding and q (1000 when no q is given). */
static bool parse_element(struct slice el, struct slice *coding, int *q)
{
    const char *semi = el.ptr;
    while (semi < el.ptr + el.len && *semi != ';')
        semi++;
    *coding = slice_trim(slice_make(el.ptr, (size_t)(semi - el.ptr)));
    *q = 1000;
    if (coding->len == 0)
        return false;
    /* Parameters: only q matters; anything malformed discards the element. */
    while (semi < el.ptr + el.len) {
        const char *p = semi + 1, *end = p;
        while (end < el.ptr + el.len && *end != ';')
            end++;
        struct slice param = slice_trim(slice_make(p, (size_t)(end - p)));
        if (param.len >= 2 && (param.ptr[0] == 'q' || param.ptr[0] == 'Q') && param.ptr[1] == '=') {
            *q = parse_q(slice_make(param.ptr + 2, param.len - 2));
            if (*q < 0)
                return false;
        }
        semi = end;
    }
    return true;
}

enum encoding encoding_negotiate(struct slice accept, unsigned available)
{
    if (!accept.ptr)
        return ENC_IDENTITY;
    int q[ENC_COUNT] = {-1, -1, -1}; /* -1: not named */
    int star = -1;
    const char *p = accept.ptr, *end = accept.ptr + accept.len;
    while (p <= end) {
        const char *comma = p;
        while (comma < end && *comma != ',')
            comma++;
        struct slice coding;
        int v;
        if (parse_element(slice_make(p, (size_t)(comma - p)), &coding, &v)) {
            if (slice_case_eq(coding, SLICE_LIT("gzip")) ||
                slice_case_eq(coding, SLICE_LIT("x-gzip")))
                q[ENC_GZIP] = v > q[ENC_GZIP] ? v : q[ENC_GZIP];
            else if (slice_case_eq(coding, SLICE_LIT("br")))
                q[ENC_BR] = v > q[ENC_BR] ? v : q[ENC_BR];
            else if (slice_case_eq(coding, SLICE_LIT("*")))
                star = v;
        }
        p = comma + 1;
    }
    enum encoding best = ENC_IDENTITY;
    int best_q = 0;
    const enum encoding order[] = {ENC_BR, ENC_GZIP}; /* brotli first: it wins ties */
    for (int i = 0; i < 2; i++) {
        enum encoding e = order[i];
        int v = q[e] >= 0 ? q[e] : star;
        if ((available & (1u << e)) && v > best_q) {
            best = e;
            best_q = v;
        }
    }
    return best;
}
