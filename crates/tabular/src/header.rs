use flsdb_dataset::Field;

/// Where each canonical field sits in a file's rows.
#[derive(Clone, Debug)]
pub struct Header {
    columns: [Option<usize>; Field::COUNT],
    /// Number of cells in the header row: every row must have exactly this many.
    pub width: usize,
    /// Column names that were ignored (with `--allow-unknown-columns`).
    pub ignored: Vec<String>,
}

/// A problem with the header row, reported as row 1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileProblem {
    pub column: String,
    pub rule: &'static str,
    pub message: String,
}

impl Header {
    /// Matches header cells to fields: trimmed, case-insensitive; a duplicate, an unnamed or (unless
    /// allowed) an unknown column, or a missing required column is a problem. All are reported.
    pub fn parse<'a>(
        names: impl IntoIterator<Item = &'a str>,
        allow_unknown: bool,
    ) -> Result<Header, Vec<FileProblem>> {
        let mut columns = [None; Field::COUNT];
        let mut problems = Vec::new();
        let mut ignored = Vec::new();
        let mut width = 0;
        for (i, raw) in names.into_iter().enumerate() {
            width = i + 1;
            let name = raw.trim_start_matches('\u{feff}').trim();
            match Field::from_header(name) {
                Some(field) if columns[field.index()].is_some() => problems.push(FileProblem {
                    column: name.to_owned(),
                    rule: "duplicate_column",
                    message: format!("column {name:?} appears more than once in the header"),
                }),
                Some(field) => columns[field.index()] = Some(i),
                None if name.is_empty() => problems.push(FileProblem {
                    column: String::new(),
                    rule: "unnamed_column",
                    message: format!("column {} has no name in the header", i + 1),
                }),
                None if allow_unknown => ignored.push(name.to_owned()),
                None => problems.push(FileProblem {
                    column: name.to_owned(),
                    rule: "unknown_column",
                    message: format!(
                        "column {name:?} is not a field of the dataset (remove it, or import with --allow-unknown-columns)"
                    ),
                }),
            }
        }
        for field in Field::ALL.iter().filter(|f| f.is_required() && columns[f.index()].is_none()) {
            problems.push(FileProblem {
                column: field.name().to_owned(),
                rule: "missing_column",
                message: format!("required column {:?} is missing", field.name()),
            });
        }
        if problems.is_empty() { Ok(Header { columns, width, ignored }) } else { Err(problems) }
    }

    pub fn column(&self, field: Field) -> Option<usize> {
        self.columns[field.index()]
    }
}
