//! Frequencies on the calendar: days, weeks and months, day windows, start and end bounds,
//! bounded searches, the serde shape, and every contradictory field refused by name.

use super::*;
#[test]
fn daily_with_days_and_intervals() {
    let f = freq(
        r#"every = "days"
        start = 2026-01-01T06:00:00
        days = ["mon", "tue", "wed", "thu", "fri"]"#,
    );
    let got = fires(&f, "UTC", utc(2026, 1, 1, 0, 0), utc(2026, 1, 8, 0, 0));
    assert_eq!(
        walls(&got, "UTC"),
        [
            "Thu 01-01 06:00",
            "Fri 01-02 06:00",
            "Mon 01-05 06:00",
            "Tue 01-06 06:00",
            "Wed 01-07 06:00"
        ]
    );
    let f = every(Every::Days, 3, local(2026, 1, 1, 6, 0));
    let got = fires(&f, "UTC", utc(2026, 1, 1, 6, 0), utc(2026, 1, 11, 0, 0));
    assert_eq!(
        walls(&got, "UTC"),
        ["Sun 01-04 06:00", "Wed 01-07 06:00", "Sat 01-10 06:00"]
    );
}

#[test]
fn weekly_on_chosen_days_and_biweekly_count_sunday_weeks_from_start() {
    // Start Wednesday 2026-01-07; weeks run Sunday to Saturday.
    let f = freq(
        r#"every = "weeks"
        start = "2026-01-07T09:30"
        days = ["mon", "fri"]"#,
    );
    let got = fires(
        &f,
        "Europe/Berlin",
        utc(2026, 1, 1, 0, 0),
        utc(2026, 1, 20, 0, 0),
    );
    assert_eq!(
        walls(&got, "Europe/Berlin"),
        [
            "Fri 01-09 09:30",
            "Mon 01-12 09:30",
            "Fri 01-16 09:30",
            "Mon 01-19 09:30"
        ]
    );
    let mut bi = f.clone();
    bi.every = Every::Biweekly;
    let got = fires(
        &bi,
        "Europe/Berlin",
        utc(2026, 1, 1, 0, 0),
        utc(2026, 2, 3, 0, 0),
    );
    assert_eq!(
        walls(&got, "Europe/Berlin"),
        [
            "Fri 01-09 09:30",
            "Mon 01-19 09:30",
            "Fri 01-23 09:30",
            "Mon 02-02 09:30"
        ]
    );
    // No days: the weekday of start; `weeks` with interval 2 is biweekly.
    let plain = every(Every::Weeks, 2, local(2026, 1, 7, 9, 30));
    let got = fires(&plain, "UTC", utc(2026, 1, 1, 0, 0), utc(2026, 2, 5, 0, 0));
    assert_eq!(
        walls(&got, "UTC"),
        ["Wed 01-07 09:30", "Wed 01-21 09:30", "Wed 02-04 09:30"]
    );
}

#[test]
fn monthly_on_day_31_skips_short_months() {
    let f = freq(
        r#"every = "months"
        start = 2026-01-15T08:00:00
        day_of_month = 31"#,
    );
    let got = fires(&f, "UTC", utc(2026, 1, 1, 0, 0), utc(2027, 1, 1, 0, 0));
    let months: Vec<u32> = got.iter().map(|t| t.month()).collect();
    assert_eq!(months, [1, 3, 5, 7, 8, 10, 12]);
    assert!(got.iter().all(|t| t.day() == 31));
    // Every 2 months from January: January, March, May, July; September and November have 30.
    let mut bi = f.clone();
    bi.interval = 2;
    let got = fires(&bi, "UTC", utc(2026, 1, 1, 0, 0), utc(2027, 1, 1, 0, 0));
    assert_eq!(
        got.iter().map(|t| t.month()).collect::<Vec<_>>(),
        [1, 3, 5, 7]
    );
}

#[test]
fn monthly_on_the_last_day_and_on_start_date() {
    let f = freq(
        r#"every = "months"
        start = 2026-01-01T23:00:00
        day_of_month = "last""#,
    );
    let got = fires(&f, "UTC", utc(2026, 1, 1, 0, 0), utc(2026, 5, 1, 0, 0));
    assert_eq!(
        walls(&got, "UTC"),
        [
            "Sat 01-31 23:00",
            "Sat 02-28 23:00",
            "Tue 03-31 23:00",
            "Thu 04-30 23:00"
        ]
    );
    // Leap February.
    let got = fires(&f, "UTC", utc(2028, 2, 1, 0, 0), utc(2028, 3, 1, 0, 0));
    assert_eq!(got, vec![utc(2028, 2, 29, 23, 0)]);
    // Neither day field: the start's date.
    let plain = every(Every::Months, 1, local(2026, 1, 30, 7, 0));
    let got = fires(&plain, "UTC", utc(2026, 1, 1, 0, 0), utc(2026, 4, 1, 0, 0));
    assert_eq!(walls(&got, "UTC"), ["Fri 01-30 07:00", "Mon 03-30 07:00"]);
}

#[test]
fn monthly_on_the_nth_weekday() {
    let second_tuesday = freq(
        r#"every = "months"
        start = 2026-01-01T10:00:00
        week_of_month = "second"
        day_of_week = "tuesday""#,
    );
    let got = fires(
        &second_tuesday,
        "America/New_York",
        utc(2026, 1, 1, 0, 0),
        utc(2026, 4, 1, 0, 0),
    );
    assert_eq!(
        walls(&got, "America/New_York"),
        ["Tue 01-13 10:00", "Tue 02-10 10:00", "Tue 03-10 10:00"]
    );
    // 10:00 EST then EDT: the local time holds.
    assert_eq!(got[1], utc(2026, 2, 10, 15, 0));
    assert_eq!(got[2], utc(2026, 3, 10, 14, 0));

    let mut last_friday = second_tuesday.clone();
    last_friday.week_of_month = Some(WeekOfMonth::Last);
    last_friday.day_of_week = Some(DayOfWeek::Friday);
    let got = fires(
        &last_friday,
        "UTC",
        utc(2026, 1, 1, 0, 0),
        utc(2026, 4, 1, 0, 0),
    );
    assert_eq!(
        walls(&got, "UTC"),
        ["Fri 01-30 10:00", "Fri 02-27 10:00", "Fri 03-27 10:00"]
    );

    let cases = [
        (WeekOfMonth::First, DayOfWeek::Weekday, "Mon 02-02 10:00"),
        (WeekOfMonth::Last, DayOfWeek::Weekday, "Fri 02-27 10:00"),
        (WeekOfMonth::First, DayOfWeek::WeekendDay, "Sun 02-01 10:00"),
        (WeekOfMonth::Third, DayOfWeek::WeekendDay, "Sun 02-08 10:00"),
        (WeekOfMonth::Last, DayOfWeek::Day, "Sat 02-28 10:00"),
        (WeekOfMonth::Fourth, DayOfWeek::Day, "Wed 02-04 10:00"),
    ];
    for (week, kind, want) in cases {
        let mut f = second_tuesday.clone();
        f.week_of_month = Some(week);
        f.day_of_week = Some(kind);
        let got = f.next_after(tz("UTC"), utc(2026, 1, 31, 23, 0)).unwrap();
        assert_eq!(walls(&[got], "UTC"), [want], "{week:?} {kind:?}");
    }
}

#[test]
fn a_window_restarts_its_count_each_allowed_day_and_includes_its_end() {
    let f = freq(
        r#"every = "minutes"
        interval = 45
        start = 2026-01-02T12:10:00
        days = ["fri", "mon"]
        from_time = "08:00"
        to_time = 10:15:00"#,
    );
    let got = fires(
        &f,
        "Europe/Berlin",
        utc(2026, 1, 1, 0, 0),
        utc(2026, 1, 6, 0, 0),
    );
    // Friday's window passed before start; Monday fires on the window's grid, 10:15 included.
    assert_eq!(
        walls(&got, "Europe/Berlin"),
        [
            "Mon 01-05 08:00",
            "Mon 01-05 08:45",
            "Mon 01-05 09:30",
            "Mon 01-05 10:15"
        ]
    );
    // Start inside a window: its first fires keep the window's grid.
    let mut mid = f.clone();
    mid.start = local(2026, 1, 5, 8, 50);
    let got = fires(
        &mid,
        "Europe/Berlin",
        utc(2026, 1, 1, 0, 0),
        utc(2026, 1, 6, 0, 0),
    );
    assert_eq!(
        walls(&got, "Europe/Berlin"),
        ["Mon 01-05 09:30", "Mon 01-05 10:15"]
    );
    let hourly = freq(
        r#"every = "hours"
        interval = 2
        start = 2026-01-01T00:00:00
        from_time = "08:00"
        to_time = "17:00""#,
    );
    let got = fires(&hourly, "UTC", utc(2026, 1, 1, 0, 0), utc(2026, 1, 2, 0, 0));
    assert_eq!(walls(&got, "UTC").len(), 5, "08, 10, 12, 14, 16");
}

#[test]
fn free_running_intervals_follow_start_and_skip_disallowed_days() {
    let mut f = every(Every::Hours, 5, local(2026, 1, 2, 22, 0));
    f.days = Some(vec![Weekday::Fri, Weekday::Mon]);
    let got = fires(&f, "UTC", utc(2026, 1, 1, 0, 0), utc(2026, 1, 6, 0, 0));
    // 22:00 Fri, then every 5 hours in real time (Fri 22:00 + 50 h is Mon 00:00), skipping
    // the weekend.
    assert_eq!(
        walls(&got, "UTC"),
        [
            "Fri 01-02 22:00",
            "Mon 01-05 00:00",
            "Mon 01-05 05:00",
            "Mon 01-05 10:00",
            "Mon 01-05 15:00",
            "Mon 01-05 20:00"
        ]
    );
}

#[test]
fn nothing_fires_before_start_or_after_end() {
    let f = freq(
        r#"every = "days"
        start = 2026-01-10T12:00:00
        end = 2026-01-12T12:00:00"#,
    );
    let got = fires(
        &f,
        "Asia/Tokyo",
        utc(2025, 1, 1, 0, 0),
        utc(2027, 1, 1, 0, 0),
    );
    assert_eq!(
        walls(&got, "Asia/Tokyo"),
        ["Sat 01-10 12:00", "Sun 01-11 12:00", "Mon 01-12 12:00"]
    );
    let once = every(Every::Once, 1, local(2026, 1, 10, 12, 0));
    assert_eq!(
        once.next_after(tz("UTC"), utc(2026, 1, 10, 11, 59)),
        Some(utc(2026, 1, 10, 12, 0))
    );
    assert_eq!(once.next_after(tz("UTC"), utc(2026, 1, 10, 12, 0)), None);
    let mut minutes = every(Every::Minutes, 30, local(2026, 1, 10, 12, 0));
    minutes.end = Some(local(2026, 1, 10, 13, 0));
    let got = fires(
        &minutes,
        "UTC",
        utc(2020, 1, 1, 0, 0),
        utc(2030, 1, 1, 0, 0),
    );
    assert_eq!(
        walls(&got, "UTC"),
        ["Sat 01-10 12:00", "Sat 01-10 12:30", "Sat 01-10 13:00"]
    );
}

#[test]
fn far_searches_end_quickly() {
    // February 29 every 12 months: leap years only, 8 years apart around 2100.
    let mut f = every(Every::Months, 12, local(2096, 2, 29, 0, 0));
    f.check().unwrap();
    let got = fires(&f, "UTC", utc(2096, 3, 1, 0, 0), utc(2110, 1, 1, 0, 0));
    assert_eq!(got, vec![utc(2104, 2, 29, 0, 0), utc(2108, 2, 29, 0, 0)]);
    f.start = local(2096, 2, 28, 0, 0);
    f.day_of_month = Some(DayOfMonth::Day(31));
    assert_eq!(f.check().unwrap_err().field(), "day_of_month");
    assert_eq!(
        f.next_after(tz("UTC"), utc(2096, 1, 1, 0, 0)),
        None,
        "unchecked: None, not a hang"
    );
    let daily = every(Every::Days, 1, local(2026, 1, 1, 0, 0));
    assert!(
        daily
            .next_after(tz("UTC"), DateTime::<Utc>::MAX_UTC)
            .is_none()
    );
}

#[test]
fn serde_shape_round_trips_through_toml_and_json() {
    let f = freq(
        r#"every = "months"
        start = "2026-03-08 02:30"
        end = 2027-03-08T02:30:00
        week_of_month = "last"
        day_of_week = "weekend_day""#,
    );
    assert_eq!(f.start, local(2026, 3, 8, 2, 30));
    assert_eq!(f.interval, 1);
    let json = serde_json::to_value(&f).unwrap();
    assert_eq!(json["start"], "2026-03-08T02:30:00");
    assert!(json.get("days").is_none());
    assert_eq!(serde_json::from_value::<Frequency>(json).unwrap(), f);
    let back: Frequency = toml::from_str(&toml::to_string(&f).unwrap()).unwrap();
    assert_eq!(back, f);
    let days: Frequency = serde_json::from_str(
        r#"{"every":"weeks","start":"2026-01-01T00:00","days":["Monday","sat"],"end":null}"#,
    )
    .unwrap();
    assert_eq!(days.days, Some(vec![Weekday::Mon, Weekday::Sat]));
    let last: Frequency =
        toml::from_str("every = \"months\"\nstart = 2026-01-01T00:00:00\nday_of_month = 12")
            .unwrap();
    assert_eq!(last.day_of_month, Some(DayOfMonth::Day(12)));
    for bad in [
        "every = \"days\"\nstart = 2026-01-01T00:00:00\ncron = \"* * * * *\"",
        "every = \"fortnightly\"\nstart = 2026-01-01T00:00:00",
        "every = \"days\"\nstart = \"yesterday\"",
        "every = \"months\"\nstart = 2026-01-01T00:00:00\nday_of_month = \"first\"",
        "every = \"months\"\nstart = 2026-01-01T00:00:00\nday_of_month = -1",
    ] {
        assert!(toml::from_str::<Frequency>(bad).is_err(), "{bad}");
    }
}

#[test]
fn unquoted_toml_times_survive_the_definition_file_path_through_json() {
    // Definition files are read as a TOML table, then turned into JSON before the typed read.
    let table: toml::Table = toml::from_str(
        "every = \"minutes\"\ninterval = 15\nstart = 2026-03-08T02:30:00\n\
         from_time = 08:00:00\nto_time = \"17:00\"",
    )
    .unwrap();
    let json = serde_json::to_value(&table).unwrap();
    let f: Frequency = serde_json::from_value(json).unwrap();
    assert_eq!(f.start, local(2026, 3, 8, 2, 30));
    assert_eq!(f.from_time, NaiveTime::from_hms_opt(8, 0, 0));
    assert_eq!(f.to_time, NaiveTime::from_hms_opt(17, 0, 0));
    let bad = serde_json::json!({"every": "days", "start": {"a": "2026-01-01T00:00:00", "b": 1}});
    assert!(serde_json::from_value::<Frequency>(bad).is_err());
    let err = toml::from_str::<Frequency>("every = \"days\"\nstart = \"soon\"").unwrap_err();
    assert!(err.to_string().contains("2026-03-08T02:30:00"), "{err}");
}

#[test]
fn contradictory_fields_are_refused_naming_the_field() {
    let base = "start = 2026-01-01T08:00:00\n";
    let cases = [
        ("every = \"weeks\"\nday_of_month = 3", "day_of_month"),
        (
            "every = \"days\"\nfrom_time = \"08:00\"\nto_time = \"09:00\"",
            "from_time",
        ),
        (
            "every = \"hours\"\nweek_of_month = \"first\"\nday_of_week = \"day\"",
            "week_of_month",
        ),
        ("every = \"weeks\"\nday_of_week = \"monday\"", "day_of_week"),
        ("every = \"months\"\ndays = [\"mon\"]", "days"),
        ("every = \"once\"\nend = 2026-02-01T00:00:00", "end"),
        ("every = \"once\"\ninterval = 2", "interval"),
        ("every = \"biweekly\"\ninterval = 3", "interval"),
        ("every = \"minutes\"\ninterval = 0", "interval"),
        ("every = \"minutes\"\ninterval = 1441", "interval"),
        ("every = \"hours\"\ninterval = 25", "interval"),
        ("every = \"months\"\ninterval = 13", "interval"),
        ("every = \"days\"\nend = 2025-12-31T08:00:00", "end"),
        (
            "every = \"minutes\"\nfrom_time = \"09:00\"\nto_time = \"09:00\"",
            "to_time",
        ),
        (
            "every = \"minutes\"\nfrom_time = \"10:00\"\nto_time = \"09:00\"",
            "to_time",
        ),
        ("every = \"minutes\"\nfrom_time = \"10:00\"", "from_time"),
        ("every = \"hours\"\nto_time = \"10:00\"", "to_time"),
        ("every = \"weeks\"\ndays = []", "days"),
        ("every = \"days\"\ninterval = 7\ndays = [\"fri\"]", "days"),
        (
            "every = \"months\"\nday_of_month = 3\n\
             week_of_month = \"first\"\nday_of_week = \"day\"",
            "day_of_month",
        ),
        ("every = \"months\"\nday_of_month = 0", "day_of_month"),
        ("every = \"months\"\nday_of_month = 32", "day_of_month"),
        (
            "every = \"months\"\nweek_of_month = \"last\"",
            "week_of_month",
        ),
        (
            "every = \"months\"\nday_of_week = \"weekday\"",
            "day_of_week",
        ),
        (
            "every = \"months\"\ninterval = 12\nday_of_month = 31\nstart = 2026-04-01T08:00:00",
            "day_of_month",
        ),
    ];
    for (fields, field) in cases {
        let text = if fields.contains("start") {
            fields.to_string()
        } else {
            format!("{base}{fields}")
        };
        let f: Frequency = toml::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let err = f.check().expect_err(&text);
        assert_eq!(err.field(), field, "{text}: {err}");
        assert!(err.to_string().starts_with(field), "{err}");
        assert_eq!(
            f.next_after(tz("UTC"), utc(2026, 1, 1, 0, 0)),
            None,
            "{text}"
        );
    }
    // Every 7 days from a Thursday with Thursday allowed is fine.
    freq(&format!(
        "{base}every = \"days\"\ninterval = 7\ndays = [\"thu\"]"
    ));
}

#[test]
fn samoa_skipping_a_whole_day_fires_once_at_the_start_of_the_next() {
    // Pacific/Apia went from 2011-12-29 24:00 (−10) straight to 2011-12-31 00:00 (+14).
    let f = every(Every::Days, 1, local(2011, 12, 25, 10, 0));
    let got = fires(
        &f,
        "Pacific/Apia",
        utc(2011, 12, 29, 0, 0),
        utc(2011, 12, 31, 0, 0),
    );
    assert_eq!(
        walls(&got, "Pacific/Apia"),
        ["Thu 12-29 10:00", "Sat 12-31 00:00", "Sat 12-31 10:00"]
    );
}
