//! The three clocks of a data chain (§2.2.1): the block period T, the encryption interval e
//! and the upload interval u.
//!
//! All three are aligned to the Unix epoch, so the writer and every reader compute the same
//! period, interval and upload boundary from a timestamp alone, with no shared origin to agree
//! on. Because e and u are multiples of T, a period never straddles two encryption intervals
//! (so one block has exactly one key) nor an upload boundary (so an anchor never cuts a
//! block).

use crate::ConfigError;
use cpchain_core::{Duration, Timestamp};

/// T, e and u of one stream. Construct with [`Schedule::new`], which enforces the alignment
/// invariants above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    period: u64,
    encryption_interval: u64,
    upload_interval: u64,
}

impl Schedule {
    /// A schedule with block period `period` (T), encryption interval `encryption_interval`
    /// (e) and upload interval `upload_interval` (u). e and u must be positive multiples of T.
    pub fn new(
        period: Duration,
        encryption_interval: Duration,
        upload_interval: Duration,
    ) -> Result<Schedule, ConfigError> {
        let t = period.as_millis();
        let e = encryption_interval.as_millis();
        let u = upload_interval.as_millis();
        if t == 0 {
            return Err(ConfigError::ZeroPeriod);
        }
        if e == 0 || e.checked_rem(t) != Some(0) {
            return Err(ConfigError::EncryptionInterval);
        }
        if u == 0 || u.checked_rem(t) != Some(0) {
            return Err(ConfigError::UploadInterval);
        }
        Ok(Schedule {
            period: t,
            encryption_interval: e,
            upload_interval: u,
        })
    }

    /// T.
    pub const fn period(&self) -> Duration {
        Duration::from_millis(self.period)
    }

    /// e.
    pub const fn encryption_interval(&self) -> Duration {
        Duration::from_millis(self.encryption_interval)
    }

    /// u.
    pub const fn upload_interval(&self) -> Duration {
        Duration::from_millis(self.upload_interval)
    }

    /// Number of the period T that contains `t`.
    pub fn period_of(&self, t: Timestamp) -> u64 {
        t.as_millis().checked_div(self.period).unwrap_or(0)
    }

    /// First instant after the period that contains `t`: when a block holding `t` must be
    /// sealed. Saturates at the end of time.
    pub fn period_end(&self, t: Timestamp) -> Timestamp {
        let next = self.period_of(t).saturating_add(1);
        Timestamp::from_millis(next.saturating_mul(self.period))
    }

    /// Number of the encryption interval e that contains `t`: the interval whose key seals
    /// records of time `t`.
    pub fn interval_of(&self, t: Timestamp) -> u64 {
        t.as_millis()
            .checked_div(self.encryption_interval)
            .unwrap_or(0)
    }

    /// The latest upload boundary (multiple of u) at or before `t`.
    pub fn upload_boundary_at_or_before(&self, t: Timestamp) -> Timestamp {
        let n = t.as_millis().checked_div(self.upload_interval).unwrap_or(0);
        Timestamp::from_millis(n.saturating_mul(self.upload_interval))
    }

    /// The first upload boundary strictly after `t`.
    pub fn upload_boundary_after(&self, t: Timestamp) -> Timestamp {
        let n = t.as_millis().checked_div(self.upload_interval).unwrap_or(0);
        Timestamp::from_millis(n.saturating_add(1).saturating_mul(self.upload_interval))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t: u64, e: u64, u: u64) -> Result<Schedule, ConfigError> {
        Schedule::new(
            Duration::from_millis(t),
            Duration::from_millis(e),
            Duration::from_millis(u),
        )
    }

    #[test]
    fn alignment_rules() {
        assert_eq!(s(0, 10, 10), Err(ConfigError::ZeroPeriod));
        assert_eq!(s(10, 15, 10), Err(ConfigError::EncryptionInterval));
        assert_eq!(s(10, 0, 10), Err(ConfigError::EncryptionInterval));
        assert_eq!(s(10, 20, 25), Err(ConfigError::UploadInterval));
        assert!(s(10, 20, 30).is_ok());
    }

    #[test]
    fn periods_intervals_boundaries() {
        let sc = s(10, 30, 20).unwrap();
        assert_eq!(sc.period_of(Timestamp(29)), 2);
        assert_eq!(sc.period_end(Timestamp(29)), Timestamp(30));
        assert_eq!(sc.period_end(Timestamp(30)), Timestamp(40));
        assert_eq!(sc.interval_of(Timestamp(29)), 0);
        assert_eq!(sc.interval_of(Timestamp(30)), 1);
        assert_eq!(
            sc.upload_boundary_at_or_before(Timestamp(39)),
            Timestamp(20)
        );
        assert_eq!(sc.upload_boundary_after(Timestamp(40)), Timestamp(60));
        assert_eq!(sc.period_end(Timestamp(u64::MAX)), Timestamp(u64::MAX));
    }

    #[test]
    fn a_period_never_straddles_an_interval() {
        let sc = s(7, 21, 14).unwrap();
        for t in 0..500u64 {
            let end = sc.period_end(Timestamp(t)).as_millis() - 1;
            assert_eq!(sc.interval_of(Timestamp(t)), sc.interval_of(Timestamp(end)));
        }
    }
}
