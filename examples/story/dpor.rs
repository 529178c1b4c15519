//! Act 4, DPoR: RPT at the term's checkpoint and the next committee. Candidates are scored
//! from what the earlier acts did (blocks proposed, impeachments, data uploaded, proxy
//! work), the silent proposer's impeachments cost it reputation, and the committee for the
//! next term is elected, seeded by the checkpoint block's hash.

use super::buyer::Bought;
use super::network::{Consensus, Run};
use super::{section, short_hex, Cast, Result};
use cpchain_consensus::dpor::{self, Observation, SeatKind};
use cpchain_core::{Address, Height};
use std::collections::BTreeSet;
use std::io::Write;

/// What act 4 established.
pub struct Elected {
    /// RPT of the silent proposer, after the impeachment punishment.
    pub silent_rpt: u32,
    /// Whether its RPT shows the punishment.
    pub silent_punished: bool,
    /// The next committee, in slot order.
    pub committee: Vec<Address>,
    /// Distinct members of the committee.
    pub distinct: usize,
    /// The term elected.
    pub term: u64,
}

/// Tell act 4: score the candidates and elect the next committee.
pub fn elect(
    cast: &Cast,
    run: &Run,
    consensus: &Consensus,
    bought: &Bought,
    out: &mut dyn Write,
) -> Result<Elected> {
    let (spec, names, silent) = (&cast.spec, &cast.names, cast.silent);
    let (proposers, owner_addr) = (&cast.proposers, cast.owner_addr);
    let (chain, term_end, dpor_schedule) = (&run.chain, run.term_end, &run.dpor_schedule);
    let anchor_places = &consensus.anchor_places;
    let (proxy_addrs, offline) = (&bought.proxy_addrs, bought.offline);
    section(
        out,
        "4. DPoR: RPT at the term's checkpoint and the next committee",
    )?;
    let checkpoint = Height(term_end);
    let checkpoint_block = chain.last().ok_or("empty chain")?;
    let window = dpor::rpt_window(spec, checkpoint);
    let punish = dpor::punish_window(spec, checkpoint);
    let count = |who: &Address, impeach: bool, range: &std::ops::RangeInclusive<Height>| {
        chain
            .iter()
            .filter(|v| {
                range.contains(&v.block.header.height)
                    && v.block.header.proposer == *who
                    && v.block.is_impeach() == impeach
            })
            .count() as u64
    };
    // Candidates: four proposers of the term (the silent one included), the data owner and
    // the three proxies. Balances and sent transactions are given; blocks proposed,
    // impeachments, data and proxy work are read from what just happened.
    let cpc = cpchain_core::BASE_UNITS_PER_CPC;
    let mut observed = Vec::new();
    let mut candidate_names = Vec::new();
    for (slot, balance, txs) in [
        (0usize, 240_000u128, 40u64),
        (3, 260_000, 55),
        (6, 205_000, 12),
        (9, 330_000, 30),
    ] {
        let a = *proposers.get(slot).ok_or("proposer slot")?;
        observed.push(Observation {
            address: a,
            balance: balance * cpc,
            transactions: txs,
            proposed_blocks: count(&a, false, &window),
            impeached_blocks: count(&a, true, &punish),
            ..Observation::default()
        });
        candidate_names.push(names.of(&a));
    }
    observed.push(Observation {
        address: owner_addr,
        balance: 215_000 * cpc,
        transactions: anchor_places.len() as u64 + 1,
        data_uploaded: run.blocks.len() as u64,
        data_bought: 1,
        ..Observation::default()
    });
    candidate_names.push("owner".into());
    for (i, (a, balance)) in proxy_addrs
        .iter()
        .zip([220_000u128, 280_000, 201_000])
        .enumerate()
    {
        observed.push(Observation {
            address: *a,
            balance: balance * cpc,
            transactions: 8 + i as u64,
            proxy_assists: u64::from(Some(*a) != offline),
            ..Observation::default()
        });
        candidate_names.push(names.of(a));
    }
    let records = dpor::compute_rpt(spec, &observed)?;
    writeln!(
        out,
        "   RPT = 0.5 AB + 0.15 TX + 0.1 PR + 0.15 DC + 0.1 BM (rank scores), x (9 - impeachments) / 9; window h{}..h{}",
        window.start().0,
        window.end().0
    )?;
    writeln!(
        out,
        "   {:<10} {:>4} {:>4} {:>4} {:>4} {:>4} {:>9} {:>6}",
        "candidate", "AB", "TX", "PR", "DC", "BM", "impeached", "RPT"
    )?;
    let mut silent_rpt = 0;
    let mut silent_punished = false;
    for ((r, o), name) in records.iter().zip(&observed).zip(&candidate_names) {
        let s = r.scores;
        let raw = dpor::rpt::weighted_sum(spec, &s)?.max(dpor::RPT_FLOOR);
        let note = if r.rpt.0 < raw {
            format!(
                "  (x {}/9 of {raw})",
                9u64.saturating_sub(o.impeached_blocks)
            )
        } else {
            String::new()
        };
        writeln!(
            out,
            "   {:<10} {:>4} {:>4} {:>4} {:>4} {:>4} {:>9} {:>6}{note}",
            name,
            s.balance,
            s.transactions,
            s.proxy,
            s.data,
            s.maintenance,
            o.impeached_blocks,
            r.rpt.0
        )?;
        if r.address == silent {
            silent_rpt = r.rpt.0;
            silent_punished = o.impeached_blocks > 0
                && r.rpt.0 == dpor::punish(raw, o.impeached_blocks)
                && r.rpt.0 < raw;
        }
    }
    let candidates: Vec<_> = records.iter().map(|r| r.candidate()).collect();
    let mut election = dpor::Schedule::clone(dpor_schedule);
    let checkpoint_hash = checkpoint_block.block.id();
    let term = election.elect_at(checkpoint, &checkpoint_hash, &candidates)?;
    let committee = election
        .committee_of(term)
        .ok_or("no committee installed")?;
    let members: Vec<Address> = committee.members().collect();
    let distinct = members.iter().collect::<BTreeSet<_>>().len();
    writeln!(
        out,
        "   election at checkpoint h{} (seed: hash of block {} = {}) of the committee for term {} (lead 2, as on mainnet):",
        checkpoint.0,
        checkpoint.0,
        short_hex(checkpoint_hash.as_bytes()),
        term.get()
    )?;
    let seats: Vec<String> = committee
        .seats()
        .iter()
        .map(|s| {
            let tag = match s.kind {
                SeatKind::Low => "low",
                SeatKind::High => "high",
                SeatKind::Default => "default",
            };
            format!("{} ({tag})", names.of(&s.address))
        })
        .collect();
    for row in seats.chunks(4) {
        writeln!(out, "     {}", row.join(", "))?;
    }
    writeln!(
        out,
        "   {} seats, {distinct} distinct members: {} from the low-RPT half, {} from the high half, {} default proposers",
        members.len(),
        committee.count(SeatKind::Low),
        committee.count(SeatKind::High),
        committee.count(SeatKind::Default)
    )?;

    Ok(Elected {
        silent_rpt,
        silent_punished,
        committee: members,
        distinct,
        term: term.get(),
    })
}
