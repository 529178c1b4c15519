/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "semihost.h"

static uintptr_t semihost(uintptr_t op, const void *arg) {
  register uintptr_t r0 __asm__("r0") = op;
  register uintptr_t r1 __asm__("r1") = (uintptr_t)arg;
  __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

enum { SYS_OPEN = 0x01, SYS_CLOSE = 0x02, SYS_WRITE0 = 0x04, SYS_WRITE = 0x05,
       SYS_EXIT_EXTENDED = 0x20 };

void sh_puts(const char *s) { (void)semihost(SYS_WRITE0, s); }

static size_t str_len(const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}

int sh_open_wb(const char *path) {
  uintptr_t args[3] = {(uintptr_t)path, 5 /* "wb" */, str_len(path)};
  return (int)semihost(SYS_OPEN, args);
}

int sh_write(int handle, const void *buf, size_t len) {
  uintptr_t args[3] = {(uintptr_t)handle, (uintptr_t)buf, len};
  return semihost(SYS_WRITE, args) == 0 ? 0 : -1; /* returns the bytes NOT written */
}

void sh_close(int handle) {
  uintptr_t args[1] = {(uintptr_t)handle};
  (void)semihost(SYS_CLOSE, args);
}

void sh_exit(uint32_t status) {
  uintptr_t args[2] = {0x20026 /* ADP_Stopped_ApplicationExit */, status};
  (void)semihost(SYS_EXIT_EXTENDED, args);
  for (;;) {
  }
}

char *fmt_u32(char *at, uint32_t v) {
  char tmp[10];
  int n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n) *at++ = tmp[--n];
  *at = 0;
  return at;
}

char *fmt_str(char *at, const char *s) {
  while (*s) *at++ = *s++;
  *at = 0;
  return at;
}
