//! The type mapping end to end: edge values of every supported PostgreSQL type copied by a
//! synchronization task into a table Sluice creates, compared value by value by PostgreSQL itself,
//! and into Parquet, read back independently.

use super::support::*;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

const EDGE_TABLE: &str = "(
    id int PRIMARY KEY, b boolean, i2 smallint, i4 integer, i8 bigint, f4 real, f8 double precision,
    d38 numeric(38,10), money numeric(12,2), big numeric, vc varchar(10), t text, c char(3),
    d date, ts timestamp, tstz timestamptz, tm time, by bytea, js jsonb, u uuid)";

const EDGE_ROWS: &str = "
    (1, true, 32767, 2147483647, 9223372036854775807, 3.5, 1.7976931348623157e308,
     9999999999999999999999999999.9999999999, -1234567890.12, 123456789012345678901234567890.123456789,
     'Zoë Ångst', 'unicode ✓ 😀 日本', 'abc', '0001-01-01', '2026-03-01 12:34:56.789012',
     '2026-03-01 12:34:56.789012+05:30', '23:59:59.999999', '\\x00ff10', '{\"a\": [1, {\"b\": null}]}',
     '0191e0a4-4a8e-7c3a-9a55-4f3f2b1c0d9e'),
    (2, false, -32768, -2147483648, -9223372036854775808, -0.0, 5e-324,
     -9999999999999999999999999999.9999999999, 0.01, 0, '', '', '   ', '9999-12-31',
     '1970-01-01 00:00:00', '1900-01-01 00:00:00+00', '00:00:00', '\\x', '[]',
     '00000000-0000-0000-0000-000000000000'),
    (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
     NULL, NULL, NULL, NULL)";

#[tokio::test]
async fn edge_values_survive_postgres_to_postgres_and_to_parquet() {
    let Some(pg) = pg().await else { return };
    let (src, dst) = (table_name("types_src"), table_name("types_dst"));
    pg.batch_execute(&format!(
        "DROP TABLE IF EXISTS {src}, {dst}; CREATE TABLE {src} {EDGE_TABLE}; INSERT INTO {src} VALUES {EDGE_ROWS};"
    ))
    .await
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let parquet = out.path().join("edge.parquet");
    let copy = format!(
        "type = \"DSS\"\n[source]\nconnection = \"pg\"\ntable = \"{src}\"\n[target]\nconnection = \"pg\"\ntable = \"{dst}\"\ncreate = true\nkeys = [\"id\"]\n"
    );
    let export = format!(
        "type = \"DSS\"\n[source]\nconnection = \"pg\"\ntable = \"{src}\"\n[target]\nformat = \"parquet\"\npath = \"{}\"\n",
        parquet.display()
    );
    let defs = defs_dir(&[
        ("connections/pg.toml", &pg_connection_file()),
        ("types/copy.toml", &copy),
        ("types/export.toml", &export),
    ]);
    let app = TestApp::spawn_with(defs.path(), None, &[]).await;
    let run = app
        .wait_end(&app.start_run("types/copy", &[]).await, 60)
        .await;
    assert_eq!(run.state, "completed", "{run:?}");

    // The created table has the source's types...
    let types: Vec<String> = pg
        .query(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = $1::text::regclass AND attnum > 0 ORDER BY attnum",
            &[&dst],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        types.join(", "),
        "integer, boolean, smallint, integer, bigint, real, double precision, numeric(38,10), \
         numeric(12,2), text, character varying(10), text, character varying(3), date, \
         timestamp without time zone, timestamp with time zone, time without time zone, bytea, \
         jsonb, uuid"
    );
    // ...and every value, compared by PostgreSQL (the unconstrained numeric travels as exact text;
    // char(3) keeps its padding, which a cast to text would trim).
    let diff: i64 = pg
        .query_one(
            &format!(
                "SELECT count(*) FROM ((SELECT id, b, i2, i4, i8, f4, f8, d38, money, big::text, vc, t, rpad(c::text, 3), d, ts, tstz, tm, by, js, u FROM {src}
                  EXCEPT SELECT id, b, i2, i4, i8, f4, f8, d38, money, big, vc, t, c, d, ts, tstz, tm, by, js, u FROM {dst})
                 UNION ALL
                 (SELECT id, b, i2, i4, i8, f4, f8, d38, money, big, vc, t, c, d, ts, tstz, tm, by, js, u FROM {dst}
                  EXCEPT SELECT id, b, i2, i4, i8, f4, f8, d38, money, big::text, vc, t, rpad(c::text, 3), d, ts, tstz, tm, by, js, u FROM {src})) x"
            ),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(diff, 0, "every value is the same after the copy");

    let run = app
        .wait_end(&app.start_run("types/export", &[]).await, 60)
        .await;
    assert_eq!(run.state, "completed", "{run:?}");
    let file = std::fs::File::open(&parquet).unwrap();
    let batches: Vec<_> = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let b = &batches[0];
    assert_eq!(b.num_rows(), 3);
    let col = |name: &str| b.column(b.schema().index_of(name).unwrap()).clone();
    let d38 = col("d38");
    let d38 = d38.as_primitive::<datafusion::arrow::datatypes::Decimal128Type>();
    assert_eq!(
        d38.value_as_string(0),
        "9999999999999999999999999999.9999999999"
    );
    assert!(d38.is_null(2));
    assert_eq!(col("t").as_string::<i32>().value(0), "unicode ✓ 😀 日本");
    assert_eq!(
        col("big").as_string::<i32>().value(0),
        "123456789012345678901234567890.123456789"
    );
    let tstz = col("tstz");
    let tstz = tstz.as_primitive::<datafusion::arrow::datatypes::TimestampMicrosecondType>();
    // 12:34:56.789012 at +05:30 is 07:04:56.789012 UTC.
    assert_eq!(tstz.value(0), 1_772_348_696_789_012);
    pg.batch_execute(&format!("DROP TABLE {src}, {dst}"))
        .await
        .unwrap();
}
