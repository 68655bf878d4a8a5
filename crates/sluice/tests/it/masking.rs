//! Masking tasks (DMASK) against the real PostgreSQL: every rule changes every value, keyed rules
//! are deterministic across runs (so joins still work), and a task without its key refuses to run.

use super::support::*;

const KEY: &str = "an-example-masking-key-of-32-bytes";

fn task(src: &str, dst: &str, key: bool) -> String {
    format!(
        r#"type = "DMASK"
{key}
[source]
connection = "pg"
table = "{src}"
[target]
connection = "pg"
table = "{dst}"
create = true
truncate = true
keys = ["id"]
[[rules]]
column = "name"
rule = "substitute"
dictionary = ["Alex Doe", "Sam Roe", "Kim Poe"]
[[rules]]
column = "email"
rule = "email"
[[rules]]
column = "phone"
rule = "phone"
[[rules]]
column = "born"
rule = "date_shift"
min_days = -30
max_days = 30
[[rules]]
column = "ssn"
rule = "hash"
[[rules]]
column = "card"
rule = "partial"
keep_last = 4
[[rules]]
column = "note"
rule = "redact"
"#,
        key = if key { "key = \"mask_key\"" } else { "" }
    )
}

#[tokio::test]
async fn masking_changes_every_value_the_same_way_every_run() {
    let Some(pg) = pg().await else { return };
    let (src, a, b) = (
        table_name("mask_src"),
        table_name("mask_a"),
        table_name("mask_b"),
    );
    pg.batch_execute(&format!(
        "DROP TABLE IF EXISTS {src}, {a}, {b};
         CREATE TABLE {src} (id int PRIMARY KEY, name text, email text, phone text, born date,
           ssn text, card text, note text);
         INSERT INTO {src} SELECT i, 'Zoë Ångström ' || i, 'person' || i || '@example.com',
           '+1 (555) 010-' || lpad(i::text, 4, '0'), date '1980-01-01' + i, 'SSN-' || (100000 + i),
           '4111-1111-1111-' || lpad(i::text, 4, '0'), 'private note ' || i
           FROM generate_series(1, 500) i;
         INSERT INTO {src} VALUES (501, NULL, NULL, NULL, NULL, NULL, NULL, NULL);"
    ))
    .await
    .unwrap();
    let secret =
        "kind = \"connection\"\ntype = \"secret\"\nsecret = { env = \"SLUICE_TEST_MASK_KEY\" }\n";
    let defs = defs_dir(&[
        ("connections/pg.toml", &pg_connection_file()),
        ("connections/mask_key.toml", secret),
        ("mask/a.toml", &task(&src, &a, true)),
        ("mask/b.toml", &task(&src, &b, true)),
        ("mask/keyless.toml", &task(&src, &b, false)),
    ]);
    let app = TestApp::spawn_with(defs.path(), None, &[("SLUICE_TEST_MASK_KEY", KEY)]).await;
    for t in ["mask/a", "mask/b"] {
        let run = app.wait_end(&app.start_run(t, &[]).await, 60).await;
        assert_eq!(run.state, "completed", "{run:?}");
        assert_eq!(run.counters.target_rows_written, 501, "{run:?}");
    }
    // Deterministic: two runs give the same table.
    let differ: i64 = pg
        .query_one(
            &format!("SELECT count(*) FROM ((SELECT * FROM {a} EXCEPT SELECT * FROM {b}) UNION ALL (SELECT * FROM {b} EXCEPT SELECT * FROM {a})) d"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(differ, 0);
    // No rule leaks the original value, and the masked values keep their shape.
    let leaks: i64 = pg
        .query_one(
            &format!(
                "SELECT count(*) FROM {src} s JOIN {a} m USING (id) WHERE s.id <= 500 AND (
                   m.name = s.name OR m.email = s.email OR m.phone = s.phone OR m.born = s.born
                   OR m.ssn = s.ssn OR m.card = s.card OR m.note = s.note
                   OR position(s.ssn in m.ssn) > 0 OR position(s.note in m.note) > 0
                   OR length(m.phone) <> length(s.phone) OR m.email NOT LIKE '%_@_%.com'
                   OR abs(m.born - s.born) > 30 OR right(m.card, 4) <> right(s.card, 4)
                   OR left(m.card, 4) = '4111')"
            ),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(leaks, 0, "a masked value leaks or lost its shape");
    let nulls: i64 = pg
        .query_one(&format!("SELECT count(*) FROM {a} WHERE id = 501 AND name IS NULL AND email IS NULL AND born IS NULL"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(nulls, 1, "NULLs stay NULL");

    let run = app
        .wait_end(&app.start_run("mask/keyless", &[]).await, 60)
        .await;
    assert_eq!(run.state, "failed", "{run:?}");
    assert!(
        run.error
            .as_deref()
            .unwrap_or_default()
            .contains("needs a key")
            || app
                .messages(&run, "error")
                .await
                .iter()
                .any(|m| m.contains("needs a key")),
        "{run:?}"
    );
    pg.batch_execute(&format!("DROP TABLE {src}, {a}, {b}"))
        .await
        .unwrap();
}
