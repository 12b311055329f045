//! `repo publish` at scale, observed at the S3 server (moto behind a recording proxy): a
//! 1 GiB artifact goes up once, as a multipart upload read from disk part by part, its other
//! names copied on the server; a publish after `repo timestamp` sends only timestamp.json
//! and lists nothing, trusting the record of the last publication, and falls back to a
//! listing (saying so) when that record is gone or no longer matches the bucket.

use std::process::Command;

use e2e_tests::{read_json, run_measured, DemoRepo, Device, S3Request, S3};

const GIB: u64 = 1 << 30;

/// Peak RSS bound of `repo publish` (the figure).
const MAX_PUBLISH_RSS_KIB: u64 = 64 * 1024;

/// The ETag the server keeps for `path` (`"<md5>-<parts>"` for a multipart upload) and the
/// object's size, from a one-byte read (the bucket lets anyone GET, nothing else).
fn etag_and_size(s3: &S3, path: &str) -> (String, u64) {
    let response = ureq::get(&s3.url(path))
        .set("Range", "bytes=0-0")
        .call()
        .unwrap();
    let range = response.header("Content-Range").unwrap().to_owned();
    let size = range.rsplit_once('/').unwrap().1.parse().unwrap();
    (response.header("ETag").unwrap().to_owned(), size)
}

/// Deletes `keys` from the bucket, as its owner (boto3, which moto installs).
fn delete_objects(s3: &S3, keys: &[String]) {
    let script = "import sys, boto3\n\
        c = boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id='test',\n\
            aws_secret_access_key='test', region_name='us-east-1')\n\
        for k in sys.argv[2:]: c.delete_object(Bucket='updates', Key=k)\n";
    let status = Command::new(e2e_tests::tuf_python())
        .arg("-c")
        .arg(script)
        .arg(s3.url(""))
        .args(keys)
        .status()
        .unwrap();
    assert!(status.success());
}

fn uploads(requests: &[S3Request]) -> Vec<&S3Request> {
    requests.iter().filter(|r| r.is_upload()).collect()
}

#[test]
fn a_1_gib_artifact_goes_up_once_in_parts_with_bounded_memory() {
    let s3 = S3::start_recorded();
    let r = DemoRepo::init();
    let release = r.tmp.path().join("big");
    std::fs::create_dir_all(&release).unwrap();
    // Sparse: the bytes do not matter, their size does.
    std::fs::File::create(release.join("disk.img"))
        .unwrap()
        .set_len(GIB)
        .unwrap();
    r.add_dir(&release, "9.0.0", "x86_64").ok();
    r.sign().ok();
    let names: Vec<String> = walk_names(&r.public().join("targets"));
    assert_eq!(names.len(), 3, "{names:?}");

    let (run, rss_kib) = run_measured(s3.publish_command(&r));
    let requests = s3.requests();
    let parts: Vec<&S3Request> = requests.iter().filter(|q| q.is_part()).collect();
    let sent: u64 = uploads(&requests).iter().map(|q| q.bytes).sum();
    let copies: Vec<&S3Request> = requests.iter().filter(|q| q.copy).collect();
    eprintln!(
        "1 GiB publish: peak RSS {rss_kib} KiB, {} parts, {sent} bytes uploaded, {} copies, {} requests; {}",
        parts.len(),
        copies.len(),
        requests.len(),
        run.stdout.trim()
    );

    // One multipart upload of at least 8 parts, all to one name, as the server records it.
    assert!(parts.len() >= 8, "{} parts", parts.len());
    let uploaded = parts[0].path().to_owned();
    assert!(parts.iter().all(|p| p.path() == uploaded));
    let (tag, _) = etag_and_size(&s3, &uploaded);
    let recorded_parts: usize = tag
        .trim_matches('"')
        .rsplit_once('-')
        .map(|(_, n)| n.parse().unwrap())
        .unwrap_or(1);
    assert_eq!(recorded_parts, parts.len(), "ETag {tag}");
    // Its bytes went up once; its two other names are server-side copies.
    assert!(
        (GIB..GIB + 1024 * 1024).contains(&sent),
        "{sent} bytes uploaded"
    );
    let artifact_copies: Vec<&&S3Request> = copies
        .iter()
        .filter(|q| q.path().contains("/targets/"))
        .collect();
    assert_eq!(artifact_copies.len(), 2, "{copies:#?}");
    for name in &names {
        let (_, size) = etag_and_size(&s3, &format!("/updates/repo/targets/{name}"));
        assert_eq!(size, GIB, "{name}");
    }
    assert!(
        rss_kib <= MAX_PUBLISH_RSS_KIB,
        "repo publish peak RSS {rss_kib} KiB"
    );
}

/// Names of the files under `dir`, relative, `/`-separated.
fn walk_names(dir: &std::path::Path) -> Vec<String> {
    let mut names = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                names.push(
                    path.strip_prefix(dir)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    names.sort();
    names
}

fn timestamp(r: &DemoRepo) {
    e2e_tests::repo([
        "timestamp".as_ref(),
        r.path.as_os_str(),
        "--key".as_ref(),
        e2e_tests::example_key("timestamp.pem").as_os_str(),
    ])
    .ok();
}

#[test]
fn a_publish_after_repo_timestamp_uploads_one_file_and_lists_nothing() {
    let s3 = S3::start_recorded();
    let r = DemoRepo::signed();
    s3.publish(&r);
    timestamp(&r);
    s3.clear_requests();
    let run = s3.publish(&r);
    let requests = s3.requests();
    eprintln!("second publish: {requests:#?}");
    let up = uploads(&requests);
    assert_eq!(up.len(), 1, "{requests:#?}");
    assert_eq!(up[0].path(), "/updates/repo/metadata/timestamp.json");
    assert!(!requests.iter().any(|q| q.is_listing()), "{requests:#?}");
    assert!(!requests.iter().any(|q| q.copy), "{requests:#?}");
    assert!(run.stdout.contains(": 1 uploaded, 0 copied"), "{run:#?}");
    assert_eq!(run.stderr, "");

    let device = Device::trusting(&r.root_json());
    device.refresh(&[&s3.url("/updates/repo")]).ok();
    let trusted = read_json(&device.metadata_dir.join("timestamp.json"));
    assert_eq!(trusted["signed"]["version"], 2);
}

#[test]
fn without_a_trustworthy_record_publish_lists_the_bucket_and_says_so() {
    let s3 = S3::start_recorded();
    let r = DemoRepo::signed();
    s3.publish(&r);
    let records = r.path.join("publications");

    // The record is lost: one listing, said on stderr, and nothing sent again but
    // timestamp.json.
    std::fs::remove_dir_all(&records).unwrap();
    s3.clear_requests();
    let run = s3.publish(&r);
    let requests = s3.requests();
    assert!(
        run.stderr
            .contains("no record of a publication to s3://updates/repo"),
        "{run:#?}"
    );
    assert_eq!(requests.iter().filter(|q| q.is_listing()).count(), 1);
    assert_eq!(uploads(&requests).len(), 1, "{requests:#?}");

    // The record is stale: the bucket's timestamp.json is not the one it names (published
    // from another copy, or the bucket was emptied): listed again, and the missing files
    // are sent again.
    let wiped: Vec<String> = walk_names(&r.public().join("metadata"));
    let keys: Vec<String> = wiped
        .iter()
        .map(|name| format!("repo/metadata/{name}"))
        .collect();
    delete_objects(&s3, &keys);
    s3.clear_requests();
    let run = s3.publish(&r);
    let requests = s3.requests();
    assert!(
        run.stderr
            .contains("is not the one the record of the last publication names"),
        "{run:#?}"
    );
    assert_eq!(requests.iter().filter(|q| q.is_listing()).count(), 1);
    assert_eq!(uploads(&requests).len(), wiped.len(), "{requests:#?}");
    let device = Device::trusting(&r.root_json());
    device
        .download(
            &[&s3.url("/updates/repo")],
            &["releases/1.0.0/armv7/app.bin"],
            &[],
        )
        .ok();
}
