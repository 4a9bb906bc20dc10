//! SQLite's fast way in for the new rows of an import: a prepared multi-row `INSERT` whose text
//! parameters point at the rows' own bytes (`SQLITE_STATIC`), stepped on a thread of its own.
//!
//! Through sqlx every bound text is copied into a fresh allocation (`SQLITE_TRANSIENT`) and freed
//! again after the step, under SQLite's memory mutex: for a million rows of 45 values that was
//! half of the import's time. This module is the only `unsafe` code of the project; it stays
//! small on purpose:
//! * the raw connection comes from sqlx's [`sqlx::sqlite::LockedSqliteHandle`], which keeps sqlx's
//!   own worker off the connection for as long as it is held, and the caller holds it until the
//!   thread here has finished ([`InsertJob`] waits for the thread even when it is dropped early);
//! * a [`Statement`] borrows every text bound to it for its own lifetime `'a`, and is finalized
//!   when dropped, so no parameter can outlive the bytes it points at.

#![allow(unsafe_code)]

use crate::bulk::Row;
use crate::db::Value;
use crate::{Result, StoreError};
use libsqlite3_sys as ffi;
use sqlx::sqlite::LockedSqliteHandle;
use std::ffi::{CStr, c_int};
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use time::Date;

/// Rows per execution of the prepared statement: large enough that the per-step cost vanishes,
/// small enough that preparing the statement (once per job) stays cheap.
const GROUP_ROWS: usize = 128;

/// An open SQLite connection lent by sqlx.
struct Connection(NonNull<ffi::sqlite3>);

// SAFETY: the bundled SQLite is built thread-safe (SQLITE_THREADSAFE=1), and the connection is
// used by one thread at a time: sqlx's worker is locked out by the handle lock, which the caller
// holds until the one thread that received this value has finished (see `InsertJob`).
unsafe impl Send for Connection {}

impl Connection {
    fn error(&self, code: c_int) -> StoreError {
        // SAFETY: the connection is open; the message is copied before any other call on it.
        let message = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(self.0.as_ptr())) };
        StoreError::Sqlite { code, message: message.to_string_lossy().into_owned() }
    }
}

/// A prepared statement whose bound texts live at least as long as `'a`.
struct Statement<'c, 'a> {
    raw: NonNull<ffi::sqlite3_stmt>,
    db: &'c Connection,
    bound: PhantomData<&'a str>,
}

impl<'c, 'a> Statement<'c, 'a> {
    fn prepare(db: &'c Connection, sql: &str) -> Result<Statement<'c, 'a>> {
        let len = c_int::try_from(sql.len())
            .map_err(|_| StoreError::Unsupported(format!("an SQL statement of {} bytes", sql.len())))?;
        let mut raw = std::ptr::null_mut();
        // SAFETY: `sql` is valid for `len` bytes (SQLite reads no further when given the length).
        let rc =
            unsafe { ffi::sqlite3_prepare_v2(db.0.as_ptr(), sql.as_ptr().cast(), len, &mut raw, std::ptr::null_mut()) };
        if rc != ffi::SQLITE_OK {
            return Err(db.error(rc));
        }
        let raw = NonNull::new(raw).ok_or_else(|| StoreError::Unsupported("an empty SQL statement".into()))?;
        Ok(Statement { raw, db, bound: PhantomData })
    }

    fn bind(&mut self, index: c_int, value: &'a Value) -> Result<()> {
        let stmt = self.raw.as_ptr();
        // SAFETY: `stmt` is a live statement; a text's bytes outlive it (`'a`), so SQLite may
        // read them in place (SQLITE_STATIC) until it is finalized or rebound.
        let rc = unsafe {
            match value {
                Value::Text(Some(s)) => bind_text(stmt, index, s),
                Value::Shared(Some(s)) => bind_text(stmt, index, s),
                Value::Int(Some(n)) => ffi::sqlite3_bind_int64(stmt, index, *n),
                Value::Real(Some(x)) => ffi::sqlite3_bind_double(stmt, index, *x),
                Value::Date(Some(_)) | Value::Time(Some(_)) => {
                    return Err(StoreError::Unsupported("a date or time in a record column not bound as text".into()));
                }
                _ => ffi::sqlite3_bind_null(stmt, index),
            }
        };
        if rc != ffi::SQLITE_OK {
            return Err(self.db.error(rc));
        }
        Ok(())
    }

    fn bind_str(&mut self, index: c_int, text: &'a str) -> Result<()> {
        // SAFETY: a live statement; `text` outlives it (`'a`), see `bind`.
        let rc = unsafe { bind_text(self.raw.as_ptr(), index, text) };
        if rc != ffi::SQLITE_OK {
            return Err(self.db.error(rc));
        }
        Ok(())
    }

    fn bind_int(&mut self, index: c_int, value: Option<i64>) -> Result<()> {
        let stmt = self.raw.as_ptr();
        // SAFETY: a live statement; integers are copied.
        let rc = unsafe {
            match value {
                Some(n) => ffi::sqlite3_bind_int64(stmt, index, n),
                None => ffi::sqlite3_bind_null(stmt, index),
            }
        };
        if rc != ffi::SQLITE_OK {
            return Err(self.db.error(rc));
        }
        Ok(())
    }

    /// Runs the statement (an INSERT: no rows come back) and makes it ready to run again.
    fn execute(&mut self) -> Result<()> {
        // SAFETY: a live statement with every parameter bound to data that outlives it.
        let rc = unsafe { ffi::sqlite3_step(self.raw.as_ptr()) };
        // SAFETY: as above; reset keeps the bindings.
        let reset = unsafe { ffi::sqlite3_reset(self.raw.as_ptr()) };
        match (rc, reset) {
            (ffi::SQLITE_DONE, ffi::SQLITE_OK) => Ok(()),
            (ffi::SQLITE_DONE, code) | (code, _) => Err(self.db.error(code)),
        }
    }
}

/// # Safety
/// `stmt` must be live and `text` must stay valid until the statement is finalized or rebound.
unsafe fn bind_text(stmt: *mut ffi::sqlite3_stmt, index: c_int, text: &str) -> c_int {
    // SAFETY: see the function's contract; the length is given, so no NUL is needed.
    unsafe {
        ffi::sqlite3_bind_text64(
            stmt,
            index,
            text.as_ptr().cast(),
            text.len() as u64,
            ffi::SQLITE_STATIC(),
            ffi::SQLITE_UTF8 as u8,
        )
    }
}

impl Drop for Statement<'_, '_> {
    fn drop(&mut self) {
        // SAFETY: finalized exactly once, here; its error (if any) was already reported by the
        // step that caused it.
        unsafe { ffi::sqlite3_finalize(self.raw.as_ptr()) };
    }
}

/// What the insert of one set of rows needs besides the rows.
pub(crate) struct InsertParams {
    /// `INSERT` text for a given number of rows (`bulk::sqlite_insert_sql`).
    pub sql: fn(usize) -> String,
    pub batch_id: Option<i64>,
    /// `created_at` and `updated_at`, as SQLite stores them.
    pub at: Arc<str>,
}

/// The text SQLite stores for a date (`format_date`), written without the formatting machinery:
/// a million rows carry several million dates. Years outside 0–9999 take the general path.
fn date_text(date: Date, out: &mut String) {
    let year = date.year();
    if !(0..=9999).contains(&year) {
        out.push_str(&flsdb_dataset::values::format_date(date));
        return;
    }
    let digit = |n: u32| char::from(b'0' + (n % 10) as u8);
    let (y, m, d) = (year as u32, u32::from(u8::from(date.month())), u32::from(date.day()));
    for c in [
        digit(y / 1000),
        digit(y / 100),
        digit(y / 10),
        digit(y),
        '-',
        digit(m / 10),
        digit(m),
        '-',
        digit(d / 10),
        digit(d),
    ] {
        out.push(c);
    }
}

/// Inserts `rows` with the parameters bound in place.
fn insert(db: &Connection, rows: &[Row], params: &InsertParams, stop: &AtomicBool) -> Result<()> {
    // Every date's text first, in binding order, so that the binding below only borrows.
    let mut date_texts = String::new();
    let mut date_ends = Vec::new();
    for value in rows.iter().flat_map(|row| &row.values) {
        if let Value::Date(Some(d)) = value {
            date_text(*d, &mut date_texts);
            date_ends.push(date_texts.len());
        }
    }
    let mut dates = date_ends.iter().scan(0, |start, &end| Some(&date_texts[std::mem::replace(start, end)..end]));
    let at_value = Value::Shared(Some(params.at.clone()));
    let mut full: Option<Statement<'_, '_>> = None;
    for group in rows.chunks(GROUP_ROWS) {
        if stop.load(Ordering::Relaxed) {
            return Err(StoreError::ImportCalledOff);
        }
        let mut last;
        let statement = if group.len() == GROUP_ROWS {
            match &mut full {
                Some(s) => s,
                None => full.insert(Statement::prepare(db, &(params.sql)(GROUP_ROWS))?),
            }
        } else {
            last = Statement::prepare(db, &(params.sql)(group.len()))?;
            &mut last
        };
        let mut index: c_int = 0;
        for row in group {
            for value in &row.values {
                index += 1;
                match value {
                    Value::Date(Some(_)) => {
                        let text =
                            dates.next().ok_or_else(|| StoreError::Unsupported("a date without its text".into()))?;
                        statement.bind_str(index, text)?;
                    }
                    value => statement.bind(index, value)?,
                }
            }
            statement.bind_int(index + 1, Some(row.hash))?;
            statement.bind_int(index + 2, params.batch_id)?;
            statement.bind(index + 3, &at_value)?;
            statement.bind(index + 4, &at_value)?;
            index += 4;
        }
        statement.execute()?;
    }
    drop(full);
    Ok(())
}

/// An insert running on a blocking thread. Dropping it before [`InsertJob::wait`] has returned
/// (the import's future was cancelled) stops the thread at the next group of rows and waits
/// for it, so the connection is never used after the caller gives its handle lock back.
pub(crate) struct InsertJob<'h> {
    outcome: tokio::sync::oneshot::Receiver<Result<()>>,
    /// Disconnected when the thread no longer uses the connection.
    finished: std::sync::mpsc::Receiver<()>,
    stop: Arc<AtomicBool>,
    done: bool,
    /// The handle lock, borrowed for as long as the thread may use the connection.
    lock: PhantomData<&'h mut LockedSqliteHandle<'h>>,
}

impl<'h> InsertJob<'h> {
    /// Inserts `rows` through the connection of `handle` on a blocking thread.
    pub(crate) fn start(handle: &'h mut LockedSqliteHandle<'_>, rows: Vec<Row>, params: InsertParams) -> InsertJob<'h> {
        let db = Connection(handle.as_raw_handle());
        let stop = Arc::new(AtomicBool::new(false));
        let (signal, finished) = std::sync::mpsc::channel::<()>();
        let (report, outcome) = tokio::sync::oneshot::channel();
        let thread_stop = stop.clone();
        tokio::task::spawn_blocking(move || {
            let inserted = insert(&db, &rows, &params, &thread_stop);
            drop(signal);
            // The caller may go on (and start the next insert) while this thread frees the rows:
            // a million rows of values are a fifth of the writer's time to free.
            let _ = report.send(inserted);
            drop(rows);
        });
        InsertJob { outcome, finished, stop, done: false, lock: PhantomData }
    }

    pub(crate) async fn wait(mut self) -> Result<()> {
        let outcome = (&mut self.outcome).await;
        self.done = true;
        outcome.map_err(|_| StoreError::Unsupported("the import's writer thread failed".into()))?
    }
}

impl Drop for InsertJob<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.stop.store(true, Ordering::Relaxed);
            // Err once the thread has dropped its end: it no longer touches the connection.
            let _ = self.finished.recv();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::date_text;
    use time::{Date, Duration, Month};

    #[test]
    fn date_text_is_the_stored_date_format() {
        let edges =
            [-9999, -1, 0, 7, 999, 1000, 1900, 2024, 9999].map(|y| Date::from_calendar_date(y, Month::December, 31));
        let every_day_of_two_years =
            (0..731).map(|d| Date::from_calendar_date(2023, Month::January, 1).map(|start| start + Duration::days(d)));
        for date in edges.into_iter().chain(every_day_of_two_years) {
            let date = date.expect("a valid date");
            let mut text = String::new();
            date_text(date, &mut text);
            assert_eq!(text, flsdb_dataset::values::format_date(date));
        }
    }
}
