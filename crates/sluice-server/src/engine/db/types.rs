//! The type model between databases: what a target column holds ([`TargetType`]), the Arrow types
//! readers produce for database values, and the canonical Arrow types writers consume.
//!
//! Readers map each database type to one Arrow type (integers by width, `DECIMAL(p,s)` to
//! `Decimal128(p,s)` up to 38 digits and to text beyond, timestamps to microseconds, with zone as
//! `UTC`), and keep what Arrow cannot say (a `varchar` length, that text is JSON or a UUID) in the
//! field's metadata, so a replicated table is created with the right column types.

use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use std::fmt;
use std::sync::Arc;

/// Field metadata: the logical type of a text column (`json` or `uuid`).
pub const META_TYPE: &str = "sluice.type";
/// Field metadata: the maximum length in characters of a text column.
pub const META_MAX_CHARS: &str = "sluice.max_chars";

/// What a target column can hold; values are checked against it before they are sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetType {
    Bool,
    /// An integer of `bytes` bytes (1, 2, 3 for MySQL's MEDIUMINT, 4 or 8).
    Int {
        bytes: u8,
        unsigned: bool,
    },
    Float {
        bytes: u8,
    },
    /// A fixed-point number; precision above 38 digits is checked, and sent, as text.
    Decimal {
        precision: u8,
        scale: i8,
    },
    Text {
        max_chars: Option<u32>,
        /// The column's character set holds only the Basic Multilingual Plane (MySQL utf8mb3).
        bmp_only: bool,
    },
    Binary {
        max_bytes: Option<u32>,
    },
    Date,
    Time,
    Timestamp {
        tz: bool,
    },
    Json,
    Uuid,
    /// A type Sluice has no special knowledge of: values go as text and the database parses them.
    Other,
}

impl TargetType {
    pub fn text() -> TargetType {
        TargetType::Text {
            max_chars: None,
            bmp_only: false,
        }
    }
}

/// A column of a target table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetColumn {
    pub name: String,
    pub ty: TargetType,
    pub nullable: bool,
    /// The type as the database declares it (`numeric(12,2)`), for messages.
    pub declared: String,
}

impl fmt::Display for TargetColumn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` {}", self.name, self.declared)
    }
}

/// An Arrow field with Sluice's metadata.
pub fn field(name: &str, data_type: DataType, nullable: bool, meta: &[(&str, String)]) -> Field {
    let f = Field::new(name, data_type, nullable);
    if meta.is_empty() {
        f
    } else {
        f.with_metadata(
            meta.iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }
}

/// The canonical type a column is converted to before its cells are read: one integer, one float,
/// one string and one binary representation, microsecond times.
pub fn canonical(dt: &DataType) -> DataType {
    use DataType as D;
    match dt {
        D::Int8 | D::Int16 | D::Int32 | D::Int64 | D::UInt8 | D::UInt16 | D::UInt32 => D::Int64,
        D::UInt64 => D::UInt64,
        D::Float16 | D::Float32 | D::Float64 => D::Float64,
        D::Boolean => D::Boolean,
        D::Utf8 | D::LargeUtf8 | D::Utf8View => D::Utf8,
        D::Binary | D::LargeBinary | D::BinaryView | D::FixedSizeBinary(_) => D::Binary,
        D::Decimal32(p, s) | D::Decimal64(p, s) | D::Decimal128(p, s) => D::Decimal128(*p, *s),
        D::Date32 | D::Date64 => D::Date32,
        D::Time32(_) | D::Time64(_) => D::Time64(TimeUnit::Microsecond),
        D::Timestamp(_, tz) => D::Timestamp(TimeUnit::Microsecond, tz.clone()),
        D::Null => D::Null,
        // Wider decimals, intervals, lists, structs...: their text form.
        _ => D::Utf8,
    }
}

/// Converts every column of a batch to its [`canonical`] type.
pub fn canonicalize(batch: &RecordBatch) -> Result<Vec<ArrayRef>, String> {
    batch
        .columns()
        .iter()
        .zip(batch.schema().fields())
        .map(|(col, f)| {
            let want = canonical(col.data_type());
            if &want == col.data_type() {
                Ok(col.clone())
            } else {
                cast(col, &want).map_err(|e| format!("column `{}`: {e}", f.name()))
            }
        })
        .collect()
}

/// A schema with every field made nullable (sources rarely promise otherwise).
pub fn nullable(schema: &Schema) -> Arc<Schema> {
    Arc::new(Schema::new_with_metadata(
        schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect::<Vec<_>>(),
        schema.metadata().clone(),
    ))
}
