//! PostgreSQL, for a fleet that outgrows one machine: the same schema and statements.
//!
//! Invariant: statements are prepared once per connection and cached; NULLs are bound with
//! their column's type (`Value` carries it), so no statement depends on PostgreSQL's type
//! inference for a NULL.

use std::collections::HashMap;

use postgres::types::{ToSql, Type};
use postgres::{Client, NoTls, Statement};

use super::{DbError, Row, Sql, Value};

pub(super) struct Postgres {
    client: Client,
    prepared: HashMap<String, Statement>,
}

impl Postgres {
    pub(super) fn connect(url: &str) -> Result<Postgres, DbError> {
        // TLS to the database is the deployment's (a local socket or a private network);
        // the URL's sslmode is not honoured by this build.
        let client = Client::connect(url, NoTls)?;
        Ok(Postgres {
            client,
            prepared: HashMap::new(),
        })
    }

    fn statement(&mut self, sql: &str) -> Result<Statement, DbError> {
        if let Some(statement) = self.prepared.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql)?;
        self.prepared.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}

fn bind(params: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|p| match p {
            Value::Int(v) => v as &(dyn ToSql + Sync),
            Value::Text(v) => v as &(dyn ToSql + Sync),
        })
        .collect()
}

impl Sql for Postgres {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        let statement = self.statement(sql)?;
        Ok(self.client.execute(&statement, &bind(params))?)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        let statement = self.statement(sql)?;
        let rows = self.client.query(&statement, &bind(params))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mut values = Vec::with_capacity(row.len());
            for (i, column) in row.columns().iter().enumerate() {
                values.push(match *column.type_() {
                    Type::INT8 => Value::Int(row.try_get(i)?),
                    Type::INT4 => Value::Int(row.try_get::<_, Option<i32>>(i)?.map(i64::from)),
                    Type::TEXT | Type::VARCHAR => Value::Text(row.try_get(i)?),
                    ref other => return Err(DbError::ColumnType(other.name().to_owned())),
                });
            }
            out.push(values);
        }
        Ok(out)
    }

    fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        Ok(self.client.batch_execute(sql)?)
    }
}
