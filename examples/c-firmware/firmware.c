/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * c-firmware: the CPChain gateway as a bare-metal C image for the Arm MPS2-AN386 board
 * (Cortex-M4F) and, rebuilt, the MPS2-AN505 (Cortex-M33), run under qemu-system-arm with
 * semihosting. It links libcpchain_ffi.a built `no_std` for the microcontroller
 * (`--no-default-features --features alloc`) and includes cpchain.h with CPCHAIN_NO_STD and
 * CPCHAIN_ALLOC.
 *
 * What it does (white paper §2.2.1, §2.4.2):
 *  1. draws its device-key seed, master secret and stream id from the firmware's entropy
 *     source (fw_entropy; the MPS2 has no TRNG, so under QEMU it is a fixed-seed Keccak
 *     DRBG: replace it with the device's TRNG on hardware), and the writer's session
 *     entropy from the same source;
 *  2. records a sensor reading every second for 70 s with the data-chain writer in caller
 *     storage (T = 5 s, e = 20 s: four encryption intervals, u = 10 s), playing the clock
 *     (handle_timeout at each deadline) and polling every output; no heap on this path (the
 *     allocation hook counts calls, and any call here fails the run);
 *  3. writes everything to `cpchain-firmware.bin` on the host over semihosting: its inputs,
 *     each writer call, each sealed block and anchor (the host test replays the calls with
 *     the Rust Writer, checks byte identity, and verifies the chain against the anchors);
 *  4. light-verifies a VALIDATE it is given (validate_fixture.h, n = 7, mainnet parameters)
 *     against the genesis it derives itself, and checks that a copy with one signature byte
 *     flipped is refused, so the device can learn that its anchor was committed;
 *  5. measures each operation on the device: guest instructions (QEMU -icount shift=0 makes
 *     the virtual clock advance 1 ns per instruction; the 25 MHz CMSDK timer reads it in
 *     40 ns ticks, so a figure is instructions to +-40) and peak stack (painted and scanned).
 *
 * Two images per board: `full` (the above, linking a library built with `--features
 * alloc`) and `gateway` (steps 1-3 and the gateway's measurements only, linking a library
 * without `alloc`: no heap exists at all), the image the budgets are about.
 *
 * Exit status 0 when every step passed; the failing step's number otherwise.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cpchain.h"
#include "semihost.h"
#if defined(CPCHAIN_ALLOC)
#include "validate_fixture.h"
#else
/* The gateway image links a library without `alloc`: it has no heap at all. */
#define HEAP_CALLS 0u
#endif

/* ---- Board: a free-running 25 MHz down-counter (CMSDK APB TIMER0). ---- */
#if defined(BOARD_AN505)
#define TIMER0_BASE 0x50000000u /* secure alias of the SSE-200's TIMER0 */
#else
#define TIMER0_BASE 0x40000000u
#endif
#define TIMER_CTRL (*(volatile uint32_t *)(TIMER0_BASE + 0x0))
#define TIMER_VALUE (*(volatile uint32_t *)(TIMER0_BASE + 0x4))
#define TIMER_RELOAD (*(volatile uint32_t *)(TIMER0_BASE + 0x8))
#define NS_PER_TICK 40u

static void timer_start(void) {
  TIMER_CTRL = 0;
  TIMER_RELOAD = 0xFFFFFFFFu;
  TIMER_VALUE = 0xFFFFFFFFu;
  TIMER_CTRL = 1;
}
static uint32_t timer_now(void) { return TIMER_VALUE; }

/* ---- Static memory: everything the firmware owns. ---- */
static cpchain_secret_key_storage key_storage;
static cpchain_chain_writer_storage writer_storage;
/* One encoded block or anchor; after the gateway phase, the scratch of the measurements and
 * of the tampered VALIDATE. */
static uint8_t tx[CPCHAIN_CHAIN_OUTPUT_MAX_LEN];
#define work tx
#define validate_copy tx
_Static_assert(sizeof tx >= 1024 + CPCHAIN_AEAD_TAG_LEN, "work buffer");
#if defined(CPCHAIN_ALLOC)
_Static_assert(sizeof tx >= sizeof FIXTURE_VALIDATE, "VALIDATE copy");
#endif

#if defined(CPCHAIN_ALLOC)
/* ---- The heap of the alloc hooks: a bump arena that takes back the last block at once and
 * resets when nothing is live. Only light verification (and the spec handle) allocate; the
 * gateway path must not. 4.5 KiB: light verification at n = 7 peaks at 4,584 bytes
 * (docs/BENCHMARKS.md, "Firmware"; 5,360 before the last block was taken back). ---- */
#define ARENA_SIZE 4608u
static uint8_t arena[ARENA_SIZE] __attribute__((aligned(8)));
static size_t arena_top, arena_peak, arena_live;
static uint32_t heap_calls;
#define HEAP_CALLS heap_calls

void *cpchain_hook_alloc(size_t size, size_t align) {
  heap_calls++;
  size_t at = (arena_top + align - 1) & ~(align - 1);
  if (at > ARENA_SIZE || size > ARENA_SIZE - at) return NULL;
  arena_top = at + size;
  if (arena_top > arena_peak) arena_peak = arena_top;
  arena_live++;
  return arena + at;
}

void cpchain_hook_free(void *ptr, size_t size, size_t align) {
  (void)align;
  /* The last block handed out is taken back at once (a stack discipline: temporaries freed
   * in reverse order cost no arena); anything else when nothing is live any more. */
  if ((uint8_t *)ptr + size == arena + arena_top) arena_top = (size_t)((uint8_t *)ptr - arena);
  if (arena_live && --arena_live == 0) arena_top = 0;
}

#endif

void cpchain_hook_panic(const char *file, size_t file_len, uint32_t line) {
  char msg[160];
  char *at = fmt_str(msg, "PANIC in the SDK at ");
  for (size_t i = 0; i < file_len && i < 100; i++) *at++ = file[i];
  *at++ = ':';
  fmt_str(fmt_u32(at, line), "\n");
  sh_puts(msg);
  sh_exit(99);
}

/* ---- Entropy: the firmware's source (a TRNG on hardware). Under QEMU a Keccak DRBG over a
 * fixed seed, so that a run is reproducible and the host can replay it. ---- */
static const uint8_t ENTROPY_SEED[32] = "cpchain c-firmware qemu entropy";
static uint32_t entropy_counter;

static void fw_entropy(uint8_t *out, size_t len) {
  while (len) {
    uint8_t in[36], block[32];
    memcpy(in, ENTROPY_SEED, 32);
    for (int i = 0; i < 4; i++) in[32 + i] = (uint8_t)(entropy_counter >> (8 * i));
    entropy_counter++;
    (void)cpchain_keccak256(in, sizeof in, block, sizeof block);
    size_t n = len < 32 ? len : 32;
    memcpy(out, block, n);
    out += n;
    len -= n;
  }
}

/* ---- Output over semihosting: [kind u8][len u32 LE][bytes]. ---- */
enum {
  OUT_KEY_SEED = 1, /* the device key's seed, 32 bytes */
  OUT_APPEND = 2,  /* now u64, record */
  OUT_TIMEOUT = 3, /* now u64 */
  OUT_FLUSH = 4,   /* nothing */
  OUT_BLOCK = 5,   /* an encoded sealed block */
  OUT_ANCHOR = 6,  /* an encoded anchor */
  OUT_LIGHT = 7,   /* rc u32, signatures u32, rc of the tampered copy u32, arena peak u32 */
  OUT_DEVICE = 8,  /* the device address, 20 bytes */
  OUT_END = 9,     /* status u32 */
  OUT_WRITER = 10, /* master 32, stream 32, T e u as u64 ms, session entropy 32 */
};
static int out_file = -1;
static bool out_failed;

static void put_le(uint8_t *p, uint64_t v, int n) {
  for (int i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void emit2(uint8_t kind, const void *a, size_t a_len, const void *b, size_t b_len) {
  uint8_t head[5];
  head[0] = kind;
  put_le(head + 1, a_len + b_len, 4);
  if (sh_write(out_file, head, sizeof head) != 0) out_failed = true;
  if (a_len && sh_write(out_file, a, a_len) != 0) out_failed = true;
  if (b_len && sh_write(out_file, b, b_len) != 0) out_failed = true;
}
static void emit(uint8_t kind, const void *p, size_t n) { emit2(kind, p, n, NULL, 0); }

/* ---- Measurements: instructions and painted stack. ---- */
extern uint32_t __stack_limit__, __stack_top__;
#define PAINT 0xC5C5C5C5u
static uint32_t lowest_sp = 0xFFFFFFFFu;

static __attribute__((noinline)) uint32_t stack_paint(void) {
  uint32_t sp;
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  for (uint32_t *p = &__stack_limit__; (uint32_t)(uintptr_t)p < sp - 64; p++) *p = PAINT;
  return sp;
}

static __attribute__((noinline)) uint32_t stack_lowest(void) {
  uint32_t *p = &__stack_limit__;
  while (*p == PAINT) p++;
  uint32_t low = (uint32_t)(uintptr_t)p;
  if (low < lowest_sp) lowest_sp = low;
  return low;
}

static void report(const char *name, uint32_t ticks, uint32_t stack, const char *note) {
  char line[160];
  char *at = fmt_str(line, "measure ");
  at = fmt_str(at, name);
  at = fmt_str(at, " insns=");
  at = fmt_u32(at, ticks * NS_PER_TICK);
  at = fmt_str(at, " stack=");
  at = fmt_u32(at, stack);
  if (note) at = fmt_str(fmt_str(at, " "), note);
  fmt_str(at, "\n");
  sh_puts(line);
}

/* Run `call` once with the stack painted; report instructions and the deepest stack use
 * below the caller's frame. */
#define MEASURE(name, note, rc_var, call)                     \
  do {                                                        \
    uint32_t sp_ = stack_paint();                             \
    uint32_t t0_ = timer_now();                               \
    rc_var = (call);                                          \
    uint32_t t1_ = timer_now();                               \
    uint32_t low_ = stack_lowest();                           \
    report(name, t0_ - t1_, sp_ - low_, note);                \
  } while (0)

static int fail(int step, const char *what, cpchain_result rc) {
  char line[160];
  char *at = fmt_str(line, "FAILED step ");
  at = fmt_u32(at, (uint32_t)step);
  at = fmt_str(fmt_str(at, ": "), what);
  at = fmt_str(at, " rc=");
  fmt_str(fmt_u32(at, (uint32_t)rc), "\n");
  sh_puts(line);
  return step;
}

/* ---- The gateway. ---- */
#define PERIOD_MS 5000u
#define INTERVAL_MS 20000u
#define UPLOAD_MS 10000u
#define START_MS 1700000000000ull /* wall clock of the first reading */
#define READINGS 70u

static uint32_t blocks_out, anchors_out;
static uint32_t seal_ticks, seal_stack, seal_count;

static int drain(cpchain_chain_writer *w) {
  for (;;) {
    size_t n = 0;
    cpchain_chain_output_kind kind = CPCHAIN_CHAIN_OUTPUT_KIND_NONE;
    cpchain_result rc = cpchain_chain_writer_poll(w, tx, sizeof tx, &n, &kind);
    if (rc == CPCHAIN_RESULT_NO_OUTPUT) return 0;
    if (rc != CPCHAIN_RESULT_OK) return fail(4, "poll", rc);
    if (kind == CPCHAIN_CHAIN_OUTPUT_KIND_BLOCK) {
      emit(OUT_BLOCK, tx, n);
      blocks_out++;
    } else {
      emit(OUT_ANCHOR, tx, n);
      anchors_out++;
    }
  }
}

static int run_gateway(const cpchain_secret_key *device) {
  uint8_t master[CPCHAIN_MASTER_SECRET_LEN], stream[CPCHAIN_STREAM_ID_LEN];
  fw_entropy(master, sizeof master);
  fw_entropy(stream, sizeof stream);
  /* Fresh for every writer session: it salts the session's nonces, so even a device that
   * restarts its chain from genesis never reuses a (key, nonce) pair. */
  uint8_t session[CPCHAIN_SESSION_ENTROPY_LEN];
  fw_entropy(session, sizeof session);
  const cpchain_chain_schedule schedule = {PERIOD_MS, INTERVAL_MS, UPLOAD_MS};
  cpchain_chain_writer *w = NULL;
  cpchain_result rc;
  MEASURE("writer_new_in", NULL, rc,
          cpchain_chain_writer_new_in(&writer_storage, stream, sizeof stream, &schedule, device,
                                      master, sizeof master, NULL, session, sizeof session,
                                      &w));
  if (rc != CPCHAIN_RESULT_OK) return fail(3, "writer_new_in", rc);
  {
    uint8_t rest[120];
    memcpy(rest, master, 32);
    memcpy(rest + 32, stream, 32);
    put_le(rest + 64, PERIOD_MS, 8);
    put_le(rest + 72, INTERVAL_MS, 8);
    put_le(rest + 80, UPLOAD_MS, 8);
    memcpy(rest + 88, session, 32);
    emit(OUT_WRITER, rest, sizeof rest);
  }
  memset(master, 0, sizeof master);

  for (uint32_t i = 0; i < READINGS; i++) {
    uint64_t now = START_MS + (uint64_t)i * 1000u + 137u;
    /* Play the clock: every deadline up to now first. */
    for (;;) {
      bool has = false;
      uint64_t deadline = 0;
      rc = cpchain_chain_writer_next_deadline(w, &has, &deadline);
      if (rc != CPCHAIN_RESULT_OK) return fail(4, "next_deadline", rc);
      if (!has || deadline > now) break;
      uint8_t t[8];
      put_le(t, deadline, 8);
      emit(OUT_TIMEOUT, t, 8);
      uint32_t before = blocks_out;
      uint32_t sp = stack_paint();
      uint32_t t0 = timer_now();
      rc = cpchain_chain_writer_handle_timeout(w, deadline);
      int d = rc == CPCHAIN_RESULT_OK ? drain(w) : 0;
      uint32_t t1 = timer_now();
      uint32_t used = sp - stack_lowest();
      if (rc != CPCHAIN_RESULT_OK) return fail(4, "handle_timeout", rc);
      if (d) return d;
      if (blocks_out == before + 1) { /* one block sealed, signed, encoded */
        seal_ticks += t0 - t1;
        seal_count++;
        if (used > seal_stack) seal_stack = used;
      }
    }
    /* A reading: sequence, temperature in centi-degrees, humidity, and device noise. */
    uint8_t reading[24];
    put_le(reading, i, 4);
    put_le(reading + 4, (uint64_t)(int64_t)(2150 + (int32_t)(i % 13) * 7), 4);
    put_le(reading + 8, 4000u + i * 3u, 4);
    fw_entropy(reading + 12, 12);
    uint8_t t[8];
    put_le(t, now, 8);
    emit2(OUT_APPEND, t, 8, reading, sizeof reading);
    rc = cpchain_chain_writer_append(w, now, reading, sizeof reading);
    if (rc != CPCHAIN_RESULT_OK) return fail(4, "append", rc);
    int d = drain(w);
    if (d) return d;
  }
  bool sealed = false;
  emit(OUT_FLUSH, NULL, 0);
  /* Flush at the time of the last reading: no time passes, the open block is sealed. */
  rc = cpchain_chain_writer_flush(w, START_MS + (uint64_t)(READINGS - 1) * 1000u + 137u, &sealed);
  if (rc != CPCHAIN_RESULT_OK) return fail(4, "flush", rc);
  int d = drain(w);
  if (d) return d;
  cpchain_chain_writer_free(w);
  if (seal_count == 0) return fail(4, "no block sealed at a deadline", CPCHAIN_RESULT_OK);
  char note[48];
  fmt_str(fmt_u32(fmt_str(note, "(mean over "), seal_count), " blocks of 5 readings)");
  report("writer_block", seal_ticks / seal_count, seal_stack, note);
  return 0;
}

#if defined(CPCHAIN_ALLOC)
/* ---- Light verification of the VALIDATE the device was given. ---- */
static int run_light(void) {
  cpchain_chain_spec *spec = NULL;
  cpchain_result rc = cpchain_chain_spec_mainnet(&spec);
  if (rc != CPCHAIN_RESULT_OK) return fail(5, "spec", rc);
  uint8_t parent[CPCHAIN_LBFT_HEADER_MAX_LEN];
  size_t plen = 0;
  rc = cpchain_lbft_genesis_header(spec, FIXTURE_GENESIS_MS, parent, sizeof parent, &plen);
  if (rc != CPCHAIN_RESULT_OK) return fail(5, "genesis", rc);
  size_t sigs = 0;
  cpchain_result good;
  MEASURE("light_verify_n7", "(7 commit signatures + the proposer seal)", good,
          cpchain_lbft_verify_validate(spec, &FIXTURE_VALIDATORS[0][0], FIXTURE_N_VALIDATORS,
                                       &FIXTURE_PROPOSERS[0][0], FIXTURE_N_PROPOSERS, 0, parent,
                                       plen, FIXTURE_VALIDATE, sizeof FIXTURE_VALIDATE, &sigs));
  memcpy(validate_copy, FIXTURE_VALIDATE, sizeof FIXTURE_VALIDATE);
  validate_copy[FIXTURE_TAMPER_AT] ^= 0x01;
  size_t sigs2 = 0;
  cpchain_result bad = cpchain_lbft_verify_validate(
      spec, &FIXTURE_VALIDATORS[0][0], FIXTURE_N_VALIDATORS, &FIXTURE_PROPOSERS[0][0],
      FIXTURE_N_PROPOSERS, 0, parent, plen, validate_copy, sizeof FIXTURE_VALIDATE, &sigs2);
  cpchain_chain_spec_free(spec);
  uint8_t rec[16];
  put_le(rec, (uint32_t)good, 4);
  put_le(rec + 4, sigs, 4);
  put_le(rec + 8, (uint32_t)bad, 4);
  put_le(rec + 12, arena_peak, 4);
  emit(OUT_LIGHT, rec, sizeof rec);
  char line[96];
  fmt_str(fmt_u32(fmt_str(line, "light verification: heap peak "), (uint32_t)arena_peak),
          " bytes\n");
  sh_puts(line);
  if (good != CPCHAIN_RESULT_OK) return fail(5, "the VALIDATE was refused", good);
  /* Every commit signature and the proposer's seal. */
  if (sigs != FIXTURE_N_VALIDATORS + 1) return fail(5, "signature count", good);
  if (bad == CPCHAIN_RESULT_OK) return fail(5, "a tampered VALIDATE was accepted", bad);
  if (arena_live != 0) return fail(5, "light verification left memory allocated", bad);
  return 0;
}

#endif

/* ---- The primitives, one at a time (verification and recovery in the full image only:
 * the gateway never verifies, and the gateway image carries only what it runs). ---- */
static int run_primitives(const cpchain_secret_key *key) {
  cpchain_result rc;
  for (size_t i = 0; i < 1024; i++) work[i] = (uint8_t)(i * 7u + 1u);
  uint8_t digest[32];
  MEASURE("keccak_1KiB", NULL, rc, cpchain_keccak256(work, 1024, digest, sizeof digest));
  if (rc != CPCHAIN_RESULT_OK) return fail(6, "keccak", rc);
  uint8_t sig[CPCHAIN_SIGNATURE_LEN], pub[CPCHAIN_PUBLIC_KEY_COMPRESSED_LEN];
  uint8_t recovered[CPCHAIN_PUBLIC_KEY_COMPRESSED_LEN];
  rc = cpchain_secret_key_public_key(key, pub, sizeof pub);
  if (rc != CPCHAIN_RESULT_OK) return fail(6, "public key", rc);
  MEASURE("sign", NULL, rc, cpchain_secret_key_sign_prehash(key, digest, 32, sig, sizeof sig));
  if (rc != CPCHAIN_RESULT_OK) return fail(6, "sign", rc);
#if defined(CPCHAIN_ALLOC)
  MEASURE("verify", NULL, rc, cpchain_public_key_verify(pub, sizeof pub, digest, 32, sig, 65));
  if (rc != CPCHAIN_RESULT_OK) return fail(6, "verify", rc);
  MEASURE("recover", NULL, rc,
          cpchain_signature_recover(sig, 65, digest, 32, recovered, sizeof recovered));
  if (rc != CPCHAIN_RESULT_OK || memcmp(recovered, pub, sizeof pub) != 0)
    return fail(6, "recover", rc);
#else
  (void)pub, (void)recovered;
#endif
  uint8_t aead_key[CPCHAIN_AEAD_KEY_LEN], nonce[CPCHAIN_AEAD_NONCE_LEN] = {0};
  fw_entropy(aead_key, sizeof aead_key);
  size_t sealed_len = 0;
  MEASURE("seal_1KiB", NULL, rc,
          cpchain_aead_seal_in_place(aead_key, 32, nonce, 12, NULL, 0, work, 1024, 1024 + 16,
                                     &sealed_len));
  if (rc != CPCHAIN_RESULT_OK || sealed_len != 1024 + CPCHAIN_AEAD_TAG_LEN)
    return fail(6, "seal", rc);
  size_t opened_len = 0;
  rc = cpchain_aead_open_in_place(aead_key, 32, nonce, 12, NULL, 0, work, sealed_len,
                                  &opened_len);
  if (rc != CPCHAIN_RESULT_OK || opened_len != 1024 || work[5] != (uint8_t)(5 * 7 + 1))
    return fail(6, "open", rc);
  return 0;
}

int main(void) {
  timer_start();
  sh_puts("cpchain c-firmware: ");
  sh_puts((const char *)cpchain_version());
  sh_puts("\n");
  out_file = sh_open_wb("cpchain-firmware.bin");
  if (out_file < 0) return fail(1, "cannot open cpchain-firmware.bin", CPCHAIN_RESULT_OK);

  /* The device identity, in caller storage, from the entropy source. */
  uint8_t seed[CPCHAIN_SEED_LEN];
  fw_entropy(seed, sizeof seed);
  cpchain_secret_key *device = NULL;
  cpchain_result rc = cpchain_secret_key_from_seed_in(&key_storage, seed, sizeof seed, &device);
  if (rc != CPCHAIN_RESULT_OK) return fail(2, "key", rc);
  emit(OUT_KEY_SEED, seed, sizeof seed);
  memset(seed, 0, sizeof seed);
  uint8_t address[CPCHAIN_ADDRESS_LEN];
  rc = cpchain_secret_key_address(device, address, sizeof address);
  if (rc != CPCHAIN_RESULT_OK) return fail(2, "address", rc);
  emit(OUT_DEVICE, address, sizeof address);

  int status = run_gateway(device);
  if (!status && HEAP_CALLS != 0) status = fail(4, "the gateway path allocated", CPCHAIN_RESULT_OK);
  if (!status) status = run_primitives(device);
  if (!status && HEAP_CALLS != 0) status = fail(6, "a primitive allocated", CPCHAIN_RESULT_OK);
#if defined(CPCHAIN_ALLOC)
  if (!status) status = run_light();
#endif
  cpchain_secret_key_free(device);

  /* The stack never reached the static data: static RAM + peak stack fit the 32 KiB. */
  (void)stack_lowest();
  uint32_t peak = (uint32_t)(uintptr_t)&__stack_top__ - lowest_sp;
  char line[96];
  fmt_str(fmt_u32(fmt_str(line, "stack peak (measured calls) "), peak), " bytes\n");
  sh_puts(line);
  if (!status && lowest_sp <= (uint32_t)(uintptr_t)&__stack_limit__)
    status = fail(7, "the stack reached the static data", CPCHAIN_RESULT_OK);
  uint8_t st[4];
  put_le(st, (uint32_t)status, 4);
  emit(OUT_END, st, sizeof st);
  sh_close(out_file);
  if (!status && out_failed) status = fail(8, "semihosting write", CPCHAIN_RESULT_OK);
  sh_puts(status ? "c-firmware: FAILED\n" : "c-firmware: OK\n");
  return status;
}
