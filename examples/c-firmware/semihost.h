/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Arm semihosting (BKPT 0xAB on M-profile): text to the host's stdout, a binary output file,
 * and the exit status. QEMU serves it with -semihosting-config enable=on,target=native. */
#ifndef CPCHAIN_FW_SEMIHOST_H
#define CPCHAIN_FW_SEMIHOST_H
#include <stddef.h>
#include <stdint.h>

/* Write a NUL-terminated string to the host's stdout. */
void sh_puts(const char *s);
/* Open `path` on the host for binary writing; -1 on failure. */
int sh_open_wb(const char *path);
/* Write `len` bytes to an open handle; 0 on success. */
int sh_write(int handle, const void *buf, size_t len);
/* Close a handle. */
void sh_close(int handle);
/* End the emulation with `status` as QEMU's exit status (SYS_EXIT_EXTENDED). */
__attribute__((noreturn)) void sh_exit(uint32_t status);
/* Append a decimal number / a hex byte string to a line being built. */
char *fmt_u32(char *at, uint32_t v);
char *fmt_str(char *at, const char *s);
#endif
