//! The database: SQLite (one file, WAL) or PostgreSQL, chosen by the URL, behind one small
//! interface so every rule and query above it is written once.
//!
//! Invariant: the SQL text above this layer is the common dialect of both (`$1`-numbered
//! parameters in order of first use, `ON CONFLICT`, `BIGINT` and `TEXT` only), parameters
//! are always bound (never formatted into SQL), and [`Db::open`] brings the schema to the
//! newest migration before it returns.

mod postgres;
mod schema;
mod sqlite;

/// One bound parameter or one column read back: every column is a 64-bit integer or text,
/// either of which may be NULL (typed, since PostgreSQL types its NULLs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Int(Option<i64>),
    Text(Option<String>),
}

impl Value {
    pub fn int(v: i64) -> Value {
        Value::Int(Some(v))
    }
    pub fn text(v: impl Into<String>) -> Value {
        Value::Text(Some(v.into()))
    }
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(v) => *v,
            Value::Text(_) => None,
        }
    }
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(v) => v.as_deref(),
            Value::Int(_) => None,
        }
    }
}

pub type Row = Vec<Value>;

/// Why the database failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database URL {0:?} is neither sqlite:PATH (or a path) nor postgres://…")]
    BadUrl(String),
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] ::postgres::Error),
    #[error("database schema version {found} is newer than this fleet knows ({known})")]
    NewerSchema { found: i64, known: i64 },
    #[error("database answered a column of a type fleet does not use: {0}")]
    ColumnType(String),
}

/// What both databases do for the layers above.
pub(crate) trait Sql: Send {
    /// Runs a statement; returns the rows it changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError>;
    /// Runs a query; returns every row.
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError>;
    /// Runs statements without parameters (`BEGIN`, `COMMIT`, migrations).
    fn batch(&mut self, sql: &str) -> Result<(), DbError>;
}

/// An open database.
pub struct Db {
    sql: Box<dyn Sql>,
    kind: Kind,
}

/// Which database a URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

impl Db {
    /// Opens the database `url` names (`sqlite:PATH`, a plain path, or `postgres://…`),
    /// creating a SQLite file if missing, and migrates its schema.
    pub fn open(url: &str) -> Result<Db, DbError> {
        let (sql, kind): (Box<dyn Sql>, Kind) =
            if url.starts_with("postgres://") || url.starts_with("postgresql://") {
                (Box::new(postgres::Postgres::connect(url)?), Kind::Postgres)
            } else {
                let path = url.strip_prefix("sqlite:").unwrap_or(url);
                if path.is_empty() || path.contains("://") {
                    return Err(DbError::BadUrl(url.to_owned()));
                }
                (Box::new(sqlite::Sqlite::open(path)?), Kind::Sqlite)
            };
        let mut db = Db { sql, kind };
        schema::migrate(&mut db)?;
        Ok(db)
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        self.sql.execute(sql, params)
    }

    pub fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        self.sql.query(sql, params)
    }

    /// Runs `work` in one transaction: committed if it returns `Ok`, rolled back otherwise.
    pub fn transaction<T, E: From<DbError>>(
        &mut self,
        work: impl FnOnce(&mut Db) -> Result<T, E>,
    ) -> Result<T, E> {
        self.sql.batch("BEGIN")?;
        match work(self) {
            Ok(value) => {
                self.sql.batch("COMMIT")?;
                Ok(value)
            }
            Err(e) => {
                // The work's error is the one to report; a failed rollback leaves nothing
                // committed either way.
                let _ = self.sql.batch("ROLLBACK");
                Err(e)
            }
        }
    }

    fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.sql.batch(sql)
    }
}
