/* The counters and CHECK macros shared by the C tests (each test file includes this once and
 * prints "N passed, N failed" at the end). */
#ifndef CPCHAIN_TEST_CHECK_H
#define CPCHAIN_TEST_CHECK_H

#include <stdio.h>

#include "cpchain.h"

static unsigned passed;
static unsigned failed;

#define CHECK(cond)                                                                      \
  do {                                                                                   \
    if (cond) {                                                                          \
      passed++;                                                                          \
    } else {                                                                             \
      failed++;                                                                          \
      fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                    \
    }                                                                                    \
  } while (0)

#define CHECK_RC(call, expected)                                                         \
  do {                                                                                   \
    cpchain_result rc_ = (call);                                                         \
    if (rc_ == (cpchain_result)(expected)) {                                             \
      passed++;                                                                          \
    } else {                                                                             \
      char msg_[CPCHAIN_RESULT_MESSAGE_MAX];                                             \
      size_t n_ = 0;                                                                     \
      cpchain_result_message((uint32_t)rc_, msg_, sizeof msg_, &n_);                     \
      failed++;                                                                          \
      fprintf(stderr, "FAIL %s:%d: %s\n  returned %u (%s), expected %s\n", __FILE__,     \
              __LINE__, #call, (unsigned)rc_, msg_, #expected);                          \
    }                                                                                    \
  } while (0)

#endif
