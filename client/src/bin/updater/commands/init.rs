//! `updater init ROOT`: trust a root, keeping a newer one unless forced.

use std::path::Path;

use anyhow::{Context, Result};
use updater::fetch::store::MetadataStore;
use updater::limits::MAX_ROOT_BYTES;
use updater::update::client::Client;

pub(crate) fn run(dir: &Path, root: &Path, force: bool) -> Result<()> {
    let bytes = updater::fs::read_bounded(root, MAX_ROOT_BYTES)?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let store = MetadataStore::open(dir)?;
    let before = Client::init(&store, &bytes, force)
        .with_context(|| format!("{} was not trusted", root.display()))?;
    match before {
        Some(version) => println!(
            "trusting {} in {} (replacing root version {version})",
            root.display(),
            dir.display()
        ),
        None => println!("trusting {} in {}", root.display(), dir.display()),
    }
    Ok(())
}
