//! The `[gc]` table's values: a Kubernetes CronJob schedule and MLflow's `--older-than`.

use std::fmt;

use crate::diag::Code;
use crate::problem::{Checked, Problem};

/// A CronJob schedule Kubernetes accepts: five fields (minute, hour, day of month, month,
/// day of week) of `*`, `?`, numbers, names, ranges, lists and steps, or a macro such as
/// `@daily`. A time zone prefix (`CRON_TZ=`) is refused by the API server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronSchedule(String);

/// The age after which `mlflow gc` deletes a deleted run, in MLflow's `#d#h#m#s` form
/// (each part optional, in that order, a number possibly with a fraction), e.g. `30d`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OlderThan(String);

impl fmt::Display for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for OlderThan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

const MACROS: &[&str] = &[
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];
const MONTHS: &[&str] = &[
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// One of the five fields: its name, its range, and the names it accepts (numbered from
/// the range's start).
struct CronField {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const FIELDS: [CronField; 5] = [
    CronField {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
    },
    CronField {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
    },
    CronField {
        name: "day of month",
        min: 1,
        max: 31,
        names: &[],
    },
    CronField {
        name: "month",
        min: 1,
        max: 12,
        names: MONTHS,
    },
    CronField {
        name: "day of week",
        min: 0,
        max: 6,
        names: DAYS,
    },
];

const CRON_HELP: &str = "write five fields, minute hour day-of-month month day-of-week, e.g. \
                         `schedule = \"0 3 * * *\"` (03:00 UTC every day), \
                         or a macro such as `@daily`";

impl CronField {
    fn value(&self, text: &str) -> Option<u32> {
        if let Ok(number) = text.parse::<u32>() {
            // Kubernetes' parser (robfig/cron) has no 7 for Sunday, unlike crontab(5).
            return (self.min..=self.max).contains(&number).then_some(number);
        }
        let lower = text.to_ascii_lowercase();
        self.names
            .iter()
            .position(|name| *name == lower)
            .and_then(|i| u32::try_from(i).ok())
            .map(|i| i + self.min)
    }

    /// Why `item` (one element of a comma list) is not valid here.
    fn check_item(&self, item: &str) -> Result<(), String> {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (item, None),
        };
        if let Some(step) = step
            && !step.parse::<u32>().is_ok_and(|s| s >= 1 && s <= self.max)
        {
            return Err(format!(
                "the step `/{step}` of the {} must be a number from 1 to {}",
                self.name, self.max
            ));
        }
        if range == "*" || range == "?" {
            return Ok(());
        }
        let (low, high) = match range.split_once('-') {
            Some((low, high)) => (low, Some(high)),
            None => (range, None),
        };
        let bounds = if self.names.is_empty() {
            format!("{} to {}", self.min, self.max)
        } else {
            format!(
                "{} to {} or a name such as `{}`",
                self.min,
                self.max,
                self.names[0].to_ascii_uppercase()
            )
        };
        let Some(low_value) = self.value(low) else {
            return Err(format!(
                "`{low}` is not a valid {}: use {bounds}",
                self.name
            ));
        };
        if let Some(high) = high {
            let Some(high_value) = self.value(high) else {
                return Err(format!(
                    "`{high}` is not a valid {}: use {bounds}",
                    self.name
                ));
            };
            if high_value < low_value {
                return Err(format!("the {} range `{range}` runs backwards", self.name));
            }
        }
        Ok(())
    }
}

impl CronSchedule {
    pub fn parse(value: &str) -> Checked<Self> {
        let bad = |message: String| {
            Problem::new(Code::InvalidCron, message)
                .label("not a cron schedule")
                .help(CRON_HELP)
        };
        if let Some((i, c)) = value
            .char_indices()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || " *?,/-@_=".contains(*c)))
        {
            let what = if c.is_whitespace() {
                "a space other than ` `".to_owned()
            } else {
                format!("`{}`", crate::diag::shown(&c.to_string()))
            };
            return Err(
                bad(format!("{what} cannot appear in a cron schedule")).within(i..i + c.len_utf8())
            );
        }
        if let Some(name) = value.strip_prefix('@') {
            if MACROS.contains(&value) {
                return Ok(Self(value.to_owned()));
            }
            let suggestion = crate::suggest::closest(value, MACROS.iter().copied());
            return Err(
                bad(format!("`@{name}` is not a schedule macro")).help(match suggestion {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("use {}", crate::suggest::one_of(MACROS)),
                }),
            );
        }
        if value.starts_with("CRON_TZ=") || value.starts_with("TZ=") {
            return Err(
                bad("a time zone prefix is refused by Kubernetes".to_owned())
                    .help("remove the prefix; the bundle's CronJob runs in UTC (its `timeZone`)"),
            );
        }
        // Field positions, for pointing at the bad one.
        let mut fields = Vec::new();
        let mut start = None;
        for (i, c) in value.char_indices() {
            match (c == ' ', start) {
                (false, None) => start = Some(i),
                (true, Some(s)) => {
                    fields.push(s..i);
                    start = None;
                }
                _ => {}
            }
        }
        if let Some(s) = start {
            fields.push(s..value.len());
        }
        if fields.len() != 5 {
            let what = if fields.len() == 6 {
                " (Kubernetes has no seconds field)"
            } else {
                ""
            };
            return Err(bad(format!(
                "a schedule has 5 fields, this one has {}{what}",
                fields.len()
            )));
        }
        for (field, span) in FIELDS.iter().zip(fields) {
            let text = &value[span.clone()];
            let mut offset = span.start;
            for item in text.split(',') {
                if let Err(message) = field.check_item(item) {
                    return Err(bad(message)
                        .label(format!("not a valid {}", field.name))
                        .within(offset..offset + item.len()));
                }
                offset += item.len() + 1;
            }
        }
        Ok(Self(value.to_owned()))
    }

    #[must_use]
    pub fn default_schedule() -> Self {
        Self("0 3 * * *".to_owned())
    }
}

const OLDER_THAN_HELP: &str = "write days, hours, minutes and seconds in that order, each a number \
                               and its unit, e.g. `older_than = \"30d\"` or `\"1d12h\"`";

impl OlderThan {
    pub fn parse(value: &str) -> Checked<Self> {
        let bad = |message: String| {
            Problem::new(Code::InvalidOlderThan, message)
                .label("not MLflow's `--older-than` syntax")
                .help(OLDER_THAN_HELP)
        };
        if let Some((i, c)) = value
            .char_indices()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '.' || *c == ' '))
        {
            return Err(bad(format!(
                "`{}` cannot appear in `older_than`",
                crate::diag::shown(&c.to_string())
            ))
            .within(i..i + c.len_utf8()));
        }
        if let Some(suggestion) = spelled_out(value) {
            return Err(bad(format!("`{value}` is not in MLflow's `#d#h#m#s` form"))
                .help(format!("did you mean `{suggestion}`?")));
        }
        let mut rest = value;
        let mut next_unit = 0;
        let mut total = 0.0_f64;
        if value.is_empty() {
            return Err(bad("`older_than` is empty".to_owned()));
        }
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(rest.len());
            let (number, tail) = rest.split_at(digits);
            let Some(unit) = tail.chars().next() else {
                return Err(bad(format!(
                    "`{number}` has no unit: add `d`, `h`, `m` or `s`"
                )));
            };
            let Some(position) = ['d', 'h', 'm', 's'].iter().position(|u| *u == unit) else {
                return Err(
                    bad(format!("`{unit}` is not a unit: use `d`, `h`, `m` or `s`")).help(
                        if unit == 'w' {
                            "MLflow has no weeks: write days, e.g. `7d` for a week".to_owned()
                        } else {
                            OLDER_THAN_HELP.to_owned()
                        },
                    ),
                );
            };
            let Ok(amount) = number.parse::<f64>() else {
                return Err(bad(format!(
                    "`{number}{unit}` needs a number before `{unit}`"
                )));
            };
            if position < next_unit {
                return Err(bad(format!(
                    "`{unit}` comes too late: MLflow reads days, hours, minutes, seconds in that order"
                )));
            }
            next_unit = position + 1;
            total += amount * [86_400.0, 3_600.0, 60.0, 1.0][position];
            rest = &tail[1..];
        }
        if total < 1.0 {
            return Err(bad(format!("`{value}` is no time at all")).help(
                "runs deleted a moment ago would go at once; use e.g. `older_than = \"30d\"`",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    #[must_use]
    pub fn default_age() -> Self {
        Self("30d".to_owned())
    }
}

/// `30 days`, `30days`, `2 weeks`, `P30D`: the `#d#h#m#s` form people mean.
fn spelled_out(value: &str) -> Option<String> {
    let lower = value.trim().to_ascii_lowercase();
    if let Some(iso) = lower.strip_prefix('p')
        && let Some(days) = iso.strip_suffix('d')
        && days.parse::<u32>().is_ok()
    {
        return Some(format!("{days}d"));
    }
    let split = lower.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = lower.split_at(split);
    let number: u32 = number.parse().ok()?;
    let unit = unit.trim();
    let (factor, letter) = match unit {
        "day" | "days" => (1, 'd'),
        "week" | "weeks" | "w" => (7, 'd'),
        "hour" | "hours" | "hr" | "hrs" => (1, 'h'),
        "min" | "mins" | "minute" | "minutes" => (1, 'm'),
        "sec" | "secs" | "second" | "seconds" => (1, 's'),
        _ => return None,
    };
    Some(format!("{}{letter}", number * factor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        for good in [
            "0 3 * * *",
            "*/15 * * * *",
            "0 0 1,15 * MON-FRI",
            "30 2 * JAN-MAR 0",
            "0 0 * * 6",
            "@daily",
            "5 4 ? * sun",
        ] {
            assert!(CronSchedule::parse(good).is_ok(), "{good}");
        }
        let problem = CronSchedule::parse("0 3 * *").unwrap_err();
        assert_eq!(problem.message, "a schedule has 5 fields, this one has 4");
        let problem = CronSchedule::parse("0 0 3 * * *").unwrap_err();
        assert!(
            problem.message.contains("no seconds field"),
            "{}",
            problem.message
        );
        let problem = CronSchedule::parse("0 25 * * *").unwrap_err();
        assert_eq!(problem.within, Some(2..4));
        assert!(problem.message.contains("hour"), "{}", problem.message);
        let problem = CronSchedule::parse("0 3 * * MON-XYZ").unwrap_err();
        assert_eq!(problem.within, Some(8..15));
        assert!(CronSchedule::parse("0 3 * * */0").is_err());
        // Sunday is 0 only: Kubernetes refuses crontab's 7.
        assert!(CronSchedule::parse("0 0 * * 7").is_err());
        assert!(CronSchedule::parse("0 5-2 * * *").is_err());
        assert_eq!(
            CronSchedule::parse("@dayly").unwrap_err().help,
            "did you mean `@daily`?"
        );
        assert!(CronSchedule::parse("CRON_TZ=UTC 0 3 * * *").is_err());
    }

    #[test]
    fn ages() {
        for good in ["30d", "1d2h3m4s", "1.5d", "12h", "90m", "3600s", "0.5d12h"] {
            assert!(OlderThan::parse(good).is_ok(), "{good}");
        }
        assert_eq!(
            OlderThan::parse("30 days").unwrap_err().help,
            "did you mean `30d`?"
        );
        assert_eq!(
            OlderThan::parse("2w").unwrap_err().help,
            "did you mean `14d`?"
        );
        assert_eq!(
            OlderThan::parse("P30D").unwrap_err().help,
            "did you mean `30d`?"
        );
        assert!(
            OlderThan::parse("30")
                .unwrap_err()
                .message
                .contains("no unit")
        );
        assert!(
            OlderThan::parse("2h1d")
                .unwrap_err()
                .message
                .contains("too late")
        );
        assert!(OlderThan::parse("0d").is_err());
        assert!(OlderThan::parse("1.2.3d").is_err());
        assert!(OlderThan::parse("").is_err());
        assert!(OlderThan::parse("d").is_err());
    }
}
