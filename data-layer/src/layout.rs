//! The two CSV layouts and their header check.

use std::path::Path;

use crate::DataError;

/// Which of the two table layouts a file has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    /// `PCA_1..PCA_n,target`: the reference (training) rows.
    Reference,
    /// `PCA_1..PCA_n,target,prediction`: the production (feedback) rows.
    Production,
}

impl TableKind {
    /// The label columns after the vector.
    pub fn label_columns(self) -> &'static [&'static str] {
        match self {
            TableKind::Reference => &["target"],
            TableKind::Production => &["target", "prediction"],
        }
    }

    /// The table's file name in a data folder (`ref_data.csv`, `prod_data.csv`).
    pub const fn file_name(self) -> &'static str {
        match self {
            TableKind::Reference => "ref_data.csv",
            TableKind::Production => "prod_data.csv",
        }
    }

    /// The header of a table of vectors of length `dim`.
    pub fn header(self, dim: usize) -> Vec<String> {
        (1..=dim)
            .map(|i| format!("PCA_{i}"))
            .chain(self.label_columns().iter().map(|c| c.to_string()))
            .collect()
    }

    fn expected_header(kind: Option<TableKind>) -> &'static str {
        match kind {
            Some(TableKind::Reference) => "PCA_1,PCA_2,...,PCA_n,target",
            Some(TableKind::Production) => "PCA_1,PCA_2,...,PCA_n,target,prediction",
            None => "PCA_1,PCA_2,...,PCA_n,target or PCA_1,PCA_2,...,PCA_n,target,prediction",
        }
    }
}

/// Checks a header record and returns its layout and vector length. With `expect`, the layout
/// must be that one; without, either is accepted.
pub fn parse_header(
    path: &Path,
    expect: Option<TableKind>,
    record: &csv::ByteRecord,
) -> Result<(TableKind, usize), DataError> {
    let fail = |reason: String| DataError::Header {
        path: path.to_path_buf(),
        expected: TableKind::expected_header(expect).to_owned(),
        reason,
    };
    let fields: Vec<String> = record
        .iter()
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect();
    let dim = fields.iter().take_while(|f| f.starts_with("PCA_")).count();
    if dim == 0 {
        return Err(fail(format!(
            "first column is `{}`, not `PCA_1`",
            fields.first().map(String::as_str).unwrap_or("")
        )));
    }
    for (i, f) in fields.iter().take(dim).enumerate() {
        if *f != format!("PCA_{}", i + 1) {
            return Err(fail(format!(
                "column {} is `{f}`, not `PCA_{}`",
                i + 1,
                i + 1
            )));
        }
    }
    let rest: Vec<&str> = fields[dim..].iter().map(String::as_str).collect();
    let candidates: &[TableKind] = match expect {
        Some(TableKind::Reference) => &[TableKind::Reference],
        Some(TableKind::Production) => &[TableKind::Production],
        None => &[TableKind::Reference, TableKind::Production],
    };
    match candidates.iter().find(|k| rest == k.label_columns()) {
        Some(&kind) => Ok((kind, dim)),
        None => Err(fail(format!(
            "after PCA_{dim} found `{}`, want `{}`",
            rest.join(","),
            candidates
                .iter()
                .map(|k| k.label_columns().join(","))
                .collect::<Vec<_>>()
                .join("` or `")
        ))),
    }
}
