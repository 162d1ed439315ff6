//! `GitSource` (converge-source, on gix) side by side with the git CLI, against the same
//! `git daemon` on 127.0.0.1 in the same run.
//!
//! The repository is made once before anything is measured: 5,000 files of about 4 KB (100
//! directories `apps/app-NN/` of 50 manifests with pseudo-random content, about 20 MB in all),
//! in one commit on `main`. Under `cargo test --benches`, which only checks that everything
//! runs, it has 500 files.
//!
//! | group | converge | git CLI |
//! |---|---|---|
//! | `shallow-clone` | `fetch` of `main` into an empty cache | `git clone --depth 1 --no-checkout` |
//! | `no-change-poll` | `resolve` of `main` (one ref listing) | `git ls-remote`, and `git fetch --depth 1 origin main` in an up-to-date clone |
//! | `incremental-fetch` | `fetch` of `main` after one new commit (one file changed) | `git fetch --depth 1 origin main` after one new commit |
//! | `read-sub-path` | read the 50 files of `apps/app-07` from the object database | `git checkout` of the commit into an empty work tree, then read the same files; and the path-limited `git checkout <commit> -- apps/app-07` |
//! | `read-all` | read all files from the object database | `git checkout` into an empty work tree, then read all files |
//!
//! After the criterion run, a table of converge's time over git's goes to stderr.
//!
//! ```text
//! cargo bench --bench git_source        # about 2 minutes
//! cargo test --benches                  # run every benchmark once
//! ```

#[path = "common/results.rs"]
mod results;

use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use converge::core::{FileTree, walk_files};
use converge::source::testing::{GitDaemon, GitFixture};
use converge::source::{GitOptions, GitSource, Reference, Snapshot, Source};
use criterion::BatchSize;
use results::{criterion, measured};

const SUB_PATH: &str = "apps/app-07";

fn main() {
    let benchmarking = results::benchmarking();
    let started = SystemTime::now();
    let files = if benchmarking { 5_000 } else { 500 };

    let mut repo = make_repository(files);
    let daemon = GitDaemon::serve(&repo);
    let url = daemon.url().to_owned();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let main_branch = Reference::Branch("main".into());
    eprintln!(
        "git_source: {files} files, {:.1} MB, served by git daemon at {url}; {}",
        repository_bytes(repo.path()) as f64 / 1e6,
        git(None, &["--version"]).trim()
    );

    let mut c = criterion(Duration::from_secs(4));

    {
        let mut group = c.benchmark_group("shallow-clone");
        group.bench_function("converge", |b| {
            b.iter_batched(
                scratch,
                |cache| {
                    let source = GitSource::with_options(
                        url.as_str(),
                        GitOptions::default().with_cache_dir(cache.path()),
                    )
                    .expect("source");
                    let snapshot = runtime.block_on(source.fetch(&main_branch)).expect("fetch");
                    black_box(snapshot);
                    cache
                },
                BatchSize::PerIteration,
            )
        });
        group.bench_function("git-clone", |b| {
            b.iter_batched(
                scratch,
                |dir| {
                    shallow_clone(&url, &dir.path().join("clone"));
                    dir
                },
                BatchSize::PerIteration,
            )
        });
        group.finish();
    }

    // A warm cache and an up-to-date clone for the rest.
    let cache = scratch();
    let source = GitSource::with_options(
        url.as_str(),
        GitOptions::default().with_cache_dir(cache.path()),
    )
    .expect("source");
    runtime
        .block_on(source.fetch(&main_branch))
        .expect("first fetch");
    let clone_dir = scratch();
    let clone = clone_dir.path().join("clone");
    shallow_clone(&url, &clone);

    {
        let mut group = c.benchmark_group("no-change-poll");
        group.bench_function("converge", |b| {
            b.iter(|| {
                black_box(
                    runtime
                        .block_on(source.resolve(&main_branch))
                        .expect("resolve"),
                )
            })
        });
        group.bench_function("git-ls-remote", |b| {
            b.iter(|| black_box(git(None, &["ls-remote", &url])))
        });
        group.bench_function("git-fetch", |b| {
            b.iter(|| {
                git(
                    Some(&clone),
                    &["fetch", "-q", "--depth", "1", "origin", "main"],
                )
            })
        });
        group.finish();
    }

    {
        let mut group = c.benchmark_group("incremental-fetch");
        let mut change = 0_u32;
        let mut next_commit = |repo: &mut GitFixture| {
            change += 1;
            repo.write(
                &format!("{SUB_PATH}/manifest-00.yaml"),
                &format!("kind: ConfigMap\ndata:\n  change: \"{change}\"\n"),
            );
            repo.commit(&format!("change {change}"));
        };
        group.bench_function("converge", |b| {
            b.iter_batched(
                || next_commit(&mut repo),
                |()| black_box(runtime.block_on(source.fetch(&main_branch)).expect("fetch")),
                BatchSize::PerIteration,
            )
        });
        group.bench_function("git-fetch", |b| {
            b.iter_batched(
                || next_commit(&mut repo),
                |()| {
                    git(
                        Some(&clone),
                        &["fetch", "-q", "--depth", "1", "origin", "main"],
                    )
                },
                BatchSize::PerIteration,
            )
        });
        group.finish();
    }

    let snapshot = runtime.block_on(source.fetch(&main_branch)).expect("fetch");
    git(
        Some(&clone),
        &["fetch", "-q", "--depth", "1", "origin", "main"],
    );
    let commit = git(Some(&clone), &["rev-parse", "FETCH_HEAD"])
        .trim()
        .to_owned();
    for (group_name, path) in [("read-sub-path", SUB_PATH), ("read-all", "")] {
        let mut group = c.benchmark_group(group_name);
        group.bench_function("converge", |b| {
            b.iter(|| black_box(read_snapshot(&snapshot, path)))
        });
        group.bench_function("git-checkout", |b| {
            b.iter_batched(
                scratch,
                |work| {
                    checkout(&clone, &commit, work.path(), None);
                    black_box(read_dir(&work.path().join(path)));
                    work
                },
                BatchSize::PerIteration,
            )
        });
        if !path.is_empty() {
            group.bench_function("git-checkout-path", |b| {
                b.iter_batched(
                    scratch,
                    |work| {
                        checkout(&clone, &commit, work.path(), Some(path));
                        black_box(read_dir(&work.path().join(path)));
                        work
                    },
                    BatchSize::PerIteration,
                )
            });
        }
        group.finish();
    }
    c.final_summary();
    drop(daemon);

    if benchmarking {
        print_table(started);
    }
}

/// The repository: `files` manifests of about 4 KB in directories of 50.
fn make_repository(files: usize) -> GitFixture {
    let mut repo = GitFixture::new();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        // xorshift64*: the same content on every run.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    for i in 0..files {
        let mut content = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-{i}\n  namespace: app-{}\ndata:\n",
            i / 50
        );
        while content.len() < 4_000 {
            content.push_str(&format!("  key-{:016x}: \"{:016x}\"\n", next(), next()));
        }
        repo.write(
            &format!("apps/app-{:02}/manifest-{:02}.yaml", i / 50, i % 50),
            &content,
        );
    }
    repo.commit("5,000 manifests");
    repo
}

fn read_snapshot(snapshot: &Snapshot, path: &str) -> usize {
    let tree: &dyn FileTree = snapshot.tree.as_ref();
    walk_files(tree, path)
        .expect("walk")
        .iter()
        .map(|file| tree.read(file).expect("read").len())
        .sum()
}

fn read_dir(dir: &Path) -> usize {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let entry = entry.expect("entry");
        let path = entry.path();
        if entry.file_type().expect("file type").is_dir() {
            total += read_dir(&path);
        } else {
            total += std::fs::read(&path).expect("read").len();
        }
    }
    total
}

/// Checks `commit` (or only `path` of it) out of `clone` into the empty `work` tree, with an
/// index of its own.
fn checkout(clone: &Path, commit: &str, work: &Path, path: Option<&str>) {
    let mut args = vec![
        "--work-tree".to_owned(),
        work.display().to_string(),
        "checkout".to_owned(),
        "-q".to_owned(),
        "-f".to_owned(),
        commit.to_owned(),
    ];
    if let Some(path) = path {
        args.extend(["--".to_owned(), path.to_owned()]);
    }
    let status = Command::new("git")
        .arg("-C")
        .arg(clone)
        .args(&args)
        .env("GIT_INDEX_FILE", work.join(".index"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .status()
        .expect("git runs");
    assert!(status.success(), "git checkout failed");
}

/// `git clone --depth 1 --no-checkout`: the peer of a first fetch.
fn shallow_clone(url: &str, target: &Path) {
    git(
        None,
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            "--no-checkout",
            url,
            path_str(target),
        ],
    );
}

fn git(dir: Option<&Path>, args: &[&str]) -> String {
    let mut command = Command::new("git");
    if let Some(dir) = dir {
        command.arg("-C").arg(dir);
    }
    let out = command
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

fn repository_bytes(dir: &Path) -> u64 {
    walk_sizes(dir)
}

fn walk_sizes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry"))
        .filter(|e| e.file_name() != ".git")
        .map(|e| {
            let meta = e.metadata().expect("metadata");
            if meta.is_dir() {
                walk_sizes(&e.path())
            } else {
                meta.len()
            }
        })
        .sum()
}

fn print_table(since: SystemTime) {
    let rows: [(&str, &[&str]); 5] = [
        ("shallow-clone", &["git-clone"]),
        ("no-change-poll", &["git-ls-remote", "git-fetch"]),
        ("incremental-fetch", &["git-fetch"]),
        ("read-sub-path", &["git-checkout", "git-checkout-path"]),
        ("read-all", &["git-checkout"]),
    ];
    let ms = |ns: f64| format!("{:.1} ms", ns / 1e6);
    let mut table =
        String::from("\n| group | converge | git CLI | converge / git |\n|---|---:|---:|---:|\n");
    for (group, peers) in rows {
        let Some(ours) = measured(group, "converge", None, since) else {
            continue;
        };
        for peer in peers {
            let Some(theirs) = measured(group, peer, None, since) else {
                continue;
            };
            table.push_str(&format!(
                "| {group} | {} | {} ({peer}) | {:.2}× |\n",
                ms(ours),
                ms(theirs),
                ours / theirs
            ));
        }
    }
    eprintln!("{table}");
}
