//! The IICS schedule object, both ways: reading a v2 or v3 body (`interval`, `frequency`,
//! `startTime`, `sun`..`sat`, `rangeStartTime`, `dayOfMonth`, `weekOfMonth`, `dayOfWeek`,
//! `timeZoneId`) into a native schedule input (a frequency), and writing a native schedule as the
//! v2 or v3 object. Translation only: what a frequency means is `domain::frequency`'s.

use super::entries::utc_time;
use crate::domain::ids::{self, ShortIdKind};
use crate::domain::schedule::{Rule, Schedule};
use chrono::{DateTime, NaiveDateTime, NaiveTime, TimeZone, Utc};
use serde_json::{Map, Value, json};
use sluice_types::ScheduleInput;

const DAYS: [(&str, &str); 7] = [
    ("sun", "sun"),
    ("mon", "mon"),
    ("tue", "tue"),
    ("wed", "wed"),
    ("thu", "thu"),
    ("fri", "fri"),
    ("sat", "sat"),
];

/// Which API version a body or an answer is in: v2 reads `startTime` as wall-clock time in the
/// schedule's zone (what its GET shows), v3 as UTC (as v3 documents).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V2,
    V3,
}

fn text<'a>(body: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    body.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// A flag IICS clients send as `true` or `"true"`.
fn flag(body: &Map<String, Value>, key: &str) -> bool {
    match body.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// `America_New_York` (some clients' spelling) is `America/New_York`.
pub fn zone_of(body: &Map<String, Value>) -> String {
    let raw = ["timeZoneId", "timeZone", "timezone"]
        .iter()
        .find_map(|k| text(body, k))
        .unwrap_or("UTC");
    if raw.contains('/') || !raw.contains('_') {
        raw.to_string()
    } else {
        raw.replacen('_', "/", 1)
    }
}

fn parse_instant(s: &str) -> Option<NaiveDateTime> {
    let trimmed = s.trim().trim_end_matches('Z');
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(trimmed, f).ok())
    .or_else(|| DateTime::parse_from_rfc3339(s).ok().map(|t| t.naive_utc()))
}

/// A `startTime`/`endTime` as wall-clock time in `zone`.
fn local(s: &str, version: Version, zone: &str) -> Result<NaiveDateTime, String> {
    let t = parse_instant(s).ok_or_else(|| format!("`{s}` is not a date-time"))?;
    if version == Version::V2 {
        return Ok(t);
    }
    let tz: chrono_tz::Tz = zone
        .parse()
        .map_err(|_| format!("timeZoneId: `{zone}` is not a time zone"))?;
    Ok(Utc.from_utc_datetime(&t).with_timezone(&tz).naive_local())
}

/// The time of day of a `rangeStartTime`: a date-time (only its time counts) or `HH:MM`.
fn time_of_day(s: &str) -> Option<NaiveTime> {
    parse_instant(s)
        .map(|t| t.time())
        .or_else(|| NaiveTime::parse_from_str(s.trim(), "%H:%M").ok())
        .or_else(|| NaiveTime::parse_from_str(s.trim(), "%H:%M:%S").ok())
}

/// A v2 or v3 schedule body as a native input; `name` is the one the body or the path gives.
pub fn input_of(body: &Map<String, Value>, version: Version) -> Result<ScheduleInput, String> {
    let name = text(body, "name").ok_or("name: missing")?.to_string();
    let zone = zone_of(body);
    let start = text(body, "startTime").ok_or("startTime: missing")?;
    let mut f = Map::new();
    let interval = text(body, "interval").unwrap_or("None");
    let every = match interval.to_ascii_lowercase().as_str() {
        "none" => "once",
        "minutely" => "minutes",
        "hourly" => "hours",
        "daily" => "days",
        "weekly" => "weeks",
        "biweekly" => "biweekly",
        "monthly" => "months",
        _ => {
            return Err(format!(
                "interval: `{interval}` is not None, Minutely, Hourly, Daily, Weekly, Biweekly or Monthly"
            ));
        }
    };
    f.insert("every".into(), json!(every));
    f.insert(
        "start".into(),
        json!(local(start, version, &zone).map_err(|e| format!("startTime: {e}"))?),
    );
    if let Some(end) = text(body, "endTime") {
        f.insert(
            "end".into(),
            json!(local(end, version, &zone).map_err(|e| format!("endTime: {e}"))?),
        );
    }
    let n = body
        .get("frequency")
        .and_then(Value::as_u64)
        .unwrap_or(1)
        .max(1);
    if matches!(every, "minutes" | "hours" | "days") {
        f.insert("interval".into(), json!(n));
    }
    let days: Vec<&str> = DAYS
        .iter()
        .filter(|(k, _)| flag(body, k))
        .map(|(_, d)| *d)
        .collect();
    match every {
        "minutes" | "hours" => {
            if !days.is_empty() {
                f.insert("days".into(), json!(days));
            }
            for (key, field) in [("rangeStartTime", "from_time"), ("rangeEndTime", "to_time")] {
                let alt = if key == "rangeStartTime" {
                    "startTimeRange"
                } else {
                    "endTimeRange"
                };
                if let Some(s) = text(body, key).or_else(|| text(body, alt)) {
                    let t = time_of_day(s).ok_or_else(|| format!("{key}: `{s}` is not a time"))?;
                    f.insert(field.into(), json!(t.format("%H:%M:%S").to_string()));
                }
            }
        }
        "days" if flag(body, "weekDay") => {
            f.insert("days".into(), json!(["mon", "tue", "wed", "thu", "fri"]));
        }
        "weeks" | "biweekly" if !days.is_empty() => {
            f.insert("days".into(), json!(days));
        }
        "months" => monthly(body, &mut f),
        _ => {}
    }
    Ok(ScheduleInput {
        name,
        description: text(body, "description").map(str::to_string),
        timezone: Some(zone),
        frequency: Some(Value::Object(f)),
        paused: text(body, "status").map(|s| s.eq_ignore_ascii_case("disabled")),
        ..Default::default()
    })
}

fn monthly(body: &Map<String, Value>, f: &mut Map<String, Value>) {
    let day = body.get("dayOfMonth").and_then(Value::as_u64).unwrap_or(0);
    if day > 0 {
        f.insert("day_of_month".into(), json!(day));
        return;
    }
    let (Some(week), Some(weekday)) = (text(body, "weekOfMonth"), text(body, "dayOfWeek")) else {
        return;
    };
    let weekday = weekday.to_ascii_lowercase().replace(' ', "_");
    if week.eq_ignore_ascii_case("last") && weekday == "day" {
        f.insert("day_of_month".into(), json!("last"));
    } else {
        f.insert("week_of_month".into(), json!(week.to_ascii_lowercase()));
        f.insert("day_of_week".into(), json!(weekday));
    }
}

fn title(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect::<String>())
        .unwrap_or_default()
        .replace('_', " ")
}

/// The frequency fields of the IICS object (cron schedules have no IICS shape: `None`, with
/// the expression in `cronExpression`).
fn frequency_fields(s: &Schedule, m: &mut Map<String, Value>, version: Version) {
    let f = match &s.rule {
        Rule::Cron(c) => {
            m.insert("interval".into(), json!("None"));
            m.insert("cronExpression".into(), json!(c));
            return;
        }
        Rule::Frequency(f) => serde_json::to_value(f).unwrap_or_default(),
    };
    let every = f["every"].as_str().unwrap_or("once");
    let interval = match every {
        "once" => "None",
        "minutes" => "Minutely",
        "hours" => "Hourly",
        "days" => "Daily",
        "weeks" => "Weekly",
        "biweekly" => "Biweekly",
        _ => "Monthly",
    };
    m.insert("interval".into(), json!(interval));
    m.insert(
        "frequency".into(),
        json!(f["interval"].as_u64().unwrap_or(1)),
    );
    let days: Vec<String> = f["days"]
        .as_array()
        .map(|d| {
            d.iter()
                .filter_map(|v| v.as_str())
                .map(|s| s.to_ascii_lowercase())
                .collect()
        })
        .unwrap_or_default();
    for (key, day) in DAYS {
        m.insert(key.into(), json!(days.iter().any(|d| d.starts_with(day))));
    }
    let weekdays_only = every == "days"
        && days.len() == 5
        && !days
            .iter()
            .any(|d| d.starts_with("sa") || d.starts_with("su"));
    m.insert("weekDay".into(), json!(weekdays_only));
    let dom = match &f["day_of_month"] {
        Value::Number(n) => n.as_u64().unwrap_or(0),
        _ => 0,
    };
    m.insert("dayOfMonth".into(), json!(dom));
    let (week, weekday) = if f["day_of_month"] == json!("last") {
        (json!("Last"), json!("Day"))
    } else {
        (
            f["week_of_month"]
                .as_str()
                .map_or(Value::Null, |w| json!(title(w))),
            f["day_of_week"]
                .as_str()
                .map_or(Value::Null, |d| json!(title(d))),
        )
    };
    m.insert("weekOfMonth".into(), week);
    m.insert("dayOfWeek".into(), weekday);
    for (key, field) in [("rangeStartTime", "from_time"), ("rangeEndTime", "to_time")] {
        let v = f[field]
            .as_str()
            .map_or(Value::Null, |t| json!(format!("1970-01-01T{t}.000Z")));
        if version == Version::V3 || !v.is_null() {
            m.insert(key.into(), v);
        }
    }
}

/// A wall-clock time in the schedule's zone, as an instant.
fn in_zone(s: &Schedule, t: &str) -> Option<DateTime<Utc>> {
    let tz: chrono_tz::Tz = s.timezone.parse().ok()?;
    let naive = NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S").ok()?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// The schedule as the v2 (`"@type":"schedule"`) or v3 object.
pub fn object(s: &Schedule, version: Version) -> Value {
    let mut m = Map::new();
    if version == Version::V2 {
        m.insert("@type".into(), json!("schedule"));
        m.insert("id".into(), json!(v2_id(s)));
        m.insert(
            "orgId".into(),
            json!(ids::short_id(s.org_id, ShortIdKind::Org)),
        );
    } else {
        m.insert("id".into(), json!(s.id.to_string()));
        m.insert("scheduleFederatedId".into(), json!(ids::federated_id(s.id)));
        m.insert(
            "status".into(),
            json!(if s.paused { "disabled" } else { "enabled" }),
        );
    }
    m.insert("name".into(), json!(s.name));
    m.insert("description".into(), json!(s.description));
    m.insert("createTime".into(), json!(utc_time(s.created_at)));
    m.insert("updateTime".into(), json!(utc_time(s.updated_at)));
    m.insert("createdBy".into(), json!("sluice"));
    m.insert("updatedBy".into(), json!("sluice"));
    let f = match &s.rule {
        Rule::Frequency(f) => serde_json::to_value(f).unwrap_or_default(),
        Rule::Cron(_) => Value::Null,
    };
    for (key, field) in [("startTime", "start"), ("endTime", "end")] {
        let Some(local) = f[field].as_str() else {
            continue;
        };
        let utc = in_zone(s, local);
        match version {
            // v2 answers wall-clock time with a literal `Z`, and the real instant beside it.
            Version::V2 => {
                m.insert(key.into(), json!(format!("{local}.000Z")));
                if let Some(u) = utc {
                    m.insert(format!("{key}UTC"), json!(utc_time(u)));
                }
            }
            Version::V3 => {
                m.insert(key.into(), utc.map_or(Value::Null, |u| json!(utc_time(u))));
            }
        }
    }
    frequency_fields(s, &mut m, version);
    m.insert("timeZoneId".into(), json!(s.timezone));
    Value::Object(m)
}

/// The 20-character v2 id of a schedule.
pub fn v2_id(s: &Schedule) -> String {
    ids::short_id(s.id, ShortIdKind::Schedule)
}
