//! `tough` 0.24, the other independent TUF client, reading a repository `repo` wrote from its
//! folder with its default limits.

use std::collections::BTreeMap;

use tough::IntoVec;

use crate::DemoRepo;

/// What `tough` made of a repository: every target name it lists (every role), and the
/// bytes it read and verified for each name asked for.
pub struct ToughRead {
    pub listed: Vec<String>,
    pub read: BTreeMap<String, Vec<u8>>,
}

/// Loads `repo`'s published repository with `tough` (`Limits::default()`) and reads `names`,
/// or every target it lists when `names` is `None`. Panics with `tough`'s error if it
/// refuses the repository or any target.
pub fn tough_read(repo: &DemoRepo, names: Option<&[String]>) -> ToughRead {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let root = std::fs::read(repo.root_json()).expect("the root");
        let base = url::Url::from_directory_path(repo.public()).expect("an absolute folder");
        let loaded = tough::RepositoryLoader::new(
            &root,
            base.join("metadata/").expect("a url"),
            base.join("targets/").expect("a url"),
        )
        .limits(tough::Limits::default())
        .load()
        .await
        .unwrap_or_else(|e| panic!("tough (default limits) refused the repository: {e:?}"));
        let listed: Vec<String> = loaded
            .all_targets()
            .map(|(name, _)| name.raw().to_owned())
            .collect();
        let mut read = BTreeMap::new();
        for name in names.unwrap_or(&listed) {
            let target = tough::TargetName::new(name).expect("a target name");
            let bytes = loaded
                .read_target(&target)
                .await
                .unwrap_or_else(|e| panic!("tough refused {name}: {e:?}"))
                .unwrap_or_else(|| panic!("tough does not find {name}"))
                .into_vec()
                .await
                .unwrap_or_else(|e| panic!("tough refused the bytes of {name}: {e:?}"));
            read.insert(name.clone(), bytes);
        }
        ToughRead { listed, read }
    })
}
