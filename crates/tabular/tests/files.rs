//! Reading real files: header problems, row problems, XLSX typed cells, round trips.

use flsdb_dataset::{Field, ServiceCode, Validation};
use flsdb_tabular::{
    CheckedRow, FileError, RowChecker, RowSource, check_parallel, write_records_csv, write_records_xlsx,
};
use std::io::Write;
use std::path::{Path, PathBuf};
use time::macros::date;

fn checker() -> RowChecker {
    RowChecker {
        validation: Validation { today: date!(2024 - 06 - 30), allow_test_nhs_numbers: true },
        registered: ["BNT", "RFH"].iter().filter_map(|c| ServiceCode::parse(c)).collect(),
        permitted: None,
        only: None,
    }
}

fn file(dir: &tempfile::TempDir, name: &str, content: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::File::create(&path).and_then(|mut f| f.write_all(content)).expect("write fixture");
    path
}

fn check_all(path: &Path) -> Result<Vec<CheckedRow>, FileError> {
    let mut rows = Vec::new();
    RowSource::open(path, false)?.check_each(&checker(), |r| rows.push(r));
    Ok(rows)
}

const HEADER: &str = "service_code,local_id,date_of_birth,fracture_date,fracture_site,nhs_number";

#[test]
fn header_problems_are_all_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = file(&dir, "bad.csv", b"Service_Code,local_id,local_id,colour,fracture_site\n");
    let Err(FileError::Header(problems)) = check_all(&path) else { panic!("header must be refused") };
    let rules: Vec<_> = problems.iter().map(|p| p.rule).collect();
    assert_eq!(rules, ["duplicate_column", "unknown_column", "missing_column", "missing_column"]);
    assert!(matches!(check_all(&file(&dir, "empty.csv", b"")), Err(FileError::Empty)));
    assert!(matches!(check_all(&file(&dir, "utf16.csv", b"\xff\xfes\x00")), Err(FileError::Encoding(_))));
    // Unknown columns may be ignored on request.
    let ok = file(&dir, "extra.csv", format!("{HEADER},colour\nBNT,1,1950-01-01,2020-01-01,hip,,red\n").as_bytes());
    let mut rows = Vec::new();
    RowSource::open(&ok, true).expect("allowed").check_each(&checker(), |r| rows.push(r));
    assert!(rows[0].record.is_some());
}

#[test]
fn row_problems_name_row_field_value_and_rule() {
    let dir = tempfile::tempdir().expect("tempdir");
    let content = format!(
        "\u{feff}{HEADER}\n\
         BNT,1,1950-01-01,2020-01-01,hip,\n\
         BNT,\"two\nlines\",1950-01-01,2019-02-29,hip,\n\
         BNT,3,1950-01-01,2020-01-01\n\
         XYZ,4,1950-01-01,2020-01-01,hip,\n\
         bnt,1,1950-01-01,2020-01-01,spine,\n\
         RFH,6,1950-01-01,01/02/20,hip,9434765918\n"
    );
    let rows = check_all(&file(&dir, "rows.csv", content.as_bytes())).expect("readable");
    let summary: Vec<(u64, Vec<(&str, &str)>)> = rows
        .iter()
        .map(|r| (r.row, r.problems.iter().map(|p| (p.field.as_str(), p.rule.as_str())).collect()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (2, vec![]),
            (3, vec![("local_id", "text"), ("fracture_date", "impossible_date")]),
            (4, vec![("", "cell_count")]),
            (5, vec![("service_code", "unknown_service")]),
            (6, vec![("local_id", "duplicate_key")]),
            (7, vec![("nhs_number", "nhs_number_check_digit"), ("fracture_date", "two_digit_year")]),
        ]
    );
    assert_eq!(
        rows[4].problems[0].message,
        "service_code and local_id repeat row 2: a record may appear once in a file"
    );
    assert_eq!(rows[5].problems[0].value, "9434765918");
    assert_eq!(rows[1].problems[0].local_id, "two\nlines");
}

#[test]
fn latin1_rows_are_refused_not_garbled() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut content = format!("{HEADER}\nBNT,").into_bytes();
    content.extend_from_slice(b"Jos\xe9,1950-01-01,2020-01-01,hip,\n");
    let rows = check_all(&file(&dir, "latin1.csv", &content)).expect("readable");
    assert_eq!(rows[0].problems[0].rule, "encoding");
    assert!(rows[0].record.is_none());
}

#[test]
fn not_your_service() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = file(&dir, "rows.csv", format!("{HEADER}\nRFH,1,1950-01-01,2020-01-01,hip,\n").as_bytes());
    let mut only_bnt = checker();
    only_bnt.permitted = Some(["BNT"].iter().filter_map(|c| ServiceCode::parse(c)).collect());
    let mut rows = Vec::new();
    RowSource::open(&path, false).expect("readable").check_each(&only_bnt, |r| rows.push(r));
    assert_eq!(rows[0].problems[0].rule, "not_your_service");
}

#[test]
fn xlsx_typed_cells_read_as_a_person_expects() {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("typed.xlsx");
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    for (c, name) in [
        "service_code",
        "local_id",
        "date_of_birth",
        "fracture_date",
        "fracture_site",
        "nhs_number",
        "care_home",
        "height_cm",
    ]
    .iter()
    .enumerate()
    {
        sheet.write_string(0, c as u16, *name).expect("cell");
    }
    let date_format = Format::new().set_num_format("dd/mm/yyyy");
    sheet.write_string(1, 0, "BNT").expect("cell");
    sheet.write_number(1, 1, 12345.0).expect("cell");
    let dob = ExcelDateTime::from_ymd(1950, 2, 28).expect("date");
    let fracture = ExcelDateTime::from_ymd(2020, 3, 1).expect("date");
    sheet.write_datetime_with_format(1, 2, &dob, &date_format).expect("cell");
    sheet.write_datetime_with_format(1, 3, &fracture, &date_format).expect("cell");
    sheet.write_string(1, 4, "Hip").expect("cell");
    sheet.write_number(1, 5, 9434765919.0).expect("cell");
    sheet.write_boolean(1, 6, true).expect("cell");
    sheet.write_number(1, 7, 172.5).expect("cell");
    book.save(&path).expect("save");
    let rows = check_all(&path).expect("readable");
    let record = rows[0].record.as_ref().unwrap_or_else(|| panic!("{:?}", rows[0].problems));
    assert_eq!(record.cell(Field::LocalId), "12345");
    assert_eq!(record.cell(Field::DateOfBirth), "1950-02-28");
    assert_eq!(record.cell(Field::FractureDate), "2020-03-01");
    assert_eq!(record.cell(Field::NhsNumber), "9434765919");
    assert_eq!(record.cell(Field::CareHome), "yes");
    assert_eq!(record.cell(Field::HeightCm), "172.5");
}

#[test]
fn csv_and_xlsx_exports_read_back_identical() {
    let dir = tempfile::tempdir().expect("tempdir");
    let content = format!(
        "{HEADER},other_fracture_sites,bone_therapy_recommended,t_score,dxa,dxa_date\n\
         BNT,1,1950-01-01,2020-01-01,hip,9434765919,spine;wrist,teriparatide;denosumab,-2.5,ordered,2020-02-01\n\
         RFH,\"x,y\",1960-05-05,2021-07-07,spine,,,,,,\n"
    );
    let original: Vec<_> = check_all(&file(&dir, "in.csv", content.as_bytes()))
        .expect("readable")
        .into_iter()
        .filter_map(|r| r.record)
        .collect();
    assert_eq!(original.len(), 2);
    let mut csv = Vec::new();
    write_records_csv(&mut csv, &original).expect("csv");
    let rows = check_all(&file(&dir, "out.csv", &csv)).expect("readable");
    assert!(rows.iter().all(|r| r.problems.is_empty()), "{:?}", rows[0].problems);
    let from_csv: Vec<_> = rows.into_iter().filter_map(|r| r.record).collect();
    assert_eq!(from_csv, original);
    let xlsx = dir.path().join("out.xlsx");
    write_records_xlsx(&xlsx, &original).expect("xlsx");
    let from_xlsx: Vec<_> = check_all(&xlsx).expect("readable").into_iter().filter_map(|r| r.record).collect();
    assert_eq!(from_xlsx, original);
}

#[test]
fn parallel_check_sees_every_row_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut content = format!("{HEADER}\n");
    for i in 0..10_000 {
        let site = if i % 7 == 0 { "knee" } else { "hip" };
        content.push_str(&format!("BNT,{},1950-01-01,2020-01-01,{site},\n", i % 9_000));
    }
    let path = file(&dir, "many.csv", content.as_bytes());
    let states = check_parallel(
        RowSource::open(&path, false).expect("readable"),
        &checker(),
        2,
        || (0u64, 0u64, 0u64),
        |s, r| {
            s.0 += 1;
            s.1 += u64::from(r.record.is_some());
            s.2 += r.row;
        },
    );
    let total = states.iter().fold((0, 0, 0), |a, s| (a.0 + s.0, a.1 + s.1, a.2 + s.2));
    let expected_valid = (0..10_000u64).filter(|i| i % 7 != 0 && *i < 9_000).count() as u64;
    assert_eq!(total, (10_000, expected_valid, (2..10_002).sum()));
}
