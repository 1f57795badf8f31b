//! Model files: the catalog, HTTPS downloads and the registry-packaged test set.

pub mod catalog;
pub mod download;
pub mod test_set;

pub use catalog::{Catalog, CatalogEntry, CatalogError, CatalogFile, ModelKind, ModelSet, ResolvedModel};
