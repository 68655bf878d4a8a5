use super::*;
use crate::domain::task::DEFAULT_FOLDER;
use crate::domain::{ConnectionType, TaskType};

const MTT: &str = r#"
type = "MTT"
description = "Revenue per country"
[parameters]
min = "0"
[[sources]]
name = "orders"
format = "csv"
path = "data/orders.csv"
[transform]
sql = "SELECT country, SUM(amount) AS revenue FROM orders GROUP BY country"
[target]
format = "parquet"
path = "out/x.parquet"
"#;

#[test]
fn parses_a_task_file_with_folder_and_name_from_its_path() {
    let Ok(Parsed::Task(spec)) = parse_file("sales/emea/revenue.toml", MTT) else {
        panic!("expected a task");
    };
    assert_eq!(spec.folder, "sales/emea");
    assert_eq!(spec.name, "revenue");
    assert_eq!(spec.task_type, TaskType::Mapping);
    assert_eq!(spec.parameters["min"], "0");
    let Ok(Parsed::Task(spec)) = parse_file("revenue.toml", MTT) else {
        panic!("expected a task");
    };
    assert_eq!(spec.folder, DEFAULT_FOLDER);
}

#[test]
fn reports_every_problem_with_its_field() {
    let bad = r#"
type = "MTT"
[[sources]]
name = "1bad"
format = "xls"
path = "a.csv"
[target]
format = "csv"
"#;
    let problems = parse_file("t.toml", bad).unwrap_err();
    assert!(
        problems.iter().any(|p| p.starts_with("sources[0].format")),
        "{problems:?}"
    );
    let bad_sql = MTT.replace("SELECT country", "SELEC country");
    let problems = parse_file("t.toml", &bad_sql).unwrap_err();
    assert!(problems[0].starts_with("transform.sql:"), "{problems:?}");
    let problems = parse_file("t.toml", "type = \"NOPE\"").unwrap_err();
    assert!(
        problems[0].starts_with("type: unknown task type"),
        "{problems:?}"
    );
    let problems = parse_file("t.toml", "this is = = not toml").unwrap_err();
    assert!(problems[0].starts_with("toml:"), "{problems:?}");
}

#[test]
fn unsupported_types_are_refused_clearly() {
    let problems = parse_file("t.toml", "type = \"PCS\"").unwrap_err();
    assert!(problems[0].contains("not supported"), "{problems:?}");
}

#[test]
fn loading_tasks_are_checked_field_by_field() {
    let problems = parse_file("t.toml", "type = \"DSS\"").unwrap_err();
    assert!(
        problems[0].starts_with("missing field `source`"),
        "{problems:?}"
    );
    let dss = "type = \"DSS\"\n[source]\nconnection = \"pg\"\n[target]\nconnection = \"pg\"\ntable = \"t\"\noperation = \"upsert\"\n[options]\nfirst_row = 5\nlast_row = 2\n";
    let problems = parse_file("t.toml", dss).unwrap_err();
    assert!(
        problems
            .iter()
            .any(|p| p == "source: give a `table` or a `query`"),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.starts_with("target.keys:")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.starts_with("options.last_row:")),
        "{problems:?}"
    );
    let typo = "type = \"DSS\"\n[source]\nconection = \"pg\"\n";
    let problems = parse_file("t.toml", typo).unwrap_err();
    assert!(
        problems[0].contains("unknown field `conection`"),
        "{problems:?}"
    );
    let drs = "type = \"DRS\"\nmode = \"incremental\"\n[source]\nconnection = \"pg\"\n[target]\nconnection = \"my\"\n";
    let problems = parse_file("t.toml", drs).unwrap_err();
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("source: list `tables`")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.starts_with("watermark:")),
        "{problems:?}"
    );
}

#[test]
fn parses_connections() {
    let file = r#"
kind = "connection"
type = "postgres"
url = "postgres://app@localhost/app"
password = { env = "APP_DB_PASSWORD" }
"#;
    let Ok(Parsed::Connection(c)) = parse_file("connections/app_db.toml", file) else {
        panic!("expected a connection");
    };
    assert_eq!(c.name, "app_db");
    assert_eq!(c.conn_type, ConnectionType::Postgres);
    let problems = parse_file("c.toml", "kind = \"connection\"\ntype = \"files\"").unwrap_err();
    assert_eq!(problems, vec!["path: required for a files connection"]);
}

#[test]
fn export_round_trips() {
    let Ok(Parsed::Task(spec)) = parse_file("sales/revenue.toml", MTT) else {
        panic!("expected a task");
    };
    let now = Utc::now();
    let task = Task {
        id: Uuid::now_v7(),
        org_id: Uuid::now_v7(),
        folder: spec.folder.clone(),
        name: spec.name.clone(),
        task_type: spec.task_type,
        description: spec.description.clone(),
        allow_parallel: spec.allow_parallel,
        chain: spec.chain.clone(),
        parameters: spec.parameters.clone(),
        policy: Default::default(),
        definition: spec.definition.clone(),
        origin: Origin::Api,
        created_at: now,
        updated_at: now,
    };
    let Ok(Parsed::Task(again)) = parse_file("sales/revenue.toml", &task_to_toml(&task)) else {
        panic!("export must parse");
    };
    assert_eq!(again, spec);
}

#[test]
fn schedule_files_read_cron_or_frequency_and_name_each_bad_field() {
    let cron = "kind = \"schedule\"\ntimezone = \"Europe/Berlin\"\ncron = \"0 30 2 * * *\"\n";
    let Ok(Parsed::Schedule(s)) = parse_file("schedules/nightly.toml", cron) else {
        panic!("a cron schedule reads");
    };
    assert_eq!(
        (s.name.as_str(), s.timezone.as_str()),
        ("nightly", "Europe/Berlin")
    );
    let weekly = "kind = \"schedule\"\nevery = \"weeks\"\nstart = 2026-03-02T06:00:00\ndays = [\"mon\", \"wed\"]\n";
    assert!(matches!(
        parse_file("schedules/weekly.toml", weekly),
        Ok(Parsed::Schedule(_))
    ));
    for (file, field) in [
        ("kind = \"schedule\"\ncron = \"61 * * * *\"\n", "cron:"),
        (
            "kind = \"schedule\"\ncron = \"0 * * * *\"\ntimezone = \"Mars/Base\"\n",
            "timezone:",
        ),
        (
            "kind = \"schedule\"\ncron = \"0 * * * *\"\ntimzone = \"UTC\"\n",
            "timzone:",
        ),
        (
            "kind = \"schedule\"\nevery = \"weeks\"\nstart = 2026-03-02T06:00:00\nday_of_month = 3\n",
            "day_of_month",
        ),
        (
            "kind = \"schedule\"\nevery = \"minutes\"\nstart = 2026-03-02T06:00:00\nfrom_time = \"17:00\"\nto_time = \"08:00\"\n",
            "to_time",
        ),
        (
            "kind = \"schedule\"\ncron = \"0 * * * *\"\ncatch_up = \"maybe\"\n",
            "catch_up:",
        ),
        (
            "kind = \"blackout\"\nstart = 2026-12-25T00:00:00\nend = 2026-12-24T00:00:00\n",
            "end:",
        ),
    ] {
        let problems = parse_file("schedules/bad.toml", file).expect_err(file);
        assert!(
            problems.iter().any(|p| p.starts_with(field)),
            "{field}: {problems:?}"
        );
    }
    let task = format!("schedules = [\"nightly\", {{ schedule = \"nightly\" }}]\n{MTT}");
    let problems = parse_file("sales/t.toml", &task).expect_err("named twice");
    assert!(
        problems.iter().any(|p| p.contains("named twice")),
        "{problems:?}"
    );
}
