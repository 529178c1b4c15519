/* The header alone, as C11 with -Wall -Wextra -Werror -pedantic: compiled with -fsyntax-only. */
#include "cpchain.h"
#include "cpchain.h" /* the include guard holds */

_Static_assert(CPCHAIN_RESULT_OK == 0, "OK is zero");
_Static_assert(sizeof(cpchain_result) == 4, "cpchain_result is 32 bits");
_Static_assert(CPCHAIN_AEAD_TAG_LEN == 16, "Poly1305 tag");

int header_c11_probe(void);
int header_c11_probe(void) {
  cpchain_rpt_weights w = {50, 15, 10, 15, 10};
  return (int)(w.balance + w.transactions + w.proxy + w.data + w.maintenance);
}
