//! The clock and the dates users type: RFC 3339 UTC text is what the database stores and
//! compares (it sorts as time does), so everything here ends as `2026-11-23T06:00:00Z`.

/// Seconds since the Unix epoch, now.
///
/// `ZONEFEED_NOW` (a date or an RFC 3339 time) moves the clock so that the process starts at
/// that time and runs on from it: the tests run read paths with the clock far from their data,
/// so that nothing that should count from the data's dates counts from the clock. A value that
/// does not parse is ignored.
pub fn unix_now() -> i64 {
    static SHIFT: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    let real = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    real + *SHIFT.get_or_init(|| std::env::var("ZONEFEED_NOW").ok().and_then(|v| parse_instant(v.trim()).ok()).map_or(0, |t| t - real))
}

/// Now as RFC 3339 UTC with seconds: `2026-11-23T23:59:59Z`.
pub fn now_utc() -> String {
    utc(unix_now())
}

/// `secs` since the epoch as `2026-11-24T06:00:00Z`.
pub fn utc(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86400));
    let r = secs.rem_euclid(86400);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", r / 3600, r / 60 % 60, r % 60)
}

/// The UTC day of `secs` as RFC 3339 midnight: a version's zone date.
pub fn day(secs: i64) -> String {
    utc(secs - secs.rem_euclid(86400))
}

/// `2026-11-23` of `2026-11-23T00:00:00Z` (the text itself when shorter).
pub fn date_of(t: &str) -> &str {
    t.get(..10).unwrap_or(t)
}

/// The UTC day of an HTTP date (`Last-Modified`), as [`day`] gives it.
pub fn day_of_http_date(v: &str) -> Option<String> {
    let t = httpdate::parse_http_date(v.trim()).ok()?;
    let secs = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs() as i64;
    Some(day(secs))
}

/// The earliest zone date taken: the first TLDs were delegated in 1985.
const FIRST_ZONE_DATE: &str = "1985-01-01";

/// `--at`, `--date`: a zone date, given as a day or as an RFC 3339 time (its UTC day), not
/// before 1985.
pub fn parse_day(s: &str) -> Result<String, BadDay> {
    let t = parse_instant(s.trim()).map_err(|e| BadDay(e.0))?;
    if t < parse_instant(FIRST_ZONE_DATE).unwrap_or(0) {
        return Err(BadDay("no zone is dated before 1985"));
    }
    Ok(day(t))
}

/// The day a zone file is for (`import --date`): as [`parse_day`], and not after tomorrow by
/// the clock (a zone dated in the future would sort after every real one).
pub fn parse_zone_date(s: &str) -> Result<String, BadDay> {
    let d = parse_day(s)?;
    if parse_instant(&d).is_ok_and(|t| t > unix_now() + 86400) {
        return Err(BadDay("a zone date is not in the future"));
    }
    Ok(d)
}

/// Why a day was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}; give a day (2026-11-23) or an RFC 3339 time (2026-11-23T06:00:00Z), which stands for its UTC day")]
pub struct BadDay(&'static str);

/// Why a date was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}; give a date (2026-11-23), an RFC 3339 time (2026-11-23T06:00:00Z, 2026-11-23T08:00:00+02:00) or an age (7d, 24h, 30m)")]
pub struct BadDate(&'static str);

/// `--since`: a calendar date (midnight UTC), an RFC 3339 date-time with `Z` or an offset, or
/// an age before `now` (`7d`, `24h`, `30m`, `2w`), as RFC 3339 UTC text.
pub fn parse_since(s: &str, now: i64) -> Result<String, BadDate> {
    Ok(Since::parse(s)?.resolve(now))
}

/// A `--since` checked, before what an age counts back from is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// Seconds since the epoch.
    At(i64),
    /// Seconds before the reference.
    Age(i64),
}

impl Since {
    pub fn parse(s: &str) -> Result<Since, BadDate> {
        let s = s.trim();
        match parse_age(s) {
            Some(age) => age.map(Since::Age),
            None => parse_instant(s).map(Since::At),
        }
    }

    /// As RFC 3339 UTC text, an age counted back from `now`.
    pub fn resolve(self, now: i64) -> String {
        match self {
            Since::At(t) => utc(t),
            Since::Age(secs) => utc(now - secs),
        }
    }

    pub fn is_age(self) -> bool {
        matches!(self, Since::Age(_))
    }
}

/// `7d`-style ages in seconds: None when `s` is not of that shape.
fn parse_age(s: &str) -> Option<Result<i64, BadDate>> {
    let unit = s.chars().last()?;
    let secs = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86400,
        'w' => 7 * 86400,
        _ => return None,
    };
    let n = &s[..s.len() - 1];
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(n.parse::<i64>().ok().and_then(|n| n.checked_mul(secs)).filter(|&v| v < 1 << 40).ok_or(BadDate("the age is too large")))
}

/// A date or RFC 3339 date-time as seconds since the epoch, every field checked.
pub fn parse_instant(s: &str) -> Result<i64, BadDate> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Result<i64, BadDate> {
        let part = b.get(r).ok_or(BadDate("too short"))?;
        if part.iter().all(u8::is_ascii_digit) {
            Ok(part.iter().fold(0, |a, d| a * 10 + i64::from(d - b'0')))
        } else {
            Err(BadDate("not a date"))
        }
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(BadDate("not a date"));
    }
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&m) {
        return Err(BadDate("no such month"));
    }
    if d < 1 || d > days_in_month(y, m) {
        return Err(BadDate("no such day in that month"));
    }
    let day = days_from_civil(y, m, d) * 86400;
    if b.len() == 10 {
        return Ok(day);
    }
    // RFC 3339 §5.6: `T` (or, as it allows, a space or `t`), hh:mm:ss, fractions, then Z or ±hh:mm.
    if !matches!(b[10], b'T' | b't' | b' ') || b.len() < 20 || b[13] != b':' || b[16] != b':' {
        return Err(BadDate("not an RFC 3339 time"));
    }
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if hh > 23 || mm > 59 || ss > 60 {
        return Err(BadDate("no such time of day"));
    }
    let mut rest = &b[19..];
    if rest.first() == Some(&b'.') {
        let digits = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return Err(BadDate("not an RFC 3339 time"));
        }
        rest = &rest[1 + digits..];
    }
    let offset = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let digits = [*h1, *h2, *m1, *m2];
            if !digits.iter().all(u8::is_ascii_digit) {
                return Err(BadDate("bad UTC offset"));
            }
            let (oh, om) = (i64::from(h1 - b'0') * 10 + i64::from(h2 - b'0'), i64::from(m1 - b'0') * 10 + i64::from(m2 - b'0'));
            if oh > 23 || om > 59 {
                return Err(BadDate("bad UTC offset"));
            }
            let off = oh * 3600 + om * 60;
            if *sign == b'+' {
                off
            } else {
                -off
            }
        }
        _ => return Err(BadDate("an RFC 3339 time needs Z or an offset such as +02:00")),
    };
    // A leap second is read as the second before it.
    Ok(day + hh * 3600 + mm * 60 + ss.min(59) - offset)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// The inverse of [`days_from_civil`].
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_accepts_dates_times_and_ages() {
        let now = parse_instant("2026-12-01T12:00:00Z").unwrap();
        assert_eq!(parse_since("2026-11-23", now).unwrap(), "2026-11-23T00:00:00Z");
        assert_eq!(parse_since("2026-11-23T06:00:00Z", now).unwrap(), "2026-11-23T06:00:00Z");
        assert_eq!(parse_since("2026-11-23T08:00:00.123+02:00", now).unwrap(), "2026-11-23T06:00:00Z");
        assert_eq!(parse_since("2026-11-23 06:00:00-01:30", now).unwrap(), "2026-11-23T07:30:00Z");
        assert_eq!(parse_since("7d", now).unwrap(), "2026-11-24T12:00:00Z");
        assert_eq!(parse_since("24h", now).unwrap(), "2026-11-30T12:00:00Z");
        assert_eq!(parse_since("2024-02-29", now).unwrap(), "2024-02-29T00:00:00Z");
    }

    #[test]
    fn a_day_takes_a_time_as_its_utc_day_and_refuses_ages_and_the_absurd() {
        assert_eq!(parse_day("2026-11-03").unwrap(), "2026-11-03T00:00:00Z");
        assert_eq!(parse_day("2026-11-03T06:00:00Z").unwrap(), "2026-11-03T00:00:00Z");
        assert_eq!(parse_day("2026-11-03T01:00:00+02:00").unwrap(), "2026-11-02T00:00:00Z");
        for bad in ["2d", "0000-01-01", "1984-12-31", "2026-13-01", "yesterday"] {
            let e = parse_day(bad).unwrap_err().to_string();
            assert!(!e.contains("7d"), "{bad}: an age is offered: {e}");
        }
        assert!(parse_zone_date("9999-12-31").is_err());
        assert!(parse_zone_date("2026-11-03").is_ok());
    }

    #[test]
    fn since_refuses_dates_that_do_not_exist() {
        let now = 0;
        for bad in [
            "2026-13-45",
            "2026-02-30",
            "2025-02-29",
            "2026-04-31",
            "2026-00-10",
            "2026-11-00",
            "2026-11-23T24:00:00Z",
            "2026-11-23T06:00:00",
            "2026-11-23T06:00Z",
            "2026-11-23T06:00:00+2:00",
            "yesterday",
            "7x",
            "d",
            "",
            "99999999999999999999d",
        ] {
            assert!(parse_since(bad, now).is_err(), "{bad} was accepted");
        }
    }
}
