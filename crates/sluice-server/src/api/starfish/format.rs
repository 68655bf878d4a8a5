//! Starfish bodies in JSON, XML (the .NET DataContract shape: the documented root names and
//! namespace, elements read in any order, written in alphabetical order) and form-urlencoded; the
//! answer in the format of `Accept`, else of the request. Errors as ASP.NET answers them:
//! `{"Message": ...}` / `<Error><Message>...</Message></Error>`.

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use serde_json::{Map, Value};

/// The DataContract namespace of Starfish's types.
pub const NAMESPACE: &str = "http://schemas.datacontract.org/2004/07/StarfishAPI.Controllers";
const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

fn header_has(headers: &HeaderMap, name: header::HeaderName, what: &str) -> bool {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains(what))
}

impl Format {
    /// The format of the answer: `Accept`, else the request's `Content-Type`, else JSON.
    pub fn of_answer(headers: &HeaderMap) -> Format {
        let xml = |h| header_has(headers, h, "xml");
        let json = |h| header_has(headers, h, "json");
        if xml(header::ACCEPT) && !json(header::ACCEPT) {
            Format::Xml
        } else if json(header::ACCEPT) {
            Format::Json
        } else if xml(header::CONTENT_TYPE) {
            Format::Xml
        } else {
            Format::Json
        }
    }
}

/// An error answer in the caller's format.
#[derive(Debug)]
pub struct StarfishError {
    pub status: StatusCode,
    pub message: String,
    pub format: Format,
    /// Seconds to wait before trying again (`Retry-After`), for a 429.
    pub retry_after: Option<u64>,
}

impl StarfishError {
    pub fn new(status: StatusCode, message: impl Into<String>, format: Format) -> StarfishError {
        StarfishError {
            status,
            message: message.into(),
            format,
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>, format: Format) -> StarfishError {
        StarfishError::new(StatusCode::BAD_REQUEST, message, format)
    }
}

impl IntoResponse for StarfishError {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("Message".into(), Value::String(self.message));
        let mut resp = crate::api::with_retry_after(
            reply(self.status, "Error", &Value::Object(body), self.format),
            self.retry_after,
        );
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

/// A request body as the JSON object it stands for, whatever its format. In XML and form bodies
/// every value is text; readers of the fields accept both.
pub fn read_body(
    headers: &HeaderMap,
    body: &Bytes,
    answer: Format,
) -> Result<Map<String, Value>, StarfishError> {
    let bad = |m: String| StarfishError::bad_request(m, answer);
    let text = std::str::from_utf8(body)
        .map_err(|_| bad("The request body is not valid UTF-8.".into()))?;
    if text.trim().is_empty() {
        return Err(bad("The request body is empty.".into()));
    }
    if header_has(headers, header::CONTENT_TYPE, "x-www-form-urlencoded") {
        let pairs: Vec<(String, String)> = serde_urlencoded_pairs(text);
        return Ok(pairs
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect());
    }
    if header_has(headers, header::CONTENT_TYPE, "xml") {
        let (_, value) = crate::api::xml::read_document(text)
            .map_err(|e| bad(format!("The XML body is not valid: {e}.")))?;
        return match value {
            Value::Object(m) => Ok(m),
            _ => Ok(Map::new()),
        };
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(bad("The JSON body must be an object.".into())),
        Err(e) => Err(bad(format!("The JSON body is not valid: {e}."))),
    }
}

/// `a=1&b=x%20y` as pairs (form-urlencoded, `+` as space).
fn serde_urlencoded_pairs(text: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(text.trim().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// An answer: JSON, or DataContract XML with `root` as the root element.
pub fn reply(status: StatusCode, root: &str, value: &Value, format: Format) -> Response {
    match format {
        Format::Json => (status, axum::Json(value.clone())).into_response(),
        Format::Xml => (
            status,
            [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
            to_xml(root, value),
        )
            .into_response(),
    }
}

/// DataContract XML: the root in Starfish's namespace, fields in alphabetical order (serde_json
/// keeps object keys sorted), null as `i:nil`, a list as `ArrayOf<item>` of `<item>` elements.
pub fn to_xml(root: &str, value: &Value) -> String {
    let mut w = Writer::new(Vec::new());
    let _ = w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)));
    let (root, item) = match value {
        Value::Array(_) => (format!("ArrayOf{root}"), Some(root)),
        _ => (root.to_string(), None),
    };
    let mut start = BytesStart::new(root.as_str());
    start.push_attribute(("xmlns:i", XSI));
    start.push_attribute(("xmlns", NAMESPACE));
    let _ = w.write_event(Event::Start(start));
    match (value, item) {
        (Value::Array(items), Some(item)) => {
            for v in items {
                element(&mut w, item, v);
            }
        }
        (Value::Object(m), _) => fields(&mut w, m),
        (other, _) => {
            let _ = w.write_event(Event::Text(BytesText::new(&scalar(other))));
        }
    }
    let _ = w.write_event(Event::End(BytesEnd::new(root.as_str())));
    String::from_utf8(w.into_inner()).expect("the writer writes UTF-8")
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn fields(w: &mut Writer<Vec<u8>>, m: &Map<String, Value>) {
    for (k, v) in m {
        element(w, k, v);
    }
}

fn element(w: &mut Writer<Vec<u8>>, name: &str, v: &Value) {
    match v {
        Value::Null => {
            let mut e = BytesStart::new(name);
            e.push_attribute(("i:nil", "true"));
            let _ = w.write_event(Event::Empty(e));
        }
        Value::Object(m) => {
            let _ = w.write_event(Event::Start(BytesStart::new(name)));
            fields(w, m);
            let _ = w.write_event(Event::End(BytesEnd::new(name)));
        }
        Value::Array(items) => {
            let _ = w.write_event(Event::Start(BytesStart::new(name)));
            for item in items {
                element(w, "item", item);
            }
            let _ = w.write_event(Event::End(BytesEnd::new(name)));
        }
        other => {
            let _ = w.write_event(Event::Start(BytesStart::new(name)));
            let _ = w.write_event(Event::Text(BytesText::new(&scalar(other))));
            let _ = w.write_event(Event::End(BytesEnd::new(name)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn datacontract_xml_is_alphabetical_with_the_namespace() {
        let xml = to_xml(
            "execJobAsyncResponse",
            &json!({"started": true, "runID": "r1", "error": null}),
        );
        assert_eq!(
            xml,
            format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?><execJobAsyncResponse xmlns:i=\"{XSI}\" xmlns=\"{NAMESPACE}\"><error i:nil=\"true\"/><runID>r1</runID><started>true</started></execJobAsyncResponse>"
            )
        );
        let list = to_xml("resultsResponse", &json!([{"status": "Complete"}]));
        assert!(list.contains("<ArrayOfresultsResponse"), "{list}");
        assert!(
            list.contains("<resultsResponse><status>Complete</status></resultsResponse>"),
            "{list}"
        );
    }

    #[test]
    fn bodies_in_any_format_read_the_same() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let m = read_body(&h, &Bytes::from("runID=a&argument=x+y%26z"), Format::Json).unwrap();
        assert_eq!(m["argument"], "x y&z");
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
        let xml = format!(
            "<execJobAsyncRequest xmlns=\"{NAMESPACE}\"><runID>a</runID><argument>x</argument></execJobAsyncRequest>"
        );
        let m = read_body(&h, &Bytes::from(xml), Format::Json).unwrap();
        assert_eq!(
            (m["runID"].as_str(), m["argument"].as_str()),
            (Some("a"), Some("x"))
        );
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        assert!(read_body(&h, &Bytes::from("[1]"), Format::Json).is_err());
        assert!(read_body(&h, &Bytes::from("{"), Format::Json).is_err());
        assert!(read_body(&h, &Bytes::from(" "), Format::Json).is_err());
    }
}
