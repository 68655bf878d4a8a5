//! XML for v2 resources: IICS v2 takes and answers XML as well as JSON (by `Content-Type` and
//! `Accept`). Handlers speak JSON only; this layer turns an XML request body into the same JSON
//! and a JSON answer into XML, so both forms always say the same thing. v3 is JSON only.
//!
//! The mapping: the root element is the object's `@type` (`<job>`), each field an element, a
//! nested object nested elements, an array an element holding one element per item (named by the
//! item's `@type`, else `item`), null an empty element. A top-level array answers as `<list>`.
//! In a request every value is text (`<runId>3</runId>`); handlers read such fields as text.

use super::V2Error;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use serde_json::{Map, Value};

/// Answers larger than this are not converted (v2 answers are small; request bodies are bounded
/// by the server's body limit before they get here).
const MAX_BODY: usize = 16 << 20;

fn header_has(headers: &HeaderMap, name: header::HeaderName, what: &str) -> bool {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains(what))
}

/// Whether the caller asked for XML (and not JSON) in `Accept`.
pub fn wants_xml(headers: &HeaderMap) -> bool {
    header_has(headers, header::ACCEPT, "xml") && !header_has(headers, header::ACCEPT, "json")
}

/// The middleware: XML in, XML out, for v2 routes.
pub async fn negotiate(req: Request, next: Next) -> Response {
    if req.uri().path().contains("/public/core/v3") {
        return next.run(req).await;
    }
    let xml_out = wants_xml(req.headers());
    let req = if header_has(req.headers(), header::CONTENT_TYPE, "xml") {
        let (mut parts, body) = req.into_parts();
        let converted = match axum::body::to_bytes(body, MAX_BODY).await {
            // Over the server's body limit (the limit layer cuts the body short) or unreadable.
            Err(_) => {
                let resp = V2Error::new(
                    axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                    "CMN_413",
                    "The request body is too large or could not be read.",
                )
                .into_response();
                return if xml_out { to_xml(resp).await } else { resp };
            }
            Ok(bytes) => std::str::from_utf8(&bytes)
                .map_err(|_| "the body is not valid UTF-8".to_string())
                .and_then(xml_to_json),
        };
        match converted {
            Ok(json) => {
                parts.headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                parts.headers.remove(header::CONTENT_LENGTH);
                Request::from_parts(parts, Body::from(json.to_string()))
            }
            Err(e) => {
                let resp = V2Error::bad_request(format!("The XML body is not valid: {e}."))
                    .into_response();
                return if xml_out { to_xml(resp).await } else { resp };
            }
        }
    } else {
        req
    };
    let resp = next.run(req).await;
    if xml_out { to_xml(resp).await } else { resp }
}

/// Rewrites a JSON answer as XML; other answers (downloads, empty bodies) pass unchanged.
async fn to_xml(resp: Response) -> Response {
    if !header_has(resp.headers(), header::CONTENT_TYPE, "json") {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return V2Error::bad_request("The answer was too large to convert to XML.").into_response();
    };
    let Ok(value) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(json_to_xml(&value)))
}

/// Parses an XML document into the JSON object it stands for, its root element as `@type`.
pub fn xml_to_json(text: &str) -> Result<Value, String> {
    let (name, value) = crate::api::xml::read_document(text)?;
    let mut object = match value {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    object.entry("@type").or_insert_with(|| Value::String(name));
    Ok(Value::Object(object))
}

/// Writes a JSON answer as an XML document.
pub fn json_to_xml(value: &Value) -> String {
    let mut w = Writer::new(Vec::new());
    let _ = w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
    match value {
        Value::Array(items) => {
            let _ = w.write_event(Event::Start(BytesStart::new("list")));
            for item in items {
                element(&mut w, item_name(item), item);
            }
            let _ = w.write_event(Event::End(BytesEnd::new("list")));
        }
        Value::Object(m) => {
            let name = m.get("@type").and_then(Value::as_str).unwrap_or("response");
            element(&mut w, name, value);
        }
        other => element(&mut w, "value", other),
    }
    String::from_utf8(w.into_inner()).expect("the writer writes UTF-8")
}

fn item_name(item: &Value) -> &str {
    item.get("@type").and_then(Value::as_str).unwrap_or("item")
}

fn element(w: &mut Writer<Vec<u8>>, name: &str, value: &Value) {
    // Writing into a Vec cannot fail.
    let _ = match value {
        Value::Null => w.write_event(Event::Empty(BytesStart::new(name))),
        Value::Object(m) => {
            let _ = w.write_event(Event::Start(BytesStart::new(name)));
            for (key, v) in m.iter().filter(|(k, _)| k.as_str() != "@type") {
                element(w, key, v);
            }
            w.write_event(Event::End(BytesEnd::new(name)))
        }
        Value::Array(items) => {
            let _ = w.write_event(Event::Start(BytesStart::new(name)));
            for item in items {
                element(w, item_name(item), item);
            }
            w.write_event(Event::End(BytesEnd::new(name)))
        }
        scalar => {
            let text = match scalar {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let _ = w.write_event(Event::Start(BytesStart::new(name)));
            let _ = w.write_event(Event::Text(BytesText::new(&text)));
            w.write_event(Event::End(BytesEnd::new(name)))
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_job_object_reads_as_its_json() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
            <job><taskName>a &amp; b</taskName><taskType>MTT</taskType>
            <runtime><parameterFileName>p.param</parameterFileName></runtime><callbackURL/></job>"#;
        assert_eq!(
            xml_to_json(xml).unwrap(),
            json!({"@type": "job", "taskName": "a & b", "taskType": "MTT",
                   "runtime": {"parameterFileName": "p.param"}, "callbackURL": null})
        );
    }

    #[test]
    fn repeated_elements_are_arrays_and_bad_documents_say_why() {
        let v = xml_to_json("<a><x>1</x><x>2</x><x>3</x></a>").unwrap();
        assert_eq!(v["x"], json!(["1", "2", "3"]));
        for bad in ["", "<a>", "<a></b>", "<a/><b/>", "text"] {
            assert!(xml_to_json(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn answers_write_as_xml_and_read_back() {
        let job = json!({"@type": "job", "taskId": "00SLC0Z0ABC", "runId": 3,
                         "runInParallel": false, "note": "<&>", "none": null});
        let xml = json_to_xml(&job);
        assert!(xml.starts_with("<?xml") && xml.contains("<job>"), "{xml}");
        assert!(xml.contains("<taskId>00SLC0Z0ABC</taskId>") && xml.contains("<runId>3</runId>"));
        assert!(xml.contains("<none/>"), "null is an empty element: {xml}");
        assert!(xml.contains("&lt;&amp;&gt;"), "{xml}");
        let back = xml_to_json(&xml).unwrap();
        assert_eq!(back["runId"], "3");
        assert_eq!(back["note"], "<&>");
        let list = json_to_xml(&json!([{"@type": "activityLogEntry", "state": 1,
            "entries": [{"@type": "activityLogEntry", "state": 4}]}]));
        assert!(list.contains("<list><activityLogEntry><entries><activityLogEntry><state>4</state></activityLogEntry></entries><state>1</state>"), "{list}");
    }
}
