// C++17 test of cpchain.h: the header compiles with -Wall -Wextra -Werror -pedantic, links
// against the library, and its types behave as C++ code expects (the result enum has a
// fixed uint32_t underlying type; handles are incomplete types used through pointers).
#include "cpchain.h"

#include <cstdio>
#include <cstring>
#include <memory>
#include <type_traits>

static_assert(std::is_same_v<std::underlying_type_t<cpchain_result>, uint32_t>,
              "cpchain_result is a uint32_t enum");
static_assert(CPCHAIN_HASH_LEN == 32 && CPCHAIN_SIGNATURE_LEN == 65, "sizes");
static_assert(CPCHAIN_RESULT_OK == 0 && CPCHAIN_RESULT_NULL_PARAMETER > 7000, "codes");

namespace {
struct KeyDeleter {
  void operator()(cpchain_secret_key *k) const noexcept { cpchain_secret_key_free(k); }
};
using Key = std::unique_ptr<cpchain_secret_key, KeyDeleter>;
}  // namespace

int main() {
  unsigned passed = 0, failed = 0;
  auto check = [&](bool ok, const char *what) {
    if (ok) {
      ++passed;
    } else {
      ++failed;
      std::fprintf(stderr, "FAIL: %s\n", what);
    }
  };

  uint8_t seed[CPCHAIN_SEED_LEN] = {1};
  cpchain_secret_key *raw = nullptr;
  check(cpchain_secret_key_from_seed(seed, sizeof seed, &raw) == CPCHAIN_RESULT_OK, "from_seed");
  Key key(raw);

  const char domain[] = "cpchain/ffi-test/cpp/v1";
  const uint8_t payload[] = {1, 2, 3};
  uint8_t sig[CPCHAIN_SIGNATURE_LEN], addr[CPCHAIN_ADDRESS_LEN], signer[CPCHAIN_ADDRESS_LEN];
  check(cpchain_secret_key_sign(key.get(), domain, std::strlen(domain), payload, sizeof payload,
                                sig, sizeof sig) == CPCHAIN_RESULT_OK,
        "sign");
  check(cpchain_secret_key_address(key.get(), addr, sizeof addr) == CPCHAIN_RESULT_OK, "address");
  check(cpchain_signature_recover_signer(sig, sizeof sig, domain, std::strlen(domain), payload,
                                         sizeof payload, signer,
                                         sizeof signer) == CPCHAIN_RESULT_OK,
        "recover_signer");
  check(std::memcmp(addr, signer, sizeof addr) == 0, "signer is the key's address");

  cpchain_result r = cpchain_secret_key_sign(nullptr, domain, 1, payload, 1, sig, sizeof sig);
  check(r == CPCHAIN_RESULT_NULL_PARAMETER, "NULL handle refused");
  char msg[CPCHAIN_RESULT_MESSAGE_MAX];
  size_t n = 0;
  check(cpchain_result_message(r, msg, sizeof msg, &n) == CPCHAIN_RESULT_OK && n > 0, "message");

  std::printf("%u passed, %u failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
