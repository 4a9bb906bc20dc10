//! flsdb-pdf: turns a typst source and in-memory files (SVG charts, JSON) into PDF bytes.
//!
//! Offline by construction: there is no package resolver (an `@preview/…` import fails at once
//! with a message saying so) and no file-system access; every font is compiled in: DejaVu Sans
//! (regular, bold, oblique; typst-assets has no sans-serif text face, and the charts of
//! `flsdb-charts` ask for "DejaVu Sans") plus typst-assets' own fonts as fallbacks (maths,
//! monospace, serif).
//!
//! Reproducible: the PDF has no creation date unless the source sets one (`set document(date:
//! …)`), and its document identifier is derived from [`Job::ident`] (or the title and author), so
//! the same job gives the same bytes.
//!
//! The [`Job`] is also the wire format of the `flsdb-pdf` binary: JSON on standard input, the
//! PDF on standard output.

use serde::Deserialize;
use std::collections::BTreeMap;
use typst::diag::{Severity, SourceDiagnostic};
use typst::foundations::{Bytes, Smart};
use typst::syntax::{DiagSpanKind, Source};
use typst_as_lib::conversions::IntoFileId;
use typst_as_lib::{TypstAsLibError, TypstEngine};
use typst_layout::PagedDocument;

/// The name under which [`Job::main`] is compiled (so diagnostics can point into it).
pub const MAIN: &str = "main.typ";

static DEJAVU_SANS: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
static DEJAVU_SANS_BOLD: &[u8] = include_bytes!("../fonts/DejaVuSans-Bold.ttf");
static DEJAVU_SANS_OBLIQUE: &[u8] = include_bytes!("../fonts/DejaVuSans-Oblique.ttf");

/// One document to render.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Job {
    /// The typst source of the document.
    pub main: String,
    /// Files the source reads (`image("chart-kpi4.svg")`, `json("data.json")`), by name.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// A stable identifier of the document (hashed into the PDF's document id); `None` uses the
    /// document's title and author.
    #[serde(default)]
    pub ident: Option<String>,
}

/// Why a document could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("the report template does not compile:\n{0}")]
    Compile(String),
    #[error("the PDF could not be written:\n{0}")]
    Export(String),
}

/// Every font the documents can use: DejaVu Sans first (the report face), then typst-assets'.
fn fonts() -> Vec<Bytes> {
    [DEJAVU_SANS, DEJAVU_SANS_BOLD, DEJAVU_SANS_OBLIQUE]
        .into_iter()
        .chain(typst_assets::fonts())
        .map(Bytes::new)
        .collect()
}

/// Renders a job to PDF bytes.
pub fn render(job: &Job) -> Result<Vec<u8>, PdfError> {
    let files: Vec<(&str, Bytes)> =
        job.files.iter().map(|(name, content)| (name.as_str(), Bytes::new(content.clone().into_bytes()))).collect();
    let engine = TypstEngine::builder()
        .fonts(fonts())
        .with_static_source_file_resolver([(MAIN, job.main.as_str())])
        .with_static_file_resolver(files)
        .build();
    let compiled = engine.compile::<_, PagedDocument>(MAIN);
    let document = match compiled.output {
        Ok(document) => document,
        Err(error) => return Err(PdfError::Compile(describe_error(&job.main, error))),
    };
    let options = typst_pdf::PdfOptions {
        ident: job.ident.clone().map_or(Smart::Auto, Smart::Custom),
        // No timestamp: a PDF built twice from the same job is the same file.
        timestamp: None,
        ..typst_pdf::PdfOptions::default()
    };
    typst_pdf::pdf(&document, &options).map_err(|diagnostics| PdfError::Export(describe(&job.main, &diagnostics)))
}

fn describe_error(main: &str, error: TypstAsLibError) -> String {
    match error {
        TypstAsLibError::TypstSource(diagnostics) => describe(main, &diagnostics),
        other => other.to_string(),
    }
}

/// Diagnostics as "main.typ:LINE: error: message (hint: …)" lines.
fn describe(main: &str, diagnostics: &[SourceDiagnostic]) -> String {
    let id = MAIN.into_file_id();
    // Parsing the same text under the same id numbers its spans as the compiler did.
    let source = Source::new(id, main.to_owned());
    let mut out = Vec::new();
    for d in diagnostics {
        let kind = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let range = match d.span.get() {
            DiagSpanKind::Number { id: file, num, sub_range } if file == id => source.range(num, sub_range),
            DiagSpanKind::Range { id: file, range } if file == id => Some(range),
            _ => None,
        };
        let place = match range {
            Some(range) => {
                let line = main.get(..range.start).unwrap_or(main).matches('\n').count() + 1;
                format!("{MAIN}:{line}: ")
            }
            None => String::new(),
        };
        let mut line = format!("{place}{kind}: {}", d.message);
        if d.message.contains("typst.toml") || d.message.contains("package") {
            // typst's own message for an `@preview/…` import is only "file not found".
            line.push_str(" (typst packages are not available: flsdb renders offline)");
        }
        for hint in &d.hints {
            line.push_str(&format!(" (hint: {})", hint.v));
        }
        out.push(line);
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(main: &str) -> Job {
        Job { main: main.to_owned(), ..Job::default() }
    }

    #[test]
    fn renders_text_and_an_svg_reproducibly() {
        let svg = r#"<svg xmlns="http://www.w3.org/2000/svg" width="100" height="40" viewBox="0 0 100 40" font-family="DejaVu Sans"><text x="5" y="25" font-size="12">Chart</text></svg>"#;
        let mut j = job(
            "#set document(title: \"Test\", date: none)\n#set text(font: \"DejaVu Sans\")\n= Hello\n#image(\"c.svg\")\n",
        );
        j.files.insert("c.svg".into(), svg.into());
        j.ident = Some("test".into());
        let a = render(&j).expect("renders");
        assert!(a.starts_with(b"%PDF-"));
        let b = render(&j).expect("renders again");
        assert_eq!(a, b, "the same job gives the same bytes");
        let text = String::from_utf8_lossy(&a);
        assert!(text.contains("DejaVuSans"), "the sans face is embedded");
    }

    #[test]
    fn errors_name_the_line_and_packages_are_refused() {
        let err = render(&job("ok\n#let x = (\n")).expect_err("syntax error");
        assert!(err.to_string().contains("main.typ:2"), "{err}");
        let err = render(&job("#import \"@preview/cetz:0.3.0\"\n")).expect_err("no packages");
        assert!(err.to_string().contains("main.typ:1"), "{err}");
    }
}
