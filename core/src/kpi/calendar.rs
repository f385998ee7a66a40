//! Dates, periods and the team's working calendar, in the team's time zone.
//!
//! Everything here is integer arithmetic on days since 1970-01-01, so a phone and the relay put
//! an event in the same week, month and quarter. The team's time zone is a fixed UTC offset: the
//! teams served are in China (UTC+8, no daylight saving); a team elsewhere sets its own offset.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::clock::UnixMillis;

const MS_PER_DAY: i64 = 86_400_000;

/// A calendar date (proleptic Gregorian), years 1970–9999.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Date {
    days: i64,
}

/// Why a date or period did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{text}\" is not {expected}")]
pub struct DateError {
    text: String,
    expected: &'static str,
}

impl DateError {
    fn new(text: &str, expected: &'static str) -> Self {
        DateError { text: text.chars().take(40).collect(), expected }
    }
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn month_days(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        _ => 28,
    }
}

impl Date {
    /// The first date this module handles.
    pub const MIN_YEAR: i32 = 1970;
    /// The last year this module handles.
    pub const MAX_YEAR: i32 = 9999;

    /// The date `year-month-day`, if it exists and is in range.
    pub fn new(year: i32, month: u32, day: u32) -> Option<Date> {
        if !(Self::MIN_YEAR..=Self::MAX_YEAR).contains(&year) || !(1..=12).contains(&month) {
            return None;
        }
        let y = i64::from(year);
        if day == 0 || day > month_days(y, month) {
            return None;
        }
        // Days from the civil date, counting years from March so February's leap day is last.
        let y = if month <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let year_of_era = y - era * 400;
        let month_from_march = i64::from((month + 9) % 12);
        let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        Some(Date { days: era * 146_097 + day_of_era - 719_468 })
    }

    /// The date `days` after 1970-01-01.
    pub fn from_days(days: i64) -> Date {
        Date { days }
    }

    /// Days since 1970-01-01.
    pub fn days(self) -> i64 {
        self.days
    }

    /// Year, month (1–12) and day (1–31).
    pub fn ymd(self) -> (i32, u32, u32) {
        let z = self.days + 719_468;
        let era = z.div_euclid(146_097);
        let day_of_era = z - era * 146_097;
        let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let mp = (5 * day_of_year + 2) / 153;
        let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        (year as i32, month, day)
    }

    /// Monday = 1 … Sunday = 7 (ISO 8601).
    pub fn iso_weekday(self) -> u32 {
        // 1970-01-01 was a Thursday.
        ((self.days + 3).rem_euclid(7) + 1) as u32
    }

    /// The date `n` days later (earlier when negative).
    pub fn add_days(self, n: i64) -> Date {
        Date { days: self.days + n }
    }

    /// The team-local date of an instant.
    pub fn of_instant(at: UnixMillis, utc_offset_minutes: i32) -> Date {
        let local = at.saturating_add(i64::from(utc_offset_minutes) * 60_000);
        Date { days: local.div_euclid(MS_PER_DAY) }
    }

    /// The instant this date begins in a zone.
    pub fn start_ms(self, utc_offset_minutes: i32) -> UnixMillis {
        self.days * MS_PER_DAY - i64::from(utc_offset_minutes) * 60_000
    }

    /// ISO week-numbering year and week (1–53).
    pub fn iso_week(self) -> (i32, u32) {
        // The Thursday of this date's week decides the year.
        let thursday = self.add_days(4 - i64::from(self.iso_weekday()));
        let (year, _, _) = thursday.ymd();
        let jan1 = Date::new(year, 1, 1).unwrap_or(thursday);
        let week = (thursday.days - jan1.days) / 7 + 1;
        (year, week as u32)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl FromStr for Date {
    type Err = DateError;

    fn from_str(s: &str) -> Result<Date, DateError> {
        let err = || DateError::new(s, "a date YYYY-MM-DD");
        let mut parts = s.split('-');
        let (Some(y), Some(m), Some(d), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(err());
        };
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return Err(err());
        }
        let year = digits(y).ok_or_else(err)? as i32;
        Date::new(year, digits(m).ok_or_else(err)?, digits(d).ok_or_else(err)?).ok_or_else(err)
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// How long a KPI period is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    /// An ISO week, Monday to Sunday.
    Week,
    /// A calendar month.
    Month,
    /// A calendar quarter.
    Quarter,
}

impl PeriodKind {
    /// Every kind.
    pub const ALL: [PeriodKind; 3] = [PeriodKind::Week, PeriodKind::Month, PeriodKind::Quarter];

    /// The name used in files and APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            PeriodKind::Week => "week",
            PeriodKind::Month => "month",
            PeriodKind::Quarter => "quarter",
        }
    }
}

/// One KPI period: `2026-W49`, `2026-12` or `2026-Q4`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Period {
    kind: PeriodKind,
    /// First day (inclusive).
    first: Date,
}

impl Period {
    /// The period of `kind` that contains `date`.
    pub fn containing(kind: PeriodKind, date: Date) -> Period {
        let first = match kind {
            PeriodKind::Week => date.add_days(1 - i64::from(date.iso_weekday())),
            PeriodKind::Month => {
                let (y, m, _) = date.ymd();
                Date::new(y, m, 1).unwrap_or(date)
            }
            PeriodKind::Quarter => {
                let (y, m, _) = date.ymd();
                Date::new(y, (m - 1) / 3 * 3 + 1, 1).unwrap_or(date)
            }
        };
        Period { kind, first }
    }

    /// The period of `kind` containing an instant, in the team's zone.
    pub fn of_instant(kind: PeriodKind, at: UnixMillis, utc_offset_minutes: i32) -> Period {
        Period::containing(kind, Date::of_instant(at, utc_offset_minutes))
    }

    /// Its kind.
    pub fn kind(self) -> PeriodKind {
        self.kind
    }

    /// Its first day.
    pub fn first_day(self) -> Date {
        self.first
    }

    /// The day after its last day.
    pub fn end_day(self) -> Date {
        self.next().first
    }

    /// The period after this one.
    pub fn next(self) -> Period {
        let (y, m, _) = self.first.ymd();
        let first = match self.kind {
            PeriodKind::Week => self.first.add_days(7),
            PeriodKind::Month | PeriodKind::Quarter => {
                let step = if self.kind == PeriodKind::Month { 1 } else { 3 };
                let m0 = m - 1 + step;
                Date::new(y + (m0 / 12) as i32, m0 % 12 + 1, 1).unwrap_or(self.first.add_days(31))
            }
        };
        Period { kind: self.kind, first }
    }

    /// The period before this one.
    pub fn previous(self) -> Period {
        Period::containing(self.kind, self.first.add_days(-1))
    }

    /// The same period a year before (for a week: the same ISO week number, or week 52 when the
    /// year before had no week 53).
    pub fn year_before(self) -> Period {
        match self.kind {
            PeriodKind::Week => {
                let (year, week) = self.first.iso_week();
                let jan4 = Date::new(year - 1, 1, 4).unwrap_or(self.first);
                let week1 = Period::containing(PeriodKind::Week, jan4).first;
                let candidate =
                    Period { kind: PeriodKind::Week, first: week1.add_days(7 * i64::from(week - 1)) };
                if candidate.first.iso_week().0 == year - 1 { candidate } else { candidate.previous() }
            }
            PeriodKind::Month | PeriodKind::Quarter => {
                let (y, m, _) = self.first.ymd();
                Period { kind: self.kind, first: Date::new(y - 1, m, 1).unwrap_or(self.first) }
            }
        }
    }

    /// Whether the team-local date falls in it.
    pub fn contains(self, date: Date) -> bool {
        self.first <= date && date < self.end_day()
    }

    /// Whether an instant falls in it, in the team's zone.
    pub fn contains_instant(self, at: UnixMillis, utc_offset_minutes: i32) -> bool {
        self.contains(Date::of_instant(at, utc_offset_minutes))
    }

    /// The instants it spans, `[start, end)`, in the team's zone.
    pub fn span_ms(self, utc_offset_minutes: i32) -> (UnixMillis, UnixMillis) {
        (self.first.start_ms(utc_offset_minutes), self.end_day().start_ms(utc_offset_minutes))
    }

    /// Every date in it.
    pub fn days(self) -> impl Iterator<Item = Date> {
        (self.first.days()..self.end_day().days()).map(Date::from_days)
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, _) = self.first.ymd();
        match self.kind {
            PeriodKind::Week => {
                let (wy, w) = self.first.iso_week();
                write!(f, "{wy:04}-W{w:02}")
            }
            PeriodKind::Month => write!(f, "{y:04}-{m:02}"),
            PeriodKind::Quarter => write!(f, "{y:04}-Q{}", (m - 1) / 3 + 1),
        }
    }
}

impl FromStr for Period {
    type Err = DateError;

    fn from_str(s: &str) -> Result<Period, DateError> {
        let err = || DateError::new(s, "a period such as 2026-W49, 2026-12 or 2026-Q4");
        let (y, rest) = s.split_once('-').ok_or_else(err)?;
        if y.len() != 4 {
            return Err(err());
        }
        let year = digits(y).ok_or_else(err)? as i32;
        if let Some(w) = rest.strip_prefix('W') {
            let week = if w.len() == 2 { digits(w).ok_or_else(err)? } else { return Err(err()) };
            let jan4 = Date::new(year, 1, 4).ok_or_else(err)?;
            let first = Period::containing(PeriodKind::Week, jan4).first.add_days(7 * (i64::from(week) - 1));
            if week == 0 || first.iso_week() != (year, week) {
                return Err(err());
            }
            Ok(Period { kind: PeriodKind::Week, first })
        } else if let Some(q) = rest.strip_prefix('Q') {
            let quarter = if q.len() == 1 { digits(q).ok_or_else(err)? } else { return Err(err()) };
            if !(1..=4).contains(&quarter) {
                return Err(err());
            }
            Ok(Period {
                kind: PeriodKind::Quarter,
                first: Date::new(year, quarter * 3 - 2, 1).ok_or_else(err)?,
            })
        } else {
            let month = if rest.len() == 2 { digits(rest).ok_or_else(err)? } else { return Err(err()) };
            Ok(Period { kind: PeriodKind::Month, first: Date::new(year, month, 1).ok_or_else(err)? })
        }
    }
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Period, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The team's working calendar: which days count as working days for per-day metrics. Public
/// holidays and the make-up working days (调休) that move them are the admins' data, set per year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamCalendar {
    /// The team's time zone as minutes east of UTC (China: 480).
    #[serde(default = "TeamCalendar::china_offset")]
    pub utc_offset_minutes: i32,
    /// Days off that would otherwise be working days (法定节假日).
    #[serde(default)]
    pub holidays: BTreeSet<Date>,
    /// Weekend days worked instead (调休上班).
    #[serde(default)]
    pub make_up_working_days: BTreeSet<Date>,
}

impl Default for TeamCalendar {
    fn default() -> Self {
        TeamCalendar {
            utc_offset_minutes: Self::china_offset(),
            holidays: BTreeSet::new(),
            make_up_working_days: BTreeSet::new(),
        }
    }
}

impl TeamCalendar {
    fn china_offset() -> i32 {
        480
    }

    /// Whether the team works on `date`.
    pub fn is_working_day(&self, date: Date) -> bool {
        if self.make_up_working_days.contains(&date) {
            return true;
        }
        date.iso_weekday() <= 5 && !self.holidays.contains(&date)
    }

    /// How many working days `period` has.
    pub fn working_days(&self, period: Period) -> u32 {
        period.days().filter(|d| self.is_working_day(*d)).count() as u32
    }

    /// The problem with this calendar, if any: an offset beyond ±14 h, or a day both a holiday
    /// and a make-up working day.
    pub fn check(&self) -> Result<(), String> {
        if !(-14 * 60..=14 * 60).contains(&self.utc_offset_minutes) {
            return Err(format!("utc_offset_minutes {} is beyond ±840", self.utc_offset_minutes));
        }
        if let Some(day) = self.holidays.intersection(&self.make_up_working_days).next() {
            return Err(format!("{day} is both a holiday and a make-up working day"));
        }
        Ok(())
    }
}
