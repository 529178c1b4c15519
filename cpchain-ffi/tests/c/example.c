/* The example of the crate docs and the README, as a complete program: a device key from
 * the caller's entropy, a domain-separated signature over a reading, its check, and the
 * error text on failure. run-c-tests.sh compiles and runs it, so the snippet stays true. */
#include "cpchain.h"

#include <stdio.h>
#include <string.h>

static void report(const char *what, cpchain_result rc) {
  char text[CPCHAIN_RESULT_MESSAGE_MAX];
  size_t n = 0;
  if (cpchain_result_message(rc, text, sizeof text, &n) == CPCHAIN_RESULT_OK) {
    fprintf(stderr, "%s failed: %s (%u)\n", what, text, (unsigned)rc);
  }
}

int main(void) {
  uint8_t seed[CPCHAIN_SEED_LEN];
  memset(seed, 0x5a, sizeof seed); /* on a device: the hardware RNG */
  cpchain_secret_key *key = NULL;
  cpchain_result rc = cpchain_secret_key_from_seed(seed, sizeof seed, &key);
  if (rc != CPCHAIN_RESULT_OK) {
    report("key", rc);
    return 1;
  }

  static const char domain[] = "cpchain/gateway/reading/v1";
  const uint8_t reading[] = {0x15, 0x05};
  uint8_t sig[CPCHAIN_SIGNATURE_LEN];
  rc = cpchain_secret_key_sign(key, domain, sizeof domain - 1, reading, sizeof reading, sig,
                               sizeof sig);
  if (rc != CPCHAIN_RESULT_OK) {
    report("sign", rc);
    cpchain_secret_key_free(key);
    return 1;
  }

  /* Whoever holds the reading and the signature learns who signed it. */
  uint8_t signer[CPCHAIN_ADDRESS_LEN];
  char text[CPCHAIN_ADDRESS_TEXT_LEN + 1];
  size_t len = 0;
  rc = cpchain_signature_recover_signer(sig, sizeof sig, domain, sizeof domain - 1, reading,
                                        sizeof reading, signer, sizeof signer);
  if (rc == CPCHAIN_RESULT_OK) {
    rc = cpchain_address_to_checksum(signer, sizeof signer, text, sizeof text, &len);
  }
  if (rc != CPCHAIN_RESULT_OK) {
    report("recover", rc);
    cpchain_secret_key_free(key);
    return 1;
  }
  printf("reading signed by %s\n", text);

  /* A tampered reading is caught. */
  const uint8_t forged[] = {0x99, 0x05};
  uint8_t pk[CPCHAIN_PUBLIC_KEY_COMPRESSED_LEN];
  cpchain_secret_key_public_key(key, pk, sizeof pk);
  rc = cpchain_public_key_verify_payload(pk, sizeof pk, domain, sizeof domain - 1, forged,
                                         sizeof forged, sig, sizeof sig);
  printf("forged reading: %s\n", rc == CPCHAIN_RESULT_BAD_SIGNATURE ? "rejected" : "ACCEPTED");

  cpchain_secret_key_free(key); /* wipes the scalar; NULL is fine too */
  return rc == CPCHAIN_RESULT_BAD_SIGNATURE ? 0 : 1;
}
