/* The C validator on a DPoR schedule, and fault evidence (issue 13):
 *   1. four validator handles on a copied cpchain_dpor_schedule run 40 heights of devnet,
 *      across three term boundaries; the host runs each checkpoint's election in its own
 *      schedule and hands every validator a fresh copy, and from height 37 (term 3, the
 *      first an election serves) the elected committee proposes;
 *   2. faults provoked through the C API (proposer, vote and leader equivocation with two
 *      handles of one key, an illicit block, a bad seal): the FAULT bytes are evidence that
 *      cpchain_lbft_verify_evidence traces to the offender, and tampered evidence is
 *      refused.
 * Built and run by run-c-tests.sh under ASan + UBSan and under valgrind. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define NVAL 4

struct msg {
  int from;
  int to; /* -1: every validator */
  size_t len;
  uint8_t *bytes;
};

static struct msg queue[4096];
static size_t q_head, q_tail;
static uint8_t buf[1 << 16];

struct net {
  cpchain_lbft_validator *v[NVAL];
  uint8_t addrs[NVAL][20];
  unsigned commits;
  unsigned faults;
  int committed[NVAL];
  uint8_t commit[4096]; /* validator 0's VALIDATE of the height */
  size_t commit_len;
  uint8_t commit_id[32];
  uint8_t persisted[NVAL][16384]; /* the host's "disk": each validator's last PERSIST */
  size_t persisted_len[NVAL];
};

static void push(int from, int to, const uint8_t *bytes, size_t n) {
  if (q_tail >= sizeof queue / sizeof queue[0]) {
    CHECK(!"message queue full");
    return;
  }
  struct msg *m = &queue[q_tail++];
  m->from = from;
  m->to = to;
  m->len = n;
  m->bytes = malloc(n);
  memcpy(m->bytes, bytes, n);
}

/* Poll every validator to empty (approving every block it is asked to judge), then deliver
 * the queue. */
static void pump(struct net *net, uint64_t now) {
  size_t n = 0;
  cpchain_lbft_output_kind kind;
  cpchain_lbft_output_info info;
  for (int i = 0; i < NVAL; i++) {
    for (;;) {
      cpchain_result r = cpchain_lbft_validator_poll(net->v[i], buf, sizeof buf, &n, &kind, &info);
      if (r == CPCHAIN_RESULT_NO_OUTPUT) break;
      CHECK_RC(r, CPCHAIN_RESULT_OK);
      if (r != CPCHAIN_RESULT_OK) break;
      if (kind == CPCHAIN_LBFT_OUTPUT_KIND_PERSIST) {
        CHECK(n <= sizeof net->persisted[i]);
        if (n <= sizeof net->persisted[i]) {
          memcpy(net->persisted[i], buf, n);
          net->persisted_len[i] = n;
        }
      } else if (kind == CPCHAIN_LBFT_OUTPUT_KIND_BROADCAST) {
        push(i, -1, buf, n);
      } else if (kind == CPCHAIN_LBFT_OUTPUT_KIND_SEND) {
        for (int j = 0; j < NVAL; j++)
          if (memcmp(info.peer, net->addrs[j], 20) == 0) push(i, j, buf, n);
      } else if (kind == CPCHAIN_LBFT_OUTPUT_KIND_CHECK_BLOCK) {
        CHECK_RC(cpchain_lbft_validator_block_checked(net->v[i], now, info.block_id, 32, true),
                 CPCHAIN_RESULT_OK);
      } else if (kind == CPCHAIN_LBFT_OUTPUT_KIND_COMMIT) {
        if (!net->committed[i]) {
          net->committed[i] = 1;
          net->commits++;
          if (i == 0 && n <= sizeof net->commit) {
            memcpy(net->commit, buf, n);
            net->commit_len = n;
            memcpy(net->commit_id, info.block_id, 32);
          }
        }
      } else if (kind == CPCHAIN_LBFT_OUTPUT_KIND_FAULT) {
        net->faults++;
      }
    }
  }
  while (q_head < q_tail) {
    struct msg *m = &queue[q_head++];
    for (int j = 0; j < NVAL; j++) {
      if (j == m->from || (m->to >= 0 && m->to != j)) continue;
      cpchain_result r =
          cpchain_lbft_validator_handle_bytes(net->v[j], now, net->addrs[m->from], 20, m->bytes, m->len, NULL);
      CHECK(r != CPCHAIN_RESULT_PANIC);
    }
    free(m->bytes);
  }
  q_head = q_tail = 0;
}

static cpchain_chain_spec *devnet(void) {
  cpchain_chain_spec *spec = NULL;
  CHECK_RC(cpchain_chain_spec_devnet(&spec), CPCHAIN_RESULT_OK);
  return spec;
}

static void make_keys(cpchain_secret_key *keys[NVAL], uint8_t pks[NVAL][33], uint8_t addrs[NVAL][20]) {
  for (int i = 0; i < NVAL; i++) {
    uint8_t b[32];
    memset(b, 0x70 + i, 32);
    CHECK_RC(cpchain_secret_key_from_bytes(b, 32, &keys[i]), CPCHAIN_RESULT_OK);
    CHECK_RC(cpchain_secret_key_public_key(keys[i], pks[i], 33), CPCHAIN_RESULT_OK);
    CHECK_RC(cpchain_secret_key_address(keys[i], addrs[i], 20), CPCHAIN_RESULT_OK);
  }
}

static int index_of(uint8_t addrs[NVAL][20], const uint8_t a[20]) {
  for (int i = 0; i < NVAL; i++)
    if (memcmp(addrs[i], a, 20) == 0) return i;
  return -1;
}

/* ---- 1. Validators across term boundaries with an elected committee. ---- */

static void test_validators_follow_the_elected_committee(void) {
  cpchain_chain_spec *spec = devnet(), *mainnet = NULL;
  CHECK_RC(cpchain_chain_spec_mainnet(&mainnet), CPCHAIN_RESULT_OK);
  uint64_t period = 0, term_blocks = 0, lead = 0;
  CHECK_RC(cpchain_chain_spec_block_period_ms(spec, &period), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_chain_spec_term_blocks(spec, &term_blocks), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_chain_spec_election_lead_terms(spec, &lead), CPCHAIN_RESULT_OK);
  if (term_blocks != 12 || lead != 2) {
    CHECK(!"the test assumes devnet terms of 12 blocks and an election lead of 2");
    cpchain_chain_spec_free(spec);
    cpchain_chain_spec_free(mainnet);
    return;
  }
  const uint64_t first_elected = 3 * term_blocks + 1; /* term 3: served by checkpoint 12 */
  const uint64_t last = first_elected + 3;            /* one view of the elected committee */

  static struct net net;
  memset(&net, 0, sizeof net);
  cpchain_secret_key *keys[NVAL];
  uint8_t pks[NVAL][33];
  make_keys(keys, pks, net.addrs);
  /* The validators are the default proposers too (and the candidates). */
  cpchain_dpor_schedule *host = NULL, *first = NULL, *other_chain = NULL;
  CHECK_RC(cpchain_dpor_schedule_new(spec, &net.addrs[0][0], NVAL,
                                     CPCHAIN_DPOR_SCHEDULE_DEFAULT_CAPACITY, &host),
           CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_dpor_schedule_new(spec, &net.addrs[0][0], NVAL,
                                     CPCHAIN_DPOR_SCHEDULE_DEFAULT_CAPACITY, &first),
           CPCHAIN_RESULT_OK);

  const uint64_t t0 = 1000000;
  uint8_t genesis[CPCHAIN_LBFT_HEADER_MAX_LEN];
  size_t glen = 0;
  CHECK_RC(cpchain_lbft_genesis_header(spec, t0, genesis, sizeof genesis, &glen), CPCHAIN_RESULT_OK);
  /* Each validator copies `first`, which is freed at once: the validators do not borrow it. */
  for (int i = 0; i < NVAL; i++)
    CHECK_RC(cpchain_lbft_validator_new_dpor(spec, keys[i], &pks[0][0], NVAL, first, 0, genesis,
                                             glen, t0, &net.v[i]),
             CPCHAIN_RESULT_OK);
  cpchain_dpor_schedule_free(first);

  /* Refusals: a schedule of another spec, NULLs, a bad quorum flag; nothing is made. */
  uint8_t defaults12[12][20];
  for (int i = 0; i < 12; i++) memset(defaults12[i], 0xb0 + i, 20);
  CHECK_RC(cpchain_dpor_schedule_new(mainnet, &defaults12[0][0], 12, 8, &other_chain),
           CPCHAIN_RESULT_OK);
  cpchain_lbft_validator *bad = (cpchain_lbft_validator *)(uintptr_t)1;
  CHECK_RC(cpchain_lbft_validator_new_dpor(spec, keys[0], &pks[0][0], NVAL, other_chain, 0, genesis,
                                           glen, t0, &bad),
           CPCHAIN_RESULT_LBFT_SCHEDULE_MISMATCH);
  CHECK(bad == NULL);
  CHECK_RC(cpchain_lbft_validator_new_dpor(spec, keys[0], &pks[0][0], NVAL, NULL, 0, genesis, glen,
                                           t0, &bad),
           CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_lbft_validator_new_dpor(spec, keys[0], &pks[0][0], NVAL, host, 5, genesis, glen,
                                           t0, &bad),
           CPCHAIN_RESULT_INVALID_PARAMETER);
  CHECK_RC(cpchain_lbft_validator_set_schedule(net.v[0], other_chain),
           CPCHAIN_RESULT_LBFT_SCHEDULE_MISMATCH);
  CHECK_RC(cpchain_lbft_validator_set_schedule(net.v[0], NULL), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_lbft_validator_set_schedule(NULL, host), CPCHAIN_RESULT_NULL_PARAMETER);
  CHECK_RC(cpchain_lbft_validator_restore_dpor(spec, keys[0], &pks[0][0], NVAL, other_chain, 0,
                                               genesis, glen, &bad),
           CPCHAIN_RESULT_LBFT_SCHEDULE_MISMATCH);
  CHECK(bad == NULL);

  cpchain_candidate cands[NVAL];
  for (int i = 0; i < NVAL; i++) {
    memcpy(cands[i].address, net.addrs[i], 20);
    cands[i].rpt = 1000u * (uint32_t)(i + 1);
  }
  uint8_t head36[CPCHAIN_LBFT_HEADER_MAX_LEN];
  size_t head36_len = 0;
  /* A light client follows the chain with the same schedule: each VALIDATE verifies
   * against its parent header and the schedule's proposer of its height. */
  uint8_t parent_hdr[CPCHAIN_LBFT_HEADER_MAX_LEN];
  size_t parent_hdr_len = glen;
  memcpy(parent_hdr, genesis, glen);
  unsigned light_ok = 0, fixed_refused = 0;
  unsigned elections = 0, elected_differs = 0, total_faults = 0;
  uint64_t parent_time = t0;
  for (uint64_t h = 1; h <= last; h++) {
    uint64_t now = parent_time + period;
    uint8_t who[20];
    CHECK_RC(cpchain_dpor_schedule_proposer_of(host, h, who, sizeof who), CPCHAIN_RESULT_OK);
    int p = index_of(net.addrs, who);
    CHECK(p >= 0);
    if (p < 0) break;
    /* From term 3 on, the elected committee's order; the fixed rotation would name
     * addrs[(h - 1) mod 4]. */
    if (h >= first_elected && p != (int)((h - 1) % NVAL)) elected_differs++;
    const uint8_t tx[] = {(uint8_t)h, 0x5e};
    cpchain_bytes txs[1] = {{tx, sizeof tx}};
    uint8_t id[32];
    for (int i = 0; i < NVAL; i++)
      CHECK_RC(cpchain_lbft_validator_propose(net.v[i], now, txs, 1, id, sizeof id),
               i == p ? CPCHAIN_RESULT_OK : CPCHAIN_RESULT_LBFT_NOT_SCHEDULED);
    memset(net.committed, 0, sizeof net.committed);
    net.commits = 0;
    net.faults = 0;
    for (int step = 0; step < 20 && net.commits < NVAL; step++) pump(&net, now);
    CHECK(net.commits == NVAL);
    total_faults += net.faults;
    CHECK(memcmp(net.commit_id, id, 32) == 0); /* the proposal was decided, not impeached */
    parent_time = now;
    {
      size_t sigs = 0;
      cpchain_result r = cpchain_lbft_verify_validate_dpor(spec, &pks[0][0], NVAL, host, 0, parent_hdr,
                                                           parent_hdr_len, net.commit, net.commit_len, &sigs);
      CHECK_RC(r, CPCHAIN_RESULT_OK);
      if (r == CPCHAIN_RESULT_OK && sigs >= 3) light_ok++;
      /* Where the elected order differs, the fixed rotation refuses the block. */
      if (h >= first_elected && p != (int)((h - 1) % NVAL)) {
        CHECK_RC(cpchain_lbft_verify_validate(spec, &pks[0][0], NVAL, &net.addrs[0][0], NVAL, 0,
                                              parent_hdr, parent_hdr_len, net.commit, net.commit_len,
                                              &sigs),
                 CPCHAIN_RESULT_LBFT_WRONG_PROPOSER);
        fixed_refused++;
      }
      CHECK_RC(cpchain_lbft_validate_header(net.commit, net.commit_len, parent_hdr, sizeof parent_hdr,
                                            &parent_hdr_len),
               CPCHAIN_RESULT_OK);
    }
    if (h == first_elected - 1) {
      CHECK_RC(cpchain_lbft_validate_header(net.commit, net.commit_len, head36, sizeof head36,
                                            &head36_len),
               CPCHAIN_RESULT_OK);
    }
    if (h % term_blocks == 0) {
      /* A checkpoint: the host runs the election in its schedule (seeded by the block's
       * hash), then gives every validator a fresh copy. */
      uint64_t term = 0;
      CHECK_RC(cpchain_dpor_schedule_elect_at(host, h, net.commit_id, 32, cands, NVAL, &term),
               CPCHAIN_RESULT_OK);
      CHECK(term == h / term_blocks - 1 + lead + 1);
      elections++;
      for (int i = 0; i < NVAL; i++)
        CHECK_RC(cpchain_lbft_validator_set_schedule(net.v[i], host), CPCHAIN_RESULT_OK);
    }
  }
  CHECK(elections == 3);
  CHECK(light_ok == last);
  CHECK(fixed_refused == elected_differs);
  {
    /* The light check's refusals: another spec's schedule, NULL schedule. */
    size_t sigs = 0;
    CHECK_RC(cpchain_lbft_verify_validate_dpor(spec, &pks[0][0], NVAL, other_chain, 0, genesis, glen,
                                               net.commit, net.commit_len, &sigs),
             CPCHAIN_RESULT_LBFT_SCHEDULE_MISMATCH);
    CHECK_RC(cpchain_lbft_verify_validate_dpor(spec, &pks[0][0], NVAL, NULL, 0, genesis, glen,
                                               net.commit, net.commit_len, &sigs),
             CPCHAIN_RESULT_NULL_PARAMETER);
  }
  CHECK(total_faults == 0);
  CHECK(elected_differs > 0);
  uint64_t height = 0;
  uint32_t round = 9;
  CHECK_RC(cpchain_lbft_validator_position(net.v[0], &height, &round), CPCHAIN_RESULT_OK);
  CHECK(height == last + 1 && round == 0);

  /* A crash: validator 1 comes back from its last PERSIST with the host's schedule, at
   * the height it had reached. */
  cpchain_lbft_validator_free(net.v[1]);
  net.v[1] = NULL;
  CHECK_RC(cpchain_lbft_validator_restore_dpor(spec, keys[1], &pks[0][0], NVAL, host, 0,
                                               net.persisted[1], net.persisted_len[1], &net.v[1]),
           CPCHAIN_RESULT_OK);
  CHECK(net.v[1] != NULL);
  height = 0;
  CHECK_RC(cpchain_lbft_validator_position(net.v[1], &height, &round), CPCHAIN_RESULT_OK);
  CHECK(height == last + 1);

  /* A validator whose copy lacks the election knows no proposer in term 3, so the elected
   * proposer of height 37 may not propose there; after set_schedule it may. */
  {
    cpchain_dpor_schedule *stale = NULL;
    CHECK_RC(cpchain_dpor_schedule_new(spec, &net.addrs[0][0], NVAL,
                                       CPCHAIN_DPOR_SCHEDULE_DEFAULT_CAPACITY, &stale),
             CPCHAIN_RESULT_OK);
    uint8_t who[20];
    CHECK_RC(cpchain_dpor_schedule_proposer_of(stale, first_elected, who, sizeof who),
             CPCHAIN_RESULT_DPOR_NO_PROPOSER);
    CHECK_RC(cpchain_dpor_schedule_proposer_of(host, first_elected, who, sizeof who),
             CPCHAIN_RESULT_OK);
    int p = index_of(net.addrs, who);
    cpchain_lbft_validator *late = NULL;
    CHECK(p >= 0 && head36_len > 0);
    if (p >= 0) {
      CHECK_RC(cpchain_lbft_validator_new_dpor(spec, keys[p], &pks[0][0], NVAL, stale, 0, head36,
                                               head36_len, parent_time, &late),
               CPCHAIN_RESULT_OK);
      const uint8_t tx[] = {0x37};
      cpchain_bytes txs[1] = {{tx, sizeof tx}};
      uint8_t id[32];
      /* Block h was proposed at t0 + h * period: height 37's window opens one period
       * after block 36. */
      const uint64_t at = t0 + first_elected * period;
      CHECK_RC(cpchain_lbft_validator_propose(late, at, txs, 1, id, sizeof id),
               CPCHAIN_RESULT_LBFT_NOT_SCHEDULED);
      CHECK_RC(cpchain_lbft_validator_set_schedule(late, host), CPCHAIN_RESULT_OK);
      CHECK_RC(cpchain_lbft_validator_propose(late, at, txs, 1, id, sizeof id), CPCHAIN_RESULT_OK);
      cpchain_lbft_validator_free(late);
    }
    cpchain_dpor_schedule_free(stale);
  }

  while (q_head < q_tail) free(queue[q_head++].bytes);
  q_head = q_tail = 0;
  for (int i = 0; i < NVAL; i++) {
    cpchain_lbft_validator_free(net.v[i]);
    cpchain_secret_key_free(keys[i]);
  }
  cpchain_dpor_schedule_free(host);
  cpchain_dpor_schedule_free(other_chain);
  cpchain_chain_spec_free(mainnet);
  cpchain_chain_spec_free(spec);
}

/* ---- 2. Faults and their evidence. ---- */

struct fault_seen {
  unsigned n;
  cpchain_lbft_output_info info;
  uint8_t bytes[CPCHAIN_LBFT_EVIDENCE_MAX_LEN];
  size_t len;
};

/* Drain `v`: approve (or reject) block checks, keep the first broadcast and the first fault. */
static void drain(cpchain_lbft_validator *v, uint64_t now, bool approve, struct fault_seen *f,
                  uint8_t *first_bcast, size_t *first_len) {
  size_t n = 0;
  cpchain_lbft_output_kind kind;
  cpchain_lbft_output_info info;
  for (;;) {
    cpchain_result r = cpchain_lbft_validator_poll(v, buf, sizeof buf, &n, &kind, &info);
    if (r == CPCHAIN_RESULT_NO_OUTPUT) break;
    CHECK_RC(r, CPCHAIN_RESULT_OK);
    if (r != CPCHAIN_RESULT_OK) break;
    if (kind == CPCHAIN_LBFT_OUTPUT_KIND_CHECK_BLOCK) {
      CHECK_RC(cpchain_lbft_validator_block_checked(v, now, info.block_id, 32, approve),
               CPCHAIN_RESULT_OK);
    } else if (kind == CPCHAIN_LBFT_OUTPUT_KIND_BROADCAST && first_bcast != NULL && *first_len == 0 &&
               n <= 4096) {
      memcpy(first_bcast, buf, n);
      *first_len = n;
    } else if (kind == CPCHAIN_LBFT_OUTPUT_KIND_FAULT && f != NULL) {
      if (f->n++ == 0) {
        f->info = info;
        CHECK(n <= sizeof f->bytes);
        if (n <= sizeof f->bytes) {
          memcpy(f->bytes, buf, n);
          f->len = n;
        }
      }
    }
  }
}

static void test_faults_carry_evidence(void) {
  cpchain_chain_spec *spec = devnet();
  uint64_t period = 0;
  CHECK_RC(cpchain_chain_spec_block_period_ms(spec, &period), CPCHAIN_RESULT_OK);
  cpchain_secret_key *keys[NVAL];
  uint8_t pks[NVAL][33], addrs[NVAL][20];
  make_keys(keys, pks, addrs);
  const uint64_t t0 = 1000000, now = t0 + period;
  uint8_t genesis[CPCHAIN_LBFT_HEADER_MAX_LEN];
  size_t glen = 0;
  CHECK_RC(cpchain_lbft_genesis_header(spec, t0, genesis, sizeof genesis, &glen), CPCHAIN_RESULT_OK);
  /* Fixed rotation addrs[0..4]: validator 0 proposes height 1. */
#define NEW(k, out)                                                                            \
  CHECK_RC(cpchain_lbft_validator_new(spec, keys[k], &pks[0][0], NVAL, &addrs[0][0], NVAL, 0,    \
                                      genesis, glen, t0, &(out)),                               \
           CPCHAIN_RESULT_OK)
  cpchain_lbft_validator *p0 = NULL, *p0b = NULL, *v1 = NULL, *v2 = NULL, *v2b = NULL, *v3 = NULL,
                         *judge = NULL, *relay = NULL;
  NEW(0, p0);
  NEW(0, p0b); /* the same proposer key twice: it will seal two blocks for height 1 */
  NEW(1, v1);
  NEW(2, v2);
  NEW(2, v2b); /* the same validator key twice: it will prepare both blocks */
  NEW(3, v3);
  NEW(3, judge);
  NEW(1, relay);
  cpchain_lbft_validator *all[] = {p0, p0b, v1, v2, v2b, v3, judge, relay};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) drain(all[i], t0, true, NULL, NULL, NULL);

  static uint8_t pp_a[4096], pp_b[4096], prep_a[4096], prep_b[4096];
  size_t pp_a_len = 0, pp_b_len = 0, prep_a_len = 0, prep_b_len = 0;
  const uint8_t tx_a[] = {0xaa}, tx_b[] = {0xbb};
  cpchain_bytes txs_a[1] = {{tx_a, 1}}, txs_b[1] = {{tx_b, 1}};
  uint8_t id_a[32], id_b[32];
  CHECK_RC(cpchain_lbft_validator_propose(p0, now, txs_a, 1, id_a, 32), CPCHAIN_RESULT_OK);
  CHECK_RC(cpchain_lbft_validator_propose(p0b, now, txs_b, 1, id_b, 32), CPCHAIN_RESULT_OK);
  CHECK(memcmp(id_a, id_b, 32) != 0);
  drain(p0, now, true, NULL, pp_a, &pp_a_len);
  drain(p0b, now, true, NULL, pp_b, &pp_b_len);
  CHECK(pp_a_len > 0 && pp_b_len > 0);

  cpchain_lbft_offence o;
  /* Proposer equivocation: v1 gets both sealed blocks. */
  {
    struct fault_seen f = {0};
    CHECK_RC(cpchain_lbft_validator_handle_bytes(v1, now, addrs[0], 20, pp_a, pp_a_len, NULL),
             CPCHAIN_RESULT_OK);
    drain(v1, now, true, &f, NULL, NULL);
    cpchain_result r = cpchain_lbft_validator_handle_bytes(v1, now, addrs[0], 20, pp_b, pp_b_len, NULL);
    CHECK(r != CPCHAIN_RESULT_PANIC);
    drain(v1, now, true, &f, NULL, NULL);
    CHECK(f.n == 1 && f.info.fault == CPCHAIN_LBFT_FAULT_PROPOSER_EQUIVOCATION);
    CHECK(memcmp(f.info.peer, addrs[0], 20) == 0);
    CHECK_RC(cpchain_lbft_verify_evidence(spec, &pks[0][0], NVAL, f.bytes, f.len, &o), CPCHAIN_RESULT_OK);
    CHECK(o.fault == CPCHAIN_LBFT_FAULT_PROPOSER_EQUIVOCATION && memcmp(o.offender, addrs[0], 20) == 0);
    CHECK(o.height == 1 && !o.has_round);
    /* Tampered evidence proves nothing; truncated bytes are not evidence. */
    static uint8_t t[CPCHAIN_LBFT_EVIDENCE_MAX_LEN];
    unsigned refused = 0, decode = 0;
    for (size_t i = 0; i < f.len; i++) {
      memcpy(t, f.bytes, f.len);
      t[i] ^= 0x01;
      cpchain_result r2 = cpchain_lbft_verify_evidence(spec, &pks[0][0], NVAL, t, f.len, &o);
      CHECK(r2 != CPCHAIN_RESULT_PANIC);
      if (r2 != CPCHAIN_RESULT_OK) refused++;
      r2 = cpchain_lbft_verify_evidence(spec, &pks[0][0], NVAL, f.bytes, i, &o);
      if (r2 >= CPCHAIN_RESULT_DECODE_TOO_LARGE && r2 <= CPCHAIN_RESULT_DECODE_OTHER) decode++;
      CHECK(o.fault == CPCHAIN_LBFT_FAULT_NONE);
    }
    CHECK(refused == f.len);
    CHECK(decode == f.len);
    CHECK_RC(cpchain_lbft_verify_evidence(spec, &pks[0][0], NVAL - 1, f.bytes, f.len, &o),
             CPCHAIN_RESULT_LBFT_VALIDATOR_COUNT);
    CHECK_RC(cpchain_lbft_verify_evidence(spec, &pks[0][0], NVAL, NULL, f.len, &o),
             CPCHAIN_RESULT_NULL_PARAMETER);
    CHECK_RC(cpchain_lbft_verify_evidence(spec, &pks[0][0], NVAL, f.bytes, f.len, NULL),
             CPCHAIN_RESULT_NULL_PARAMETER);
    CHECK_RC(cpchain_lbft_verify_evidence(NULL, &pks[0][0], NVAL, f.bytes, f.len, &o),
             CPCHAIN_RESULT_NULL_PARAMETER);
    /* Another chain's committee check: mainnet wants 3f + 1 = 7 keys. */
    cpchain_chain_spec *mainnet = NULL;
    CHECK_RC(cpchain_chain_spec_mainnet(&mainnet), CPCHAIN_RESULT_OK);
    CHECK_RC(cpchain_lbft_verify_evidence(mainnet, &pks[0][0], NVAL, f.bytes, f.len, &o),
             CPCHAIN_RESULT_LBFT_VALIDATOR_COUNT);
    cpchain_chain_spec_free(mainnet);
  }

  /* Vote equivocation: validator 2's two handles each prepare one of the blocks; v3 sees
   * both PREPAREs. */
  {
    CHECK_RC(cpchain_lbft_validator_handle_bytes(v2, now, addrs[0], 20, pp_a, pp_a_len, NULL), CPCHAIN_RESULT_OK);
    drain(v2, now, true, NULL, prep_a, &prep_a_len);
    CHECK_RC(cpchain_lbft_validator_handle_bytes(v2b, now, addrs[0], 20, pp_b, pp_b_len, NULL), CPCHAIN_RESULT_OK);
    drain(v2b, now, true, NULL, prep_b, &prep_b_len);
    CHECK(prep_a_len > 0 && prep_b_len > 0);
    struct fault_seen f = {0};
    CHECK_RC(cpchain_lbft_validator_handle_bytes(v3, now, addrs[2], 20, prep_a, prep_a_len, NULL), CPCHAIN_RESULT_OK);
    cpchain_result r = cpchain_lbft_validator_handle_bytes(v3, now, addrs[2], 20, prep_b, prep_b_len, NULL);
    CHECK(r != CPCHAIN_RESULT_PANIC);
    drain(v3, now, true, &f, NULL, NULL);
    CHECK(f.n == 1 && f.info.fault == CPCHAIN_LBFT_FAULT_EQUIVOCATION);
    CHECK(memcmp(f.info.peer, addrs[2], 20) == 0);
    CHECK_RC(cpchain_lbft_verify_evidence(spec, &pks[0][0], NVAL, f.bytes, f.len, &o), CPCHAIN_RESULT_OK);
    CHECK(o.fault == CPCHAIN_LBFT_FAULT_EQUIVOCATION && memcmp(o.offender, addrs[2], 20) == 0);
    CHECK(o.height == 1 && o.has_round && o.round == 0);
    /* The committee matters: with validator 2's key swapped for validator 3's, the votes
     * are a non-member's. */
    uint8_t other[NVAL][33];
    memcpy(other, pks, sizeof other);
    uint8_t extra_b[32];
    memset(extra_b, 0x55, 32);
    cpchain_secret_key *extra = NULL;
    CHECK_RC(cpchain_secret_key_from_bytes(extra_b, 32, &extra), CPCHAIN_RESULT_OK);
    CHECK_RC(cpchain_secret_key_public_key(extra, other[2], 33), CPCHAIN_RESULT_OK);
    CHECK_RC(cpchain_lbft_verify_evidence(spec, &other[0][0], NVAL, f.bytes, f.len, &o),
             CPCHAIN_RESULT_LBFT_EVIDENCE_NOT_MEMBER);
    cpchain_secret_key_free(extra);
  }

  /* An illicit block: the host judges block A's transactions invalid. */
  {
    struct fault_seen f = {0};
    CHECK_RC(cpchain_lbft_validator_handle_bytes(judge, now, addrs[0], 20, pp_a, pp_a_len, NULL),
             CPCHAIN_RESULT_OK);
    drain(judge, now, false, &f, NULL, NULL);
    CHECK(f.n == 1 && f.info.fault == CPCHAIN_LBFT_FAULT_ILLICIT_BLOCK);
    CHECK(memcmp(f.info.peer, addrs[0], 20) == 0);
    CHECK_RC(cpchain_lbft_verify_evidence(spec, &pks[0][0], NVAL, f.bytes, f.len, &o), CPCHAIN_RESULT_OK);
    CHECK(o.fault == CPCHAIN_LBFT_FAULT_ILLICIT_BLOCK && memcmp(o.offender, addrs[0], 20) == 0);
    CHECK(o.reason == CPCHAIN_LBFT_ILLICIT_REASON_CONTENT && o.height == 1);
  }

  /* A bad seal: block A with its coinbase (the second copy of the proposer's address in the
   * encoding) altered, delivered by validator 3. No evidence: only the deliverer is named. */
  {
    static uint8_t t[4096];
    memcpy(t, pp_a, pp_a_len);
    size_t seen = 0, at = 0;
    for (size_t i = 0; i + 20 <= pp_a_len; i++)
      if (memcmp(t + i, addrs[0], 20) == 0 && ++seen == 2) at = i;
    CHECK(seen >= 2);
    t[at + 19] ^= 0x01;
    struct fault_seen f = {0};
    /* A peer's bad message is no error of the caller: OK, and the verdict blames the
     * deliverer. */
    cpchain_lbft_verdict verdict = {CPCHAIN_LBFT_VERDICT_KIND_ACCEPT, CPCHAIN_RESULT_PANIC};
    cpchain_result r = cpchain_lbft_validator_handle_bytes(relay, now, addrs[3], 20, t, pp_a_len, &verdict);
    CHECK_RC(r, CPCHAIN_RESULT_OK);
    CHECK(verdict.kind == CPCHAIN_LBFT_VERDICT_KIND_REJECT);
    CHECK_RC(verdict.reason, CPCHAIN_RESULT_LBFT_BAD_SEAL);
    /* Block A itself, intact, is accepted; the same again is ignored as a duplicate. */
    CHECK_RC(cpchain_lbft_validator_handle_bytes(relay, now, addrs[3], 20, pp_a, pp_a_len, &verdict),
             CPCHAIN_RESULT_OK);
    CHECK(verdict.kind == CPCHAIN_LBFT_VERDICT_KIND_ACCEPT);
    CHECK_RC(verdict.reason, CPCHAIN_RESULT_OK);
    CHECK_RC(cpchain_lbft_validator_handle_bytes(relay, now, addrs[3], 20, pp_a, pp_a_len, &verdict),
             CPCHAIN_RESULT_OK);
    CHECK(verdict.kind == CPCHAIN_LBFT_VERDICT_KIND_IGNORE);
    CHECK_RC(verdict.reason, CPCHAIN_RESULT_LBFT_DUPLICATE);
    drain(relay, now, true, &f, NULL, NULL);
    CHECK(f.n == 1 && f.info.fault == CPCHAIN_LBFT_FAULT_BAD_SEAL);
    CHECK(memcmp(f.info.peer, addrs[3], 20) == 0);
    CHECK(f.len == 0);
    CHECK(cpchain_lbft_verify_evidence(spec, &pks[0][0], NVAL, f.bytes, f.len, &o) !=
          CPCHAIN_RESULT_OK);
  }

  /* Leader equivocation: the leader of round 1 (committee slot (h + r) mod n = 2 in address
   * order) runs twice. One copy sees block A prepared by a quorum, locks on it and, in
   * round 1, proposes A with its proof-of-lock; the other saw nothing and proposes the
   * impeach block. A validator that receives both names the leader. */
  {
    int order[NVAL] = {0, 1, 2, 3};
    for (int i = 0; i < NVAL; i++)
      for (int j = i + 1; j < NVAL; j++)
        if (memcmp(addrs[order[j]], addrs[order[i]], 20) < 0) {
          int x = order[i];
          order[i] = order[j];
          order[j] = x;
        }
    const int lead = order[2];
    int helpers[2], nh = 0, witness = -1;
    for (int i = 0; i < NVAL && nh < 2; i++)
      if (i != lead) helpers[nh++] = i;
    for (int i = 0; i < NVAL; i++)
      if (i != lead && i != helpers[0] && i != helpers[1]) witness = i;
    cpchain_lbft_validator *locked = NULL, *blank = NULL, *x = NULL;
    NEW(lead, locked);
    NEW(lead, blank);
    NEW(witness, x);
    drain(locked, t0, true, NULL, NULL, NULL);
    drain(blank, t0, true, NULL, NULL, NULL);
    drain(x, t0, true, NULL, NULL, NULL);
    CHECK_RC(cpchain_lbft_validator_handle_bytes(locked, now, addrs[0], 20, pp_a, pp_a_len, NULL),
             CPCHAIN_RESULT_OK);
    drain(locked, now, true, NULL, NULL, NULL);
    for (int k = 0; k < 2; k++) {
      cpchain_lbft_validator *h = NULL;
      NEW(helpers[k], h);
      drain(h, t0, true, NULL, NULL, NULL);
      static uint8_t prep[4096];
      size_t prep_len = 0;
      CHECK_RC(cpchain_lbft_validator_handle_bytes(h, now, addrs[0], 20, pp_a, pp_a_len, NULL),
               CPCHAIN_RESULT_OK);
      drain(h, now, true, NULL, prep, &prep_len);
      CHECK(prep_len > 0);
      CHECK_RC(cpchain_lbft_validator_handle_bytes(locked, now, addrs[helpers[k]], 20, prep, prep_len, NULL),
               CPCHAIN_RESULT_OK);
      drain(locked, now, true, NULL, NULL, NULL);
      cpchain_lbft_validator_free(h);
    }
    /* Both copies run their timers until they propose for round 1 (a Proposal message:
     * variant 1 of the envelope, the byte after version and tag). */
    static uint8_t prop[2][4096];
    size_t prop_len[2] = {0, 0};
    cpchain_lbft_validator *copies[2] = {locked, blank};
    for (int c = 0; c < 2; c++) {
      for (int guard = 0; guard < 40 && prop_len[c] == 0; guard++) {
        bool has = false;
        uint64_t at = 0;
        CHECK_RC(cpchain_lbft_validator_next_deadline(copies[c], &has, &at), CPCHAIN_RESULT_OK);
        if (!has) break;
        CHECK_RC(cpchain_lbft_validator_handle_timeout(copies[c], at), CPCHAIN_RESULT_OK);
        size_t n = 0;
        cpchain_lbft_output_kind kind;
        cpchain_lbft_output_info info;
        while (cpchain_lbft_validator_poll(copies[c], buf, sizeof buf, &n, &kind, &info) ==
               CPCHAIN_RESULT_OK)
          if (kind == CPCHAIN_LBFT_OUTPUT_KIND_BROADCAST && n > 4 && buf[3] == 1 &&
              prop_len[c] == 0 && n <= sizeof prop[c]) {
            memcpy(prop[c], buf, n);
            prop_len[c] = n;
          }
      }
    }
    CHECK(prop_len[0] > 0 && prop_len[1] > 0);
    CHECK(prop_len[0] != prop_len[1] || memcmp(prop[0], prop[1], prop_len[0]) != 0);
    struct fault_seen f = {0};
    for (int c = 0; c < 2; c++) {
      cpchain_result r = cpchain_lbft_validator_handle_bytes(x, now, addrs[lead], 20, prop[c], prop_len[c], NULL);
      CHECK(r != CPCHAIN_RESULT_PANIC);
      drain(x, now, true, &f, NULL, NULL);
    }
    CHECK(f.n == 1 && f.info.fault == CPCHAIN_LBFT_FAULT_LEADER_EQUIVOCATION);
    CHECK(memcmp(f.info.peer, addrs[lead], 20) == 0);
    CHECK_RC(cpchain_lbft_verify_evidence(spec, &pks[0][0], NVAL, f.bytes, f.len, &o), CPCHAIN_RESULT_OK);
    CHECK(o.fault == CPCHAIN_LBFT_FAULT_LEADER_EQUIVOCATION && memcmp(o.offender, addrs[lead], 20) == 0);
    CHECK(o.height == 1 && o.has_round && o.round == 1);
    cpchain_lbft_validator_free(locked);
    cpchain_lbft_validator_free(blank);
    cpchain_lbft_validator_free(x);
  }

  /* A too-small poll buffer never loses a fault: size first, then the bytes. */
  {
    cpchain_lbft_validator *w = NULL;
    NEW(1, w);
    drain(w, t0, true, NULL, NULL, NULL);
    CHECK_RC(cpchain_lbft_validator_handle_bytes(w, now, addrs[0], 20, pp_a, pp_a_len, NULL), CPCHAIN_RESULT_OK);
    drain(w, now, true, NULL, NULL, NULL);
    cpchain_result r = cpchain_lbft_validator_handle_bytes(w, now, addrs[0], 20, pp_b, pp_b_len, NULL);
    CHECK(r != CPCHAIN_RESULT_PANIC);
    size_t n = 0;
    cpchain_lbft_output_kind kind;
    cpchain_lbft_output_info info;
    int got = 0;
    for (int guard = 0; guard < 16 && !got; guard++) {
      r = cpchain_lbft_validator_poll(w, NULL, 0, &n, &kind, &info);
      if (r == CPCHAIN_RESULT_NO_OUTPUT) break;
      if (r == CPCHAIN_RESULT_INSUFFICIENT_SIZE) {
        size_t need = n;
        CHECK_RC(cpchain_lbft_validator_poll(w, buf, sizeof buf, &n, &kind, &info), CPCHAIN_RESULT_OK);
        CHECK(n == need);
        if (kind == CPCHAIN_LBFT_OUTPUT_KIND_FAULT) {
          got = 1;
          CHECK_RC(cpchain_lbft_verify_evidence(spec, &pks[0][0], NVAL, buf, n, &o), CPCHAIN_RESULT_OK);
          CHECK(o.fault == CPCHAIN_LBFT_FAULT_PROPOSER_EQUIVOCATION);
        }
      }
    }
    CHECK(got);
    cpchain_lbft_validator_free(w);
  }
#undef NEW

  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) cpchain_lbft_validator_free(all[i]);
  for (int i = 0; i < NVAL; i++) cpchain_secret_key_free(keys[i]);
  cpchain_chain_spec_free(spec);
}

int main(void) {
  test_validators_follow_the_elected_committee();
  test_faults_carry_evidence();
  printf("%u passed, %u failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
