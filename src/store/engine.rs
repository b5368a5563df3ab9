//! The database engine's errors, turned into the store's opaque [`EngineError`].

use crate::error::{EngineError, StoreError};

fn corrupted(e: &redb::StorageError) -> bool {
    matches!(e, redb::StorageError::Corrupted(_))
}

macro_rules! engine_errors {
    ($($t:ty => |$e:ident| $damaged:expr;)*) => {$(
        impl From<$t> for EngineError {
            fn from($e: $t) -> Self {
                let damaged = $damaged;
                EngineError::new(Box::new($e), damaged)
            }
        }
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Engine(e.into())
            }
        }
    )*};
}

engine_errors! {
    redb::StorageError => |e| corrupted(&e);
    redb::DatabaseError => |e| matches!(&e, redb::DatabaseError::Storage(s) if corrupted(s));
    redb::TransactionError => |e| matches!(&e, redb::TransactionError::Storage(s) if corrupted(s));
    redb::TableError => |e| matches!(&e, redb::TableError::Storage(s) if corrupted(s));
    redb::CommitError => |e| matches!(&e, redb::CommitError::Storage(s) if corrupted(s));
    redb::CompactionError => |_e| false;
}
