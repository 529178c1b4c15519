//! LBFT 2.0 (white paper §2.4): the validators committee's consensus on each block, as a
//! sans-IO state machine, made Byzantine-safe and live.
//!
//! # The protocol
//!
//! A committee of `n = 3f + 1` validators ([`ValidatorSet`]) decides one block per height.
//! A proposer schedule ([`ProposerSchedule`], computed by DPoR) names the proposer of each
//! height. The paper's five states ([`State`]) and message names are kept:
//!
//! * **Normal case** (§2.4.2 steps 1–6). The proposer broadcasts a sealed block
//!   (PRE-PREPARE, [`Message::PrePrepare`]). A validator checks the seal, the header (chain,
//!   height, parent, scheduled proposer, non-zero coinbase, time in
//!   `parent + period ..= parent + period + impeach timeout`, transaction root, size) and asks
//!   the host to judge the transactions ([`ValidatorOutput::CheckBlock`]); then it broadcasts PREPARE.
//!   On `2f + 1` PREPAREs (a P-certificate) it broadcasts COMMIT; on `2f + 1` COMMITs (a
//!   C-certificate) it emits [`ValidatorOutput::Commit`] and broadcasts VALIDATE ([`Validate`]: the
//!   block and the certificate). A validator that receives a valid VALIDATE for its height
//!   adopts it and re-broadcasts it once.
//! * **Catch-up** (added: the paper assumes every VALIDATE arrives). Each validator keeps
//!   the VALIDATEs of its last [`Config::catch_up_heights`] heights. A round change for an
//!   old height `h` from a member (it timed out at `h`), or a re-broadcast VALIDATE of
//!   `h − 1` (it has just adopted that and now works on `h`), is answered with
//!   [`ValidatorOutput::Send`] of VALIDATE(`h`) to that peer — at most once per peer and height in
//!   each round of the answering validator, so an answer lost in the network is repeated
//!   after its next round change while a Byzantine peer obtains at most
//!   `catch_up_heights` blocks per round however much it sends. A restored validator
//!   ([`Validator::restart`]) announces its height and round at once with a round change,
//!   and the host hands a restarted one its chain head's VALIDATE (and older ones) in the
//!   same call (they are [`Validator::remember`]ed): the certificate of a decision made
//!   just before a crash may exist nowhere else.
//! * **Impeachment.** When the timer expires at `parent.time + period + impeach timeout`, or
//!   the proposal is illicit, every validator builds the same deterministic impeach block
//!   ([`Block::impeach`]: empty body, zero coinbase, the impeached proposer, time
//!   `parent + period + impeach timeout`) and runs IMPEACH PREPARE → IMPEACH COMMIT →
//!   IMPEACH VALIDATE on it. Impeach blocks earn no reward (zero coinbase).
//!
//! # Deviations from the paper and from mainnet, with reasons
//!
//! 1. **Impeach quorum `2f + 1` by default** ([`ImpeachQuorum`]). With the paper's `f + 1`,
//!    one double-voting validator lets a normal block and an impeach block both be
//!    certified at one height (tests `fork_under_f_plus_one_impeach_quorum` and
//!    `no_fork_under_default_impeach_quorum`). `FPlusOne` is kept, documented as safe
//!    only for crash faults.
//! 2. **One vote per phase per round.** An honest validator signs at most one PREPARE-phase
//!    vote (PREPARE *or* IMPEACH PREPARE) and one COMMIT-phase vote (COMMIT *or* IMPEACH
//!    COMMIT) per round. The paper lets a validator that prepared `B` impeach-prepare in the
//!    same exchange; here that happens in the next round. Two signed votes of one phase for
//!    different blocks in one round are reported as [`Fault::Equivocation`].
//! 3. **Rounds with locks** (Tendermint). The rule above can deadlock a height: at `n = 4`
//!    one honest validator has sent COMMIT(B), two have sent IMPEACH COMMIT, the Byzantine
//!    fourth prepared both and goes silent; neither side can reach `2f + 1` again. So a
//!    height has rounds. Round 0 is the paper's protocol. A round that ends undecided is
//!    followed by round `r + 1`, led by validator `(h + r) mod n` ([`leader`]), which
//!    proposes ([`Message::Proposal`]) its highest-round block with a P-certificate
//!    (proof-of-lock) or, having none, the impeach block — the round's fallback value.
//!    A validator that commits `B` in round `r` is *locked* on `(r, B)`; it carries `B` and
//!    its P-certificate into each later round ([`Message::RoundChange`]) and prepares only
//!    `B`, unless shown a P-certificate for another block from a round `≥ r` (a later
//!    certificate unlocks). Round lengths double from the impeach timeout up to a cap.
//!    Test `n4_deadlock_between_commit_and_impeach_commit_resolves` replays the deadlock.
//! 4. **Signatures.** Every vote is signed under a per-kind domain over chain id, height,
//!    round and block id (mainnet signed the bare header hash). Certificates list signers
//!    in strictly increasing address order, so a validator counts once (mainnet counted
//!    duplicates). Users check the proposer seal against the schedule (mainnet did not).
//! 5. **Transaction root** is a flat hash list ([`block::tx_root`]), not a trie: the engine
//!    needs binding, not inclusion proofs.
//! 6. **Seals on every path** (issue 12 item 0). The seal is not in the block id, so a
//!    certificate or a leader's or round change's signature on an id says nothing about
//!    the seal beside it. A validator takes a block from any path (PRE-PREPARE, a leader's
//!    proof-of-lock, a round change's lock, VALIDATE, [`Validator::remember`],
//!    [`Validator::restart`]) only as the light verifier would accept it: a normal block
//!    well-formed for the height and sealed by the scheduled proposer, with the body its
//!    header commits to; the impeach block exactly as built locally, unsealed (the paper's
//!    impeach blocks carry no seal). So every [`ValidatorOutput::Commit`] and every VALIDATE sent
//!    passes light verification (tests in `tests/lbft_safety.rs`; the property tests check
//!    every `Commit` under a seal-stripping adversary). [`Persisted`] (v2) also keeps the
//!    block the validator prepared, so a restart does not forget its good copy.
//! 7. **Round changes sign their lock** ([`message::ROUND_CHANGE_DOMAIN`] `v2`: chain ‖
//!    height ‖ round ‖ lock flag ‖ locked block id ‖ certificate round). With `v1` (chain ‖
//!    height ‖ round) a relay could deliver a copy without the lock first and make the real
//!    one a duplicate, hiding a lock the liveness argument needs (issue 12 item 2).
//! 8. **PRE-PREPARE slot.** Only a header for this chain, height and parent, carrying the
//!    body its header commits to, takes the height's PRE-PREPARE slot; anything else is
//!    refused without a fault, since a validly sealed header of another chain or parent (a
//!    proposer key reused on a testnet, a relaunched devnet) or a sealed header with a
//!    swapped body (the body is not sealed) is not the proposer's misbehaviour here.
//!    [`Fault::ProposerEquivocation`] needs two sealed headers for this slot, and
//!    [`Fault::IllicitBlock`] (with its impeachment) a sealed header for it (issue 12
//!    item 3).
//!
//! # Safety (agreement): no two different blocks are decided at one height
//!
//! Quorum intersection: two sets of `2f + 1` among `3f + 1` share `f + 1` validators, at
//! least one of them honest.
//!
//! * *Within a round*, two P-certificates (or two C-certificates) for different blocks
//!   would need an honest validator to sign two votes of one phase in that round, which it
//!   never does (`honest_validator_never_signs_two_votes_of_one_phase_in_a_round`, the
//!   fuzz target `lbft_validator`, and the property tests).
//! * *Across rounds* (the lock rule): if a C-certificate for `B` forms in round `r`, at least
//!   `f + 1` honest validators committed `B` in `r` and are locked on `B` at round `≥ r`. By
//!   induction on `r' > r`, no P-certificate for another block exists at rounds in
//!   `[r, r')`, so none of them is ever shown a certificate that unlocks them, and in round
//!   `r'` each prepares `B` or nothing. The other `2f` validators cannot form a
//!   P-certificate for `B' ≠ B` alone, so no honest validator commits `B'` in `r'`, and no
//!   C-certificate for `B'` forms (`locked_validator_refuses_other_block_without_later_certificate`,
//!   `later_certificate_unlocks`).
//! * *Across crashes*: every vote, lock and proposal is preceded by [`ValidatorOutput::Persist`]; a
//!   validator restored from it keeps its round, votes and lock
//!   (`restore_after_crash_never_double_votes`).
//! * *VALIDATE adoption* checks a full C-certificate, which by the above is unique.
//!
//! All of this needs the impeach quorum to be `2f + 1`; with `f + 1` the intersection
//! argument fails for impeach certificates, which is exactly the fork of deviation 1.
//! The property tests `agreement_under_reordering_and_loss_n4` / `_n7` check agreement and
//! no honest equivocation with one Byzantine validator over random schedules.
//!
//! # Liveness: after the network stabilises, with at most `f` Byzantine validators
//!
//! Assume messages between honest validators arrive within `Δ` after some global
//! stabilisation time (the host retransmits). Round lengths double, so eventually every
//! round is longer than `8Δ`. Honest validators enter each round within `Δ` of each
//! other: a round ends on a local timer of the same length, and `f + 1` validators seen in
//! a later round (votes, proposals or round changes) pull a lagging validator forward,
//! since one of them is honest. Every locked honest validator broadcasts its lock with its
//! RoundChange on entering a round; the leader proposes a quarter into the round, after
//! those have arrived, so its proof-of-lock round is at least every honest lock round and
//! every honest validator accepts its proposal (`acceptable`). Leaders rotate over all
//! validators, so within `f + 1` consecutive rounds one is honest; then `2f + 1` honest
//! PREPAREs, `2f + 1` COMMITs and a decision follow within the round. A silent proposer
//! costs one impeach timeout at round 0 (`impeach_after_timeout_when_proposer_is_silent`).
//!
//! *Lagging validators.* The argument above needs every honest validator at the current
//! height, but one can be left behind: the others decide without it (with `2f + 1`
//! including Byzantine votes) while it misses the VALIDATE, or it was down. Then the
//! height above may need it. Let `L` be honest at height `h` below the highest honest
//! height `H`, with `H − h ≤ catch_up_heights`. Until `L` leaves `h`, each of its rounds
//! ends on its timer and starts with a round change, so it sends one at least every
//! `max_round_length`; every honest validator `P` at a height above `h` holds
//! VALIDATE(`h`) (it decided `h` or adopted it, or, restarted, was given it by its host
//! through [`Validator::remember`]), and `P`'s round or height changes at least every
//! `max_round_length` too (a round that does not decide ends on the timer). `P` answers the first round
//! change of `L` it receives in each of its rounds; after stabilisation the answer
//! arrives within `Δ`, and a round of `P` that had already answered before stabilisation
//! ends within `max_round_length`, after which the next round change of `L` is answered.
//! `L` adopts VALIDATE(`h`) (the certificate is checked as users check it), moves to
//! `h + 1` and re-broadcasts it, which `P` answers with VALIDATE(`h + 1`) if it holds it —
//! one round trip per height — and if that chain breaks, `L`'s next round change restarts
//! it. So `L` reaches `H` (a moving target only while the others decide without it, at
//! most one height per block period, while `L` climbs one per round trip) and joins the
//! round catch-up above. Further behind than `catch_up_heights`, the engine cannot help
//! (the bound keeps the memory of old blocks fixed): with the default bounds
//! (`catch_up_heights = future_heights`) `L` then sees [`Rejected::TooFarAhead`] for the
//! current traffic, and the host must sync the chain and restart it with
//! [`Validator::new`] at the new head.
//!
//! Tests: `n4_deadlock_between_commit_and_impeach_commit_resolves`,
//! `lagging_validator_catches_up_from_validate_messages`,
//! `laggard_whose_catch_up_validate_was_lost_still_catches_up`,
//! `laggard_several_heights_behind_catches_up_from_recent_validates`,
//! `restored_validator_reannounces_its_round_and_is_caught_up`,
//! `restarted_validator_helps_peers_with_the_head_it_remembers`, and the property tests
//! (which, after the lossy prefix, deliver everything and require a decision).
//!
//! # Inputs and outputs: the SDK's one machine contract
//!
//! [`Validator`] implements [`cpchain_core::machine::Machine`] (as does
//! [`crate::dpor::Whitelist`]). Inputs: [`Validator::handle_message`] /
//! [`Validator::handle_bytes`] (from peers), [`Validator::handle_timeout`] (the host's
//! single timer, armed at [`Validator::next_deadline`]), [`Validator::block_checked`] (the
//! host's verdict on a proposal's transactions) and [`Validator::propose`] (when the
//! validator is also the scheduled proposer; other proposers use [`Block::propose`]). A
//! host starts it with [`Validator::restart`] (its persisted record, if any, its chain head
//! and the head's VALIDATE) or, on a new chain, [`Validator::new`]. Outputs, drained in
//! order from [`Validator::poll_output`]: [`ValidatorOutput::Persist`] (before any send
//! that depends on it), [`ValidatorOutput::Broadcast`], [`ValidatorOutput::Send`] (a recent
//! VALIDATE to a validator whose round change shows it is behind: catch-up),
//! [`ValidatorOutput::CheckBlock`], [`ValidatorOutput::Commit`] and
//! [`ValidatorOutput::Fault`] (vote, proposer and leader equivocation, illicit blocks, and
//! the bad seal that proves nothing to a third party: see [`Fault::BadSeal`]).
//!
//! A peer's bad message is not an error of the caller: `handle_message` returns a
//! [`Verdict`] (`Accept`, `Ignore` or `Reject`, after gossipsub's message acceptance, for
//! the host's peer scoring), every dropped message is counted by its [`ValidatorDrop`]
//! reason in [`Stats::dropped`], and `Err` is left for the caller's own mistakes
//! ([`ProposeError`], [`ConfigError`], a VALIDATE from the host's own chain that
//! [`Validator::remember`] refuses). Deviations from issue 13, with reasons: the C API's
//! `cpchain_lbft_validator_handle_bytes` returns OK for a dropped message and passes no
//! verdict (kept minimal until the C boundary is reworked onto the shared pending-output
//! wrapper); `Fault::BadSeal` stays a fault output without evidence, since none a third
//! party could check can exist (its docs say why), for hosts that watch faults rather than
//! verdicts.
//!
//! # Block content: a request/answer pair, not a callback
//!
//! The engine emits [`ValidatorOutput::CheckBlock`] and the host answers with
//! [`Validator::block_checked`]. The output carries, beside the block, the leaves the
//! engine hashed to check the header's `tx_root` (`tx_hashes`: `keccak256` of each
//! transaction, in body order, at most [`block::MAX_LEAVES_HEAP`] = 2 MiB), so a host
//! whose pool is keyed by transaction hash need not hash the body again (issue 14); a
//! proposer whose pool holds those hashes builds its `tx_root` from them
//! ([`Block::propose_with_leaves`], [`Validator::propose_with_leaves`]). A callback trait would be simpler for a synchronous Rust
//! host, but judging transactions means executing them against state the host owns, often
//! on another thread or across the C API; a pair keeps the engine free of host references,
//! lets the host batch or parallelise signature checks, and keeps the single-entry-point
//! sans-IO shape (the house style). The proposal window keeps running while the host
//! judges: a late answer leads to impeachment, as a slow proposer would.
//!
//! # Bounds: what peers can make a validator hold
//!
//! Messages are size-capped on the wire ([`MAX_BLOCK_BYTES`], [`MAX_VALIDATORS`]), and a
//! block body is decoded with its caps counted while decoding (at most
//! [`MAX_TRANSACTIONS`] transactions and `MAX_BLOCK_BYTES` bytes, never pre-allocated from
//! a length prefix): a decoded body holds at most [`MAX_BODY_HEAP`] = `B` = 2.5 MiB.
//!
//! *Authenticate before keeping* ([`budget`]). A message for a later height is buffered
//! only if it could have come from whom it claims: votes and round changes signed by a
//! member, proposals signed by the leader of their height and round with a verifying
//! proof-of-lock (or the empty impeach body), round-change locks with a verifying
//! P-certificate, PRE-PREPAREs sealed by the scheduled proposer of their height,
//! VALIDATEs with a verifying commit quorum. Each sender has a quota (per member
//! [`Config::future_sender_messages`] and [`Config::future_sender_bytes`]; one PRE-PREPARE
//! and one VALIDATE per height), the buffer as a whole [`Config::future_buffer`] messages
//! and [`Config::future_bytes`] bytes within [`Config::future_heights`]; overflow is
//! dropped and counted in [`Stats`]. (Deviation from the issue's wording: a future
//! message is checked now and again when its height comes; the second check needs the
//! parent, which is unknown now.)
//!
//! At the current height, blocks and the proposals carrying them are capped by
//! [`Config::height_bytes`] and [`Config::max_blocks_per_height`]; votes and proposals for
//! rounds beyond [`Config::round_lookahead`] are refused, while a round change from beyond
//! it only raises that validator's highest-seen round (one number per validator, the input
//! of the `f + 1` catch-up rule,
//! `validator_far_behind_in_rounds_catches_up_from_round_changes`). Vote storage is at
//! most `2n` per round entered. Old-height messages are ignored without signature work;
//! the catch-up answers they may trigger are bounded as described under *Catch-up*, and at
//! most [`Config::catch_up_heights`] VALIDATEs of at most [`Config::catch_up_bytes`] are
//! kept (the newest always).
//!
//! The whole is [`Config::peer_memory_bound`]`(n, rounds)`:
//!
//! ```text
//! future_bytes + future_buffer·E(entry) + 2(n + 2·future_heights)·E(slot)
//! + height_bytes + (rounds + L)(n + 1)(C + E(cert))
//! + max(catch_up_bytes, B + C) + catch_up_heights·E(Validate)
//! + (rounds + L)(2n(E(vote) + E(tally)) + n·E(round change) + E(proposal))
//! + n·catch_up_heights·E(helped) + 8n
//! ```
//!
//! with `L = round_lookahead + 1`, `C = 88n` bytes of certificate signatures and
//! `E(x) = 3·size_of(x) + 64` per counted entry. At the defaults and `n = 7` in round 0
//! it is 36.8 MiB (issue 12 asks ≤ 64 MiB), plus 19 KiB per further round entered; a counting-allocator flood test
//! (`tests/lbft_memory.rs`) measured 12.8 MiB held after 71.5 MB of maximum-size
//! messages of every kind from an outsider and `f` Byzantine members. What is out of
//! scope (the host's queues, allocator overhead) is listed in `docs/SECURITY.md` (section 2).

pub mod block;
pub mod budget;
pub mod committee;
pub mod config;
pub mod error;
pub mod light;
pub mod message;
pub mod round;
pub mod schedule;
pub mod validator;
pub mod vote;

pub use block::{Block, BlockId, Header, MAX_BLOCK_BYTES, MAX_BODY_HEAP, MAX_TRANSACTIONS};
pub use budget::Held;
pub use committee::{ImpeachQuorum, ValidatorSet, MAX_VALIDATORS};
pub use config::Config;
pub use error::{BlockError, CertificateError, ConfigError, LightError, ProposeError, Rejected};
pub use light::{verify_validate, LightVerifier};
pub use message::{LockProof, Message, Proposal, RoundChange, Validate};
pub use round::{leader, round_length, RoundTimes};
pub use schedule::{FixedSchedule, ProposerSchedule};
pub use validator::{
    Fault, Persisted, State, Stats, Validator, ValidatorDrop, ValidatorOutput, Verdict,
    VALIDATOR_DROP_REASONS,
};
pub use vote::{Certificate, Phase, Vote, VoteKind};
