//! Timestamps as Kubernetes writes them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `since_epoch` as RFC 3339 in UTC, to the second: `2006-01-02T15:04:05Z`, as Kubernetes
/// writes `metav1.Time`.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(converge_core::rfc3339(Duration::from_secs(1_700_000_000)), "2023-11-14T22:13:20Z");
/// ```
pub fn rfc3339(since_epoch: Duration) -> String {
    let (date, time) = civil(since_epoch.as_secs());
    format!("{date}T{time}Z")
}

/// `since_epoch` to the microsecond, as Kubernetes writes `metav1.MicroTime` (a Lease's
/// `renewTime`): `2006-01-02T15:04:05.000000Z`.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(
///     converge_core::rfc3339_micros(Duration::from_micros(1_700_000_000_000_042)),
///     "2023-11-14T22:13:20.000042Z"
/// );
/// ```
pub fn rfc3339_micros(since_epoch: Duration) -> String {
    let (date, time) = civil(since_epoch.as_secs());
    format!("{date}T{time}.{:06}Z", since_epoch.subsec_micros())
}

/// The time since the epoch now (zero for a clock before it).
pub fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// (`YYYY-MM-DD`, `hh:mm:ss`) of `seconds` since the epoch, in UTC.
fn civil(seconds: u64) -> (String, String) {
    let days = (seconds / 86_400) as i64;
    let rest = seconds % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        format!("{year:04}-{month:02}-{day:02}"),
        format!(
            "{:02}:{:02}:{:02}",
            rest / 3_600,
            rest % 3_600 / 60,
            rest % 60
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_in_utc() {
        let at = |s: u64| rfc3339(Duration::from_secs(s));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_795_338_245), "2026-11-22T09:04:05Z");
        assert_eq!(
            rfc3339_micros(Duration::from_micros(1)),
            "1970-01-01T00:00:00.000001Z"
        );
    }
}
