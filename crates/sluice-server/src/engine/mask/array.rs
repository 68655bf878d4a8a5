//! Masking applied to whole Arrow columns: text columns of the three string types rebuilt value
//! by value through one reused buffer, integer hashes, and date shifts.

use super::Prf;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, GenericStringBuilder, OffsetSizeTrait, PrimitiveArray,
    StringViewBuilder,
};
use datafusion::arrow::datatypes::{
    ArrowPrimitiveType, DataType, Date32Type, Date64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use std::convert::Infallible;
use std::sync::Arc;

/// A string builder of any of the three text types.
trait TextBuilder {
    /// Total bytes of values the type's offsets can address.
    const MAX_BYTES: usize;
    fn push(&mut self, value: Option<&str>);
    fn finish_array(&mut self) -> ArrayRef;
}

impl<O: OffsetSizeTrait> TextBuilder for GenericStringBuilder<O> {
    const MAX_BYTES: usize = if O::IS_LARGE {
        i64::MAX as usize
    } else {
        i32::MAX as usize
    };
    fn push(&mut self, value: Option<&str>) {
        self.append_option(value)
    }
    fn finish_array(&mut self) -> ArrayRef {
        Arc::new(self.finish())
    }
}

impl TextBuilder for StringViewBuilder {
    // Views address each value on its own; the total is not limited by offsets.
    const MAX_BYTES: usize = usize::MAX;
    fn push(&mut self, value: Option<&str>) {
        self.append_option(value)
    }
    fn finish_array(&mut self) -> ArrayRef {
        Arc::new(self.finish())
    }
}

/// Maps every non-null value of a text column through `mask`, which writes the masked value into
/// a buffer reused from value to value. The output has the input's text type.
pub(super) fn map_text(
    column: &ArrayRef,
    mask: impl FnMut(&str, &mut String),
) -> Result<ArrayRef, String> {
    match column.data_type() {
        DataType::Utf8 => {
            let array = column.as_string::<i32>();
            let builder =
                GenericStringBuilder::<i32>::with_capacity(array.len(), array.value_data().len());
            map_values(array.iter(), builder, mask)
        }
        DataType::LargeUtf8 => {
            let array = column.as_string::<i64>();
            let builder =
                GenericStringBuilder::<i64>::with_capacity(array.len(), array.value_data().len());
            map_values(array.iter(), builder, mask)
        }
        DataType::Utf8View => {
            let array = column.as_string_view();
            map_values(
                array.iter(),
                StringViewBuilder::with_capacity(array.len()),
                mask,
            )
        }
        other => Err(format!("a text column was expected, not {other}")),
    }
}

fn map_values<'a, B: TextBuilder>(
    values: impl Iterator<Item = Option<&'a str>>,
    mut builder: B,
    mut mask: impl FnMut(&str, &mut String),
) -> Result<ArrayRef, String> {
    let mut buffer = String::new();
    let mut total = 0usize;
    for value in values {
        match value {
            Some(value) => {
                buffer.clear();
                mask(value, &mut buffer);
                // The builder would panic past its offsets' range; a long `with` or a hash over
                // a huge batch can get there.
                total = total.saturating_add(buffer.len());
                if total > B::MAX_BYTES {
                    return Err(
                        "the masked values of one batch exceed what a Utf8 column holds (2 GiB); \
                         use smaller batches"
                            .to_string(),
                    );
                }
                builder.push(Some(&buffer));
            }
            None => builder.push(None),
        }
    }
    Ok(builder.finish_array())
}

/// `hash` on an integer column: a number in `0..=MAX` of the column's type, never the original.
pub(super) fn hash_integers(prf: &Prf, column: &ArrayRef) -> Result<ArrayRef, String> {
    macro_rules! hash {
        ($arrow:ty, $native:ty) => {
            hash_primitive::<$arrow>(prf, column, <$native>::MAX as u64, i128::from, |n| {
                n as $native
            })
        };
    }
    Ok(match column.data_type() {
        DataType::Int8 => hash!(Int8Type, i8),
        DataType::Int16 => hash!(Int16Type, i16),
        DataType::Int32 => hash!(Int32Type, i32),
        DataType::Int64 => hash!(Int64Type, i64),
        DataType::UInt8 => hash!(UInt8Type, u8),
        DataType::UInt16 => hash!(UInt16Type, u16),
        DataType::UInt32 => hash!(UInt32Type, u32),
        DataType::UInt64 => hash!(UInt64Type, u64),
        other => return Err(format!("an integer column was expected, not {other}")),
    })
}

fn hash_primitive<T: ArrowPrimitiveType>(
    prf: &Prf,
    column: &ArrayRef,
    max: u64,
    widen: impl Fn(T::Native) -> i128,
    narrow: impl Fn(u64) -> T::Native,
) -> ArrayRef {
    let hashed = column
        .as_primitive::<T>()
        .try_unary::<_, T, Infallible>(|value| {
            // Widened first, so the same number hashes alike in columns of any integer type.
            let value = widen(value);
            let drawn = prf.number(&value.to_le_bytes());
            let mut masked = if max == u64::MAX {
                drawn
            } else {
                drawn % (max + 1)
            };
            if i128::from(masked) == value {
                masked = if masked == max { 0 } else { masked + 1 };
            }
            Ok(narrow(masked))
        });
    match hashed {
        Ok(array) => Arc::new(array),
        Err(never) => match never {},
    }
}

/// The shift for one value: uniform over `min..=max` without 0 (a shift of 0 reveals the value).
/// The range was validated: `min <= max`, not `0..=0`, both within [`super::MAX_SHIFT_DAYS`].
fn shift_days(prf: &Prf, value: i64, min: i64, max: i64) -> i64 {
    let spans_zero = min <= 0 && max >= 0;
    let count = (max - min + 1) as u64 - u64::from(spans_zero);
    let days = min + (prf.number(&value.to_le_bytes()) % count) as i64;
    if spans_zero && days >= 0 {
        days + 1
    } else {
        days
    }
}

pub(super) fn shift_dates(
    prf: &Prf,
    column: &ArrayRef,
    min: i64,
    max: i64,
) -> Result<ArrayRef, String> {
    let data_type = column.data_type();
    let out_of_range =
        || format!("rule `date_shift`: a shifted value is out of the range of {data_type}");
    // Every type is a count of some unit since the epoch; a day is `per_day` of them.
    fn shift<T: ArrowPrimitiveType<Native = i64>>(
        column: &ArrayRef,
        per_day: i64,
        moved: impl Fn(i64) -> i64,
        out_of_range: impl Fn() -> String,
    ) -> Result<PrimitiveArray<T>, String> {
        column.as_primitive::<T>().try_unary(|value| {
            (moved(value))
                .checked_mul(per_day)
                .and_then(|delta| value.checked_add(delta))
                .ok_or_else(&out_of_range)
        })
    }
    let moved = |value: i64| shift_days(prf, value, min, max);
    Ok(match data_type {
        DataType::Date32 => Arc::new(
            column
                .as_primitive::<Date32Type>()
                .try_unary::<_, Date32Type, _>(|value| {
                    i32::try_from(i64::from(value) + moved(i64::from(value)))
                        .map_err(|_| out_of_range())
                })?,
        ),
        DataType::Date64 => Arc::new(shift::<Date64Type>(
            column,
            86_400_000,
            moved,
            out_of_range,
        )?),
        DataType::Timestamp(unit, zone) => match unit {
            TimeUnit::Second => Arc::new(
                shift::<TimestampSecondType>(column, 86_400, moved, out_of_range)?
                    .with_timezone_opt(zone.clone()),
            ),
            TimeUnit::Millisecond => Arc::new(
                shift::<TimestampMillisecondType>(column, 86_400_000, moved, out_of_range)?
                    .with_timezone_opt(zone.clone()),
            ),
            TimeUnit::Microsecond => Arc::new(
                shift::<TimestampMicrosecondType>(column, 86_400_000_000, moved, out_of_range)?
                    .with_timezone_opt(zone.clone()),
            ),
            TimeUnit::Nanosecond => Arc::new(
                shift::<TimestampNanosecondType>(column, 86_400_000_000_000, moved, out_of_range)?
                    .with_timezone_opt(zone.clone()),
            ),
        },
        other => {
            return Err(format!(
                "a date or timestamp column was expected, not {other}"
            ));
        }
    })
}
