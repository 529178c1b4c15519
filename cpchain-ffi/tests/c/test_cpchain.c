/* C tests of the cpchain-ffi API: known answers, round trips, and every error path with
 * bad input (NULLs, truncated buffers, garbage bytes), which must come back as error codes.
 * Run under AddressSanitizer and under valgrind by cpchain-ffi/tests/run-c-tests.sh.
 * Closes with the line "N passed, N failed"; exits non-zero on any failure. */
#define _POSIX_C_SOURCE 200809L
#include "cpchain.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static void hex_to_bytes(const char *hex, uint8_t *out, size_t len) {
  for (size_t i = 0; i < len; i++) {
    unsigned v = 0;
    sscanf(hex + 2 * i, "%2x", &v);
    out[i] = (uint8_t)v;
  }
}

/* A small deterministic generator for garbage input (xorshift64). */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint8_t next_byte(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint8_t)(rng_state >> 24);
}
static void fill_garbage(uint8_t *buf, size_t len) {
  for (size_t i = 0; i < len; i++) buf[i] = next_byte();
}

static const char *DOMAIN = "cpchain/ffi-test/reading/v1";

/* secp256k1 group order n, big-endian. */
static const char *ORDER_HEX =
    "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";

/* out = n - s (32-byte big-endian), to build the high-s twin of a low-s signature. */
static void order_minus(const uint8_t s[32], uint8_t out[32]) {
  uint8_t n[32];
  hex_to_bytes(ORDER_HEX, n, 32);
  int borrow = 0;
  for (int i = 31; i >= 0; i--) {
    int d = (int)n[i] - (int)s[i] - borrow;
    borrow = d < 0;
    out[i] = (uint8_t)(d + (borrow ? 256 : 0));
  }
}

static void test_version_and_messages(void) {
  const char *v = cpchain_version();
  CHECK(v != NULL && strncmp(v, "cpchain-ffi/", 12) == 0);

  char buf[CPCHAIN_RESULT_MESSAGE_MAX];
  size_t n = 0;
  CHECK_RC(cpchain_result_message(CPCHAIN_RESULT_OK, buf, sizeof buf, &n), CPCHAIN_RESULT_OK);
  CHECK(n == strlen(buf) && strcmp(buf, "success") == 0);

  /* Every known code has its own text; unknown numbers (errno values, garbage) get a
   * generic text, not an error. */
  const uint32_t codes[] = {7001, 7002, 7003, 7004, 7005, 7006, 7007, 7099, 7101, 7104,
                            7109, 7201, 7204, 7301, 7307, 7401};
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    CHECK_RC(cpchain_result_message(codes[i], buf, sizeof buf, &n), CPCHAIN_RESULT_OK);
    CHECK(n > 0 && n == strlen(buf) && strstr(buf, "unknown") == NULL);
  }
  const uint32_t unknown[] = {1, 22, 7000, 7100, 65535, 0xffffffffu};
  for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
    CHECK_RC(cpchain_result_message(unknown[i], buf, sizeof buf, &n), CPCHAIN_RESULT_OK);
    CHECK(strstr(buf, "unknown") != NULL);
  }

  /* Size query, too-small buffer (untouched), NULL out_len. */
  CHECK_RC(cpchain_result_message(CPCHAIN_RESULT_OK, NULL, 0, &n),
           CPCHAIN_RESULT_INSUFFICIENT_SIZE);
  CHECK(n == strlen("success") + 1);
  char small[4] = {'x', 'x', 'x', 'x'};
  CHECK_RC(cpchain_result_message(CPCHAIN_RESULT_OK, small, sizeof small, &n),
           CPCHAIN_RESULT_INSUFFICIENT_SIZE);
  CHECK(n == 8 && memcmp(small, "xxxx", 4) == 0);
  char exact[8];
  CHECK_RC(cpchain_result_message(CPCHAIN_RESULT_OK, exact, sizeof exact, &n), CPCHAIN_RESULT_OK);
  CHECK(n == 7 && strcmp(exact, "success") == 0);
  CHECK_RC(cpchain_result_message(CPCHAIN_RESULT_OK, buf, sizeof buf, NULL),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_result_message(CPCHAIN_RESULT_OK, NULL, 10, &n), CPCHAIN_RESULT_NULL_PARAMETER);
}

static void test_keccak(void) {
  uint8_t out[CPCHAIN_HASH_LEN], want[CPCHAIN_HASH_LEN];
  CHECK_RC(cpchain_keccak256(NULL, 0, out, sizeof out), CPCHAIN_RESULT_OK);
  hex_to_bytes("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470", want, 32);
  CHECK(memcmp(out, want, 32) == 0);
  CHECK_RC(cpchain_keccak256((const uint8_t *)"abc", 3, out, sizeof out), CPCHAIN_RESULT_OK);
  hex_to_bytes("4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45", want, 32);
  CHECK(memcmp(out, want, 32) == 0);

  /* In place: out may alias the input. */
  uint8_t chain[32], expect[32];
  memcpy(chain, want, 32);
  CHECK_RC(cpchain_keccak256(want, 32, expect, 32), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_keccak256(chain, 32, chain, 32), CPCHAIN_RESULT_OK);
  CHECK(memcmp(chain, expect, 32) == 0);

  /* Bad input. */
  CHECK_RC(cpchain_keccak256(NULL, 5, out, sizeof out), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_keccak256((const uint8_t *)"abc", 3, NULL, 32), CPCHAIN_RESULT_NULL_PARAMETER);
  uint8_t short_out[31];
  memset(short_out, 0xee, sizeof short_out);
  CHECK_RC(cpchain_keccak256((const uint8_t *)"abc", 3, short_out, sizeof short_out),
           CPCHAIN_RESULT_INSUFFICIENT_SIZE);
  CHECK(short_out[0] == 0xee && short_out[30] == 0xee);
  CHECK_RC(cpchain_keccak256((const uint8_t *)"abc", 3, NULL, 0), CPCHAIN_RESULT_INSUFFICIENT_SIZE);
  CHECK_RC(cpchain_keccak256((const uint8_t *)"abc", SIZE_MAX, out, 32),
           CPCHAIN_RESULT_INVALID_PARAMETER);
}

static void test_secret_keys(void) {
  uint8_t one[32] = {0};
  one[31] = 1;
  cpchain_secret_key *sk = NULL;
  CHECK_RC(cpchain_secret_key_from_bytes(one, sizeof one, &sk), CPCHAIN_RESULT_OK);
  CHECK(sk != NULL);

  /* Known answer: secret key 1 is the generator G, address 0x7E5F...5Bdf. */
  uint8_t pk[CPCHAIN_PUBLIC_KEY_COMPRESSED_LEN], want_pk[33];
  CHECK_RC(cpchain_secret_key_public_key(sk, pk, sizeof pk), CPCHAIN_RESULT_OK);
  hex_to_bytes("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798", want_pk, 33);
  CHECK(memcmp(pk, want_pk, 33) == 0);
  uint8_t addr[CPCHAIN_ADDRESS_LEN];
  CHECK_RC(cpchain_secret_key_address(sk, addr, sizeof addr), CPCHAIN_RESULT_OK);
  char text[CPCHAIN_ADDRESS_TEXT_LEN + 1];
  size_t n = 0;
  CHECK_RC(cpchain_address_to_checksum(addr, sizeof addr, text, sizeof text, &n), CPCHAIN_RESULT_OK);
  CHECK(n == 42 && strcmp(text, "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf") == 0);

  uint8_t exported[32];
  CHECK_RC(cpchain_secret_key_to_bytes(sk, exported, sizeof exported), CPCHAIN_RESULT_OK);
  CHECK(memcmp(exported, one, 32) == 0);
  CHECK_RC(cpchain_secret_key_to_bytes(sk, exported, 31), CPCHAIN_RESULT_INSUFFICIENT_SIZE);
  CHECK_RC(cpchain_secret_key_public_key(sk, pk, 32), CPCHAIN_RESULT_INSUFFICIENT_SIZE);
  CHECK_RC(cpchain_secret_key_address(sk, addr, 19), CPCHAIN_RESULT_INSUFFICIENT_SIZE);
  cpchain_secret_key_free(sk);

  /* Invalid scalars: zero, the order n, all 0xff. *out comes back NULL. */
  uint8_t zero[32] = {0}, order[32], ff[32];
  hex_to_bytes(ORDER_HEX, order, 32);
  memset(ff, 0xff, sizeof ff);
  const uint8_t *bad[] = {zero, order, ff};
  for (size_t i = 0; i < 3; i++) {
    sk = (cpchain_secret_key *)(uintptr_t)1; /* must be overwritten with NULL */
    CHECK_RC(cpchain_secret_key_from_bytes(bad[i], 32, &sk), CPCHAIN_RESULT_INVALID_SECRET_KEY);
    CHECK(sk == NULL);
  }
  /* Truncated and NULL input, NULL out. */
  sk = NULL;
  CHECK_RC(cpchain_secret_key_from_bytes(one, 31, &sk), CPCHAIN_RESULT_INVALID_LENGTH);
  CHECK(sk == NULL);
  CHECK_RC(cpchain_secret_key_from_bytes(one, 33, &sk), CPCHAIN_RESULT_INVALID_LENGTH);
  CHECK_RC(cpchain_secret_key_from_bytes(NULL, 32, &sk), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_secret_key_from_bytes(NULL, 0, &sk), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_secret_key_from_bytes(one, 32, NULL), CPCHAIN_RESULT_NULL_PARAMETER);

  /* NULL handles. */
  CHECK_RC(cpchain_secret_key_public_key(NULL, pk, sizeof pk), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_secret_key_address(NULL, addr, sizeof addr), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_secret_key_to_bytes(NULL, exported, 32), CPCHAIN_RESULT_NULL_PARAMETER);
  cpchain_secret_key_free(NULL);

  /* Seeds: deterministic, distinct seeds give distinct keys, wrong length refused. */
  uint8_t seed[CPCHAIN_SEED_LEN];
  memset(seed, 7, sizeof seed);
  cpchain_secret_key *a = NULL, *b = NULL, *c = NULL;
  CHECK_RC(cpchain_secret_key_from_seed(seed, sizeof seed, &a), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_secret_key_from_seed(seed, sizeof seed, &b), CPCHAIN_RESULT_OK);
  seed[0] ^= 1;
  CHECK_RC(cpchain_secret_key_from_seed(seed, sizeof seed, &c), CPCHAIN_RESULT_OK);
  uint8_t aa[20], ba[20], ca[20];
  CHECK_RC(cpchain_secret_key_address(a, aa, 20), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_secret_key_address(b, ba, 20), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_secret_key_address(c, ca, 20), CPCHAIN_RESULT_OK);
  CHECK(memcmp(aa, ba, 20) == 0 && memcmp(aa, ca, 20) != 0);
  cpchain_secret_key_free(a);
  cpchain_secret_key_free(b);
  cpchain_secret_key_free(c);
  cpchain_secret_key *d = NULL;
  CHECK_RC(cpchain_secret_key_from_seed(seed, 16, &d), CPCHAIN_RESULT_INVALID_LENGTH);
  CHECK(d == NULL);
  CHECK_RC(cpchain_secret_key_from_seed(NULL, 32, &d), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_secret_key_from_seed(seed, 32, NULL), CPCHAIN_RESULT_NULL_PARAMETER);
}

/* Is every byte zero? Stops at the first non-zero byte (so it never reads the private
 * padding of a live handle, which valgrind would report as uninitialised). */
static int all_zero(const void *p, size_t len) {
  const uint8_t *buf = (const uint8_t *)p;
  for (size_t i = 0; i < len; i++) {
    if (buf[i] != 0) return 0;
  }
  return 1;
}

/* Keys in caller storage: no heap, same use and free, wiped in place by _free. */
static cpchain_secret_key_storage static_slot;

static void test_secret_key_in_caller_storage(void) {
  uint8_t scalar[32];
  memset(scalar, 0x11, sizeof scalar);
  cpchain_secret_key *key = NULL, *heap = NULL;
  CHECK_RC(cpchain_secret_key_from_bytes_in(&static_slot, scalar, 32, &key), CPCHAIN_RESULT_OK);
  CHECK((void *)key == (void *)&static_slot);
  CHECK_RC(cpchain_secret_key_from_bytes(scalar, 32, &heap), CPCHAIN_RESULT_OK);
  uint8_t a[20], b[20], digest[32] = {1}, sig[65], sig_heap[65];
  CHECK_RC(cpchain_secret_key_address(key, a, 20), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_secret_key_address(heap, b, 20), CPCHAIN_RESULT_OK);
  CHECK(memcmp(a, b, 20) == 0);
  CHECK_RC(cpchain_secret_key_sign_prehash(key, digest, 32, sig, 65), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_secret_key_sign_prehash(heap, digest, 32, sig_heap, 65), CPCHAIN_RESULT_OK);
  CHECK(memcmp(sig, sig_heap, 65) == 0);
  cpchain_secret_key_free(heap);

  /* The key lives in the storage until _free wipes the whole slot to zeros; the storage
   * is then the caller's again and can hold the next key. */
  CHECK(!all_zero(&static_slot, sizeof static_slot));
  cpchain_secret_key_free(key);
  CHECK(all_zero(&static_slot, sizeof static_slot));
  uint8_t seed[32] = {3};
  CHECK_RC(cpchain_secret_key_from_seed_in(&static_slot, seed, 32, &key), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_secret_key_address(key, a, 20), CPCHAIN_RESULT_OK);
  cpchain_secret_key_free(key);

  /* A stack slot works the same way. */
  cpchain_secret_key_storage stack_slot;
  CHECK_RC(cpchain_secret_key_from_seed_in(&stack_slot, seed, 32, &key), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_secret_key_address(key, b, 20), CPCHAIN_RESULT_OK);
  CHECK(memcmp(a, b, 20) == 0);
  cpchain_secret_key_free(key);

  /* Refusals leave *out NULL: NULL storage, misaligned storage, bad scalar, bad lengths. */
  uint8_t zero[32] = {0};
  key = (cpchain_secret_key *)(uintptr_t)1;
  CHECK_RC(cpchain_secret_key_from_bytes_in(NULL, scalar, 32, &key), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK(key == NULL);
  _Alignas(8) unsigned char raw[sizeof(cpchain_secret_key_storage) + 8];
  cpchain_secret_key_storage *misaligned = (cpchain_secret_key_storage *)(void *)(raw + 1);
  CHECK_RC(cpchain_secret_key_from_bytes_in(misaligned, scalar, 32, &key), CPCHAIN_RESULT_INVALID_PARAMETER);
  CHECK(key == NULL);
  CHECK_RC(cpchain_secret_key_from_bytes_in(&stack_slot, zero, 32, &key), CPCHAIN_RESULT_INVALID_SECRET_KEY);
  CHECK(key == NULL);
  CHECK_RC(cpchain_secret_key_from_bytes_in(&stack_slot, scalar, 31, &key), CPCHAIN_RESULT_INVALID_LENGTH);
  CHECK_RC(cpchain_secret_key_from_seed_in(&stack_slot, seed, 33, &key), CPCHAIN_RESULT_INVALID_LENGTH);
  CHECK_RC(cpchain_secret_key_from_seed_in(NULL, seed, 32, &key), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_secret_key_from_seed_in(&stack_slot, seed, 32, NULL), CPCHAIN_RESULT_NULL_PARAMETER);
}

static cpchain_secret_key *test_key(void) {
  uint8_t seed[32];
  memset(seed, 0x42, sizeof seed);
  cpchain_secret_key *sk = NULL;
  if (cpchain_secret_key_from_seed(seed, sizeof seed, &sk) != CPCHAIN_RESULT_OK) abort();
  return sk;
}

static void test_prehash_signatures(void) {
  cpchain_secret_key *sk = test_key();
  uint8_t digest[32], sig[CPCHAIN_SIGNATURE_LEN], sig2[65], addr[20], rec[20];
  uint8_t pk[33], rec_pk[33];
  CHECK_RC(cpchain_keccak256((const uint8_t *)"block header", 12, digest, 32), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_secret_key_sign_prehash(sk, digest, 32, sig, sizeof sig), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_secret_key_sign_prehash(sk, digest, 32, sig2, sizeof sig2), CPCHAIN_RESULT_OK);
  CHECK(memcmp(sig, sig2, 65) == 0); /* RFC 6979: deterministic */
  CHECK(sig[64] <= 1);
  CHECK_RC(cpchain_signature_validate(sig, 65), CPCHAIN_RESULT_OK);

  CHECK_RC(cpchain_secret_key_address(sk, addr, 20), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_secret_key_public_key(sk, pk, 33), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_signature_recover_address(sig, 65, digest, 32, rec, 20), CPCHAIN_RESULT_OK);
  CHECK(memcmp(addr, rec, 20) == 0);
  CHECK_RC(cpchain_signature_recover(sig, 65, digest, 32, rec_pk, 33), CPCHAIN_RESULT_OK);
  CHECK(memcmp(pk, rec_pk, 33) == 0);
  CHECK_RC(cpchain_public_key_verify(pk, 33, digest, 32, sig, 65), CPCHAIN_RESULT_OK);

  /* Another digest: verification fails, recovery names someone else. */
  uint8_t other[32];
  memcpy(other, digest, 32);
  other[0] ^= 1;
  CHECK_RC(cpchain_public_key_verify(pk, 33, other, 32, sig, 65), CPCHAIN_RESULT_BAD_SIGNATURE);
  cpchain_result r = cpchain_signature_recover_address(sig, 65, other, 32, rec, 20);
  CHECK(r == CPCHAIN_RESULT_RECOVERY_FAILED || (r == CPCHAIN_RESULT_OK && memcmp(addr, rec, 20) != 0));

  /* Malformed signatures: truncated, v > 1, high s, r = 0, s >= n, garbage. */
  CHECK_RC(cpchain_signature_validate(sig, 64), CPCHAIN_RESULT_INVALID_LENGTH);
  CHECK_RC(cpchain_signature_validate(sig, 66), CPCHAIN_RESULT_INVALID_LENGTH);
  CHECK_RC(cpchain_signature_validate(NULL, 65), CPCHAIN_RESULT_NULL_PARAMETER);
  uint8_t bad[65];
  memcpy(bad, sig, 65);
  bad[64] = 27; /* Ethereum's legacy v */
  CHECK_RC(cpchain_signature_validate(bad, 65), CPCHAIN_RESULT_INVALID_RECOVERY_ID);
  CHECK_RC(cpchain_public_key_verify(pk, 33, digest, 32, bad, 65), CPCHAIN_RESULT_INVALID_RECOVERY_ID);
  memcpy(bad, sig, 65);
  order_minus(sig + 32, bad + 32);
  bad[64] ^= 1;
  CHECK_RC(cpchain_signature_validate(bad, 65), CPCHAIN_RESULT_HIGH_S);
  CHECK_RC(cpchain_signature_recover_address(bad, 65, digest, 32, rec, 20), CPCHAIN_RESULT_HIGH_S);
  memcpy(bad, sig, 65);
  memset(bad, 0, 32);
  CHECK_RC(cpchain_signature_validate(bad, 65), CPCHAIN_RESULT_MALFORMED_SIGNATURE);
  memcpy(bad, sig, 65);
  hex_to_bytes(ORDER_HEX, bad + 32, 32);
  CHECK_RC(cpchain_signature_validate(bad, 65), CPCHAIN_RESULT_MALFORMED_SIGNATURE);

  /* r = 5 is not the x of any curve point: nothing recovers. */
  memcpy(bad, sig, 65);
  memset(bad, 0, 32);
  bad[31] = 5;
  CHECK_RC(cpchain_signature_validate(bad, 65), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_signature_recover(bad, 65, digest, 32, rec_pk, 33), CPCHAIN_RESULT_RECOVERY_FAILED);
  CHECK_RC(cpchain_signature_check_address(bad, 65, digest, 32, addr, 20), CPCHAIN_RESULT_RECOVERY_FAILED);

  /* Checking against an expected account. */
  CHECK_RC(cpchain_signature_check_address(sig, 65, digest, 32, addr, 20), CPCHAIN_RESULT_OK);
  uint8_t someone_else[20];
  memcpy(someone_else, addr, 20);
  someone_else[19] ^= 1;
  CHECK_RC(cpchain_signature_check_address(sig, 65, digest, 32, someone_else, 20),
           CPCHAIN_RESULT_WRONG_SIGNER);
  CHECK_RC(cpchain_signature_check_address(sig, 65, digest, 32, addr, 19), CPCHAIN_RESULT_INVALID_LENGTH);
  CHECK_RC(cpchain_signature_check_address(sig, 65, digest, 32, NULL, 20), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_signature_check_address(sig, 65, NULL, 32, addr, 20), CPCHAIN_RESULT_NULL_PARAMETER);

  /* Wrong-length digests and keys, NULLs, small outputs. */
  CHECK_RC(cpchain_secret_key_sign_prehash(sk, digest, 31, sig2, 65), CPCHAIN_RESULT_INVALID_LENGTH);
  CHECK_RC(cpchain_secret_key_sign_prehash(sk, NULL, 32, sig2, 65), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_secret_key_sign_prehash(sk, digest, 32, sig2, 64), CPCHAIN_RESULT_INSUFFICIENT_SIZE);
  CHECK_RC(cpchain_secret_key_sign_prehash(NULL, digest, 32, sig2, 65), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_signature_recover(sig, 65, digest, 33, rec_pk, 33), CPCHAIN_RESULT_INVALID_LENGTH);
  CHECK_RC(cpchain_signature_recover(sig, 65, digest, 32, rec_pk, 32), CPCHAIN_RESULT_INSUFFICIENT_SIZE);
  CHECK_RC(cpchain_signature_recover(sig, 65, digest, 32, NULL, 33), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_public_key_verify(pk, 32, digest, 32, sig, 65), CPCHAIN_RESULT_INVALID_LENGTH);
  CHECK_RC(cpchain_public_key_verify(NULL, 33, digest, 32, sig, 65), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_public_key_verify(pk, 33, NULL, 32, sig, 65), CPCHAIN_RESULT_NULL_PARAMETER);

  /* Garbage signatures never verify and never crash. */
  for (int i = 0; i < 64; i++) {
    uint8_t g[65];
    fill_garbage(g, sizeof g);
    g[64] &= 1;
    cpchain_result gr = cpchain_public_key_verify(pk, 33, digest, 32, g, 65);
    CHECK(gr != CPCHAIN_RESULT_OK);
  }
  cpchain_secret_key_free(sk);
}

static void test_domain_signatures(void) {
  cpchain_secret_key *sk = test_key();
  const uint8_t payload[] = "chain 337, stream 9, block 12";
  size_t dlen = strlen(DOMAIN);
  uint8_t sig[65], addr[20], rec[20], pk[33], digest[32], sig_pre[65];
  CHECK_RC(cpchain_secret_key_sign(sk, DOMAIN, dlen, payload, sizeof payload, sig, 65),
           CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_secret_key_address(sk, addr, 20), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_secret_key_public_key(sk, pk, 33), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_signature_recover_signer(sig, 65, DOMAIN, dlen, payload, sizeof payload, rec, 20),
           CPCHAIN_RESULT_OK);
  CHECK(memcmp(addr, rec, 20) == 0);
  CHECK_RC(cpchain_public_key_verify_payload(pk, 33, DOMAIN, dlen, payload, sizeof payload, sig, 65),
           CPCHAIN_RESULT_OK);

  /* The signed digest is cpchain_signing_digest: a hardware signer can sign it directly. */
  CHECK_RC(cpchain_signing_digest(DOMAIN, dlen, payload, sizeof payload, digest, 32),
           CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_secret_key_sign_prehash(sk, digest, 32, sig_pre, 65), CPCHAIN_RESULT_OK);
  CHECK(memcmp(sig, sig_pre, 65) == 0);

  /* Domain separation: the same payload under another domain does not verify. */
  const char *other = "cpchain/ffi-test/other/v1";
  CHECK_RC(cpchain_public_key_verify_payload(pk, 33, other, strlen(other), payload, sizeof payload,
                                             sig, 65),
           CPCHAIN_RESULT_BAD_SIGNATURE);
  cpchain_result r = cpchain_signature_recover_signer(sig, 65, other, strlen(other), payload,
                                                      sizeof payload, rec, 20);
  CHECK(r != CPCHAIN_RESULT_OK || memcmp(addr, rec, 20) != 0);
  /* Nor a changed payload. */
  CHECK_RC(cpchain_public_key_verify_payload(pk, 33, DOMAIN, dlen, payload, sizeof payload - 1,
                                             sig, 65),
           CPCHAIN_RESULT_BAD_SIGNATURE);

  /* One call: was it this device? */
  CHECK_RC(cpchain_signature_check_signer(sig, 65, DOMAIN, dlen, payload, sizeof payload, addr, 20),
           CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_signature_check_signer(sig, 65, other, strlen(other), payload, sizeof payload,
                                          addr, 20),
           CPCHAIN_RESULT_WRONG_SIGNER);
  CHECK_RC(cpchain_signature_check_signer(sig, 65, DOMAIN, dlen, payload, 1, addr, 20),
           CPCHAIN_RESULT_WRONG_SIGNER);
  CHECK_RC(cpchain_signature_check_signer(sig, 65, DOMAIN, 0, payload, 1, addr, 20),
           CPCHAIN_RESULT_INVALID_DOMAIN);
  CHECK_RC(cpchain_signature_check_signer(sig, 65, DOMAIN, dlen, payload, 1, addr, 21),
           CPCHAIN_RESULT_INVALID_LENGTH);
  CHECK_RC(cpchain_signature_check_signer(NULL, 65, DOMAIN, dlen, payload, 1, addr, 20),
           CPCHAIN_RESULT_NULL_PARAMETER);

  /* Empty payloads are fine (NULL with length 0). */
  CHECK_RC(cpchain_secret_key_sign(sk, DOMAIN, dlen, NULL, 0, sig, 65), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_public_key_verify_payload(pk, 33, DOMAIN, dlen, NULL, 0, sig, 65), CPCHAIN_RESULT_OK);

  /* Bad domains: empty, too long, not UTF-8, NULL. */
  char long_domain[CPCHAIN_DOMAIN_MAX_LEN + 1];
  memset(long_domain, 'a', sizeof long_domain);
  const char not_utf8[] = {'c', 'p', (char)0xff, (char)0xfe};
  CHECK_RC(cpchain_secret_key_sign(sk, DOMAIN, 0, payload, 3, sig, 65), CPCHAIN_RESULT_INVALID_DOMAIN);
  CHECK_RC(cpchain_secret_key_sign(sk, long_domain, sizeof long_domain, payload, 3, sig, 65),
           CPCHAIN_RESULT_INVALID_DOMAIN);
  CHECK_RC(cpchain_secret_key_sign(sk, long_domain, CPCHAIN_DOMAIN_MAX_LEN, payload, 3, sig, 65),
           CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_secret_key_sign(sk, not_utf8, sizeof not_utf8, payload, 3, sig, 65),
           CPCHAIN_RESULT_INVALID_UTF8);
  CHECK_RC(cpchain_secret_key_sign(sk, NULL, 0, payload, 3, sig, 65), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_secret_key_sign(sk, DOMAIN, dlen, NULL, 3, sig, 65), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_signing_digest(not_utf8, sizeof not_utf8, payload, 3, digest, 32),
           CPCHAIN_RESULT_INVALID_UTF8);
  CHECK_RC(cpchain_signing_digest(DOMAIN, dlen, payload, 3, digest, 16),
           CPCHAIN_RESULT_INSUFFICIENT_SIZE);
  CHECK_RC(cpchain_signature_recover_signer(sig, 65, NULL, 4, payload, 3, rec, 20),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_public_key_verify_payload(pk, 33, DOMAIN, dlen, payload, 3, sig, 1),
           CPCHAIN_RESULT_INVALID_LENGTH);
  cpchain_secret_key_free(sk);
}

/* Issue 12 item 4: one accepted byte form per signature. The same (r, s) with v flipped
 * (0 <-> 1) is a valid ECDSA pair, so plain verification accepted it; every C entry point
 * that checks a signature against a key or an address must refuse it. */
static void test_v_flipped_signatures_are_refused(void) {
  cpchain_secret_key *sk = test_key();
  const uint8_t payload[] = "v must recover the key";
  size_t dlen = strlen(DOMAIN);
  uint8_t digest[32], sig[65], psig[65], pk[33], pk65[65], addr[20], rec[20];
  CHECK_RC(cpchain_keccak256(payload, sizeof payload, digest, 32), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_secret_key_sign_prehash(sk, digest, 32, sig, 65), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_secret_key_sign(sk, DOMAIN, dlen, payload, sizeof payload, psig, 65),
           CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_secret_key_public_key(sk, pk, 33), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_public_key_uncompress(pk, 33, pk65, 65), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_secret_key_address(sk, addr, 20), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_public_key_verify(pk, 33, digest, 32, sig, 65), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_public_key_verify_payload(pk, 33, DOMAIN, dlen, payload, sizeof payload, psig, 65),
           CPCHAIN_RESULT_OK);
  sig[64] ^= 1;
  psig[64] ^= 1;
  /* Still well-formed bytes: the refusal is the verification's, not the parser's. */
  CHECK_RC(cpchain_signature_validate(sig, 65), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_public_key_verify(pk, 33, digest, 32, sig, 65), CPCHAIN_RESULT_BAD_SIGNATURE);
  CHECK_RC(cpchain_public_key_verify(pk65, 65, digest, 32, sig, 65), CPCHAIN_RESULT_BAD_SIGNATURE);
  CHECK_RC(cpchain_public_key_verify_payload(pk, 33, DOMAIN, dlen, payload, sizeof payload, psig, 65),
           CPCHAIN_RESULT_BAD_SIGNATURE);
  cpchain_result r = cpchain_signature_check_address(sig, 65, digest, 32, addr, 20);
  CHECK(r == CPCHAIN_RESULT_WRONG_SIGNER || r == CPCHAIN_RESULT_RECOVERY_FAILED);
  r = cpchain_signature_check_signer(psig, 65, DOMAIN, dlen, payload, sizeof payload, addr, 20);
  CHECK(r == CPCHAIN_RESULT_WRONG_SIGNER || r == CPCHAIN_RESULT_RECOVERY_FAILED);
  r = cpchain_signature_recover_address(sig, 65, digest, 32, rec, 20);
  CHECK(r == CPCHAIN_RESULT_RECOVERY_FAILED || (r == CPCHAIN_RESULT_OK && memcmp(addr, rec, 20) != 0));
  cpchain_secret_key_free(sk);
}

static void test_public_keys(void) {
  cpchain_secret_key *sk = test_key();
  uint8_t pk[33], full[65], back[33], a1[20], a2[20], a3[20];
  CHECK_RC(cpchain_secret_key_public_key(sk, pk, 33), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_public_key_uncompress(pk, 33, full, 65), CPCHAIN_RESULT_OK);
  CHECK(full[0] == 0x04);
  CHECK_RC(cpchain_public_key_compress(full, 65, back, 33), CPCHAIN_RESULT_OK);
  CHECK(memcmp(pk, back, 33) == 0);
  CHECK_RC(cpchain_public_key_address(pk, 33, a1, 20), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_public_key_address(full, 65, a2, 20), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_secret_key_address(sk, a3, 20), CPCHAIN_RESULT_OK);
  CHECK(memcmp(a1, a2, 20) == 0 && memcmp(a1, a3, 20) == 0);

  /* Not points: a bad prefix, x off the curve, all zero; wrong lengths; NULL. */
  uint8_t bad[65];
  memcpy(bad, pk, 33);
  bad[0] = 0x05; /* SEC1 "compact": a second encoding of the same key, refused */
  CHECK_RC(cpchain_public_key_compress(bad, 33, back, 33), CPCHAIN_RESULT_INVALID_PUBLIC_KEY);
  bad[0] = 0x04; /* uncompressed tag on 33 bytes */
  CHECK_RC(cpchain_public_key_compress(bad, 33, back, 33), CPCHAIN_RESULT_INVALID_PUBLIC_KEY);
  memcpy(bad, full, 65);
  bad[0] = 0x06; /* SEC1 "hybrid" */
  CHECK_RC(cpchain_public_key_compress(bad, 65, back, 33), CPCHAIN_RESULT_INVALID_PUBLIC_KEY);
  bad[0] = 0x02;
  CHECK_RC(cpchain_public_key_address(bad, 65, a1, 20), CPCHAIN_RESULT_INVALID_PUBLIC_KEY);
  memset(bad, 0xff, sizeof bad);
  bad[0] = 0x02;
  CHECK_RC(cpchain_public_key_compress(bad, 33, back, 33), CPCHAIN_RESULT_INVALID_PUBLIC_KEY);
  memset(bad, 0, sizeof bad);
  CHECK_RC(cpchain_public_key_address(bad, 65, a1, 20), CPCHAIN_RESULT_INVALID_PUBLIC_KEY);
  memcpy(bad, full, 65);
  bad[64] ^= 1; /* y no longer matches x */
  CHECK_RC(cpchain_public_key_compress(bad, 65, back, 33), CPCHAIN_RESULT_INVALID_PUBLIC_KEY);
  CHECK_RC(cpchain_public_key_compress(pk, 32, back, 33), CPCHAIN_RESULT_INVALID_LENGTH);
  CHECK_RC(cpchain_public_key_compress(pk, 64, back, 33), CPCHAIN_RESULT_INVALID_LENGTH);
  CHECK_RC(cpchain_public_key_compress(pk, 0, back, 33), CPCHAIN_RESULT_INVALID_LENGTH);
  CHECK_RC(cpchain_public_key_compress(NULL, 33, back, 33), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_public_key_uncompress(pk, 33, full, 64), CPCHAIN_RESULT_INSUFFICIENT_SIZE);
  CHECK_RC(cpchain_public_key_address(pk, 33, NULL, 20), CPCHAIN_RESULT_NULL_PARAMETER);

  /* Garbage keys come back as errors (or, rarely, as a valid point), never as a crash. */
  for (int i = 0; i < 64; i++) {
    uint8_t g[65];
    fill_garbage(g, sizeof g);
    size_t len = (i % 2) ? 33 : 65;
    g[0] = (uint8_t)((i % 2) ? (2 + (g[1] & 1)) : 4);
    cpchain_result r = cpchain_public_key_address(g, len, a1, 20);
    CHECK(r == CPCHAIN_RESULT_OK || r == CPCHAIN_RESULT_INVALID_PUBLIC_KEY);
  }
  cpchain_secret_key_free(sk);
}

static void test_addresses(void) {
  static const char *eip55[] = {
      "0x52908400098527886E0F7030069857D2E4169EE7", "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
      "0xde709f2102306220921060314715629080e2fb77", "0x27b1fdb04752bbc536007a920d24acb045561c26",
      "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
      "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
  };
  for (size_t i = 0; i < sizeof eip55 / sizeof eip55[0]; i++) {
    uint8_t addr[20];
    char text[43];
    size_t n = 0;
    CHECK_RC(cpchain_address_parse(eip55[i], strlen(eip55[i]), addr, 20), CPCHAIN_RESULT_OK);
    CHECK_RC(cpchain_address_to_checksum(addr, 20, text, sizeof text, &n), CPCHAIN_RESULT_OK);
    CHECK(n == 42 && strcmp(text, eip55[i]) == 0);
  }
  uint8_t addr[20];
  const char *lower = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed";
  CHECK_RC(cpchain_address_parse(lower, strlen(lower), addr, 20), CPCHAIN_RESULT_OK);
  /* Not NUL-terminated input: only text_len bytes are read. */
  char unterminated[42];
  memcpy(unterminated, lower, 42);
  CHECK_RC(cpchain_address_parse(unterminated, 42, addr, 20), CPCHAIN_RESULT_OK);

  const char *bad_sum = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD";
  CHECK_RC(cpchain_address_parse(bad_sum, strlen(bad_sum), addr, 20), CPCHAIN_RESULT_ADDRESS_BAD_CHECKSUM);
  CHECK_RC(cpchain_address_parse(lower + 2, 40, addr, 20), CPCHAIN_RESULT_ADDRESS_MISSING_PREFIX);
  CHECK_RC(cpchain_address_parse(lower, 41, addr, 20), CPCHAIN_RESULT_ADDRESS_WRONG_LENGTH);
  CHECK_RC(cpchain_address_parse("0xzzaeb6053f3e94c9b9a09f33669435e7ef1beaed", 42, addr, 20),
           CPCHAIN_RESULT_ADDRESS_NOT_HEX);
  const char not_utf8[] = {'0', 'x', (char)0xc3, (char)0x28};
  CHECK_RC(cpchain_address_parse(not_utf8, sizeof not_utf8, addr, 20), CPCHAIN_RESULT_INVALID_UTF8);
  CHECK_RC(cpchain_address_parse(NULL, 42, addr, 20), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_address_parse(NULL, 0, addr, 20), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_address_parse(lower, 42, addr, 19), CPCHAIN_RESULT_INSUFFICIENT_SIZE);
  CHECK_RC(cpchain_address_parse("", 0, addr, 20), CPCHAIN_RESULT_ADDRESS_MISSING_PREFIX);

  /* Formatting: size query and too-small buffer (untouched), wrong address length. */
  char text[43];
  size_t n = 0;
  CHECK_RC(cpchain_address_to_checksum(addr, 20, NULL, 0, &n), CPCHAIN_RESULT_INSUFFICIENT_SIZE);
  CHECK(n == CPCHAIN_ADDRESS_TEXT_LEN + 1);
  memset(text, 'z', sizeof text);
  CHECK_RC(cpchain_address_to_checksum(addr, 20, text, 42, &n), CPCHAIN_RESULT_INSUFFICIENT_SIZE);
  CHECK(n == 43 && text[0] == 'z' && text[41] == 'z');
  CHECK_RC(cpchain_address_to_checksum(addr, 19, text, sizeof text, &n), CPCHAIN_RESULT_INVALID_LENGTH);
  CHECK_RC(cpchain_address_to_checksum(addr, 20, text, sizeof text, NULL), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_address_to_checksum(NULL, 20, text, sizeof text, &n), CPCHAIN_RESULT_NULL_PARAMETER);

  /* Garbage text never crashes. */
  for (int i = 0; i < 256; i++) {
    char g[64];
    fill_garbage((uint8_t *)g, sizeof g);
    size_t len = (size_t)(next_byte() % sizeof g);
    if (len >= 2 && (i % 2)) {
      g[0] = '0';
      g[1] = 'x';
    }
    cpchain_result r = cpchain_address_parse(g, len, addr, 20);
    CHECK(r != CPCHAIN_RESULT_PANIC && r != CPCHAIN_RESULT_NULL_PARAMETER);
  }
}

static void test_aead(void) {
  /* RFC 8439 section 2.8.2 test vector. */
  uint8_t key[32], nonce[12], aad[12], tag[16], want_tag[16], want_ct[16];
  for (int i = 0; i < 32; i++) key[i] = (uint8_t)(0x80 + i);
  hex_to_bytes("070000004041424344454647", nonce, 12);
  hex_to_bytes("50515253c0c1c2c3c4c5c6c7", aad, 12);
  hex_to_bytes("1ae10b594f09e26a7e902ecbd0600691", want_tag, 16);
  hex_to_bytes("d31a8d34648e60db7b86afbc53ef7ec2", want_ct, 16);
  const char *plain =
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "
      "future, sunscreen would be it.";
  size_t plen = strlen(plain);
  CHECK(plen == 114);

  uint8_t buf[114 + 16];
  memcpy(buf, plain, plen);
  CHECK_RC(cpchain_aead_seal_detached(key, 32, nonce, 12, aad, 12, buf, plen, tag, 16), CPCHAIN_RESULT_OK);
  CHECK(memcmp(buf, want_ct, 16) == 0 && memcmp(tag, want_tag, 16) == 0);
  uint8_t sealed[114];
  memcpy(sealed, buf, plen);

  /* Tampering: ciphertext, tag, aad, nonce, key. Each fails and leaves the ciphertext. */
  buf[5] ^= 1;
  CHECK_RC(cpchain_aead_open_detached(key, 32, nonce, 12, aad, 12, buf, plen, tag, 16),
           CPCHAIN_RESULT_OPEN_FAILED);
  buf[5] ^= 1;
  CHECK(memcmp(buf, sealed, plen) == 0);
  tag[0] ^= 1;
  CHECK_RC(cpchain_aead_open_detached(key, 32, nonce, 12, aad, 12, buf, plen, tag, 16),
           CPCHAIN_RESULT_OPEN_FAILED);
  tag[0] ^= 1;
  CHECK_RC(cpchain_aead_open_detached(key, 32, nonce, 12, aad, 11, buf, plen, tag, 16),
           CPCHAIN_RESULT_OPEN_FAILED);
  nonce[11] ^= 1;
  CHECK_RC(cpchain_aead_open_detached(key, 32, nonce, 12, aad, 12, buf, plen, tag, 16),
           CPCHAIN_RESULT_OPEN_FAILED);
  nonce[11] ^= 1;
  key[0] ^= 1;
  CHECK_RC(cpchain_aead_open_detached(key, 32, nonce, 12, aad, 12, buf, plen, tag, 16),
           CPCHAIN_RESULT_OPEN_FAILED);
  key[0] ^= 1;
  CHECK(memcmp(buf, sealed, plen) == 0);
  CHECK_RC(cpchain_aead_open_detached(key, 32, nonce, 12, aad, 12, buf, plen, tag, 16), CPCHAIN_RESULT_OK);
  CHECK(memcmp(buf, plain, plen) == 0);

  /* In place with capacity: same bytes as detached, tag appended. */
  size_t out_len = 0;
  memcpy(buf, plain, plen);
  CHECK_RC(cpchain_aead_seal_in_place(key, 32, nonce, 12, aad, 12, buf, plen, sizeof buf, &out_len),
           CPCHAIN_RESULT_OK);
  CHECK(out_len == plen + 16 && memcmp(buf, sealed, plen) == 0 && memcmp(buf + plen, want_tag, 16) == 0);
  CHECK_RC(cpchain_aead_open_in_place(key, 32, nonce, 12, aad, 12, buf, out_len, &out_len), CPCHAIN_RESULT_OK);
  CHECK(out_len == plen && memcmp(buf, plain, plen) == 0);

  /* Capacity too small: the size needed, buffer untouched. */
  uint8_t small[20];
  memcpy(small, "0123456789abcdefghij", 20);
  out_len = 0;
  CHECK_RC(cpchain_aead_seal_in_place(key, 32, nonce, 12, NULL, 0, small, 10, sizeof small, &out_len),
           CPCHAIN_RESULT_INSUFFICIENT_SIZE);
  CHECK(out_len == 26 && memcmp(small, "0123456789abcdefghij", 20) == 0);
  CHECK_RC(cpchain_aead_seal_in_place(key, 32, nonce, 12, NULL, 0, small, 21, sizeof small, &out_len),
           CPCHAIN_RESULT_INVALID_PARAMETER);
  /* Empty message: only a tag. */
  CHECK_RC(cpchain_aead_seal_in_place(key, 32, nonce, 12, NULL, 0, small, 0, 16, &out_len), CPCHAIN_RESULT_OK);
  CHECK(out_len == 16);
  CHECK_RC(cpchain_aead_open_in_place(key, 32, nonce, 12, NULL, 0, small, 16, &out_len), CPCHAIN_RESULT_OK);
  CHECK(out_len == 0);
  CHECK_RC(cpchain_aead_seal_detached(key, 32, nonce, 12, NULL, 0, NULL, 0, tag, 16), CPCHAIN_RESULT_OK);
  /* Truncated sealed input. */
  CHECK_RC(cpchain_aead_open_in_place(key, 32, nonce, 12, NULL, 0, small, 15, &out_len),
           CPCHAIN_RESULT_INVALID_LENGTH);
  CHECK_RC(cpchain_aead_open_in_place(key, 32, nonce, 12, NULL, 0, small, 0, &out_len),
           CPCHAIN_RESULT_INVALID_LENGTH);

  /* Overlapping arguments are refused. */
  memcpy(buf, plain, plen);
  CHECK_RC(cpchain_aead_seal_detached(key, 32, nonce, 12, buf + 4, 8, buf, plen, tag, 16),
           CPCHAIN_RESULT_OVERLAPPING_BUFFERS);
  CHECK_RC(cpchain_aead_seal_detached(key, 32, nonce, 12, aad, 12, buf, plen, buf + 100, 16),
           CPCHAIN_RESULT_OVERLAPPING_BUFFERS);
  CHECK_RC(cpchain_aead_seal_in_place(buf + 110, 32, nonce, 12, aad, 12, buf, 10, sizeof buf, &out_len),
           CPCHAIN_RESULT_OVERLAPPING_BUFFERS);
  CHECK_RC(cpchain_aead_open_in_place(key, 32, buf, 12, aad, 12, buf, 40, &out_len),
           CPCHAIN_RESULT_OVERLAPPING_BUFFERS);
  CHECK_RC(cpchain_aead_open_detached(key, 32, nonce, 12, aad, 12, buf, 40, buf + 20, 16),
           CPCHAIN_RESULT_OVERLAPPING_BUFFERS);
  CHECK(memcmp(buf, plain, plen) == 0);

  /* Wrong lengths and NULLs. */
  CHECK_RC(cpchain_aead_seal_detached(key, 31, nonce, 12, aad, 12, buf, plen, tag, 16),
           CPCHAIN_RESULT_INVALID_LENGTH);
  CHECK_RC(cpchain_aead_seal_detached(key, 32, nonce, 8, aad, 12, buf, plen, tag, 16),
           CPCHAIN_RESULT_INVALID_LENGTH);
  CHECK_RC(cpchain_aead_seal_detached(key, 32, nonce, 12, aad, 12, buf, plen, tag, 15),
           CPCHAIN_RESULT_INSUFFICIENT_SIZE);
  CHECK_RC(cpchain_aead_seal_detached(NULL, 32, nonce, 12, aad, 12, buf, plen, tag, 16),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_aead_seal_detached(key, 32, NULL, 12, aad, 12, buf, plen, tag, 16),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_aead_seal_detached(key, 32, nonce, 12, NULL, 12, buf, plen, tag, 16),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_aead_seal_detached(key, 32, nonce, 12, aad, 12, NULL, plen, tag, 16),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_aead_seal_detached(key, 32, nonce, 12, aad, 12, buf, plen, NULL, 16),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_aead_open_detached(key, 32, nonce, 12, aad, 12, buf, plen, tag, 15),
           CPCHAIN_RESULT_INVALID_LENGTH);
  CHECK_RC(cpchain_aead_open_in_place(key, 32, nonce, 12, aad, 12, NULL, 20, &out_len),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_aead_open_in_place(key, 32, nonce, 12, aad, 12, buf, 20, NULL),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_aead_seal_in_place(key, 32, nonce, 12, aad, 12, buf, 10, sizeof buf, NULL),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK(memcmp(buf, plain, plen) == 0);

  /* Garbage ciphertexts never open. */
  for (int i = 0; i < 64; i++) {
    uint8_t g[48];
    fill_garbage(g, sizeof g);
    size_t len = 16 + (size_t)(next_byte() % 32);
    CHECK_RC(cpchain_aead_open_in_place(key, 32, nonce, 12, aad, 12, g, len, &out_len),
             CPCHAIN_RESULT_OPEN_FAILED);
  }
}

#define GET_U64(spec, field, want)                                                       \
  do {                                                                                   \
    uint64_t v_ = 0;                                                                     \
    CHECK_RC(cpchain_chain_spec_##field(spec, &v_), CPCHAIN_RESULT_OK);                  \
    CHECK(v_ == (uint64_t)(want));                                                       \
  } while (0)
#define GET_U32(spec, field, want)                                                       \
  do {                                                                                   \
    uint32_t v_ = 0;                                                                     \
    CHECK_RC(cpchain_chain_spec_##field(spec, &v_), CPCHAIN_RESULT_OK);                  \
    CHECK(v_ == (uint32_t)(want));                                                       \
  } while (0)

static void test_chain_spec(void) {
  cpchain_chain_spec *main_spec = NULL, *dev = NULL;
  CHECK_RC(cpchain_chain_spec_mainnet(&main_spec), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_chain_spec_devnet(&dev), CPCHAIN_RESULT_OK);

  GET_U64(main_spec, chain_id, 337);
  GET_U64(main_spec, block_period_ms, 10000);
  GET_U32(main_spec, proposers_per_term, 12);
  GET_U32(main_spec, view_len, 3);
  GET_U32(main_spec, fault_tolerance, 2);
  GET_U32(main_spec, validators, 7);
  GET_U32(main_spec, quorum, 5);
  GET_U64(main_spec, term_blocks, 36);
  GET_U64(main_spec, impeach_timeout_ms, 10000);
  GET_U64(main_spec, rnode_lock_ms, 100 * 60 * 1000);
  GET_U64(main_spec, default_proposers_until, 180);
  GET_U32(main_spec, max_candidates, 100);
  GET_U64(main_spec, rpt_window, 100);
  GET_U64(main_spec, impeach_punish_window, 10000);
  GET_U32(main_spec, elected_seats, 8);
  GET_U32(main_spec, low_rpt_seats, 2);
  GET_U64(main_spec, election_lead_terms, 2);
  GET_U32(main_spec, admission_cpu_difficulty, 12);
  GET_U32(main_spec, admission_memory_difficulty, 6);
  GET_U64(main_spec, admission_max_block_age, 10);
  GET_U32(main_spec, max_campaign_terms, 3);
  GET_U32(main_spec, free_tx_per_day, 100);
  GET_U64(dev, chain_id, 41);
  GET_U32(dev, validators, 4);
  GET_U64(dev, block_period_ms, 3000);

  /* 200 000 CPC and 20 000 CPC in base units (18 decimals), big-endian. */
  uint8_t amount[CPCHAIN_AMOUNT_LEN], want[16];
  CHECK_RC(cpchain_chain_spec_rnode_deposit(main_spec, amount, 16), CPCHAIN_RESULT_OK);
  hex_to_bytes("000000000000" "2a5a058fc295ed000000", want, 16);
  CHECK(memcmp(amount, want, 16) == 0);
  CHECK_RC(cpchain_chain_spec_economy_deposit(main_spec, amount, 16), CPCHAIN_RESULT_OK);
  hex_to_bytes("00000000000004" "3c33c1937564800000", want, 16);
  CHECK(memcmp(amount, want, 16) == 0);
  CHECK_RC(cpchain_chain_spec_rnode_deposit(main_spec, amount, 15), CPCHAIN_RESULT_INSUFFICIENT_SIZE);
  cpchain_rpt_weights w;
  CHECK_RC(cpchain_chain_spec_rpt_weights(main_spec, &w), CPCHAIN_RESULT_OK);
  CHECK(w.balance == 50 && w.transactions == 15 && w.proxy == 10 && w.data == 15 && w.maintenance == 10);

  /* Wire round trip with a size query first. */
  size_t need = 0, len = 0;
  CHECK_RC(cpchain_chain_spec_encode(dev, NULL, 0, &need), CPCHAIN_RESULT_INSUFFICIENT_SIZE);
  CHECK(need > 3 && need <= CPCHAIN_CHAIN_SPEC_MAX_ENCODED_LEN);
  uint8_t *enc = (uint8_t *)malloc(need);
  CHECK(enc != NULL);
  CHECK_RC(cpchain_chain_spec_encode(dev, enc, need - 1, &len), CPCHAIN_RESULT_INSUFFICIENT_SIZE);
  CHECK(len == need);
  CHECK_RC(cpchain_chain_spec_encode(dev, enc, need, &len), CPCHAIN_RESULT_OK);
  CHECK(len == need);
  cpchain_chain_spec *decoded = NULL;
  CHECK_RC(cpchain_chain_spec_decode(enc, len, &decoded), CPCHAIN_RESULT_OK);
  GET_U64(decoded, chain_id, 41);
  GET_U32(decoded, validators, 4);
  cpchain_chain_spec_free(decoded);

  /* Refusals, each with *out NULL. The envelope is version 1, tag 0x0001. */
  CHECK(enc[0] == 1 && enc[1] == 0 && enc[2] == 1);
  decoded = (cpchain_chain_spec *)(uintptr_t)1;
  CHECK_RC(cpchain_chain_spec_decode(enc, 2, &decoded), CPCHAIN_RESULT_DECODE_TRUNCATED);
  CHECK(decoded == NULL);
  CHECK_RC(cpchain_chain_spec_decode(NULL, 0, &decoded), CPCHAIN_RESULT_DECODE_TRUNCATED);
  CHECK_RC(cpchain_chain_spec_decode(enc, len - 1, &decoded), CPCHAIN_RESULT_DECODE_MALFORMED);
  CHECK(decoded == NULL);
  uint8_t *mod = (uint8_t *)malloc(len + 1);
  CHECK(mod != NULL);
  memcpy(mod, enc, len);
  mod[len] = 0;
  CHECK_RC(cpchain_chain_spec_decode(mod, len + 1, &decoded), CPCHAIN_RESULT_DECODE_TRAILING_BYTES);
  mod[0] = 2;
  CHECK_RC(cpchain_chain_spec_decode(mod, len, &decoded), CPCHAIN_RESULT_DECODE_UNSUPPORTED_VERSION);
  mod[0] = 1;
  mod[2] = 2;
  CHECK_RC(cpchain_chain_spec_decode(mod, len, &decoded), CPCHAIN_RESULT_DECODE_WRONG_TAG);
  mod[2] = 1;
  /* Body: chain_id varint (41 = 1 byte), block_period varint (3000 = 2 bytes),
   * proposers_per_term, view_len, fault_tolerance. f = 0 parses but is inconsistent. */
  CHECK(mod[3] == 41 && mod[8] == 1);
  mod[8] = 0;
  CHECK_RC(cpchain_chain_spec_decode(mod, len, &decoded), CPCHAIN_RESULT_SPEC_INVALID);
  CHECK(decoded == NULL);
  /* An overlong varint for chain_id (41 as 0xa9 0x00) is non-canonical. */
  memcpy(mod, enc, 3);
  mod[3] = 0xa9;
  mod[4] = 0x00;
  memcpy(mod + 5, enc + 4, len - 4);
  CHECK_RC(cpchain_chain_spec_decode(mod, len + 1, &decoded), CPCHAIN_RESULT_DECODE_NON_CANONICAL);
  uint8_t huge[CPCHAIN_CHAIN_SPEC_MAX_ENCODED_LEN + 1];
  memset(huge, 0, sizeof huge);
  CHECK_RC(cpchain_chain_spec_decode(huge, sizeof huge, &decoded), CPCHAIN_RESULT_DECODE_TOO_LARGE);
  CHECK_RC(cpchain_chain_spec_decode(NULL, 5, &decoded), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_chain_spec_decode(enc, len, NULL), CPCHAIN_RESULT_NULL_PARAMETER);

  /* Garbage: random bodies behind a valid envelope, and bit flips of a valid encoding. */
  unsigned accepted = 0;
  for (int i = 0; i < 500; i++) {
    uint8_t g[96];
    fill_garbage(g, sizeof g);
    size_t glen = (size_t)(next_byte() % sizeof g);
    if (glen >= 3 && (i % 2)) {
      g[0] = 1;
      g[1] = 0;
      g[2] = 1;
    }
    cpchain_chain_spec *s = NULL;
    cpchain_result r = cpchain_chain_spec_decode(g, glen, &s);
    CHECK((r == CPCHAIN_RESULT_OK) == (s != NULL));
    CHECK(r != CPCHAIN_RESULT_PANIC);
    cpchain_chain_spec_free(s);
  }
  for (size_t i = 3; i < len * 8; i++) {
    memcpy(mod, enc, len);
    mod[i / 8] ^= (uint8_t)(1u << (i % 8));
    cpchain_chain_spec *s = NULL;
    cpchain_result r = cpchain_chain_spec_decode(mod, len, &s);
    CHECK((r == CPCHAIN_RESULT_OK) == (s != NULL));
    if (r == CPCHAIN_RESULT_OK) accepted++;
    cpchain_chain_spec_free(s);
  }
  CHECK(accepted < len * 8);

  /* NULL handles and outputs. */
  uint64_t v64;
  uint32_t v32;
  CHECK_RC(cpchain_chain_spec_chain_id(NULL, &v64), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_chain_spec_chain_id(main_spec, NULL), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_chain_spec_validators(NULL, &v32), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_chain_spec_rpt_weights(NULL, &w), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_chain_spec_rnode_deposit(NULL, amount, 16), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_chain_spec_encode(NULL, enc, len, &len), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_chain_spec_encode(main_spec, enc, len, NULL), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_chain_spec_mainnet(NULL), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_chain_spec_devnet(NULL), CPCHAIN_RESULT_NULL_PARAMETER);
  cpchain_chain_spec_free(NULL);

  free(mod);
  free(enc);
  cpchain_chain_spec_free(main_spec);
  cpchain_chain_spec_free(dev);
}

/* ---- Data chains (§2.2.1): writer in caller storage and on the heap, reader. ---- */

static const cpchain_chain_schedule SCHED = {1000, 60000, 10000}; /* T 1 s, e 1 min, u 10 s */
static uint8_t STREAM[CPCHAIN_STREAM_ID_LEN];
static uint8_t MASTER[CPCHAIN_MASTER_SECRET_LEN];
/* A writer session's entropy (a hardware RNG's bytes on a gateway); fixed so runs compare. */
static const uint8_t SESSION[CPCHAIN_SESSION_ENTROPY_LEN] = {0x5e, 0x55, 0x10, 0x17};

/* Outputs collected from one writer run. */
#define MAX_OUT 8
struct chain_run {
  uint8_t blocks[MAX_OUT][CPCHAIN_CHAIN_OUTPUT_MAX_LEN];
  size_t block_len[MAX_OUT];
  size_t n_blocks;
  uint8_t anchors[MAX_OUT][CPCHAIN_CHAIN_ANCHOR_MAX_LEN];
  size_t anchor_len[MAX_OUT];
  size_t n_anchors;
};

static uint8_t poll_buf[CPCHAIN_CHAIN_OUTPUT_MAX_LEN];

static void drain(cpchain_chain_writer *w, struct chain_run *run) {
  for (;;) {
    size_t n = 0;
    cpchain_chain_output_kind kind = CPCHAIN_CHAIN_OUTPUT_KIND_ANCHOR;
    cpchain_result rc = cpchain_chain_writer_poll(w, poll_buf, sizeof poll_buf, &n, &kind);
    if (rc == CPCHAIN_RESULT_NO_OUTPUT) {
      CHECK(kind == CPCHAIN_CHAIN_OUTPUT_KIND_NONE && n == 0);
      return;
    }
    CHECK_RC(rc, CPCHAIN_RESULT_OK);
    if (rc != CPCHAIN_RESULT_OK) return;
    if (kind == CPCHAIN_CHAIN_OUTPUT_KIND_BLOCK && run->n_blocks < MAX_OUT) {
      CHECK(n <= CPCHAIN_CHAIN_OUTPUT_MAX_LEN);
      memcpy(run->blocks[run->n_blocks], poll_buf, n);
      run->block_len[run->n_blocks++] = n;
    } else if (kind == CPCHAIN_CHAIN_OUTPUT_KIND_ANCHOR && run->n_anchors < MAX_OUT) {
      CHECK(n <= CPCHAIN_CHAIN_ANCHOR_MAX_LEN);
      memcpy(run->anchors[run->n_anchors], poll_buf, n);
      run->anchor_len[run->n_anchors++] = n;
    } else {
      CHECK(!"unexpected output kind or too many outputs");
      return;
    }
  }
}

/* The reference run: records at 100, 600 and 1200 ms, then the timer at 10 s. Block 0 holds
 * the first two (period 0), block 1 the third; the anchor at 10 s covers block 1. */
static const char *READINGS[3] = {"21.5C", "21.6C", "21.8C"};
static const uint64_t TIMES[3] = {100, 600, 1200};

static void run_reference(cpchain_chain_writer *w, struct chain_run *run) {
  memset(run, 0, sizeof *run);
  for (int i = 0; i < 3; i++) {
    CHECK_RC(cpchain_chain_writer_append(w, TIMES[i], (const uint8_t *)READINGS[i],
                                         strlen(READINGS[i])),
             CPCHAIN_RESULT_OK);
    drain(w, run);
  }
  bool has = false;
  uint64_t at = 0;
  CHECK_RC(cpchain_chain_writer_next_deadline(w, &has, &at), CPCHAIN_RESULT_OK);
  CHECK(has && at == 2000); /* end of the open block's period */
  CHECK_RC(cpchain_chain_writer_handle_timeout(w, 10000), CPCHAIN_RESULT_OK);
  drain(w, run);
}

static struct chain_run run_a, run_b, run_c;
static cpchain_chain_writer_storage writer_storage; /* firmware style: static */

static cpchain_result verify_run(const struct chain_run *run, const size_t *order, size_t n_blocks,
                                 size_t n_anchors, const uint8_t *device_pk, const uint8_t *master,
                                 cpchain_chain_summary *summary) {
  cpchain_bytes blocks[MAX_OUT], anchors[MAX_OUT];
  for (size_t i = 0; i < n_blocks; i++) {
    blocks[i].ptr = run->blocks[order[i]];
    blocks[i].len = run->block_len[order[i]];
  }
  for (size_t i = 0; i < n_anchors; i++) {
    anchors[i].ptr = run->anchors[i];
    anchors[i].len = run->anchor_len[i];
  }
  return cpchain_chain_verify(STREAM, sizeof STREAM, device_pk, 33, &SCHED, NULL, anchors,
                              n_anchors, blocks, n_blocks, master, master ? 32 : 0, summary);
}

static void test_chain_writer_and_reader(void) {
  memset(STREAM, 0x07, sizeof STREAM);
  memset(MASTER, 0x22, sizeof MASTER);
  cpchain_secret_key *device = test_key();
  uint8_t pk[33];
  CHECK_RC(cpchain_secret_key_public_key(device, pk, sizeof pk), CPCHAIN_RESULT_OK);

  /* In caller storage: the firmware path. */
  cpchain_chain_writer *w = NULL;
  CHECK_RC(cpchain_chain_writer_new_in(&writer_storage, STREAM, sizeof STREAM, &SCHED, device,
                                       MASTER, sizeof MASTER, NULL, SESSION, sizeof SESSION, &w),
           CPCHAIN_RESULT_OK);
  CHECK(w != NULL && (void *)w == (void *)&writer_storage);
  run_reference(w, &run_a);
  CHECK(run_a.n_blocks == 2 && run_a.n_anchors == 1);
  cpchain_chain_writer_stats st;
  CHECK_RC(cpchain_chain_writer_get_stats(w, &st), CPCHAIN_RESULT_OK);
  CHECK(st.records == 3 && st.blocks == 2 && st.anchors == 1);
  cpchain_chain_checkpoint cp;
  CHECK_RC(cpchain_chain_writer_checkpoint(w, &cp), CPCHAIN_RESULT_OK);
  CHECK(cp.next_index == 2 && cp.last_time_ms == 10000);
  bool has = true;
  uint64_t at = 1;
  CHECK_RC(cpchain_chain_writer_next_deadline(w, &has, &at), CPCHAIN_RESULT_OK);
  CHECK(!has); /* nothing open, head anchored */
  cpchain_chain_writer_free(w);
  /* Freeing wipes the storage. */
  const uint8_t *raw = (const uint8_t *)&writer_storage;
  size_t nonzero = 0;
  for (size_t i = 0; i < sizeof writer_storage; i++) nonzero += raw[i] != 0;
  CHECK(nonzero == 0);

  /* On the heap: the same inputs give the same bytes (deterministic signatures). */
  CHECK_RC(cpchain_chain_writer_new(STREAM, sizeof STREAM, &SCHED, device, MASTER,
                                    sizeof MASTER, NULL, SESSION, sizeof SESSION, &w),
           CPCHAIN_RESULT_OK);
  run_reference(w, &run_b);
  CHECK(run_b.n_blocks == 2 && run_b.n_anchors == 1);
  for (size_t i = 0; i < run_b.n_blocks; i++) {
    CHECK(run_a.block_len[i] == run_b.block_len[i] &&
          memcmp(run_a.blocks[i], run_b.blocks[i], run_a.block_len[i]) == 0);
  }
  CHECK(memcmp(run_a.anchors[0], run_b.anchors[0], run_a.anchor_len[0]) == 0);
  cpchain_chain_writer_free(w);

  /* Restarted from genesis with fresh session entropy (issue 12 item 5): the same records
   * under the same interval key get another nonce salt, so no ciphertext repeats. */
  uint8_t session2[CPCHAIN_SESSION_ENTROPY_LEN];
  memcpy(session2, SESSION, sizeof session2);
  session2[31] ^= 1;
  CHECK_RC(cpchain_chain_writer_new(STREAM, sizeof STREAM, &SCHED, device, MASTER,
                                    sizeof MASTER, NULL, session2, sizeof session2, &w),
           CPCHAIN_RESULT_OK);
  run_reference(w, &run_c);
  cpchain_chain_writer_free(w);
  CHECK(run_c.n_blocks == 2);
  for (size_t i = 0; i < run_c.n_blocks; i++) {
    cpchain_chain_block_info ia, ic;
    CHECK_RC(cpchain_chain_block_get_info(run_a.blocks[i], run_a.block_len[i], &ia),
             CPCHAIN_RESULT_OK);
    CHECK_RC(cpchain_chain_block_get_info(run_c.blocks[i], run_c.block_len[i], &ic),
             CPCHAIN_RESULT_OK);
    CHECK(ia.index == ic.index && memcmp(ia.key_id, ic.key_id, 32) == 0); /* same key */
    CHECK(memcmp(ia.salt, ic.salt, sizeof ia.salt) != 0);                 /* other nonce */
    /* The body (the encoding's tail: ciphertext and tag) differs. */
    size_t tail = 16 + 2;
    CHECK(run_a.block_len[i] == run_c.block_len[i] &&
          memcmp(run_a.blocks[i] + run_a.block_len[i] - tail,
                 run_c.blocks[i] + run_c.block_len[i] - tail, tail) != 0);
  }
  /* No session entropy, or the wrong amount, is refused. */
  CHECK_RC(cpchain_chain_writer_new(STREAM, 32, &SCHED, device, MASTER, 32, NULL, NULL, 32, &w),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_chain_writer_new(STREAM, 32, &SCHED, device, MASTER, 32, NULL, SESSION, 16, &w),
           CPCHAIN_RESULT_INVALID_LENGTH);
  CHECK(w == NULL);

  /* Block and anchor info. */
  cpchain_chain_block_info info[2];
  CHECK_RC(cpchain_chain_block_get_info(run_a.blocks[0], run_a.block_len[0], &info[0]),
           CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_chain_block_get_info(run_a.blocks[1], run_a.block_len[1], &info[1]),
           CPCHAIN_RESULT_OK);
  CHECK(info[0].index == 0 && info[0].record_count == 2 && info[0].first_time_ms == 100 &&
        info[0].last_time_ms == 600 && info[0].interval == 0);
  CHECK(info[1].index == 1 && memcmp(info[1].prev, info[0].id, 32) == 0);
  CHECK(memcmp(info[0].stream, STREAM, 32) == 0);
  cpchain_chain_anchor_info ainfo;
  CHECK_RC(cpchain_chain_anchor_get_info(run_a.anchors[0], run_a.anchor_len[0], &ainfo),
           CPCHAIN_RESULT_OK);
  CHECK(ainfo.last_index == 1 && memcmp(ainfo.head, info[1].id, 32) == 0 &&
        ainfo.through_ms == 10000);

  /* Verify: the honest chain, with and without the master secret. */
  const size_t in_order[] = {0, 1}, reversed[] = {1, 0}, replay[] = {0, 0}, only1[] = {1};
  cpchain_chain_summary sum;
  memset(&sum, 0, sizeof sum);
  CHECK_RC(verify_run(&run_a, in_order, 2, 1, pk, MASTER, &sum), CPCHAIN_RESULT_OK);
  CHECK(sum.has_anchor && sum.anchored_index == 1 && sum.keyed_blocks == 2);
  CHECK(sum.checkpoint.next_index == 2 && memcmp(sum.checkpoint.head, info[1].id, 32) == 0);
  CHECK_RC(verify_run(&run_a, in_order, 2, 0, pk, NULL, &sum), CPCHAIN_RESULT_OK);
  CHECK(!sum.has_anchor && sum.keyed_blocks == 0);

  /* Verdicts, each its own code. */
  CHECK_RC(verify_run(&run_a, reversed, 2, 1, pk, NULL, &sum), CPCHAIN_RESULT_CHAIN_REORDERED);
  CHECK_RC(verify_run(&run_a, replay, 2, 0, pk, NULL, &sum), CPCHAIN_RESULT_CHAIN_REPLAYED);
  CHECK_RC(verify_run(&run_a, only1, 1, 0, pk, NULL, &sum), CPCHAIN_RESULT_CHAIN_MISSING_BLOCK);
  CHECK_RC(verify_run(&run_a, in_order, 1, 1, pk, NULL, &sum),
           CPCHAIN_RESULT_CHAIN_TRUNCATED_AFTER_ANCHOR);
  uint8_t other_master[32];
  memset(other_master, 0x23, sizeof other_master);
  CHECK_RC(verify_run(&run_a, in_order, 2, 0, pk, other_master, &sum),
           CPCHAIN_RESULT_CHAIN_WRONG_INTERVAL_KEY);
  uint8_t one[32] = {0};
  one[31] = 1;
  cpchain_secret_key *stranger = NULL;
  CHECK_RC(cpchain_secret_key_from_bytes(one, 32, &stranger), CPCHAIN_RESULT_OK);
  uint8_t stranger_pk[33];
  CHECK_RC(cpchain_secret_key_public_key(stranger, stranger_pk, 33), CPCHAIN_RESULT_OK);
  CHECK_RC(verify_run(&run_a, in_order, 2, 1, stranger_pk, NULL, &sum),
           CPCHAIN_RESULT_CHAIN_BAD_ANCHOR);
  CHECK_RC(verify_run(&run_a, in_order, 2, 0, stranger_pk, NULL, &sum),
           CPCHAIN_RESULT_CHAIN_BAD_SIGNATURE);
  /* Tampering: the last byte of an encoded block is the body's tag. */
  run_c = run_a;
  run_c.blocks[1][run_c.block_len[1] - 1] ^= 1;
  CHECK_RC(verify_run(&run_c, in_order, 2, 1, pk, NULL, &sum), CPCHAIN_RESULT_CHAIN_BODY_TAMPERED);

  /* Open: derive interval 0's data key, decrypt block 0, walk its records. */
  uint8_t key[CPCHAIN_DATA_KEY_LEN];
  CHECK_RC(cpchain_chain_data_key(MASTER, 32, STREAM, 32, 0, key, sizeof key), CPCHAIN_RESULT_OK);
  size_t need = 0, count = 0;
  CHECK_RC(cpchain_chain_open_block(run_a.blocks[0], run_a.block_len[0], key, 32, NULL, 0, &need,
                                    &count),
           CPCHAIN_RESULT_INSUFFICIENT_SIZE);
  CHECK(need == 2 * CPCHAIN_RECORD_HEADER_LEN + 10);
  uint8_t plain[256];
  size_t len = 0;
  CHECK_RC(cpchain_chain_open_block(run_a.blocks[0], run_a.block_len[0], key, 32, plain,
                                    sizeof plain, &len, &count),
           CPCHAIN_RESULT_OK);
  CHECK(len == need && count == 2);
  size_t off = 0;
  for (int i = 0; i < 2; i++) {
    uint64_t t = 0;
    const uint8_t *data = NULL;
    size_t dlen = 0;
    CHECK_RC(cpchain_records_next(plain, len, &off, &t, &data, &dlen), CPCHAIN_RESULT_OK);
    CHECK(t == TIMES[i] && dlen == strlen(READINGS[i]) && data != NULL &&
          memcmp(data, READINGS[i], dlen) == 0);
  }
  {
    uint64_t t;
    const uint8_t *data;
    size_t dlen;
    CHECK_RC(cpchain_records_next(plain, len, &off, &t, &data, &dlen), CPCHAIN_RESULT_NO_OUTPUT);
    off = 0;
    CHECK_RC(cpchain_records_next(plain, len - 1, &off, &t, &data, &dlen), CPCHAIN_RESULT_OK);
    CHECK_RC(cpchain_records_next(plain, len - 1, &off, &t, &data, &dlen),
             CPCHAIN_RESULT_DECODE_TRUNCATED);
    off = len + 1;
    CHECK_RC(cpchain_records_next(plain, len, &off, &t, &data, &dlen),
             CPCHAIN_RESULT_INVALID_PARAMETER);
    off = 0;
    CHECK_RC(cpchain_records_next(plain, len, NULL, &t, &data, &dlen), CPCHAIN_RESULT_NULL_PARAMETER);
    CHECK_RC(cpchain_records_next(plain, len, &off, &t, NULL, &dlen), CPCHAIN_RESULT_NULL_PARAMETER);
    CHECK_RC(cpchain_records_next(NULL, 5, &off, &t, &data, &dlen), CPCHAIN_RESULT_NULL_PARAMETER);
  }
  /* The wrong interval's key is refused before decryption. */
  uint8_t key1[32];
  CHECK_RC(cpchain_chain_data_key(MASTER, 32, STREAM, 32, 1, key1, sizeof key1), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_chain_open_block(run_a.blocks[0], run_a.block_len[0], key1, 32, plain,
                                    sizeof plain, &len, &count),
           CPCHAIN_RESULT_CHAIN_WRONG_INTERVAL_KEY);
  CHECK_RC(cpchain_chain_open_block(run_a.blocks[0], run_a.block_len[0], key, 31, plain,
                                    sizeof plain, &len, &count),
           CPCHAIN_RESULT_INVALID_LENGTH);
  CHECK_RC(cpchain_chain_open_block(run_a.blocks[0], run_a.block_len[0], key, 32, plain,
                                    sizeof plain, NULL, &count),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_chain_data_key(MASTER, 31, STREAM, 32, 0, key1, 32), CPCHAIN_RESULT_INVALID_LENGTH);
  CHECK_RC(cpchain_chain_data_key(MASTER, 32, STREAM, 32, 0, key1, 31),
           CPCHAIN_RESULT_INSUFFICIENT_SIZE);
  CHECK_RC(cpchain_chain_data_key(MASTER, 32, NULL, 32, 0, key1, 32), CPCHAIN_RESULT_NULL_PARAMETER);

  /* Resume after a "restart" from the checkpoint of the last persisted block: the next block
   * continues the chain, and the whole chain still verifies. */
  cpchain_chain_checkpoint from = {info[1].index + 1, {0}, info[1].last_time_ms};
  memcpy(from.head, info[1].id, 32);
  CHECK_RC(cpchain_chain_writer_new_in(&writer_storage, STREAM, 32, &SCHED, device, MASTER, 32,
                                       &from, SESSION, sizeof SESSION, &w),
           CPCHAIN_RESULT_OK);
  run_c = run_a;
  size_t before = run_c.n_blocks;
  CHECK_RC(cpchain_chain_writer_append(w, 1100, (const uint8_t *)"late", 4),
           CPCHAIN_RESULT_CHAIN_TIME_WENT_BACKWARDS);
  CHECK_RC(cpchain_chain_writer_append(w, 12000, (const uint8_t *)"22.0C", 5), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_chain_writer_handle_timeout(w, 20000), CPCHAIN_RESULT_OK);
  drain(w, &run_c);
  CHECK(run_c.n_blocks == before + 1);
  const size_t three[] = {0, 1, 2};
  CHECK_RC(verify_run(&run_c, three, 3, run_c.n_anchors, pk, MASTER, &sum), CPCHAIN_RESULT_OK);
  CHECK(sum.checkpoint.next_index == 3);
  cpchain_chain_writer_free(w);

  cpchain_secret_key_free(stranger);
  cpchain_secret_key_free(device);
}

static void test_chain_bad_input(void) {
  cpchain_secret_key *device = test_key();
  cpchain_chain_writer *w = (cpchain_chain_writer *)(uintptr_t)1;
  const cpchain_chain_schedule bad_t = {0, 60000, 10000}, bad_e = {1000, 1500, 10000},
                               bad_u = {1000, 60000, 0};
  CHECK_RC(cpchain_chain_writer_new(STREAM, 32, &bad_t, device, MASTER, 32, NULL, SESSION, sizeof SESSION, &w),
           CPCHAIN_RESULT_CHAIN_ZERO_PERIOD);
  CHECK(w == NULL);
  CHECK_RC(cpchain_chain_writer_new(STREAM, 32, &bad_e, device, MASTER, 32, NULL, SESSION, sizeof SESSION, &w),
           CPCHAIN_RESULT_CHAIN_ENCRYPTION_INTERVAL);
  CHECK_RC(cpchain_chain_writer_new(STREAM, 32, &bad_u, device, MASTER, 32, NULL, SESSION, sizeof SESSION, &w),
           CPCHAIN_RESULT_CHAIN_UPLOAD_INTERVAL);
  CHECK_RC(cpchain_chain_writer_new(STREAM, 31, &SCHED, device, MASTER, 32, NULL, SESSION, sizeof SESSION, &w),
           CPCHAIN_RESULT_INVALID_LENGTH);
  CHECK_RC(cpchain_chain_writer_new(STREAM, 32, &SCHED, device, MASTER, 33, NULL, SESSION, sizeof SESSION, &w),
           CPCHAIN_RESULT_INVALID_LENGTH);
  CHECK_RC(cpchain_chain_writer_new(NULL, 32, &SCHED, device, MASTER, 32, NULL, SESSION, sizeof SESSION, &w),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_chain_writer_new(STREAM, 32, NULL, device, MASTER, 32, NULL, SESSION, sizeof SESSION, &w),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_chain_writer_new(STREAM, 32, &SCHED, NULL, MASTER, 32, NULL, SESSION, sizeof SESSION, &w),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_chain_writer_new(STREAM, 32, &SCHED, device, NULL, 32, NULL, SESSION, sizeof SESSION, &w),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_chain_writer_new(STREAM, 32, &SCHED, device, MASTER, 32, NULL, SESSION, sizeof SESSION, NULL),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK(w == NULL);
  CHECK_RC(cpchain_chain_writer_new_in(NULL, STREAM, 32, &SCHED, device, MASTER, 32, NULL, SESSION, sizeof SESSION, &w),
           CPCHAIN_RESULT_NULL_PARAMETER);
  cpchain_chain_writer_storage *misaligned =
      (cpchain_chain_writer_storage *)((uint8_t *)&writer_storage + 1);
  CHECK_RC(cpchain_chain_writer_new_in(misaligned, STREAM, 32, &SCHED, device, MASTER, 32, NULL, SESSION, sizeof SESSION,
                                       &w),
           CPCHAIN_RESULT_INVALID_PARAMETER);

  CHECK_RC(cpchain_chain_writer_new_in(&writer_storage, STREAM, 32, &SCHED, device, MASTER, 32,
                                       NULL, SESSION, sizeof SESSION, &w),
           CPCHAIN_RESULT_OK);
  /* NULL handles and outputs. */
  size_t n = 0;
  cpchain_chain_output_kind kind = CPCHAIN_CHAIN_OUTPUT_KIND_BLOCK;
  bool flag;
  uint64_t at;
  CHECK_RC(cpchain_chain_writer_append(NULL, 1, (const uint8_t *)"x", 1), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_chain_writer_append(w, 1, NULL, 1), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_chain_writer_handle_timeout(NULL, 1), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_chain_writer_poll(NULL, poll_buf, sizeof poll_buf, &n, &kind),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK(kind == CPCHAIN_CHAIN_OUTPUT_KIND_NONE);
  CHECK_RC(cpchain_chain_writer_poll(w, poll_buf, sizeof poll_buf, NULL, &kind),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_chain_writer_poll(w, poll_buf, sizeof poll_buf, &n, NULL),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_chain_writer_poll(w, NULL, sizeof poll_buf, &n, &kind),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_chain_writer_next_deadline(w, NULL, &at), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_chain_writer_next_deadline(w, &flag, NULL), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_chain_writer_flush(w, 0, NULL), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_chain_writer_checkpoint(NULL, NULL), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_chain_writer_get_stats(w, NULL), CPCHAIN_RESULT_NULL_PARAMETER);
  /* Nothing yet: NO_OUTPUT, and flush has nothing to seal. */
  CHECK_RC(cpchain_chain_writer_poll(w, poll_buf, sizeof poll_buf, &n, &kind),
           CPCHAIN_RESULT_NO_OUTPUT);
  CHECK_RC(cpchain_chain_writer_flush(w, 0, &flag), CPCHAIN_RESULT_OK);
  CHECK(!flag);

  /* Oversized record refused; the largest that fits is accepted. */
  static uint8_t big[CPCHAIN_CHAIN_PLAINTEXT_CAP];
  memset(big, 0xab, sizeof big);
  CHECK_RC(cpchain_chain_writer_append(w, 100, big, sizeof big), CPCHAIN_RESULT_CHAIN_RECORD_TOO_LARGE);
  CHECK_RC(cpchain_chain_writer_append(w, 100, big, CPCHAIN_CHAIN_PLAINTEXT_CAP - 4),
           CPCHAIN_RESULT_OK);
  /* A second record does not fit: the block is sealed early; a third needs another seal
   * while the first is unpolled: OUTPUT_PENDING, writer unchanged. */
  CHECK_RC(cpchain_chain_writer_append(w, 200, big, 100), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_chain_writer_append(w, 1200, big, 10), CPCHAIN_RESULT_CHAIN_OUTPUT_PENDING);
  /* A too-small poll buffer loses nothing: the size needed comes back. */
  uint8_t small[64];
  n = 0;
  CHECK_RC(cpchain_chain_writer_poll(w, small, sizeof small, &n, &kind),
           CPCHAIN_RESULT_INSUFFICIENT_SIZE);
  CHECK(n == CPCHAIN_CHAIN_OUTPUT_MAX_LEN && kind == CPCHAIN_CHAIN_OUTPUT_KIND_NONE);
  /* The poll buffer may not overlap the writer. */
  CHECK_RC(cpchain_chain_writer_poll(w, (uint8_t *)&writer_storage, sizeof writer_storage, &n,
                                     &kind),
           CPCHAIN_RESULT_OVERLAPPING_BUFFERS);
  CHECK_RC(cpchain_chain_writer_poll(w, poll_buf, sizeof poll_buf, &n, &kind), CPCHAIN_RESULT_OK);
  CHECK(kind == CPCHAIN_CHAIN_OUTPUT_KIND_BLOCK && n > CPCHAIN_CHAIN_PLAINTEXT_CAP - 4);
  CHECK_RC(cpchain_chain_writer_append(w, 1200, big, 10), CPCHAIN_RESULT_OK);
  /* The period of the 200 ms record ended at 1200: that block is sealed and unpolled, so
   * flush has nothing it may seal; after a poll it seals the open one. A flush at a time
   * before one already seen seals nothing. */
  CHECK_RC(cpchain_chain_writer_flush(w, 1200, &flag), CPCHAIN_RESULT_OK);
  CHECK(!flag);
  CHECK_RC(cpchain_chain_writer_poll(w, poll_buf, sizeof poll_buf, &n, &kind), CPCHAIN_RESULT_OK);
  CHECK(kind == CPCHAIN_CHAIN_OUTPUT_KIND_BLOCK);
  CHECK_RC(cpchain_chain_writer_flush(w, 1100, &flag), CPCHAIN_RESULT_OK);
  CHECK(!flag);
  CHECK_RC(cpchain_chain_writer_flush(w, 1250, &flag), CPCHAIN_RESULT_OK);
  CHECK(flag);
  cpchain_chain_writer_free(w);
  cpchain_chain_writer_free(NULL);

  /* Garbage, truncated and NULL input to the reader: codes, never crashes. */
  cpchain_chain_block_info info;
  cpchain_chain_anchor_info ainfo;
  cpchain_chain_summary sum;
  {
    cpchain_result r = cpchain_chain_block_get_info(run_a.blocks[0], run_a.block_len[0] - 1, &info);
    CHECK(r >= CPCHAIN_RESULT_DECODE_TOO_LARGE && r <= CPCHAIN_RESULT_DECODE_OTHER);
  }
  CHECK_RC(cpchain_chain_block_get_info(run_a.anchors[0], run_a.anchor_len[0], &info),
           CPCHAIN_RESULT_DECODE_WRONG_TAG);
  CHECK_RC(cpchain_chain_anchor_get_info(run_a.blocks[0], run_a.block_len[0], &ainfo),
           CPCHAIN_RESULT_DECODE_TOO_LARGE);
  CHECK_RC(cpchain_chain_anchor_get_info(run_a.blocks[0], 100, &ainfo),
           CPCHAIN_RESULT_DECODE_WRONG_TAG);
  CHECK_RC(cpchain_chain_block_get_info(NULL, 10, &info), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_chain_block_get_info(run_a.blocks[0], run_a.block_len[0], NULL),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_chain_anchor_get_info(NULL, 0, &ainfo), CPCHAIN_RESULT_DECODE_TRUNCATED);
  uint8_t pk[33];
  CHECK_RC(cpchain_secret_key_public_key(device, pk, 33), CPCHAIN_RESULT_OK);
  cpchain_bytes items[2] = {{run_a.blocks[0], run_a.block_len[0]}, {NULL, 7}};
  CHECK_RC(cpchain_chain_verify(STREAM, 32, pk, 33, &SCHED, NULL, NULL, 0, items, 2, NULL, 0, &sum),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_chain_verify(STREAM, 32, pk, 33, &SCHED, NULL, NULL, 3, items, 1, NULL, 0, &sum),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_chain_verify(STREAM, 32, pk, 32, &SCHED, NULL, NULL, 0, items, 1, NULL, 0, &sum),
           CPCHAIN_RESULT_INVALID_LENGTH);
  CHECK_RC(cpchain_chain_verify(STREAM, 32, pk, 33, NULL, NULL, NULL, 0, items, 1, NULL, 0, &sum),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_chain_verify(STREAM, 32, pk, 33, &SCHED, NULL, NULL, 0, items, 1, MASTER, 5, &sum),
           CPCHAIN_RESULT_INVALID_LENGTH);
  CHECK_RC(cpchain_chain_verify(STREAM, 32, pk, 33, &SCHED, NULL, NULL, 0, items, 1, NULL, 0, NULL),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_chain_verify(STREAM, 32, pk, 33, &SCHED, NULL, NULL, 0, items, SIZE_MAX, NULL, 0,
                                &sum),
           CPCHAIN_RESULT_INVALID_PARAMETER);
  /* Every truncation and random bit flips of a real block: an error code or OK, no crash. */
  uint8_t mod[CPCHAIN_CHAIN_OUTPUT_MAX_LEN];
  size_t blen = run_a.block_len[0];
  unsigned accepted = 0;
  for (size_t cut = 0; cut < blen; cut++) {
    cpchain_bytes one = {run_a.blocks[0], cut};
    cpchain_result r =
        cpchain_chain_verify(STREAM, 32, pk, 33, &SCHED, NULL, NULL, 0, &one, 1, NULL, 0, &sum);
    CHECK(r != CPCHAIN_RESULT_OK && r != CPCHAIN_RESULT_PANIC);
  }
  for (int i = 0; i < 400; i++) {
    memcpy(mod, run_a.blocks[0], blen);
    size_t bit = (size_t)next_byte() * 256u + next_byte();
    bit %= blen * 8;
    mod[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    cpchain_bytes one = {mod, blen};
    cpchain_result r =
        cpchain_chain_verify(STREAM, 32, pk, 33, &SCHED, NULL, NULL, 0, &one, 1, NULL, 0, &sum);
    CHECK(r != CPCHAIN_RESULT_PANIC);
    if (r == CPCHAIN_RESULT_OK) accepted++;
    size_t plen, cnt;
    uint8_t key[32];
    cpchain_chain_data_key(MASTER, 32, STREAM, 32, 0, key, 32);
    r = cpchain_chain_open_block(mod, blen, key, 32, mod, 0, &plen, &cnt);
    CHECK(r != CPCHAIN_RESULT_PANIC && r != CPCHAIN_RESULT_OK);
  }
  CHECK(accepted == 0);
  for (int i = 0; i < 200; i++) {
    size_t glen = (size_t)(next_byte() % 200);
    fill_garbage(mod, glen);
    if (glen > 3 && (i & 1)) { mod[0] = 1; mod[1] = 4; mod[2] = 1; } /* a block's envelope */
    cpchain_result r = cpchain_chain_block_get_info(mod, glen, &info);
    CHECK(r != CPCHAIN_RESULT_PANIC);
    r = cpchain_chain_anchor_get_info(mod, glen, &ainfo);
    CHECK(r != CPCHAIN_RESULT_PANIC);
  }
  cpchain_secret_key_free(device);
}

/* ---- DPoR: RPT scoring and the committee election. ---- */

static void test_rpt_and_election(void) {
  cpchain_chain_spec *spec = NULL;
  CHECK_RC(cpchain_chain_spec_mainnet(&spec), CPCHAIN_RESULT_OK);
  enum { N = 12 };
  cpchain_rpt_observation obs[N];
  memset(obs, 0, sizeof obs);
  for (int i = 0; i < N; i++) {
    memset(obs[i].address, 0x10 + i, 20);
    obs[i].balance[15 - 9] = (uint8_t)(i + 1); /* (i + 1) * 2^72 base units */
    obs[i].transactions = (uint64_t)(i * 7 % N);
    obs[i].proposed_blocks = (uint64_t)i;
    obs[i].data_uploaded = (uint64_t)(N - i);
    obs[i].proxy_assists = (uint64_t)(i % 3);
    obs[i].impeached_blocks = i == 5 ? 9 : 0; /* punished to zero */
  }
  cpchain_rpt_record rec[N];
  size_t n = 0;
  CHECK_RC(cpchain_rpt_compute(spec, obs, N, NULL, 0, &n), CPCHAIN_RESULT_INSUFFICIENT_SIZE);
  CHECK(n == N);
  CHECK_RC(cpchain_rpt_compute(spec, obs, N, rec, N - 1, &n), CPCHAIN_RESULT_INSUFFICIENT_SIZE);
  CHECK_RC(cpchain_rpt_compute(spec, obs, N, rec, N, &n), CPCHAIN_RESULT_OK);
  CHECK(n == N);
  for (int i = 0; i < N; i++) {
    CHECK(memcmp(rec[i].address, obs[i].address, 20) == 0);
    CHECK(rec[i].rpt <= 10000 && rec[i].balance <= 100 && rec[i].maintenance <= 100);
  }
  CHECK(rec[5].rpt == 0);
  CHECK(rec[N - 1].balance == 100); /* the richest ranks first */
  /* Bad input. */
  cpchain_rpt_observation dup[2];
  dup[0] = obs[0];
  dup[1] = obs[0];
  CHECK_RC(cpchain_rpt_compute(spec, dup, 2, rec, N, &n), CPCHAIN_RESULT_DPOR_DUPLICATE_CANDIDATE);
  CHECK_RC(cpchain_rpt_compute(NULL, obs, N, rec, N, &n), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_rpt_compute(spec, NULL, N, rec, N, &n), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_rpt_compute(spec, obs, N, rec, N, NULL), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_rpt_compute(spec, obs, SIZE_MAX, rec, N, &n), CPCHAIN_RESULT_INVALID_PARAMETER);
  CHECK_RC(cpchain_rpt_compute(spec, obs, 0, NULL, 0, &n), CPCHAIN_RESULT_OK);
  CHECK(n == 0);

  /* Election: candidates from the RPT records, default proposers fill the rest. */
  uint32_t seats = 0;
  CHECK_RC(cpchain_chain_spec_proposers_per_term(spec, &seats), CPCHAIN_RESULT_OK);
  cpchain_candidate cands[N], reversed[N];
  for (int i = 0; i < N; i++) {
    memcpy(cands[i].address, rec[i].address, 20);
    cands[i].rpt = rec[i].rpt;
    reversed[N - 1 - i] = cands[i];
  }
  uint8_t defaults[32][20];
  for (int i = 0; i < 32; i++) memset(defaults[i], 0xd0 ^ i, 20);
  uint8_t hash[32];
  memset(hash, 0xc4, sizeof hash);
  cpchain_seat committee[64], again[64];
  size_t k = 0, k2 = 0;
  CHECK(seats > 0 && seats <= 64);
  CHECK_RC(cpchain_elect(spec, hash, 32, 7, cands, N, &defaults[0][0], 32, NULL, 0, &k),
           CPCHAIN_RESULT_INSUFFICIENT_SIZE);
  CHECK(k == seats);
  CHECK_RC(cpchain_elect(spec, hash, 32, 7, cands, N, &defaults[0][0], 32, committee, 64, &k),
           CPCHAIN_RESULT_OK);
  CHECK(k == seats);
  CHECK_RC(cpchain_elect(spec, hash, 32, 7, reversed, N, &defaults[0][0], 32, again, 64, &k2),
           CPCHAIN_RESULT_OK);
  CHECK(k2 == k && memcmp(committee, again, k * sizeof committee[0]) == 0);
  unsigned distinct = 1;
  for (size_t i = 0; i < k; i++) {
    CHECK(committee[i].kind <= CPCHAIN_SEAT_KIND_DEFAULT);
    for (size_t j = 0; j < i; j++)
      if (memcmp(committee[i].address, committee[j].address, 20) == 0) distinct = 0;
    /* The punished candidate (RPT 0) is never drawn. */
    CHECK(memcmp(committee[i].address, obs[5].address, 20) != 0);
  }
  CHECK(distinct);
  /* Another term, another draw seed: still a full committee. */
  CHECK_RC(cpchain_elect(spec, hash, 32, 8, cands, N, &defaults[0][0], 32, again, 64, &k2),
           CPCHAIN_RESULT_OK);
  CHECK(k2 == seats);
  /* Bad input. */
  cpchain_candidate dupc[2] = {cands[0], cands[0]};
  CHECK_RC(cpchain_elect(spec, hash, 32, 7, dupc, 2, &defaults[0][0], 32, committee, 64, &k),
           CPCHAIN_RESULT_DPOR_DUPLICATE_CANDIDATE);
  uint8_t dupd[2][20];
  memset(dupd, 0xee, sizeof dupd);
  CHECK_RC(cpchain_elect(spec, hash, 32, 7, cands, N, &dupd[0][0], 2, committee, 64, &k),
           CPCHAIN_RESULT_DPOR_DUPLICATE_DEFAULT_PROPOSER);
  CHECK_RC(cpchain_elect(spec, hash, 32, 7, cands, 1, &defaults[0][0], 1, committee, 64, &k),
           CPCHAIN_RESULT_DPOR_NOT_ENOUGH_DEFAULT_PROPOSERS);
  CHECK_RC(cpchain_elect(spec, hash, 31, 7, cands, N, &defaults[0][0], 32, committee, 64, &k),
           CPCHAIN_RESULT_INVALID_LENGTH);
  CHECK_RC(cpchain_elect(spec, NULL, 32, 7, cands, N, &defaults[0][0], 32, committee, 64, &k),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_elect(spec, hash, 32, 7, NULL, N, &defaults[0][0], 32, committee, 64, &k),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_elect(spec, hash, 32, 7, cands, N, NULL, 32, committee, 64, &k),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_elect(spec, hash, 32, 7, cands, N, &defaults[0][0], 32, NULL, 64, &k),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_elect(spec, hash, 32, 7, cands, N, &defaults[0][0], 32, committee, 64, NULL),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_elect(NULL, hash, 32, 7, cands, N, &defaults[0][0], 32, committee, 64, &k),
           CPCHAIN_RESULT_NULL_PARAMETER);
  cpchain_chain_spec_free(spec);
}

/* ---- LBFT light verification: the genesis parent, and every refusal of bad input. (The
 * accepting path needs validator signatures over real votes; ffi_agrees_with_rust.rs
 * builds those with the Rust SDK and checks the same entry points.) ---- */

static void test_lbft_light(void) {
  cpchain_chain_spec *spec = NULL;
  CHECK_RC(cpchain_chain_spec_devnet(&spec), CPCHAIN_RESULT_OK);
  uint8_t parent[CPCHAIN_LBFT_HEADER_MAX_LEN];
  size_t plen = 0, need = 0;
  CHECK_RC(cpchain_lbft_genesis_header(spec, 1000000, NULL, 0, &need),
           CPCHAIN_RESULT_INSUFFICIENT_SIZE);
  CHECK(need > 3 && need <= CPCHAIN_LBFT_HEADER_MAX_LEN);
  CHECK_RC(cpchain_lbft_genesis_header(spec, 1000000, parent, sizeof parent, &plen),
           CPCHAIN_RESULT_OK);
  CHECK(plen == need);
  CHECK_RC(cpchain_lbft_genesis_header(NULL, 0, parent, sizeof parent, &plen),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_lbft_genesis_header(spec, 0, parent, sizeof parent, NULL),
           CPCHAIN_RESULT_NULL_PARAMETER);

  uint32_t n_val = 0;
  CHECK_RC(cpchain_chain_spec_validators(spec, &n_val), CPCHAIN_RESULT_OK);
  uint8_t vals[16][33], props[4][20];
  CHECK(n_val <= 16);
  for (uint32_t i = 0; i < n_val; i++) {
    uint8_t sk_bytes[32];
    memset(sk_bytes, (int)(0x30 + i), 32);
    cpchain_secret_key *k = NULL;
    CHECK_RC(cpchain_secret_key_from_bytes(sk_bytes, 32, &k), CPCHAIN_RESULT_OK);
    CHECK_RC(cpchain_secret_key_public_key(k, vals[i], 33), CPCHAIN_RESULT_OK);
    cpchain_secret_key_free(k);
  }
  memset(props, 0x61, sizeof props);
  uint8_t garbage[300];
  size_t sigs = 0;
  fill_garbage(garbage, sizeof garbage);
  /* Garbage VALIDATE bytes, truncated parent, wrong committee size, bad key, bad quorum. */
  cpchain_result r = cpchain_lbft_verify_validate(spec, &vals[0][0], n_val, &props[0][0], 4, 0,
                                                  parent, plen, garbage, sizeof garbage, &sigs);
  CHECK(r >= CPCHAIN_RESULT_DECODE_TOO_LARGE && r <= CPCHAIN_RESULT_DECODE_OTHER);
  r = cpchain_lbft_verify_validate(spec, &vals[0][0], n_val, &props[0][0], 4, 0, parent,
                                   plen - 1, garbage, sizeof garbage, &sigs);
  CHECK(r >= CPCHAIN_RESULT_DECODE_TOO_LARGE && r <= CPCHAIN_RESULT_DECODE_OTHER);
  CHECK_RC(cpchain_lbft_verify_validate(spec, &vals[0][0], n_val - 1, &props[0][0], 4, 0, parent,
                                        plen, garbage, sizeof garbage, &sigs),
           CPCHAIN_RESULT_LBFT_VALIDATOR_COUNT);
  memcpy(vals[1], vals[0], 33);
  CHECK_RC(cpchain_lbft_verify_validate(spec, &vals[0][0], n_val, &props[0][0], 4, 0, parent, plen,
                                        garbage, sizeof garbage, &sigs),
           CPCHAIN_RESULT_LBFT_VALIDATOR_SET);
  vals[1][0] = 0x05;
  CHECK_RC(cpchain_lbft_verify_validate(spec, &vals[0][0], n_val, &props[0][0], 4, 0, parent, plen,
                                        garbage, sizeof garbage, &sigs),
           CPCHAIN_RESULT_INVALID_PUBLIC_KEY);
  CHECK_RC(cpchain_lbft_verify_validate(spec, &vals[0][0], n_val, &props[0][0], 4, 2, parent, plen,
                                        garbage, sizeof garbage, &sigs),
           CPCHAIN_RESULT_INVALID_PARAMETER);
  CHECK_RC(cpchain_lbft_verify_validate(spec, NULL, n_val, &props[0][0], 4, 0, parent, plen,
                                        garbage, sizeof garbage, &sigs),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_lbft_verify_validate(spec, &vals[0][0], n_val, NULL, 4, 0, parent, plen, garbage,
                                        sizeof garbage, &sigs),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_lbft_verify_validate(spec, &vals[0][0], n_val, &props[0][0], 4, 0, parent, plen,
                                        garbage, sizeof garbage, NULL),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_lbft_verify_validate(NULL, &vals[0][0], n_val, &props[0][0], 4, 0, parent, plen,
                                        garbage, sizeof garbage, &sigs),
           CPCHAIN_RESULT_NULL_PARAMETER);
  /* validate_header on garbage, and a header is not a VALIDATE. */
  uint8_t hdr[CPCHAIN_LBFT_HEADER_MAX_LEN];
  size_t hlen = 0;
  for (int i = 0; i < 100; i++) {
    size_t glen = (size_t)(next_byte() % 200);
    fill_garbage(garbage, glen);
    if (glen > 3 && (i & 1)) { garbage[0] = 1; garbage[1] = 2; garbage[2] = (uint8_t)(i & 2 ? 0 : 1); }
    r = cpchain_lbft_validate_header(garbage, glen, hdr, sizeof hdr, &hlen);
    CHECK(r != CPCHAIN_RESULT_OK && r != CPCHAIN_RESULT_PANIC);
  }
  CHECK_RC(cpchain_lbft_validate_header(parent, plen, hdr, sizeof hdr, &hlen),
           CPCHAIN_RESULT_DECODE_WRONG_TAG);
  CHECK_RC(cpchain_lbft_validate_header(NULL, 5, hdr, sizeof hdr, &hlen), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_lbft_validate_header(parent, plen, hdr, sizeof hdr, NULL),
           CPCHAIN_RESULT_NULL_PARAMETER);
  cpchain_chain_spec_free(spec);
}

/* ---- DPoR: the proposer schedule of a term, from defaults and from an election. ---- */

static void test_dpor_schedule(void) {
  cpchain_chain_spec *spec = NULL;
  CHECK_RC(cpchain_chain_spec_mainnet(&spec), CPCHAIN_RESULT_OK);
  uint32_t per_term = 0, view_len = 0;
  uint64_t term_blocks = 0, until = 0, lead = 0;
  CHECK_RC(cpchain_chain_spec_proposers_per_term(spec, &per_term), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_chain_spec_view_len(spec, &view_len), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_chain_spec_term_blocks(spec, &term_blocks), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_chain_spec_default_proposers_until(spec, &until), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_chain_spec_election_lead_terms(spec, &lead), CPCHAIN_RESULT_OK);
  enum { ND = 16, NC = 12 };
  if (per_term != 12 || term_blocks != 36 || until != 180 || lead != 2) {
    CHECK(!"the schedule test assumes mainnet's 12 x 3 terms, defaults to 180, lead 2");
    cpchain_chain_spec_free(spec);
    return;
  }
  uint8_t defaults[ND][20];
  for (int i = 0; i < ND; i++) memset(defaults[i], 0xa0 + i, 20);
  cpchain_dpor_schedule *sch = NULL;
  CHECK_RC(cpchain_dpor_schedule_new(spec, &defaults[0][0], ND,
                                     CPCHAIN_DPOR_SCHEDULE_DEFAULT_CAPACITY, &sch),
           CPCHAIN_RESULT_OK);

  /* Term 0 is sealed by default proposers: each proposes once per view, three views. */
  cpchain_dpor_slot sl;
  uint8_t who[20];
  CHECK_RC(cpchain_dpor_schedule_slot(sch, 1, &sl), CPCHAIN_RESULT_OK);
  CHECK(sl.term == 0 && sl.view == 0 && sl.slot == 0 && !sl.is_checkpoint && sl.is_default &&
        sl.has_proposer && memcmp(sl.proposer, defaults[0], 20) == 0);
  CHECK_RC(cpchain_dpor_schedule_slot(sch, 13, &sl), CPCHAIN_RESULT_OK);
  CHECK(sl.view == 1 && sl.slot == 0 && memcmp(sl.proposer, defaults[0], 20) == 0);
  CHECK_RC(cpchain_dpor_schedule_slot(sch, 36, &sl), CPCHAIN_RESULT_OK);
  CHECK(sl.term == 0 && sl.view == 2 && sl.slot == 11 && sl.is_checkpoint);
  CHECK_RC(cpchain_dpor_schedule_proposer_of(sch, 36, who, sizeof who), CPCHAIN_RESULT_OK);
  CHECK(memcmp(who, defaults[11], 20) == 0);
  CHECK_RC(cpchain_dpor_schedule_slot(sch, 37, &sl), CPCHAIN_RESULT_OK);
  CHECK(sl.term == 1 && sl.view == 0 && sl.slot == 0 && !sl.is_checkpoint);
  /* Genesis has no proposer; nor has term 5 (heights 181..216) before its election. */
  CHECK_RC(cpchain_dpor_schedule_proposer_of(sch, 0, who, sizeof who), CPCHAIN_RESULT_DPOR_NO_PROPOSER);
  CHECK_RC(cpchain_dpor_schedule_slot(sch, 181, &sl), CPCHAIN_RESULT_OK);
  CHECK(sl.term == 5 && !sl.is_default && !sl.has_proposer);
  CHECK_RC(cpchain_dpor_schedule_proposer_of(sch, 181, who, sizeof who),
           CPCHAIN_RESULT_DPOR_NO_PROPOSER);

  /* The election at checkpoint 108 (end of term 2) installs term 5's committee: the same
   * committee cpchain_elect draws for term 5 from the same inputs. */
  cpchain_candidate cands[NC];
  for (int i = 0; i < NC; i++) {
    memset(cands[i].address, 0x30 + i, 20);
    cands[i].rpt = (uint32_t)(500 + 700 * i);
  }
  uint8_t hash[32];
  memset(hash, 0x5e, sizeof hash);
  uint64_t term = 0;
  CHECK_RC(cpchain_dpor_schedule_elect_at(sch, 100, hash, 32, cands, NC, &term),
           CPCHAIN_RESULT_DPOR_NOT_CHECKPOINT);
  CHECK_RC(cpchain_dpor_schedule_elect_at(sch, 108, hash, 32, cands, NC, &term), CPCHAIN_RESULT_OK);
  CHECK(term == 5);
  cpchain_seat committee[12];
  size_t k = 0;
  CHECK_RC(cpchain_elect(spec, hash, 32, 5, cands, NC, &defaults[0][0], ND, committee, 12, &k),
           CPCHAIN_RESULT_OK);
  CHECK(k == 12);
  for (uint64_t h = 181; h <= 216; h++) {
    CHECK_RC(cpchain_dpor_schedule_proposer_of(sch, h, who, sizeof who), CPCHAIN_RESULT_OK);
    CHECK(memcmp(who, committee[(h - 1) % 36 % 12].address, 20) == 0);
  }
  CHECK_RC(cpchain_dpor_schedule_slot(sch, 181 + 12, &sl), CPCHAIN_RESULT_OK);
  CHECK(sl.view == 1 && sl.has_proposer && memcmp(sl.proposer, committee[0].address, 20) == 0);
  /* Installing the same committee again is fine; another one would fork the schedule. */
  CHECK_RC(cpchain_dpor_schedule_install(sch, 5, committee, 12), CPCHAIN_RESULT_OK);
  cpchain_seat other[12];
  for (int i = 0; i < 12; i++) other[i] = committee[11 - i];
  CHECK_RC(cpchain_dpor_schedule_install(sch, 5, other, 12), CPCHAIN_RESULT_DPOR_SCHEDULE_CONFLICT);
  CHECK_RC(cpchain_dpor_schedule_elect_at(sch, 108, hash, 32, cands, NC - 1, &term),
           CPCHAIN_RESULT_DPOR_SCHEDULE_CONFLICT);
  /* Bad committees. */
  CHECK_RC(cpchain_dpor_schedule_install(sch, 6, committee, 11), CPCHAIN_RESULT_DPOR_COMMITTEE_SIZE);
  other[3] = other[4];
  CHECK_RC(cpchain_dpor_schedule_install(sch, 6, other, 12), CPCHAIN_RESULT_DPOR_DUPLICATE_MEMBER);
  {
    /* A seat kind C made up is refused: read as an integer, never as an enum. */
    cpchain_seat weird[12];
    memcpy(weird, committee, sizeof weird);
    uint32_t bogus = 7;
    memcpy(&weird[2].kind, &bogus, sizeof bogus);
    CHECK_RC(cpchain_dpor_schedule_install(sch, 6, weird, 12), CPCHAIN_RESULT_INVALID_PARAMETER);
  }
  CHECK_RC(cpchain_dpor_schedule_install(sch, 6, NULL, 12), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_dpor_schedule_install(NULL, 6, committee, 12), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_dpor_schedule_elect_at(sch, 144, hash, 31, cands, NC, &term),
           CPCHAIN_RESULT_INVALID_LENGTH);
  CHECK_RC(cpchain_dpor_schedule_elect_at(sch, 144, hash, 32, cands, NC, NULL),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_dpor_schedule_proposer_of(sch, 1, who, 19), CPCHAIN_RESULT_INSUFFICIENT_SIZE);
  CHECK_RC(cpchain_dpor_schedule_proposer_of(sch, 1, NULL, 20), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_dpor_schedule_slot(sch, 1, NULL), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_dpor_schedule_slot(NULL, 1, &sl), CPCHAIN_RESULT_NULL_PARAMETER);
  /* Pruning served terms. */
  size_t dropped = 9;
  CHECK_RC(cpchain_dpor_schedule_prune_before(sch, 6, &dropped), CPCHAIN_RESULT_OK);
  CHECK(dropped == 1);
  CHECK_RC(cpchain_dpor_schedule_proposer_of(sch, 181, who, sizeof who),
           CPCHAIN_RESULT_DPOR_NO_PROPOSER);
  CHECK_RC(cpchain_dpor_schedule_prune_before(sch, 6, NULL), CPCHAIN_RESULT_NULL_PARAMETER);
  cpchain_dpor_schedule_free(sch);
  cpchain_dpor_schedule_free(NULL);

  /* A full schedule refuses, until served terms are pruned. */
  CHECK_RC(cpchain_dpor_schedule_new(spec, &defaults[0][0], ND, 1, &sch), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_dpor_schedule_install(sch, 5, committee, 12), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_dpor_schedule_install(sch, 6, committee, 12), CPCHAIN_RESULT_DPOR_SCHEDULE_FULL);
  CHECK_RC(cpchain_dpor_schedule_prune_before(sch, 6, &dropped), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_dpor_schedule_install(sch, 6, committee, 12), CPCHAIN_RESULT_OK);
  cpchain_dpor_schedule_free(sch);

  /* Bad defaults: too few, or one twice. */
  sch = (cpchain_dpor_schedule *)(uintptr_t)1;
  CHECK_RC(cpchain_dpor_schedule_new(spec, &defaults[0][0], 11, 64, &sch),
           CPCHAIN_RESULT_DPOR_COMMITTEE_SIZE);
  CHECK(sch == NULL);
  memcpy(defaults[5], defaults[6], 20);
  CHECK_RC(cpchain_dpor_schedule_new(spec, &defaults[0][0], ND, 64, &sch),
           CPCHAIN_RESULT_DPOR_DUPLICATE_MEMBER);
  CHECK_RC(cpchain_dpor_schedule_new(spec, NULL, ND, 64, &sch), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_dpor_schedule_new(NULL, &defaults[0][0], ND, 64, &sch), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_dpor_schedule_new(spec, &defaults[0][0], ND, 64, NULL), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK(sch == NULL);
  cpchain_chain_spec_free(spec);
}

/* ---- An LBFT network of four validator handles (devnet: f = 1), driven entirely through
 * the C API: one proposes, all vote, all commit; a light client verifies the commit. ---- */

#define NVAL 4
struct lbft_msg {
  int from;
  int to; /* -1: broadcast */
  size_t len;
  uint8_t *bytes;
};
static struct lbft_msg lbft_queue[4096];
static size_t lbft_head, lbft_tail;
static uint8_t lbft_buf[1 << 16];

static void test_lbft_validators(void) {
  cpchain_chain_spec *spec = NULL;
  CHECK_RC(cpchain_chain_spec_devnet(&spec), CPCHAIN_RESULT_OK);
  uint32_t n_val = 0;
  uint64_t period = 0;
  CHECK_RC(cpchain_chain_spec_validators(spec, &n_val), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_chain_spec_block_period_ms(spec, &period), CPCHAIN_RESULT_OK);
  if (n_val != NVAL) {
    CHECK(!"devnet is expected to have four validators");
    cpchain_chain_spec_free(spec);
    return;
  }
  cpchain_secret_key *keys[NVAL];
  uint8_t pks[NVAL][33], addrs[NVAL][20];
  for (int i = 0; i < NVAL; i++) {
    uint8_t b[32];
    memset(b, 0x70 + i, 32);
    CHECK_RC(cpchain_secret_key_from_bytes(b, 32, &keys[i]), CPCHAIN_RESULT_OK);
    CHECK_RC(cpchain_secret_key_public_key(keys[i], pks[i], 33), CPCHAIN_RESULT_OK);
    CHECK_RC(cpchain_secret_key_address(keys[i], addrs[i], 20), CPCHAIN_RESULT_OK);
  }
  const uint64_t t0 = 1000000;
  uint8_t genesis[CPCHAIN_LBFT_HEADER_MAX_LEN];
  size_t glen = 0;
  CHECK_RC(cpchain_lbft_genesis_header(spec, t0, genesis, sizeof genesis, &glen), CPCHAIN_RESULT_OK);

  cpchain_lbft_validator *v[NVAL];
  for (int i = 0; i < NVAL; i++) {
    CHECK_RC(cpchain_lbft_validator_new(spec, keys[i], &pks[0][0], NVAL, &addrs[0][0], NVAL, 0,
                                        genesis, glen, t0, &v[i]),
             CPCHAIN_RESULT_OK);
  }
  /* Bad input to the constructor. */
  uint8_t outsider_b[32];
  memset(outsider_b, 0x99, 32);
  cpchain_secret_key *outsider = NULL;
  CHECK_RC(cpchain_secret_key_from_bytes(outsider_b, 32, &outsider), CPCHAIN_RESULT_OK);
  cpchain_lbft_validator *bad = (cpchain_lbft_validator *)(uintptr_t)1;
  CHECK_RC(cpchain_lbft_validator_new(spec, outsider, &pks[0][0], NVAL, &addrs[0][0], NVAL, 0,
                                      genesis, glen, t0, &bad),
           CPCHAIN_RESULT_LBFT_NOT_A_VALIDATOR);
  CHECK(bad == NULL);
  CHECK_RC(cpchain_lbft_validator_new(spec, keys[0], &pks[0][0], NVAL - 1, &addrs[0][0], NVAL, 0,
                                      genesis, glen, t0, &bad),
           CPCHAIN_RESULT_LBFT_VALIDATOR_COUNT);
  CHECK_RC(cpchain_lbft_validator_new(spec, keys[0], &pks[0][0], NVAL, &addrs[0][0], NVAL, 7,
                                      genesis, glen, t0, &bad),
           CPCHAIN_RESULT_INVALID_PARAMETER);
  CHECK(cpchain_lbft_validator_new(spec, keys[0], &pks[0][0], NVAL, &addrs[0][0], NVAL, 0,
                                   genesis, glen - 1, t0, &bad) != CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_lbft_validator_new(NULL, keys[0], &pks[0][0], NVAL, &addrs[0][0], NVAL, 0,
                                      genesis, glen, t0, &bad),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_lbft_validator_new(spec, keys[0], &pks[0][0], NVAL, &addrs[0][0], NVAL, 0,
                                      genesis, glen, t0, NULL),
           CPCHAIN_RESULT_NULL_PARAMETER);
  cpchain_secret_key_free(outsider);

  /* A too-small poll buffer: the size needed, and the same output next time. */
  size_t n = 0;
  cpchain_lbft_output_kind kind;
  cpchain_lbft_output_info info;
  CHECK_RC(cpchain_lbft_validator_poll(v[0], NULL, 0, &n, &kind, &info),
           CPCHAIN_RESULT_INSUFFICIENT_SIZE);
  size_t needed = n;
  CHECK(needed > 0 && kind == CPCHAIN_LBFT_OUTPUT_KIND_NONE);
  CHECK_RC(cpchain_lbft_validator_poll(v[0], lbft_buf, sizeof lbft_buf, &n, &kind, &info),
           CPCHAIN_RESULT_OK);
  CHECK(n == needed && kind == CPCHAIN_LBFT_OUTPUT_KIND_PERSIST);

  /* Garbage from a peer is not the caller's error (issue 13): dropped, counted inside the
   * engine, OK, and nothing to poll; the caller's own NULLs and lengths are errors. */
  uint8_t garbage[64];
  fill_garbage(garbage, sizeof garbage);
  cpchain_lbft_verdict verdict;
  cpchain_result r =
      cpchain_lbft_validator_handle_bytes(v[1], t0, addrs[0], 20, garbage, sizeof garbage, &verdict);
  CHECK_RC(r, CPCHAIN_RESULT_OK);
  CHECK(verdict.kind == CPCHAIN_LBFT_VERDICT_KIND_REJECT);
  CHECK(verdict.reason >= CPCHAIN_RESULT_DECODE_TOO_LARGE && verdict.reason <= CPCHAIN_RESULT_DECODE_OTHER);
  CHECK_RC(cpchain_lbft_validator_handle_bytes(v[1], t0, addrs[0], 19, garbage, 8, NULL),
           CPCHAIN_RESULT_INVALID_LENGTH);
  CHECK_RC(cpchain_lbft_validator_handle_bytes(NULL, t0, addrs[0], 20, garbage, 8, NULL),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_lbft_validator_handle_bytes(v[1], t0, addrs[0], 20, NULL, 8, NULL),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_lbft_validator_poll(v[1], lbft_buf, sizeof lbft_buf, NULL, &kind, &info),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_lbft_validator_poll(v[1], lbft_buf, sizeof lbft_buf, &n, NULL, &info),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_lbft_validator_poll(v[1], lbft_buf, sizeof lbft_buf, &n, &kind, NULL),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_lbft_validator_handle_timeout(NULL, t0), CPCHAIN_RESULT_NULL_PARAMETER);
  bool has = false;
  uint64_t at = 0;
  CHECK_RC(cpchain_lbft_validator_next_deadline(v[1], &has, &at), CPCHAIN_RESULT_OK);
  CHECK(has && at > t0);
  CHECK_RC(cpchain_lbft_validator_next_deadline(v[1], NULL, &at), CPCHAIN_RESULT_NULL_PARAMETER);

  /* Height 1 is validator 0's slot in the rotation; the others may not propose. */
  uint64_t now = t0 + period;
  const uint8_t tx[] = {0xca, 0xfe};
  cpchain_bytes txs[1] = {{tx, sizeof tx}};
  uint8_t id[32];
  CHECK_RC(cpchain_lbft_validator_propose(v[1], now, txs, 1, id, sizeof id),
           CPCHAIN_RESULT_LBFT_NOT_SCHEDULED);
  CHECK_RC(cpchain_lbft_validator_propose(v[0], now, txs, 1, id, 31), CPCHAIN_RESULT_INSUFFICIENT_SIZE);
  CHECK_RC(cpchain_lbft_validator_propose(v[0], now, NULL, 1, id, 32), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_lbft_validator_propose(v[0], now, txs, 1, id, sizeof id), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_lbft_validator_propose(v[0], now, txs, 1, id, sizeof id),
           CPCHAIN_RESULT_LBFT_ALREADY_PROPOSED);

  /* Run the network until every validator commits. */
  static uint8_t commit_bytes[NVAL][4096];
  size_t commit_len[NVAL] = {0};
  unsigned commits = 0, faults = 0, checks = 0;
  lbft_head = lbft_tail = 0;
  for (int step = 0; step < 200 && commits < NVAL; step++) {
    for (int i = 0; i < NVAL; i++) {
      for (;;) {
        r = cpchain_lbft_validator_poll(v[i], lbft_buf, sizeof lbft_buf, &n, &kind, &info);
        if (r == CPCHAIN_RESULT_NO_OUTPUT) break;
        CHECK_RC(r, CPCHAIN_RESULT_OK);
        if (r != CPCHAIN_RESULT_OK) break;
        if (kind == CPCHAIN_LBFT_OUTPUT_KIND_BROADCAST || kind == CPCHAIN_LBFT_OUTPUT_KIND_SEND) {
          int to = -1;
          if (kind == CPCHAIN_LBFT_OUTPUT_KIND_SEND)
            for (int j = 0; j < NVAL; j++)
              if (memcmp(info.peer, addrs[j], 20) == 0) to = j;
          if (lbft_tail < sizeof lbft_queue / sizeof lbft_queue[0]) {
            struct lbft_msg *m = &lbft_queue[lbft_tail++];
            m->from = i;
            m->to = to;
            m->len = n;
            m->bytes = malloc(n);
            memcpy(m->bytes, lbft_buf, n);
          }
        } else if (kind == CPCHAIN_LBFT_OUTPUT_KIND_CHECK_BLOCK) {
          checks++;
          CHECK_RC(cpchain_lbft_validator_block_checked(v[i], now, info.block_id, 32, true),
                   CPCHAIN_RESULT_OK);
        } else if (kind == CPCHAIN_LBFT_OUTPUT_KIND_COMMIT) {
          CHECK(info.height == 1 && n <= sizeof commit_bytes[i]);
          if (commit_len[i] == 0 && n <= sizeof commit_bytes[i]) {
            memcpy(commit_bytes[i], lbft_buf, n);
            commit_len[i] = n;
            commits++;
          }
        } else if (kind == CPCHAIN_LBFT_OUTPUT_KIND_FAULT) {
          faults++;
        }
      }
    }
    while (lbft_head < lbft_tail) {
      struct lbft_msg *m = &lbft_queue[lbft_head++];
      for (int j = 0; j < NVAL; j++) {
        if (j == m->from || (m->to >= 0 && m->to != j)) continue;
        /* Duplicates and stale messages are dropped and counted, never an error. */
        r = cpchain_lbft_validator_handle_bytes(v[j], now, addrs[m->from], 20, m->bytes, m->len, NULL);
        CHECK_RC(r, CPCHAIN_RESULT_OK);
      }
      free(m->bytes);
    }
  }
  CHECK(commits == NVAL && faults == 0 && checks >= NVAL - 1);
  /* Every validator committed the same VALIDATE, and a light client accepts it. */
  for (int i = 1; i < NVAL; i++) {
    uint8_t h0[CPCHAIN_LBFT_HEADER_MAX_LEN], hi[CPCHAIN_LBFT_HEADER_MAX_LEN];
    size_t l0 = 0, li = 0;
    CHECK_RC(cpchain_lbft_validate_header(commit_bytes[0], commit_len[0], h0, sizeof h0, &l0),
             CPCHAIN_RESULT_OK);
    CHECK_RC(cpchain_lbft_validate_header(commit_bytes[i], commit_len[i], hi, sizeof hi, &li),
             CPCHAIN_RESULT_OK);
    CHECK(l0 == li && memcmp(h0, hi, l0) == 0);
  }
  size_t sigs = 0;
  CHECK_RC(cpchain_lbft_verify_validate(spec, &pks[0][0], NVAL, &addrs[0][0], NVAL, 0, genesis, glen,
                                        commit_bytes[0], commit_len[0], &sigs),
           CPCHAIN_RESULT_OK);
  CHECK(sigs >= 3 + 1); /* 2f + 1 commit signatures and the seal */
  /* Tampered: a flipped byte inside the certificate or block is refused. */
  commit_bytes[0][commit_len[0] - 5] ^= 1;
  r = cpchain_lbft_verify_validate(spec, &pks[0][0], NVAL, &addrs[0][0], NVAL, 0, genesis, glen,
                                   commit_bytes[0], commit_len[0], &sigs);
  CHECK(r != CPCHAIN_RESULT_OK && r != CPCHAIN_RESULT_PANIC);

  for (int i = 0; i < NVAL; i++) {
    cpchain_lbft_validator_free(v[i]);
    cpchain_secret_key_free(keys[i]);
  }
  cpchain_lbft_validator_free(NULL);
  cpchain_chain_spec_free(spec);
}

/* ---- Crash and restore: a validator freed mid-height comes back from its last PERSIST
 * bytes and never signs against what it signed before (no equivocation FAULT anywhere),
 * and the network still decides the block. ---- */

static uint8_t saved_persist[NVAL][16384]; /* the host's "disk": last PERSIST per validator */
static size_t saved_len[NVAL];
static uint8_t sent_by_1[64][2048]; /* what validator 1 broadcast before its crash */
static size_t sent_by_1_len[64];
static size_t n_sent_by_1;

struct pump_stats {
  unsigned commits, faults, rebroadcast_matches;
  uint8_t commit[NVAL][4096];
  size_t commit_len[NVAL];
  uint8_t commit_id[NVAL][32];
};

/* Poll every live validator once to empty, queueing its messages; then deliver the queue.
 * `record_1` keeps validator 1's broadcasts; `compare_1` matches them against the record. */
static void pump_once(cpchain_lbft_validator *v[NVAL], const uint8_t addrs[NVAL][20], uint64_t now,
                      struct pump_stats *st, int record_1, int compare_1) {
  size_t n = 0;
  cpchain_lbft_output_kind kind;
  cpchain_lbft_output_info info;
  for (int i = 0; i < NVAL; i++) {
    if (v[i] == NULL) continue;
    for (;;) {
      cpchain_result r = cpchain_lbft_validator_poll(v[i], lbft_buf, sizeof lbft_buf, &n, &kind, &info);
      if (r == CPCHAIN_RESULT_NO_OUTPUT) break;
      CHECK_RC(r, CPCHAIN_RESULT_OK);
      if (r != CPCHAIN_RESULT_OK) break;
      if (kind == CPCHAIN_LBFT_OUTPUT_KIND_PERSIST) {
        CHECK(n <= sizeof saved_persist[i]);
        if (n <= sizeof saved_persist[i]) {
          memcpy(saved_persist[i], lbft_buf, n);
          saved_len[i] = n;
        }
      } else if (kind == CPCHAIN_LBFT_OUTPUT_KIND_BROADCAST || kind == CPCHAIN_LBFT_OUTPUT_KIND_SEND) {
        if (i == 1 && kind == CPCHAIN_LBFT_OUTPUT_KIND_BROADCAST) {
          if (record_1 && n_sent_by_1 < 64 && n <= sizeof sent_by_1[0]) {
            memcpy(sent_by_1[n_sent_by_1], lbft_buf, n);
            sent_by_1_len[n_sent_by_1++] = n;
          }
          if (compare_1)
            for (size_t k = 0; k < n_sent_by_1; k++)
              if (sent_by_1_len[k] == n && memcmp(sent_by_1[k], lbft_buf, n) == 0)
                st->rebroadcast_matches++;
        }
        int to = -1;
        if (kind == CPCHAIN_LBFT_OUTPUT_KIND_SEND)
          for (int j = 0; j < NVAL; j++)
            if (memcmp(info.peer, addrs[j], 20) == 0) to = j;
        if (lbft_tail < sizeof lbft_queue / sizeof lbft_queue[0]) {
          struct lbft_msg *m = &lbft_queue[lbft_tail++];
          m->from = i;
          m->to = to;
          m->len = n;
          m->bytes = malloc(n);
          memcpy(m->bytes, lbft_buf, n);
        }
      } else if (kind == CPCHAIN_LBFT_OUTPUT_KIND_CHECK_BLOCK) {
        CHECK_RC(cpchain_lbft_validator_block_checked(v[i], now, info.block_id, 32, true),
                 CPCHAIN_RESULT_OK);
      } else if (kind == CPCHAIN_LBFT_OUTPUT_KIND_COMMIT) {
        if (st->commit_len[i] == 0 && n <= sizeof st->commit[i]) {
          memcpy(st->commit[i], lbft_buf, n);
          st->commit_len[i] = n;
          memcpy(st->commit_id[i], info.block_id, 32);
          st->commits++;
        }
      } else if (kind == CPCHAIN_LBFT_OUTPUT_KIND_FAULT) {
        st->faults++;
      }
    }
  }
  while (lbft_head < lbft_tail) {
    struct lbft_msg *m = &lbft_queue[lbft_head++];
    for (int j = 0; j < NVAL; j++) {
      if (v[j] == NULL || j == m->from || (m->to >= 0 && m->to != j)) continue;
      cpchain_result r =
          cpchain_lbft_validator_handle_bytes(v[j], now, addrs[m->from], 20, m->bytes, m->len, NULL);
      /* A peer's message is never an error; equivocations come out as FAULT outputs. */
      CHECK_RC(r, CPCHAIN_RESULT_OK);
    }
    free(m->bytes);
  }
}

static void test_lbft_crash_and_restore(void) {
  cpchain_chain_spec *spec = NULL, *mainnet = NULL;
  CHECK_RC(cpchain_chain_spec_devnet(&spec), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_chain_spec_mainnet(&mainnet), CPCHAIN_RESULT_OK);
  uint64_t period = 0;
  CHECK_RC(cpchain_chain_spec_block_period_ms(spec, &period), CPCHAIN_RESULT_OK);
  cpchain_secret_key *keys[NVAL];
  uint8_t pks[NVAL][33], addrs[NVAL][20];
  for (int i = 0; i < NVAL; i++) {
    uint8_t b[32];
    memset(b, 0x70 + i, 32);
    CHECK_RC(cpchain_secret_key_from_bytes(b, 32, &keys[i]), CPCHAIN_RESULT_OK);
    CHECK_RC(cpchain_secret_key_public_key(keys[i], pks[i], 33), CPCHAIN_RESULT_OK);
    CHECK_RC(cpchain_secret_key_address(keys[i], addrs[i], 20), CPCHAIN_RESULT_OK);
  }
  const uint64_t t0 = 1000000;
  uint8_t genesis[CPCHAIN_LBFT_HEADER_MAX_LEN];
  size_t glen = 0;
  CHECK_RC(cpchain_lbft_genesis_header(spec, t0, genesis, sizeof genesis, &glen), CPCHAIN_RESULT_OK);
  cpchain_lbft_validator *v[NVAL];
  for (int i = 0; i < NVAL; i++)
    CHECK_RC(cpchain_lbft_validator_new(spec, keys[i], &pks[0][0], NVAL, &addrs[0][0], NVAL, 0,
                                        genesis, glen, t0, &v[i]),
             CPCHAIN_RESULT_OK);
  memset(saved_len, 0, sizeof saved_len);
  n_sent_by_1 = 0;
  lbft_head = lbft_tail = 0;
  static struct pump_stats st;
  memset(&st, 0, sizeof st);

  /* Height 1: validator 0 proposes; one pump delivers the proposal, a second lets the
   * others judge it, persist and prepare. */
  uint64_t now = t0 + period;
  const uint8_t tx[] = {0x01, 0x02, 0x03};
  cpchain_bytes txs[1] = {{tx, sizeof tx}};
  uint8_t id[32];
  CHECK_RC(cpchain_lbft_validator_propose(v[0], now, txs, 1, id, sizeof id), CPCHAIN_RESULT_OK);
  pump_once(v, (const uint8_t(*)[20])addrs, now, &st, 1, 0);
  /* Validator 1 has the proposal: it asks to check it, then persists and prepares. Take
   * its outputs up to and including its first vote broadcast, and crash right after. */
  size_t n = 0;
  cpchain_lbft_output_kind kind;
  cpchain_lbft_output_info info;
  int voted = 0;
  for (int guard = 0; guard < 16 && !voted; guard++) {
    cpchain_result r = cpchain_lbft_validator_poll(v[1], lbft_buf, sizeof lbft_buf, &n, &kind, &info);
    if (r == CPCHAIN_RESULT_NO_OUTPUT) break;
    CHECK_RC(r, CPCHAIN_RESULT_OK);
    if (kind == CPCHAIN_LBFT_OUTPUT_KIND_CHECK_BLOCK) {
      CHECK_RC(cpchain_lbft_validator_block_checked(v[1], now, info.block_id, 32, true),
               CPCHAIN_RESULT_OK);
    } else if (kind == CPCHAIN_LBFT_OUTPUT_KIND_PERSIST && n <= sizeof saved_persist[1]) {
      memcpy(saved_persist[1], lbft_buf, n);
      saved_len[1] = n;
    } else if (kind == CPCHAIN_LBFT_OUTPUT_KIND_BROADCAST && n <= sizeof sent_by_1[0]) {
      memcpy(sent_by_1[n_sent_by_1], lbft_buf, n);
      sent_by_1_len[n_sent_by_1++] = n;
      voted = 1; /* the PREPARE went out (persisted first, as the contract says) */
      struct lbft_msg *m = &lbft_queue[lbft_tail++];
      m->from = 1;
      m->to = -1;
      m->len = n;
      m->bytes = malloc(n);
      memcpy(m->bytes, lbft_buf, n);
    }
  }
  CHECK(voted && saved_len[1] > 0);
  uint64_t h = 0;
  uint32_t round = 0;
  CHECK_RC(cpchain_lbft_validator_position(v[1], &h, &round), CPCHAIN_RESULT_OK);
  CHECK(h == 1 && round == 0);

  /* The crash: the handle and everything in memory is gone; only the PERSIST bytes remain. */
  cpchain_lbft_validator_free(v[1]);
  v[1] = NULL;

  /* Bad bytes are refused with a code and no handle. */
  cpchain_lbft_validator *bad = (cpchain_lbft_validator *)(uintptr_t)1;
  for (size_t cut = 0; cut < saved_len[1]; cut += 7) {
    cpchain_result r = cpchain_lbft_validator_restore(spec, keys[1], &pks[0][0], NVAL, &addrs[0][0],
                                                      NVAL, 0, saved_persist[1], cut, &bad);
    CHECK(r >= CPCHAIN_RESULT_DECODE_TOO_LARGE && r <= CPCHAIN_RESULT_DECODE_OTHER);
    CHECK(bad == NULL);
  }
  uint8_t garbage[256];
  for (int i = 0; i < 100; i++) {
    size_t glen2 = (size_t)(next_byte() % sizeof garbage);
    fill_garbage(garbage, glen2);
    if (glen2 > 3 && (i & 1)) { garbage[0] = 1; garbage[1] = 2; garbage[2] = 7; } /* PERSIST tag (v2) */
    cpchain_result r = cpchain_lbft_validator_restore(spec, keys[1], &pks[0][0], NVAL, &addrs[0][0],
                                                      NVAL, 0, garbage, glen2, &bad);
    CHECK(r != CPCHAIN_RESULT_OK && r != CPCHAIN_RESULT_PANIC && bad == NULL);
  }
  /* Flipped bits: an error, or (when the flip hits a don't-care value) a valid record, but
   * never a crash or a handle on failure. */
  {
    static uint8_t flipped[16384];
    for (int i = 0; i < 200; i++) {
      memcpy(flipped, saved_persist[1], saved_len[1]);
      size_t bit = ((size_t)next_byte() * 256u + next_byte()) % (saved_len[1] * 8);
      flipped[bit / 8] ^= (uint8_t)(1u << (bit % 8));
      cpchain_lbft_validator *x = NULL;
      cpchain_result r = cpchain_lbft_validator_restore(spec, keys[1], &pks[0][0], NVAL, &addrs[0][0],
                                                        NVAL, 0, flipped, saved_len[1], &x);
      CHECK(r != CPCHAIN_RESULT_PANIC && (r == CPCHAIN_RESULT_OK) == (x != NULL));
      cpchain_lbft_validator_free(x);
    }
  }
  {
    /* The record under another validator's key (its vote is signed by validator 1), with
     * another chain's spec, a header instead of a record, a bad flag, NULLs: */
    CHECK_RC(cpchain_lbft_validator_restore(spec, keys[2], &pks[0][0], NVAL, &addrs[0][0], NVAL, 0,
                                            saved_persist[1], saved_len[1], &bad),
             CPCHAIN_RESULT_LBFT_PERSISTED_MISMATCH);
    CHECK(bad == NULL);
    cpchain_result r = cpchain_lbft_validator_restore(mainnet, keys[1], &pks[0][0], NVAL, &addrs[0][0],
                                                      NVAL, 0, saved_persist[1], saved_len[1], &bad);
    CHECK(r == CPCHAIN_RESULT_LBFT_VALIDATOR_COUNT || r == CPCHAIN_RESULT_LBFT_PERSISTED_MISMATCH);
    CHECK_RC(cpchain_lbft_validator_restore(spec, keys[1], &pks[0][0], NVAL, &addrs[0][0], NVAL, 0,
                                            genesis, glen, &bad),
             CPCHAIN_RESULT_DECODE_WRONG_TAG);
    CHECK_RC(cpchain_lbft_validator_restore(spec, keys[1], &pks[0][0], NVAL, &addrs[0][0], NVAL, 9,
                                            saved_persist[1], saved_len[1], &bad),
             CPCHAIN_RESULT_INVALID_PARAMETER);
    CHECK_RC(cpchain_lbft_validator_restore(NULL, keys[1], &pks[0][0], NVAL, &addrs[0][0], NVAL, 0,
                                            saved_persist[1], saved_len[1], &bad),
             CPCHAIN_RESULT_NULL_PARAMETER);
    CHECK_RC(cpchain_lbft_validator_restore(spec, NULL, &pks[0][0], NVAL, &addrs[0][0], NVAL, 0,
                                            saved_persist[1], saved_len[1], &bad),
             CPCHAIN_RESULT_NULL_PARAMETER);
    CHECK_RC(cpchain_lbft_validator_restore(spec, keys[1], &pks[0][0], NVAL, &addrs[0][0], NVAL, 0,
                                            NULL, saved_len[1], &bad),
             CPCHAIN_RESULT_NULL_PARAMETER);
    CHECK_RC(cpchain_lbft_validator_restore(spec, keys[1], &pks[0][0], NVAL, &addrs[0][0], NVAL, 0,
                                            saved_persist[1], saved_len[1], NULL),
             CPCHAIN_RESULT_NULL_PARAMETER);
    CHECK(bad == NULL);
  }

  /* The restart: a new handle from spec, key and the persisted bytes. */
  CHECK_RC(cpchain_lbft_validator_restore(spec, keys[1], &pks[0][0], NVAL, &addrs[0][0], NVAL, 0,
                                          saved_persist[1], saved_len[1], &v[1]),
           CPCHAIN_RESULT_OK);
  CHECK(v[1] != NULL);
  h = 0;
  round = 9;
  CHECK_RC(cpchain_lbft_validator_position(v[1], &h, &round), CPCHAIN_RESULT_OK);
  CHECK(h == 1 && round == 0);
  CHECK_RC(cpchain_lbft_validator_position(v[1], NULL, &round), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_lbft_validator_position(NULL, &h, &round), CPCHAIN_RESULT_NULL_PARAMETER);

  /* Run to the decision. The restored validator re-broadcasts exactly the vote it signed
   * before (same bytes), and nobody sees an equivocation. */
  for (int step = 0; step < 50 && st.commits < NVAL; step++)
    pump_once(v, (const uint8_t(*)[20])addrs, now, &st, 0, 1);
  CHECK(st.commits == NVAL);
  CHECK(st.faults == 0);
  CHECK(st.rebroadcast_matches >= 1);
  /* Everyone decides the same block. The certificates may hold different quorums: the
   * restored validator keeps the block it prepared (Persisted v2) and decides from the
   * COMMITs it collects itself rather than adopting a peer's VALIDATE. */
  for (int i = 1; i < NVAL; i++)
    CHECK(st.commit_len[i] > 0 && memcmp(st.commit_id[i], st.commit_id[0], 32) == 0);

  /* A second crash, after the decision: the record is now at height 2. The restored
   * validator is handed the head's VALIDATE to help lagging peers; once only. */
  cpchain_lbft_validator_free(v[1]);
  v[1] = NULL;
  CHECK_RC(cpchain_lbft_validator_restore(spec, keys[1], &pks[0][0], NVAL, &addrs[0][0], NVAL, 0,
                                          saved_persist[1], saved_len[1], &v[1]),
           CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_lbft_validator_position(v[1], &h, &round), CPCHAIN_RESULT_OK);
  CHECK(h == 2);
  fill_garbage(garbage, 40);
  {
    cpchain_result r = cpchain_lbft_validator_remember(v[1], garbage, 40);
    CHECK(r >= CPCHAIN_RESULT_DECODE_TOO_LARGE && r <= CPCHAIN_RESULT_DECODE_OTHER);
  }
  CHECK_RC(cpchain_lbft_validator_remember(v[1], NULL, 4), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_lbft_validator_remember(NULL, st.commit[0], st.commit_len[0]),
           CPCHAIN_RESULT_NULL_PARAMETER);
  {
    /* A tampered certificate is refused, state unchanged. */
    static uint8_t t[4096];
    memcpy(t, st.commit[0], st.commit_len[0]);
    t[st.commit_len[0] - 5] ^= 1;
    cpchain_result r = cpchain_lbft_validator_remember(v[1], t, st.commit_len[0]);
    CHECK(r != CPCHAIN_RESULT_OK && r != CPCHAIN_RESULT_PANIC);
  }
  CHECK_RC(cpchain_lbft_validator_remember(v[1], st.commit[0], st.commit_len[0]), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_lbft_validator_remember(v[1], st.commit[0], st.commit_len[0]),
           CPCHAIN_RESULT_LBFT_DUPLICATE);

  while (lbft_head < lbft_tail) free(lbft_queue[lbft_head++].bytes);
  for (int i = 0; i < NVAL; i++) {
    cpchain_lbft_validator_free(v[i]);
    cpchain_secret_key_free(keys[i]);
  }
  cpchain_chain_spec_free(mainnet);
  cpchain_chain_spec_free(spec);
}

/* Handles are immutable: one key and one spec may be used from several threads at once. */
struct thread_arg {
  const cpchain_secret_key *key;
  const cpchain_chain_spec *spec;
  uint8_t tag;
  unsigned errors;
};

static void *thread_main(void *p) {
  struct thread_arg *arg = (struct thread_arg *)p;
  uint8_t addr[20], rec[20], digest[32], sig[65];
  if (cpchain_secret_key_address(arg->key, addr, 20) != CPCHAIN_RESULT_OK) arg->errors++;
  for (int i = 0; i < 8; i++) {
    uint8_t msg[2] = {arg->tag, (uint8_t)i};
    uint64_t chain_id = 0;
    if (cpchain_keccak256(msg, sizeof msg, digest, 32) != CPCHAIN_RESULT_OK) arg->errors++;
    if (cpchain_secret_key_sign_prehash(arg->key, digest, 32, sig, 65) != CPCHAIN_RESULT_OK)
      arg->errors++;
    if (cpchain_signature_recover_address(sig, 65, digest, 32, rec, 20) != CPCHAIN_RESULT_OK ||
        memcmp(addr, rec, 20) != 0)
      arg->errors++;
    if (cpchain_chain_spec_chain_id(arg->spec, &chain_id) != CPCHAIN_RESULT_OK || chain_id != 337)
      arg->errors++;
  }
  return NULL;
}

static void test_shared_handles_across_threads(void) {
  cpchain_secret_key *sk = test_key();
  cpchain_chain_spec *spec = NULL;
  CHECK_RC(cpchain_chain_spec_mainnet(&spec), CPCHAIN_RESULT_OK);
  enum { THREADS = 4 };
  pthread_t threads[THREADS];
  struct thread_arg args[THREADS];
  for (int i = 0; i < THREADS; i++) {
    args[i].key = sk;
    args[i].spec = spec;
    args[i].tag = (uint8_t)i;
    args[i].errors = 0;
    CHECK(pthread_create(&threads[i], NULL, thread_main, &args[i]) == 0);
  }
  for (int i = 0; i < THREADS; i++) {
    CHECK(pthread_join(threads[i], NULL) == 0);
    CHECK(args[i].errors == 0);
  }
  cpchain_chain_spec_free(spec);
  cpchain_secret_key_free(sk);
}

int main(void) {
  test_version_and_messages();
  test_keccak();
  test_secret_keys();
  test_secret_key_in_caller_storage();
  test_prehash_signatures();
  test_domain_signatures();
  test_v_flipped_signatures_are_refused();
  test_public_keys();
  test_addresses();
  test_aead();
  test_chain_spec();
  test_shared_handles_across_threads();
  test_chain_writer_and_reader();
  test_chain_bad_input();
  test_rpt_and_election();
  test_dpor_schedule();
  test_lbft_light();
  test_lbft_validators();
  test_lbft_crash_and_restore();
  printf("%u passed, %u failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
