//! Crash safety: the restart from the record a validator persisted before acting (the
//! record itself, [`Persisted`], is in `output.rs` with the other types the validator hands
//! its host, so that the two files do not import each other).

use super::{Persisted, Validator, ValidatorOutput};
use crate::lbft::block::{Block, Header};
use crate::lbft::config::Config;
use crate::lbft::error::{BlockError, ConfigError, Rejected};
use crate::lbft::message::{LockProof, Message, Validate};
use crate::lbft::schedule::ProposerSchedule;
use crate::lbft::vote::Phase;
use cpchain_core::Timestamp;

impl<S: ProposerSchedule> Validator<S> {
    /// Restart a validator: the one call a host makes when it starts with state on disk
    /// (or none), instead of choosing between a fresh start and a restore and then handing
    /// back decided blocks itself. `persisted` is its last [`ValidatorOutput::Persist`]
    /// (`None` if it never wrote one), `head` its chain head's header (genesis on a new
    /// chain), `recent` the head's VALIDATE first and then older ones, newest first (empty
    /// at genesis), and `now` the time.
    ///
    /// * A record at the head (its parent is the head): restored. It will not sign
    ///   anything that conflicts with what it signed before the crash; it re-broadcasts its
    ///   votes of the current round so peers that missed them can count them, and a round
    ///   change for its height and round (with its lock), so peers that moved on while it
    ///   was down answer with the VALIDATEs it missed and peers in later rounds pull it
    ///   forward.
    /// * No record, or a record behind the head: a fresh start at the head, as
    ///   [`Validator::new`]. A processed [`ValidatorOutput::Commit`] is durable in the
    ///   host's chain; a host that crashed after it but before the next `Persist` (or synced
    ///   blocks while down) has a head past the record, and nothing was signed above the
    ///   record's height, since the `Persist` of a new height precedes every vote at it.
    /// * A record ahead of the head, or beside it at its height: the host lost decided
    ///   blocks, and starting would risk signing against its own earlier votes:
    ///   [`ConfigError::PersistedMismatch`].
    ///
    /// Then `recent` is remembered for catch-up ([`Validator::remember`]): the engine
    /// keeps decided VALIDATEs only in memory, and a peer left at the height decided just
    /// before the crash may need exactly that certificate to move on. The head's own
    /// VALIDATE must be accepted ([`ConfigError::BadHead`] with the reason otherwise); older
    /// ones are taken until the catch-up bounds are full or one does not link.
    ///
    /// ```
    /// use cpchain_consensus::lbft::*;
    /// use cpchain_core::{ChainSpec, Timestamp};
    /// use cpchain_crypto::SecretKey;
    ///
    /// let mut keys: Vec<SecretKey> = (1u8..=4).map(|i| SecretKey::from_bytes(&[i; 32]).unwrap()).collect();
    /// keys.sort_by_key(|k| k.public_key().address());
    /// let set = ValidatorSet::new(&keys.iter().map(|k| k.public_key()).collect::<Vec<_>>()).unwrap();
    /// let spec = ChainSpec::devnet();
    /// let schedule = FixedSchedule::new(vec![keys[1].public_key().address()]);
    /// let genesis = Header::genesis(&spec, Timestamp(0));
    /// let cfg = Config::new(spec.clone(), set, keys[0].clone());
    ///
    /// // First start: nothing persisted, the chain is its genesis.
    /// let mut v = Validator::restart(cfg.clone(), schedule.clone(), None, genesis.clone(), [], Timestamp(0)).unwrap();
    /// let mut record = None;
    /// cpchain_core::machine::drain(&mut v, |out| {
    ///     if let ValidatorOutput::Persist(p) = out {
    ///         record = Some(p); // written durably before acting on what follows
    ///     }
    /// });
    /// // The proposer is silent: the timer impeaches, and the vote is persisted first.
    /// let due = v.next_deadline().unwrap();
    /// v.handle_timeout(due);
    /// cpchain_core::machine::drain(&mut v, |out| {
    ///     if let ValidatorOutput::Persist(p) = out {
    ///         record = Some(p);
    ///     }
    /// });
    /// assert_eq!(v.state(), State::ImpeachPrepare);
    ///
    /// // Crash. The restart with the record and the (unchanged) head keeps the vote.
    /// let r = Validator::restart(cfg, schedule, record, genesis, [], due).unwrap();
    /// assert_eq!((r.height(), r.state()), (v.height(), State::ImpeachPrepare));
    /// ```
    pub fn restart<I>(
        cfg: Config,
        schedule: S,
        persisted: Option<Persisted>,
        head: Header,
        recent: I,
        now: Timestamp,
    ) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = Validate>,
    {
        let mut v = match persisted {
            Some(p) if p.parent == head => Validator::restore(cfg, schedule, p)?,
            Some(p) if p.parent.height < head.height => Validator::new(cfg, schedule, head, now)?,
            Some(_) => return Err(ConfigError::PersistedMismatch),
            None => Validator::new(cfg, schedule, head, now)?,
        };
        let mut recent = recent.into_iter();
        if let Some(validate) = recent.next() {
            if validate.block.header != v.parent {
                return Err(ConfigError::BadHead(Rejected::Block(
                    BlockError::WrongParent,
                )));
            }
            v.remember(validate).map_err(ConfigError::BadHead)?;
        }
        for older in recent {
            if v.remember(older).is_err() {
                break;
            }
        }
        Ok(v)
    }

    /// The restore step of [`Validator::restart`], for a record whose parent is the chain
    /// head: back to its height and round with its votes, lock and prepared block.
    fn restore(cfg: Config, schedule: S, persisted: Persisted) -> Result<Self, ConfigError> {
        let me = cfg.check()?;
        if persisted.chain_id != cfg.spec.chain_id || persisted.parent.chain_id != cfg.spec.chain_id
        {
            return Err(ConfigError::PersistedMismatch);
        }
        let mut v = Validator::blank(cfg, schedule, me, persisted.parent, persisted.round_start);
        v.round = persisted.round;
        v.times = v.round_times(persisted.round, persisted.round_start);
        v.proposed = persisted.proposed;
        v.led = persisted.led;
        for own in [&persisted.prepared, &persisted.committed]
            .into_iter()
            .flatten()
        {
            if own.height != v.height || own.round != v.round || own.voter != me {
                return Err(ConfigError::PersistedMismatch);
            }
        }
        if let Some((round, proof)) = persisted.lock {
            let id = proof.block.id();
            if proof.certificate.block != id || proof.certificate.round != round {
                return Err(ConfigError::PersistedMismatch);
            }
            v.check_block_sealed(id, &proof.block)
                .map_err(|_| ConfigError::PersistedMismatch)?;
            v.blocks.insert(id, proof.block);
            v.tally.learn_pcert(id, proof.certificate);
            v.lock = Some((round, id));
        }
        if let Some(p) = persisted.prepared {
            v.record_own(p.clone());
            v.prepared = Some(p.clone());
            v.outputs
                .push_back(ValidatorOutput::Broadcast(Message::Vote(p)));
        }
        if let Some(c) = persisted.committed {
            v.record_own(c.clone());
            v.committed = Some(c.clone());
            v.outputs
                .push_back(ValidatorOutput::Broadcast(Message::Vote(c)));
        }
        if let Some(block) = persisted.prepared_block {
            v.restore_prepared_block(block)?;
        }
        v.announce_round();
        Ok(v)
    }

    /// Take back the block of [`Persisted::prepared_block`]: checked like a block from a
    /// peer (the seal rule of every path), then held as the height's PRE-PREPARE. A block
    /// this validator prepared in the current round is approved already; in round 0 with
    /// nothing prepared the host is asked to judge it again, as on first receipt.
    pub(super) fn restore_prepared_block(&mut self, block: Block) -> Result<(), ConfigError> {
        let id = block.id();
        if block.is_impeach() {
            return Err(ConfigError::PersistedMismatch);
        }
        // The seal rule of every path; the leaves go to the host if it must judge again.
        let tx_hashes = self
            .check_normal_block_sealed_leaves(id, &block)
            .map_err(|_| ConfigError::PersistedMismatch)?;
        let Some(seal) = block.seal else {
            return Err(ConfigError::PersistedMismatch);
        };
        self.pre_prepare = Some((id, block.header.clone(), seal));
        if self.prepared.as_ref().is_some_and(|p| p.block == id) || self.proposed {
            self.approved.insert(id);
        } else if self.round == 0 && self.prepared.is_none() {
            self.pending_check = Some(id);
            self.outputs.push_back(ValidatorOutput::CheckBlock {
                height: self.height,
                block: block.clone(),
                tx_hashes,
            });
        }
        self.blocks.insert(id, block);
        Ok(())
    }

    pub(super) fn persisted(&self) -> Persisted {
        let lock = self.lock.and_then(|(r, id)| {
            Some((
                r,
                LockProof {
                    block: self.blocks.get(&id)?.clone(),
                    certificate: self.certificate(r, Phase::Prepare, id)?,
                },
            ))
        });
        Persisted {
            chain_id: self.cfg.spec.chain_id,
            parent: self.parent.clone(),
            round: self.round,
            round_start: self.times.start,
            prepared: self.prepared.clone(),
            committed: self.committed.clone(),
            lock,
            prepared_block: self.prepared_block(),
            proposed: self.proposed,
            led: self.led,
        }
    }

    /// See [`Persisted::prepared_block`]: the normal block of this round's PREPARE, else
    /// the held PRE-PREPARE (only well-formed, sealed ones are held), unless locked on it.
    pub(super) fn prepared_block(&self) -> Option<Block> {
        let prepared = self
            .prepared
            .as_ref()
            .map(|p| p.block)
            .filter(|id| *id != self.impeach_id);
        let held = self.pre_prepare.as_ref().map(|(id, _, _)| *id);
        let id = prepared.or(held)?;
        if self.lock.is_some_and(|(_, locked)| locked == id) {
            return None;
        }
        self.blocks.get(&id).cloned()
    }

    pub(super) fn emit_persist(&mut self) {
        let p = self.persisted();
        self.outputs.push_back(ValidatorOutput::Persist(p));
    }
}
