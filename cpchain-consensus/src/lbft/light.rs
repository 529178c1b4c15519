//! Light verification for ordinary nodes, the paper's "users" (§2.4.2 Normal Case step 6,
//! Impeachment step 6): import a VALIDATE block only if it extends the known parent, carries
//! a proposer seal matching the schedule (normal blocks) or is exactly the deterministic
//! impeach block, and has a quorum of *distinct* valid COMMIT signatures from the validator
//! set. The mainnet client checked neither the seal nor distinctness on import.

use super::block::{
    check_normal_header, Block, BlockId, Header, MAX_BLOCK_BYTES, MAX_TRANSACTIONS,
};
use super::committee::{ImpeachQuorum, ValidatorSet};
use super::error::{BlockError, CertificateError, LightError};
use super::message::Validate;
use super::schedule::ProposerSchedule;
use super::vote::VoteKind;
use cpchain_core::{Address, ChainSpec};

/// What a light client needs to check VALIDATE messages: the chain, the committee and the
/// impeach quorum rule in force.
#[derive(Debug, Clone)]
pub struct LightVerifier<S> {
    /// Chain parameters (chain id, period, impeach timeout).
    pub spec: ChainSpec,
    /// The validators committee.
    pub validators: ValidatorSet,
    /// Impeach certificate size rule; must match the validators' configuration.
    pub impeach_quorum: ImpeachQuorum,
    /// The proposer schedule.
    pub schedule: S,
}

impl<S: ProposerSchedule> LightVerifier<S> {
    /// Check `validate` extends `parent`. Returns the number of signatures verified
    /// (certificate plus seal), for cost accounting. On `Ok` the block is final.
    pub fn verify(&self, validate: &Validate, parent: &Header) -> Result<usize, LightError> {
        verify_validate(
            &self.spec,
            &self.validators,
            self.impeach_quorum,
            &self.schedule,
            validate,
            parent,
        )
    }
}

/// Check a VALIDATE against its parent; see [`LightVerifier::verify`].
pub fn verify_validate<S: ProposerSchedule + ?Sized>(
    spec: &ChainSpec,
    validators: &ValidatorSet,
    impeach_quorum: ImpeachQuorum,
    schedule: &S,
    validate: &Validate,
    parent: &Header,
) -> Result<usize, LightError> {
    verify_validate_on(
        spec,
        validators,
        impeach_quorum,
        schedule,
        validate,
        parent,
        &parent.id(),
    )
    .map(|(checked, _)| checked)
}

/// [`verify_validate`] with `parent_id = parent.id()` computed by the caller; also returns
/// the block's id, computed here from the block (never taken from the message). Public for
/// hosts that follow the chain and already hold the parent's id (the simulator's light nodes
/// and checkers): it saves hashing the parent header again for every check.
pub fn verify_validate_on<S: ProposerSchedule + ?Sized>(
    spec: &ChainSpec,
    validators: &ValidatorSet,
    impeach_quorum: ImpeachQuorum,
    schedule: &S,
    validate: &Validate,
    parent: &Header,
    parent_id: &BlockId,
) -> Result<(usize, BlockId), LightError> {
    let block = &validate.block;
    let cert = &validate.certificate;
    let height = block.header.height;
    let scheduled = schedule.proposer_of(height);
    let (kind, quorum, seal_checks) = if block.is_impeach() {
        let expected =
            Block::impeach_on(spec, parent, *parent_id, scheduled.unwrap_or(Address::ZERO));
        if *block != expected {
            return Err(LightError::Block(BlockError::NotTheImpeachBlock));
        }
        (
            VoteKind::ImpeachCommit,
            validators.impeach_quorum(impeach_quorum),
            0,
        )
    } else {
        check_normal_header(
            spec,
            parent,
            parent_id,
            scheduled,
            block,
            MAX_BLOCK_BYTES,
            MAX_TRANSACTIONS,
        )?;
        (VoteKind::Commit, validators.quorum(), 1)
    };
    let id = block.id();
    if cert.kind != kind || cert.height != height || cert.block != id {
        return Err(LightError::Certificate(CertificateError::Mismatch));
    }
    let checked = cert.verify(spec.chain_id, validators, quorum)?;
    if seal_checks > 0 {
        block.verify_seal_of(&id)?;
    }
    Ok((checked.saturating_add(seal_checks), id))
}
