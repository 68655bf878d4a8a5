//! Bounds on the SQL a user writes (transforms, filters, field expressions, source queries),
//! checked when a task is saved and again before anything plans it, after parameters are
//! substituted.
//!
//! Why: a query's syntax tree is as deep as its longest chain of operators, and parsing,
//! planning, optimising and even dropping such a tree recurse once per level. A 2 KB transform
//! (`SELECT 1+1+…+1`, 1,000 terms) overflowed the stack of the thread planning it and aborted the
//! whole server. So the text is bounded in length, and its tree in depth, before DataFusion sees
//! it; the measuring itself runs on a thread whose stack holds any tree the length allows.

use datafusion::sql::sqlparser::ast::{Expr, Query, Visit, Visitor};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;
use std::ops::ControlFlow;

/// The longest SQL text accepted (a transform of a few hundred lines is a few KB).
pub const MAX_SQL_BYTES: usize = 64 * 1024;
/// The deepest expression or query nesting accepted. Generated SQL with long `OR` chains or
/// hundreds of `CASE` branches stays far below; every server thread that plans or runs a query
/// has a stack sized for this depth (see `main.rs`).
pub const MAX_DEPTH: usize = 256;
/// Parentheses may nest this deep in SQL passed to a database as written (its own parser and
/// limits apply there; this only keeps absurd texts out).
pub const MAX_NATIVE_PARENS: usize = 256;

/// A measuring thread's stack: a tree of [`MAX_SQL_BYTES`] can be tens of thousands of levels
/// deep before it is measured, and visiting and dropping it recurse per level. Only the pages
/// touched are ever committed.
const MEASURE_STACK: usize = 256 << 20;

/// What a piece of SQL is, which decides how it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlKind {
    /// A whole query Sluice plans (a mapping's transform).
    Query,
    /// An expression Sluice plans inside its own query (a field's `expr`, a file filter).
    Expression,
    /// SQL a database runs as written (a source `query`, a database filter).
    Native,
}

/// Checks `text` against the bounds. Text with unsubstituted parameters (`${x}`) is checked only
/// as far as it can be without them: its length and its parentheses; the full check runs again
/// at run time on the substituted text.
pub fn check(text: &str, kind: SqlKind) -> Result<(), String> {
    if text.len() > MAX_SQL_BYTES {
        return Err(format!(
            "is {} bytes long; SQL is limited to {MAX_SQL_BYTES} bytes",
            text.len()
        ));
    }
    let parens = paren_depth(text);
    if parens > MAX_NATIVE_PARENS {
        return Err(format!(
            "nests parentheses {parens} deep; at most {MAX_NATIVE_PARENS} are allowed"
        ));
    }
    if kind == SqlKind::Native || !crate::domain::params::references(text).is_empty() {
        return Ok(());
    }
    let text = text.to_string();
    // A scoped thread: the caller waits (parsing 64 KB takes about a millisecond), and the tree
    // never touches the caller's stack.
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("sql-guard".into())
            .stack_size(MEASURE_STACK)
            .spawn_scoped(s, || measure(&text, kind))
            .map_err(|e| format!("could not be checked: {e}"))?
            .join()
            .map_err(|_| "could not be checked".to_string())?
    })
}

/// Parses and measures; parse errors are the caller's to report (DataFusion reports them with
/// more context at planning), so only a tree too deep is an error here.
fn measure(text: &str, kind: SqlKind) -> Result<(), String> {
    let dialect = GenericDialect {};
    let depth = match kind {
        SqlKind::Query => match Parser::parse_sql(&dialect, text) {
            Ok(statements) => {
                let mut d = Depth::default();
                let _ = statements.visit(&mut d);
                d.max
            }
            Err(_) => return Ok(()),
        },
        _ => match Parser::new(&dialect)
            .try_with_sql(text)
            .and_then(|mut p| p.parse_expr())
        {
            Ok(expr) => {
                let mut d = Depth::default();
                let _ = expr.visit(&mut d);
                d.max
            }
            Err(_) => return Ok(()),
        },
    };
    if depth > MAX_DEPTH {
        return Err(format!(
            "nests expressions {depth} deep (a chain of {depth} operators counts as that deep); at most {MAX_DEPTH} levels are allowed"
        ));
    }
    Ok(())
}

/// The deepest nesting of expressions and queries in a tree.
#[derive(Default)]
struct Depth {
    now: usize,
    max: usize,
}

impl Depth {
    fn enter(&mut self) -> ControlFlow<()> {
        self.now += 1;
        self.max = self.max.max(self.now);
        ControlFlow::Continue(())
    }
    fn leave(&mut self) -> ControlFlow<()> {
        self.now = self.now.saturating_sub(1);
        ControlFlow::Continue(())
    }
}

impl Visitor for Depth {
    type Break = ();
    fn pre_visit_expr(&mut self, _: &Expr) -> ControlFlow<()> {
        self.enter()
    }
    fn post_visit_expr(&mut self, _: &Expr) -> ControlFlow<()> {
        self.leave()
    }
    fn pre_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
        self.enter()
    }
    fn post_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
        self.leave()
    }
}

/// The deepest nesting of parentheses outside quoted strings and identifiers (unbalanced text is
/// measured as written; the database will say what is wrong with it).
fn paren_depth(text: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"' | '`') => quote = Some(c),
            (None, '(') => {
                depth += 1;
                max = max.max(depth);
            }
            (None, ')') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(op: &str, terms: usize) -> String {
        vec!["1"; terms].join(op)
    }

    #[test]
    fn long_operator_chains_are_refused_at_any_length() {
        for terms in [1_000, 5_000] {
            let sql = format!("SELECT {}", chain("+", terms));
            let e = check(&sql, SqlKind::Query).unwrap_err();
            assert!(e.contains("deep"), "{e}");
        }
        // 30,000 terms is longer than the limit: refused before it is parsed.
        let or = format!("SELECT * FROM t WHERE {}", chain(" OR a=", 30_000));
        assert!(check(&or, SqlKind::Query).unwrap_err().contains("bytes"));
        let or = chain(" OR a=", 8_000);
        assert!(
            check(&or, SqlKind::Expression)
                .unwrap_err()
                .contains("deep")
        );
    }

    #[test]
    fn ordinary_and_wide_sql_passes() {
        let wide: Vec<String> = (0..2_000).map(|i| format!("a + {i} AS c{i}")).collect();
        let sql = format!("SELECT {} FROM t", wide.join(", "));
        assert!(sql.len() < MAX_SQL_BYTES);
        check(&sql, SqlKind::Query).unwrap();
        let near = format!("SELECT {} FROM t", chain("+", MAX_DEPTH - 10));
        check(&near, SqlKind::Query).unwrap();
        check(
            "amount > 10 AND country IN ('DE', 'FR')",
            SqlKind::Expression,
        )
        .unwrap();
        check("not sql at all ((", SqlKind::Query).unwrap();
    }

    #[test]
    fn parameters_and_native_sql_are_bounded_by_length_and_parentheses() {
        check("SELECT * FROM t WHERE d > '${since}'", SqlKind::Query).unwrap();
        let deep = format!("{}1{}", "(".repeat(300), ")".repeat(300));
        assert!(
            check(&deep, SqlKind::Native)
                .unwrap_err()
                .contains("parentheses")
        );
        assert!(check("x = ')))((((('", SqlKind::Native).is_ok());
        let long = "x".repeat(MAX_SQL_BYTES + 1);
        assert!(check(&long, SqlKind::Native).is_err());
        let p = format!("SELECT {} FROM t WHERE d > '${{since}}'", chain("+", 5_000));
        assert!(
            check(&p, SqlKind::Query).is_ok(),
            "checked again once substituted"
        );
    }
}
