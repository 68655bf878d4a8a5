//! Reading XML request bodies for the compatibility surfaces (IICS v2, Starfish): a document
//! becomes the JSON it stands for, so handlers read one shape whatever the format.
//!
//! Bodies come from anyone, before authentication: the reader bounds nesting and the number of
//! elements before it builds anything, because a deep document would otherwise become a deep
//! JSON value whose serialising and dropping recurse once per level (a 20,000-deep body
//! overflowed the stack of the thread handling it and aborted the process).

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use serde_json::{Map, Value};

/// Elements may nest this deep: the compatibility APIs' bodies are two or three levels deep.
pub const MAX_DEPTH: usize = 32;
/// A document may hold this many elements in all.
pub const MAX_ELEMENTS: usize = 10_000;

/// Parses an XML document: its root element's name and content (an object of its child elements,
/// or its text). A repeated child becomes an array; an empty element is null. A document nested
/// deeper than [`MAX_DEPTH`] or with more than [`MAX_ELEMENTS`] elements is refused.
pub fn read_document(text: &str) -> Result<(String, Value), String> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(true);
    // Open elements: name, child fields, text.
    let mut stack: Vec<(String, Map<String, Value>, String)> = Vec::new();
    let mut root: Option<(String, Value)> = None;
    let mut elements = 0usize;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("at byte {}: {e}", reader.buffer_position()))?;
        if matches!(event, Event::Start(_) | Event::Empty(_)) {
            elements += 1;
            if elements > MAX_ELEMENTS {
                return Err(format!("more than {MAX_ELEMENTS} elements"));
            }
        }
        match event {
            Event::Start(e) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(format!("elements nested deeper than {MAX_DEPTH} levels"));
                }
                stack.push((local_name(&e)?, Map::new(), String::new()))
            }
            Event::Empty(e) => attach(&mut stack, &mut root, local_name(&e)?, Value::Null)?,
            Event::Text(t) => {
                let text = t.unescape().map_err(|e| e.to_string())?;
                match stack.last_mut() {
                    Some(top) => top.2.push_str(&text),
                    None => return Err(format!("text `{text}` outside the root element")),
                }
            }
            Event::CData(c) => {
                let text = String::from_utf8(c.into_inner().into_owned())
                    .map_err(|_| "CDATA is not valid UTF-8".to_string())?;
                if let Some(top) = stack.last_mut() {
                    top.2.push_str(&text);
                }
            }
            Event::End(_) => {
                let (name, fields, text) = stack.pop().ok_or("an end tag without a start")?;
                let value = if fields.is_empty() {
                    Value::String(text)
                } else {
                    Value::Object(fields)
                };
                attach(&mut stack, &mut root, name, value)?;
            }
            Event::Eof => break,
            // Declarations, comments, processing instructions and doctypes carry no data.
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err("the document ends inside an element".into());
    }
    root.ok_or_else(|| "the document has no element".to_string())
}

fn local_name(e: &BytesStart<'_>) -> Result<String, String> {
    String::from_utf8(e.local_name().as_ref().to_vec())
        .map_err(|_| "an element name is not valid UTF-8".to_string())
}

/// Puts a finished element into its parent; a repeated name becomes an array.
fn attach(
    stack: &mut [(String, Map<String, Value>, String)],
    root: &mut Option<(String, Value)>,
    name: String,
    value: Value,
) -> Result<(), String> {
    let Some(parent) = stack.last_mut() else {
        if root.is_some() {
            return Err("the document has more than one root element".into());
        }
        *root = Some((name, value));
        return Ok(());
    };
    match parent.1.get_mut(&name) {
        None => {
            parent.1.insert(name, value);
        }
        Some(Value::Array(items)) => items.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_or_huge_documents_are_refused_before_they_are_built() {
        let deep = format!("{}{}", "<a>".repeat(20_000), "</a>".repeat(20_000));
        let e = read_document(&deep).unwrap_err();
        assert!(e.contains("deeper than 32"), "{e}");
        let at_limit = format!("{}x{}", "<a>".repeat(MAX_DEPTH), "</a>".repeat(MAX_DEPTH));
        assert!(read_document(&at_limit).is_ok());
        let wide = format!("<r>{}</r>", "<i/>".repeat(MAX_ELEMENTS));
        assert!(read_document(&wide).unwrap_err().contains("elements"));
        // Unclosed deep openings are refused as well, not only balanced ones.
        assert!(read_document(&"<a>".repeat(1000)).is_err());
    }
}
