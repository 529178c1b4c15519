/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * c-gateway: a firmware-style IoT data gateway on the CPChain C API (cpchain.h).
 *
 * What it shows (white paper §2.2.1, §2.5.1): a gateway reads a temperature sensor every
 * 250 ms for three minutes, packs the readings into a data chain with
 *     T = 5 s    (one block per period),
 *     e = 60 s   (one encryption key per interval: the unit an owner can share),
 *     u = 30 s   (one signed anchor of the chain's head per upload interval),
 * persists each sealed block to "flash" and queues each anchor for the chain, exactly as
 * firmware would: every buffer is static, nothing is malloc'ed, the device key and the
 * writer live in caller storage (cpchain_secret_key_from_seed_in,
 * cpchain_chain_writer_new_in), and time only enters through the arguments (sans-IO): the
 * main loop plays the clock, calling cpchain_chain_writer_handle_timeout at the deadline the
 * writer asks for, and polls outputs after every input until CPCHAIN_RESULT_NO_OUTPUT.
 *
 * Randomness enters the same way: the library has no RNG, and the gateway takes every random
 * byte from one caller-provided source (`struct entropy_source`, set up by main: the MCU's
 * TRNG on a board, getrandom(2) in this host build). This gateway always starts its chain
 * from genesis, so the writer's session entropy, drawn fresh at every start, is what keeps
 * a restarted gateway from reusing a (key, nonce) pair: its blocks carry a new nonce salt.
 *
 * It then plays the owner's host once: verifies the persisted chain against the anchors and
 * opens the first block with the interval's data key (that part is not firmware, and the
 * library's reader uses temporary heap memory inside the call).
 *
 * Built with -DCPCHAIN_PRE against a library made with `--features pre` (GPL-3.0), the host
 * also sells one encryption interval (§2.2.2): the owner grants the chain's second minute to
 * a buyer through 2-of-3 re-encryption proxies, the proxies re-encrypt the interval's
 * capsule, and the buyer opens that interval's blocks, and no other interval's.
 *
 * Built and run by cpchain-ffi/tests/run-c-tests.sh under AddressSanitizer and valgrind, and
 * once with -DGATEWAY_COUNT_HEAP, which interposes malloc and fails if the writer phase
 * allocates at all. Exit status 0 on success.
 *
 *   gcc -std=c11 -I cpchain-ffi/include examples/c-gateway/gateway.c \
 *       target/debug/libcpchain_ffi.a -lpthread -ldl -lm -o gateway && ./gateway
 */
#define _DEFAULT_SOURCE
#include "cpchain.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>

/* ---- Randomness: a caller-provided source. `fill` writes `len` fresh random bytes to `out`
 * and returns 0, or returns non-zero when the source failed (then nothing random is used). */
typedef int (*entropy_fn)(void *ctx, uint8_t *out, size_t len);
struct entropy_source {
  entropy_fn fill;
  void *ctx;
};

/* The host build's source: the kernel's CSPRNG through getrandom(2) (no allocation, so the
 * no-heap check of the writer phase still holds). Firmware passes its TRNG driver instead. */
static int host_entropy(void *ctx, uint8_t *out, size_t len) {
  (void)ctx;
  while (len > 0) {
    ssize_t n = getrandom(out, len, 0);
    if (n <= 0) return -1;
    out += n;
    len -= (size_t)n;
  }
  return 0;
}

#ifdef GATEWAY_COUNT_HEAP
/* Count every allocation made while `counting` is set (glibc's __libc_* are the real ones). */
#include <stddef.h>
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);
static volatile int counting;
static volatile unsigned long heap_calls;
void *malloc(size_t n) {
  if (counting) heap_calls++;
  return __libc_malloc(n);
}
void *calloc(size_t a, size_t b) {
  if (counting) heap_calls++;
  return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n) {
  if (counting) heap_calls++;
  return __libc_realloc(p, n);
}
int posix_memalign(void **out, size_t align, size_t n) {
  if (counting) heap_calls++;
  *out = __libc_memalign(align, n);
  return *out ? 0 : 12;
}
void *aligned_alloc(size_t align, size_t n) {
  if (counting) heap_calls++;
  return __libc_memalign(align, n);
}
void free(void *p) { __libc_free(p); }
#define HEAP_COUNT_BEGIN() (counting = 1)
#define HEAP_COUNT_END() (counting = 0)
#else
#define HEAP_COUNT_BEGIN() ((void)0)
#define HEAP_COUNT_END() ((void)0)
#endif

/* ---- Static memory: everything the gateway owns. ---- */
static cpchain_secret_key_storage key_storage;     /* device identity */
static cpchain_chain_writer_storage writer_storage; /* the data-chain writer (~9 KiB) */
static uint8_t out_buf[CPCHAIN_CHAIN_OUTPUT_MAX_LEN]; /* one polled output */

/* "Flash": sealed blocks appended to a log, with an index of offsets. */
#define FLASH_BYTES (96 * 1024)
#define MAX_BLOCKS 64
static uint8_t flash[FLASH_BYTES];
static size_t flash_used;
static cpchain_bytes block_index[MAX_BLOCKS];
static size_t n_blocks;

/* The uplink queue of anchors for the chain. */
#define MAX_ANCHORS 16
static uint8_t anchor_store[MAX_ANCHORS][CPCHAIN_CHAIN_ANCHOR_MAX_LEN];
static cpchain_bytes anchor_queue[MAX_ANCHORS];
static size_t n_anchors;

static const cpchain_chain_schedule SCHEDULE = {5000, 60000, 30000};
static const uint64_t START_MS = 1699999980000ULL; /* a Unix time, aligned to e and u */
static const uint64_t RUN_MS = 180000;             /* three minutes */
static const uint64_t SAMPLE_MS = 250;

static void report(const char *what, cpchain_result rc) {
  char text[CPCHAIN_RESULT_MESSAGE_MAX];
  size_t n = 0;
  if (cpchain_result_message((uint32_t)rc, text, sizeof text, &n) != CPCHAIN_RESULT_OK)
    strcpy(text, "?");
  fprintf(stderr, "gateway: %s failed: %u (%s)\n", what, (unsigned)rc, text);
}

/* Drain the writer: persist blocks before anything else, queue anchors. */
static int drain(cpchain_chain_writer *w) {
  for (;;) {
    size_t len = 0;
    cpchain_chain_output_kind kind;
    cpchain_result rc = cpchain_chain_writer_poll(w, out_buf, sizeof out_buf, &len, &kind);
    if (rc == CPCHAIN_RESULT_NO_OUTPUT) return 0;
    if (rc != CPCHAIN_RESULT_OK) {
      report("poll", rc);
      return -1;
    }
    if (kind == CPCHAIN_CHAIN_OUTPUT_KIND_BLOCK) {
      if (n_blocks == MAX_BLOCKS || flash_used + len > FLASH_BYTES) {
        fprintf(stderr, "gateway: flash full\n");
        return -1;
      }
      memcpy(flash + flash_used, out_buf, len);
      block_index[n_blocks].ptr = flash + flash_used;
      block_index[n_blocks].len = len;
      n_blocks++;
      flash_used += len;
    } else if (kind == CPCHAIN_CHAIN_OUTPUT_KIND_ANCHOR) {
      if (n_anchors == MAX_ANCHORS) {
        fprintf(stderr, "gateway: uplink queue full\n");
        return -1;
      }
      memcpy(anchor_store[n_anchors], out_buf, len);
      anchor_queue[n_anchors].ptr = anchor_store[n_anchors];
      anchor_queue[n_anchors].len = len;
      n_anchors++;
    }
  }
}

/* A fake sensor: deterministic temperature in centi-degrees, as text. */
static size_t read_sensor(uint64_t t, char *buf, size_t cap) {
  unsigned centi = 2150u + (unsigned)((t / 1000u) % 40u);
  int n = snprintf(buf, cap, "%u.%02uC", centi / 100u, centi % 100u);
  return n > 0 ? (size_t)n : 0;
}

#if defined(CPCHAIN_PRE)
/* ---- The share grant (host side): owner, three proxies and a buyer in one process, every
 * message crossing as bytes through one static buffer per hop. ---- */
#define N_PROXIES 3
static uint8_t msg[CPCHAIN_SHARE_OUTPUT_MAX_LEN];   /* the message in flight */
static uint8_t reply[CPCHAIN_SHARE_OUTPUT_MAX_LEN]; /* a proxy's answer */
static uint8_t wrapped[CPCHAIN_SHARE_WRAPPED_KEY_MAX_LEN];

static int share_grant(const struct entropy_source *rng, const uint8_t *stream,
                       const uint8_t *master, uint64_t interval) {
  const uint64_t now = START_MS + RUN_MS, expires = now + 86400000ULL;
  uint8_t seed[32], b[32];
  cpchain_result rc;
  /* Entropy for the randomised steps, fresh from the caller's source every time (NULL, which
   * the library refuses, if the source failed). */
#define FRESH_SEED() (rng->fill(rng->ctx, seed, sizeof seed) == 0 ? seed : NULL)
  cpchain_share_owner *owner = NULL;
  cpchain_share_proxy *proxy[N_PROXIES] = {NULL};
  cpchain_share_grantee *buyer = NULL;
  uint8_t proxy_addr[N_PROXIES][20];
  int ok = -1;

  memset(b, 0x0e, sizeof b); /* the owner's wallet key */
  cpchain_secret_key *k = NULL;
  if ((rc = cpchain_secret_key_from_bytes(b, sizeof b, &k)) != CPCHAIN_RESULT_OK ||
      (rc = cpchain_share_owner_new(k, master, 32, stream, 32, 337, &owner)) != CPCHAIN_RESULT_OK) {
    report("owner", rc);
    cpchain_secret_key_free(k);
    return -1;
  }
  cpchain_secret_key_free(k);
  for (int i = 0; i < N_PROXIES; i++) {
    memset(b, 0x60 + i, sizeof b);
    k = NULL;
    rc = cpchain_secret_key_from_bytes(b, sizeof b, &k);
    if (rc == CPCHAIN_RESULT_OK) rc = cpchain_secret_key_address(k, proxy_addr[i], 20);
    if (rc == CPCHAIN_RESULT_OK) rc = cpchain_share_proxy_new(k, 337, &proxy[i]);
    cpchain_secret_key_free(k);
    if (rc != CPCHAIN_RESULT_OK) {
      report("proxy", rc);
      goto out;
    }
  }
  memset(b, 0xb0, sizeof b); /* the buyer's receiving-key seed */
  uint8_t buyer_pk[CPCHAIN_PRE_PUBLIC_KEY_LEN];
  if ((rc = cpchain_share_grantee_new(b, sizeof b, 337, &buyer)) != CPCHAIN_RESULT_OK ||
      (rc = cpchain_share_grantee_public_key(buyer, buyer_pk, sizeof buyer_pk)) != CPCHAIN_RESULT_OK) {
    report("buyer", rc);
    goto out;
  }

  /* The owner grants one interval (the chain's second minute), any 2 of 3 proxies. */
  uint8_t grant_id[CPCHAIN_SHARE_GRANT_ID_LEN];
  rc = cpchain_share_owner_grant(owner, now, FRESH_SEED(), 32, interval, interval, buyer_pk, sizeof buyer_pk, 2,
                                 &proxy_addr[0][0], N_PROXIES, expires, grant_id, sizeof grant_id);
  if (rc != CPCHAIN_RESULT_OK) {
    report("grant", rc);
    goto out;
  }
  size_t len = 0;
  cpchain_share_output_kind kind;
  cpchain_share_output_info info;
  unsigned accepted = 0;
  while ((rc = cpchain_share_owner_poll(owner, msg, sizeof msg, &len, &kind, &info)) == CPCHAIN_RESULT_OK) {
    if (kind == CPCHAIN_SHARE_OUTPUT_KIND_PUBLISH_GRANT) {
      /* On chain in real life; the buyer reads it from there. */
      uint8_t id[CPCHAIN_SHARE_GRANT_ID_LEN];
      if ((rc = cpchain_share_grantee_accept_grant(buyer, now, msg, len, id, sizeof id)) != CPCHAIN_RESULT_OK) {
        report("accept grant", rc);
        goto out;
      }
      printf("host: grant record published (%zu bytes), buyer accepted it\n", len);
    } else if (kind == CPCHAIN_SHARE_OUTPUT_KIND_SEND_KFRAGS) {
      for (int i = 0; i < N_PROXIES; i++) {
        if (memcmp(info.peer, proxy_addr[i], 20) != 0) continue;
        size_t rlen = 0;
        cpchain_share_output_kind rkind;
        cpchain_share_output_info rinfo;
        if (cpchain_share_proxy_handle_delivery(proxy[i], now, msg, len) == CPCHAIN_RESULT_OK &&
            cpchain_share_proxy_poll(proxy[i], reply, sizeof reply, &rlen, &rkind, &rinfo) ==
                CPCHAIN_RESULT_OK &&
            rkind == CPCHAIN_SHARE_OUTPUT_KIND_ACCEPTED)
          accepted++;
      }
    }
  }
  printf("host: %u of %d proxies verified and hold their kfrags\n", accepted, N_PROXIES);
  if (rc != CPCHAIN_RESULT_NO_OUTPUT || accepted != N_PROXIES) goto out;

  /* The interval's capsule (the key-index record carries it), asked for by the buyer. */
  size_t wlen = 0;
  rc = cpchain_share_owner_wrap_interval_key(owner, FRESH_SEED(), 32, interval, wrapped, sizeof wrapped,
                                             &wlen);
  if (rc == CPCHAIN_RESULT_OK)
    rc = cpchain_share_grantee_request(buyer, now, grant_id, sizeof grant_id, interval, wrapped, wlen);
  if (rc != CPCHAIN_RESULT_OK) {
    report("request", rc);
    goto out;
  }
  unsigned cfrags = 0, ready = 0;
  while (cpchain_share_grantee_poll(buyer, msg, sizeof msg, &len, &kind, &info) == CPCHAIN_RESULT_OK) {
    if (kind == CPCHAIN_SHARE_OUTPUT_KIND_READY) ready++;
    if (kind != CPCHAIN_SHARE_OUTPUT_KIND_SEND_REQUEST) continue;
    for (int i = 0; i < N_PROXIES; i++) {
      if (memcmp(info.peer, proxy_addr[i], 20) != 0) continue;
      size_t rlen = 0;
      cpchain_share_output_kind rkind;
      cpchain_share_output_info rinfo;
      if (cpchain_share_proxy_handle_request(proxy[i], now, FRESH_SEED(), 32, msg, len) == CPCHAIN_RESULT_OK &&
          cpchain_share_proxy_poll(proxy[i], reply, sizeof reply, &rlen, &rkind, &rinfo) == CPCHAIN_RESULT_OK &&
          rkind == CPCHAIN_SHARE_OUTPUT_KIND_REPLY &&
          cpchain_share_grantee_handle_cfrag(buyer, now, reply, rlen) == CPCHAIN_RESULT_OK)
        cfrags++;
    }
  }
  /* Anything left (the READY, if the last request's answer brought it). */
  while (cpchain_share_grantee_poll(buyer, msg, sizeof msg, &len, &kind, &info) == CPCHAIN_RESULT_OK)
    if (kind == CPCHAIN_SHARE_OUTPUT_KIND_READY) ready++;
  uint8_t key[CPCHAIN_DATA_KEY_LEN];
  rc = cpchain_share_grantee_open(buyer, grant_id, sizeof grant_id, interval, key, sizeof key);
  printf("host: buyer got %u cfrags (2 needed), opened interval %llu: %s\n", cfrags,
         (unsigned long long)interval, rc == CPCHAIN_RESULT_OK ? "yes" : "no");
  if (rc != CPCHAIN_RESULT_OK || ready != 1) goto out;

  /* The key opens that interval's blocks and no other's. */
  static uint8_t plain[CPCHAIN_CHAIN_OUTPUT_MAX_LEN * 2];
  unsigned opened = 0, refused = 0;
  for (size_t i = 0; i < n_blocks; i++) {
    size_t plain_len = 0, count = 0;
    rc = cpchain_chain_open_block(block_index[i].ptr, block_index[i].len, key, sizeof key, plain,
                                  sizeof plain, &plain_len, &count);
    if (rc == CPCHAIN_RESULT_OK) opened++;
    else if (rc == CPCHAIN_RESULT_CHAIN_WRONG_INTERVAL_KEY) refused++;
    else {
      report("buyer open block", rc);
      goto out;
    }
  }
  printf("host: buyer decrypted the %u blocks of its interval; the %u others stay sealed\n", opened,
         refused);
  if (opened == 0 || refused == 0 || opened + refused != n_blocks) goto out;
  ok = 0;
out:
  memset(key, 0, sizeof key);
  cpchain_share_grantee_free(buyer);
  for (int i = 0; i < N_PROXIES; i++) cpchain_share_proxy_free(proxy[i]);
  cpchain_share_owner_free(owner);
  return ok;
#undef FRESH_SEED
}
#endif

int main(void) {
  /* The caller's randomness source (a TRNG driver on a board). */
  const struct entropy_source rng = {host_entropy, NULL};
  /* Provisioning: a device seed (from a hardware RNG in real life), the stream's id, and the
   * owner's master secret (from the owner's wallet). Fixed here so the identities are the
   * same on every run; the writer's session entropy is not (see below). */
  uint8_t seed[CPCHAIN_SEED_LEN], stream[CPCHAIN_STREAM_ID_LEN], master[CPCHAIN_MASTER_SECRET_LEN];
  memset(seed, 0x5e, sizeof seed);
  memset(stream, 0x57, sizeof stream);
  memset(master, 0x3a, sizeof master);
  printf("c-gateway: T=%llus e=%llus u=%llus, one reading every %llu ms for %llu s\n",
         (unsigned long long)SCHEDULE.period_ms / 1000, (unsigned long long)SCHEDULE.encryption_interval_ms / 1000,
         (unsigned long long)SCHEDULE.upload_interval_ms / 1000, (unsigned long long)SAMPLE_MS,
         (unsigned long long)RUN_MS / 1000);

  HEAP_COUNT_BEGIN();
  cpchain_secret_key *device = NULL;
  cpchain_result rc = cpchain_secret_key_from_seed_in(&key_storage, seed, sizeof seed, &device);
  if (rc != CPCHAIN_RESULT_OK) {
    report("device key", rc);
    return 1;
  }
  /* Fresh at every start: it salts this writer session's nonces. Never stored or reused. */
  uint8_t session[CPCHAIN_SESSION_ENTROPY_LEN];
  if (rng.fill(rng.ctx, session, sizeof session) != 0) {
    fprintf(stderr, "gateway: no entropy\n");
    return 1;
  }
  cpchain_chain_writer *writer = NULL;
  rc = cpchain_chain_writer_new_in(&writer_storage, stream, sizeof stream, &SCHEDULE, device, master,
                                   sizeof master, NULL, session, sizeof session, &writer);
  memset(session, 0, sizeof session);
  if (rc != CPCHAIN_RESULT_OK) {
    report("writer", rc);
    return 1;
  }

  /* The main loop: the next event is a sensor sample or the writer's deadline. */
  uint64_t next_sample = START_MS, end = START_MS + RUN_MS;
  unsigned long samples = 0;
  char reading[16];
  for (;;) {
    bool has_deadline = false;
    uint64_t deadline = 0;
    rc = cpchain_chain_writer_next_deadline(writer, &has_deadline, &deadline);
    if (rc != CPCHAIN_RESULT_OK) {
      report("next_deadline", rc);
      return 1;
    }
    if (has_deadline && deadline <= next_sample) {
      rc = cpchain_chain_writer_handle_timeout(writer, deadline);
    } else if (next_sample < end) {
      size_t n = read_sensor(next_sample, reading, sizeof reading);
      rc = cpchain_chain_writer_append(writer, next_sample, (const uint8_t *)reading, n);
      next_sample += SAMPLE_MS;
      samples++;
    } else if (has_deadline) {
      rc = cpchain_chain_writer_handle_timeout(writer, deadline); /* run out the clock */
    } else {
      break;
    }
    if (rc != CPCHAIN_RESULT_OK) {
      report("writer input", rc);
      return 1;
    }
    if (drain(writer) != 0) return 1;
  }
  cpchain_chain_writer_stats stats;
  cpchain_chain_writer_get_stats(writer, &stats);
  uint8_t device_pk[CPCHAIN_PUBLIC_KEY_COMPRESSED_LEN];
  cpchain_secret_key_public_key(device, device_pk, sizeof device_pk);
  cpchain_chain_writer_free(writer); /* wipes the writer storage */
  cpchain_secret_key_free(device);   /* wipes the key storage */
  HEAP_COUNT_END();

  printf("gateway: %lu readings -> %llu blocks (%zu bytes in flash), %llu anchors queued\n", samples,
         (unsigned long long)stats.blocks, flash_used, (unsigned long long)stats.anchors);
#ifdef GATEWAY_COUNT_HEAP
  printf("gateway: heap allocations during the writer phase: %lu\n", heap_calls);
  if (heap_calls != 0) return 1;
#endif

  /* ---- The owner's host: verify the chain against its anchors, open the first block. ---- */
  cpchain_chain_summary summary;
  HEAP_COUNT_BEGIN(); /* the reader does allocate: this proves the counter sees the library */
  rc = cpchain_chain_verify(stream, sizeof stream, device_pk, sizeof device_pk, &SCHEDULE, NULL,
                            anchor_queue, n_anchors, block_index, n_blocks, master, sizeof master,
                            &summary);
  HEAP_COUNT_END();
#ifdef GATEWAY_COUNT_HEAP
  printf("host: heap allocations inside cpchain_chain_verify (counter check): %lu\n", heap_calls);
  if (heap_calls == 0) return 1;
#endif
  if (rc != CPCHAIN_RESULT_OK) {
    report("verify", rc);
    return 1;
  }
  printf("host: chain verified: %llu blocks, anchored through block %llu, %llu keyed\n",
         (unsigned long long)summary.checkpoint.next_index,
         (unsigned long long)summary.anchored_index, (unsigned long long)summary.keyed_blocks);

  cpchain_chain_block_info info;
  rc = cpchain_chain_block_get_info(block_index[0].ptr, block_index[0].len, &info);
  if (rc != CPCHAIN_RESULT_OK) {
    report("block info", rc);
    return 1;
  }
  uint8_t key[CPCHAIN_DATA_KEY_LEN];
  static uint8_t plain[CPCHAIN_CHAIN_OUTPUT_MAX_LEN * 2];
  size_t plain_len = 0, count = 0;
  rc = cpchain_chain_data_key(master, sizeof master, stream, sizeof stream, info.interval, key,
                              sizeof key);
  if (rc == CPCHAIN_RESULT_OK)
    rc = cpchain_chain_open_block(block_index[0].ptr, block_index[0].len, key, sizeof key, plain,
                                  sizeof plain, &plain_len, &count);
  if (rc != CPCHAIN_RESULT_OK) {
    report("open block 0", rc);
    return 1;
  }
  size_t off = 0;
  uint64_t t;
  const uint8_t *data;
  size_t dlen;
  if (cpchain_records_next(plain, plain_len, &off, &t, &data, &dlen) != CPCHAIN_RESULT_OK) return 1;
  printf("host: block 0 (interval %llu) holds %zu readings, first at +%llu ms: %.*s\n",
         (unsigned long long)info.interval, count, (unsigned long long)(t - START_MS), (int)dlen,
         (const char *)data);
  /* Nothing expected to be lost: every sample is in some block. */
  if (stats.records != samples || summary.checkpoint.next_index != n_blocks ||
      summary.anchored_index + 1 != n_blocks)
    return 1;
#if defined(CPCHAIN_PRE)
  if (share_grant(&rng, stream, master, info.interval + 1) != 0) return 1;
#endif
  printf("c-gateway: ok\n");
  return 0;
}
