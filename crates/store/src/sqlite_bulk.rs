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
use std::collections::HashMap;
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
                    return Err(StoreError::Unsupported("a date or time not turned into text before binding".into()));
                }
                _ => ffi::sqlite3_bind_null(stmt, index),
            }
        };
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
    /// Text of every date met so far (passed from job to job).
    pub dates: HashMap<Date, Arc<str>>,
}

/// Inserts `rows` with the parameters bound in place; returns the date texts for the next job.
fn insert(db: &Connection, mut rows: Vec<Row>, params: InsertParams, stop: &AtomicBool) -> Result<InsertParams> {
    let InsertParams { sql, batch_id, at, mut dates } = params;
    // Dates become their stored text first, so that the binding below only borrows.
    for row in &mut rows {
        for value in &mut row.values {
            match value {
                Value::Date(Some(d)) => {
                    let d = *d;
                    *value = Value::Shared(Some(
                        dates.entry(d).or_insert_with(|| flsdb_dataset::values::format_date(d).into()).clone(),
                    ));
                }
                Value::Time(Some(t)) => {
                    let text = t.format(&time::format_description::well_known::Rfc3339).ok();
                    *value = Value::Text(text);
                }
                _ => {}
            }
        }
    }
    // Declared before the statements, so that it outlives their bindings.
    let at_value = Value::Shared(Some(at.clone()));
    let mut full: Option<Statement<'_, '_>> = None;
    for group in rows.chunks(GROUP_ROWS) {
        if stop.load(Ordering::Relaxed) {
            return Err(StoreError::ImportCalledOff);
        }
        let mut last;
        let statement = if group.len() == GROUP_ROWS {
            match &mut full {
                Some(s) => s,
                None => full.insert(Statement::prepare(db, &sql(GROUP_ROWS))?),
            }
        } else {
            last = Statement::prepare(db, &sql(group.len()))?;
            &mut last
        };
        let mut index: c_int = 0;
        for row in group {
            for value in &row.values {
                index += 1;
                statement.bind(index, value)?;
            }
            statement.bind_int(index + 1, Some(row.hash))?;
            statement.bind_int(index + 2, batch_id)?;
            statement.bind(index + 3, &at_value)?;
            statement.bind(index + 4, &at_value)?;
            index += 4;
        }
        statement.execute()?;
    }
    drop(full);
    Ok(InsertParams { sql, batch_id, at, dates })
}

/// An insert running on a blocking thread. Dropping it before [`InsertJob::wait`] has returned
/// (the import's future was cancelled) stops the thread at the next group of rows and waits
/// for it, so the connection is never used after the caller gives its handle lock back.
pub(crate) struct InsertJob<'h> {
    handle: tokio::task::JoinHandle<Result<InsertParams>>,
    /// Disconnected when the thread has finished.
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
        let thread_stop = stop.clone();
        let handle = tokio::task::spawn_blocking(move || {
            let _signal = signal;
            insert(&db, rows, params, &thread_stop)
        });
        InsertJob { handle, finished, stop, done: false, lock: PhantomData }
    }

    pub(crate) async fn wait(mut self) -> Result<InsertParams> {
        let outcome = (&mut self.handle).await;
        self.done = true;
        outcome.map_err(|e| StoreError::Unsupported(format!("the import's writer thread failed: {e}")))?
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
