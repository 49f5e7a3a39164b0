/* SPDX-License-Identifier: MIT */
/* What every fuzz target shares: libFuzzer's entry point and an assertion that stays on in
 * every build (release replay included) and names the broken invariant. */
#ifndef MICA_TESTS_FUZZ_H
#define MICA_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond);                             \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
