//! The command-line contracts of the `render` and `diff` reference binaries.

use crate::support::{Repo, example_bin, run_example, run_example_ok, values};

fn cm(name: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: prod\ndata:\n  color: {value}\n"
    )
}

fn two_releases() -> (Repo, String) {
    let mut repo = Repo::new();
    repo.write("deploy/a.yaml", &cm("a", "blue"))
        .write("deploy/b.yaml", &cm("b", "blue"))
        .write("deploy/gone.yaml", &cm("gone", "x"))
        .write("deploy/secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: prod\nstringData:\n  password: first-secret\n")
        .write("other/ignored.yaml", "not: an object\n");
    let first = repo.commit("first");
    repo.git(&["tag", "v1"]);
    repo.write("deploy/a.yaml", &cm("a", "green"))
        .write("deploy/new.yaml", &cm("new", "x"))
        .write("deploy/secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: prod\nstringData:\n  password: second-secret\n");
    std::fs::remove_file(repo.path().join("deploy/gone.yaml")).expect("rm");
    repo.commit("second");
    (repo, first)
}

#[test]
fn render_writes_the_demo_as_a_yaml_stream() {
    let out = run_example("render", &["examples/demo", "--path", "production"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs = values(&out.stdout);
    let ids: Vec<String> = docs
        .iter()
        .map(|d| {
            format!(
                "{} {}",
                d["kind"].as_str().unwrap_or("?"),
                d["metadata"]["name"].as_str().unwrap_or("?")
            )
        })
        .collect();
    assert_eq!(
        ids,
        [
            "Namespace demo-production",
            "Secret web-credentials",
            "ConfigMap web-settings",
            "Deployment web",
            "Service web",
            "PodDisruptionBudget web",
        ]
    );
    assert_eq!(docs[3]["spec"]["replicas"], 3);
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert_eq!(
        text.matches("\n---\n").count(),
        5,
        "documents separated by ---"
    );
}

#[test]
fn render_reads_git_revisions_by_branch_tag_and_commit() {
    let (repo, first) = two_releases();
    let url = format!("file://{}", repo.path_str());
    let color = |args: &[&str]| {
        values(&run_example_ok("render", args))
            .iter()
            .find(|d| d["metadata"]["name"] == "a")
            .map(|d| d["data"]["color"].as_str().unwrap_or_default().to_owned())
            .expect("object a")
    };
    assert_eq!(
        color(&[&url, "--path", "deploy"]),
        "green",
        "default branch"
    );
    assert_eq!(
        color(&[&url, "--path", "deploy", "--branch", "main"]),
        "green"
    );
    assert_eq!(color(&[&url, "--path", "deploy", "--tag", "v1"]), "blue");
    assert_eq!(
        color(&[repo.path_str(), "--path", "deploy", "--commit", &first]),
        "blue"
    );
    assert_eq!(
        color(&[
            repo.path_str(),
            "--path",
            "deploy/a.yaml",
            "--commit",
            &first[..8]
        ]),
        "blue"
    );

    // "v1" is release 1.0.0: the highest tag in ^1.
    assert_eq!(color(&[&url, "--path", "deploy", "--semver", "^1"]), "blue");
    assert_eq!(
        color(&[&url, "--path", "deploy", "--ref", "refs/heads/main"]),
        "green"
    );

    let out = run_example("render", &[&url, "--branch", "main", "--tag", "v1"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "conflicting reference flags are a usage error"
    );
    let out = run_example("render", &[&url, "--semver", ">=2"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("a tag in semver range >=2 not found")
            && stderr.contains("(did you mean v1?)"),
        "{stderr}"
    );
}

#[test]
fn diff_prints_kubectl_style_diffs_masks_secrets_and_exits_1() {
    let (repo, first) = two_releases();
    let out = run_example(
        "diff",
        &[
            repo.path_str(),
            "--base",
            "v1",
            "--head",
            "main",
            "--path",
            "deploy",
        ],
    );
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(
        "diff -u -N v1/v1.ConfigMap.prod.a main/v1.ConfigMap.prod.a\n--- v1/v1.ConfigMap.prod.a\n+++ main/v1.ConfigMap.prod.a\n"
    ), "{stdout}");
    assert!(
        stdout.contains("-  color: blue\n+  color: green\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("@@ -0,0 +1,7 @@"),
        "added object diffs against nothing: {stdout}"
    );
    assert!(stdout.contains("-  name: gone\n"), "{stdout}");
    assert!(
        stdout.contains("-  password: \"*** (before)\"\n+  password: \"*** (after)\"\n"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("first-secret") && !stdout.contains("second-secret"),
        "secret leaked: {stdout}"
    );
    assert!(
        !stdout.contains("v1.ConfigMap.prod.b"),
        "unchanged objects print no diff"
    );
    let summary = stdout.lines().last().expect("summary");
    assert!(
        summary.starts_with(&format!(
            "summary: 1 added, 2 changed, 1 removed, 1 unchanged (v1@sha1:{first} → main@sha1:"
        )),
        "{summary}"
    );

    let same = run_example(
        "diff",
        &[
            repo.path_str(),
            "--base",
            "v1",
            "--head",
            &first,
            "--path",
            "deploy",
        ],
    );
    assert_eq!(same.status.code(), Some(0), "no differences: exit 0");
    let stdout = String::from_utf8(same.stdout).expect("utf-8");
    assert_eq!(
        stdout,
        format!(
            "summary: 0 added, 0 changed, 0 removed, 4 unchanged (v1@sha1:{first} → sha1:{first})\n"
        )
    );
}

/// Runs a binary that must fail: exit code 2, one `error:` line naming `needle`, no stdout.
fn fails(name: &str, args: &[&str], needle: &str) -> String {
    let out = run_example(name, args);
    let stderr = String::from_utf8(out.stderr).expect("utf-8");
    assert_eq!(out.status.code(), Some(2), "{name} {args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "nothing half-written to stdout");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains(needle), "{needle:?} not in {stderr:?}");
    stderr
}

#[test]
fn bad_input_names_the_file_line_or_ref_and_exits_2() {
    let (mut repo, _) = two_releases();
    repo.write("broken/syntax.yaml", &format!("{}  bad: [\n", cm("x", "y")))
        .write(
            "broken2/doc.yaml",
            &format!(
                "{}---\nkind: ConfigMap\nmetadata:\n  name: n\n",
                cm("x", "y")
            ),
        )
        .write("dup/one.yaml", &cm("same", "1"))
        .write("dup/two.yaml", &cm("same", "2"));
    repo.commit("broken things");
    let dir = repo.path_str();

    fails(
        "render",
        &[dir, "--path", "broken"],
        "broken/syntax.yaml:8:",
    );
    fails(
        "render",
        &[dir, "--path", "broken2"],
        "broken2/doc.yaml:9: document 1 is not a Kubernetes object: missing apiVersion",
    );
    fails(
        "render",
        &[dir, "--path", "dup"],
        "ConfigMap prod/same is defined twice: in dup/one.yaml:1 and in dup/two.yaml:1",
    );
    fails(
        "render",
        &[dir, "--path", "nowhere"],
        "nowhere: no such file or directory",
    );
    fails(
        "render",
        &[dir, "--path", "other"],
        "other/ignored.yaml:1: document 0 is not a Kubernetes object",
    );
    fails(
        "render",
        &["/nonexistent/converge/dir"],
        "/nonexistent/converge/dir",
    );
    fails(
        "render",
        &[dir, "--branch", "mian"],
        "branch mian not found in file://",
    );
    fails("render", &[dir, "--branch", "mian"], "(did you mean main?)");
    fails("render", &[dir, "--tag", "v9"], "tag v9 not found");
    fails(
        "render",
        &[dir, "--commit", "0123456789abcdef0123"],
        "commit 0123456789abcdef0123 not found",
    );
    fails(
        "diff",
        &[dir, "--base", "v1", "--head", "nope", "--path", "deploy"],
        "nope not found",
    );
    fails(
        "diff",
        &[dir, "--base", "main", "--head", "v1", "--path", "broken"],
        "cannot render broken at main@sha1:",
    );
    fails(
        "diff",
        &["/nonexistent/converge/repo", "--base", "a", "--head", "b"],
        "git: file:///nonexistent/converge/repo",
    );
    let out = run_example("diff", &[dir, "--base", "v1"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a missing --head is a usage error"
    );
}

#[test]
fn a_path_that_only_one_revision_has_diffs_as_all_added_or_all_removed() {
    let (mut repo, _) = two_releases();
    repo.write("staging/a.yaml", &cm("a", "new"));
    repo.commit("a new environment");
    let dir = repo.path_str();
    let out = run_example(
        "diff",
        &[dir, "--base", "v1", "--head", "main", "--path", "staging"],
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    assert!(
        stdout.contains("summary: 1 added, 0 changed, 0 removed, 0 unchanged"),
        "{stdout}"
    );
    let out = run_example(
        "diff",
        &[dir, "--base", "main", "--head", "v1", "--path", "staging"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 added, 0 changed, 1 removed"));
    fails(
        "diff",
        &[dir, "--base", "v1", "--head", "main", "--path", "nowhere"],
        "nowhere: no such file or directory",
    );
}

#[test]
fn diff_takes_every_kind_of_reference() {
    let (repo, first) = two_releases();
    repo.git(&["tag", "v1.0.0", "v1"]);
    let dir = repo.path_str();
    let summary = |base: &str, head: &str| {
        let out = run_example(
            "diff",
            &[dir, "--base", base, "--head", head, "--path", "deploy"],
        );
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).expect("utf-8");
        let line = stdout
            .lines()
            .find(|l| l.starts_with("summary: "))
            .expect("a summary line")
            .to_owned();
        let label = base.split_once(':').map_or(base, |(_, name)| name);
        assert!(
            stdout.contains(&format!("--- {label}/")),
            "headers name what was asked, without its kind: {stdout}"
        );
        line
    };
    let plain = summary("v1", "main");
    assert!(
        plain.starts_with("summary: 1 added, 2 changed, 1 removed"),
        "{plain}"
    );
    for (base, head) in [
        ("tag:v1", "branch:main"),
        ("semver:^1", "ref:refs/heads/main"),
        (&*format!("commit:{first}"), "main"),
    ] {
        let line = summary(base, head);
        assert_eq!(
            line.split(" (").next(),
            plain.split(" (").next(),
            "{base} → {head}"
        );
    }
    fails(
        "diff",
        &[dir, "--base", "tags:v1", "--head", "main"],
        "invalid reference \"tags:v1\"",
    );
    fails(
        "diff",
        &[dir, "--base", "semver:^9", "--head", "main"],
        "a tag in semver range ^9 not found",
    );
}

#[test]
fn a_reader_that_goes_away_is_not_an_error() {
    let bin = example_bin("render");
    let mut child = std::process::Command::new(bin)
        .args(["examples/demo"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("render runs");
    drop(child.stdout.take()); // like `render … | head -0`
    let out = child.wait_with_output().expect("render ends");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn diff_writes_json_for_machines_and_markdown_for_pull_requests() {
    let (repo, first) = two_releases();
    let args = |output: &str| {
        run_example(
            "diff",
            &[
                repo.path_str(),
                "--base",
                "v1",
                "--head",
                "main",
                "--path",
                "deploy",
                "--output",
                output,
            ],
        )
    };
    let out = args("json");
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(
        json["summary"],
        serde_json::json!({"added": 1, "changed": 2, "removed": 1, "unchanged": 1})
    );
    assert_eq!(json["base"], format!("v1@sha1:{first}"));
    let secret = json["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["object"] == "v1 Secret prod/db")
        .expect("the secret changed");
    assert_eq!(secret["patch"][0]["value"], "*** (after)");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("second-secret"));

    let out = args("markdown");
    assert_eq!(out.status.code(), Some(1));
    let md = String::from_utf8(out.stdout).expect("utf-8");
    assert!(
        md.contains("**Diff:** 1 added, 2 changed, 1 removed, 1 unchanged\n"),
        "{md}"
    );
    assert!(
        md.contains("| removed | `v1 ConfigMap prod/gone` |"),
        "{md}"
    );
    assert!(md.contains("<details><summary>changed v1 ConfigMap prod/a</summary>\n\n```diff\ndiff -u -N v1/v1.ConfigMap.prod.a"), "{md}");
    assert!(
        !md.contains("first-secret") && !md.contains("second-secret"),
        "{md}"
    );

    let out = args("yaml");
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown output format is a usage error"
    );
}

#[test]
fn fetch_prints_the_revision_and_digest_and_writes_the_files() {
    let (repo, first) = two_releases();
    let url = format!("file://{}", repo.path_str());
    let head = repo.git(&["rev-parse", "HEAD"]).trim().to_owned();
    let fetch = |args: &[&str]| String::from_utf8(run_example_ok("fetch", args)).expect("utf-8");

    let out_dir = tempfile::tempdir().expect("tempdir");
    let written = out_dir.path().join("deploy");
    let text = fetch(&[
        &url,
        "--branch",
        "main",
        "--path",
        "deploy",
        "--out",
        written.to_str().expect("utf-8 path"),
    ]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "exactly two lines: {text}");
    assert_eq!(lines[0], format!("revision: main@sha1:{head}"));
    let digest = lines[1]
        .strip_prefix("digest: sha256:")
        .expect("digest line");
    assert!(
        digest.len() == 64 && digest.bytes().all(|c| c.is_ascii_hexdigit()),
        "{digest}"
    );
    // The files written are the files digested: the same digest read back from disk.
    let on_disk =
        converge::source::tree_digest(&converge::core::DirTree::new(&written).expect("dir"), "")
            .expect("digest of the written files");
    assert_eq!(lines[1], format!("digest: {on_disk}"));
    assert_eq!(
        std::fs::read_to_string(written.join("a.yaml")).expect("a.yaml"),
        cm("a", "green")
    );
    assert!(!written.join("gone.yaml").exists());

    // Another revision, another digest; the same revision from another cache, the same one.
    let tag = fetch(&[&url, "--tag", "v1", "--path", "deploy"]);
    assert!(
        tag.starts_with(&format!("revision: v1@sha1:{first}\n")),
        "{tag}"
    );
    assert_ne!(tag.lines().nth(1), Some(lines[1]));
    let cache = tempfile::tempdir().expect("tempdir");
    let cached = fetch(&[
        &url,
        "--path",
        "deploy",
        "--cache",
        cache.path().to_str().expect("utf-8 path"),
    ]);
    assert_eq!(cached.lines().nth(1), Some(lines[1]));
    let by_id = fetch(&[&url, "--commit", &first]);
    assert!(
        by_id.starts_with(&format!("revision: sha1:{first}\n")),
        "{by_id}"
    );

    let out = run_example("fetch", &[&url, "--tag", "v9"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("tag v9 not found"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "nothing printed on error");
}

#[test]
fn render_picks_the_renderer_by_what_the_path_holds() {
    let Some(corpus) = crate::support::corpus() else {
        return;
    };
    let Some(kubectl) = crate::support::kubectl() else {
        return;
    };
    // A kustomization: the same objects, in the same order, as kubectl kustomize prints.
    let example = corpus.join("flux2-kustomize-helm-example");
    let overlay = example.join("apps/staging");
    let ours = crate::support::values(&run_example_ok(
        "render",
        &[example.to_str().expect("utf-8"), "--path", "apps/staging"],
    ));
    let out = std::process::Command::new(&kubectl)
        .arg("kustomize")
        .arg(&overlay)
        .output()
        .expect("kubectl runs");
    assert!(out.status.success());
    assert_eq!(ours, crate::support::values(&out.stdout));

    // A chart: rendered with helm (required under CI=true).
    if crate::support::helm().is_some() {
        let chart = corpus.join("podinfo/charts");
        let objects = crate::support::values(&run_example_ok(
            "render",
            &[chart.to_str().expect("utf-8"), "--path", "podinfo"],
        ));
        assert!(
            objects.iter().any(|o| o["kind"] == "Deployment"),
            "the chart renders its Deployment"
        );
    }
}

#[test]
fn render_substitutes_variables_strictly() {
    let mut repo = Repo::new();
    repo.write(
        "app/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings-${ENV}\ndata:\n  region: ${REGION:=eu-west-1}\n  literal: $${ENV}\n",
    );
    repo.commit("variables");
    let dir = repo.path_str();
    let objects = crate::support::values(&run_example_ok(
        "render",
        &[dir, "--path", "app", "--var", "ENV=prod"],
    ));
    assert_eq!(objects[0]["metadata"]["name"], "settings-prod");
    assert_eq!(objects[0]["data"]["region"], "eu-west-1");
    assert_eq!(objects[0]["data"]["literal"], "${ENV}");
    fails(
        "render",
        &[dir, "--path", "app", "--var", "REGION=x"],
        "variable not set (strict mode): \"ENV\"",
    );
    fails("render", &[dir, "--var", "NOEQUALS"], "expected KEY=VALUE");
}

/// Starts the testcluster example with `args`; the child and the URL it prints.
fn start_testcluster(args: &[&str]) -> (std::process::Child, String) {
    use std::io::BufRead;
    let bin = example_bin("testcluster");
    let mut child = std::process::Command::new(bin)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("testcluster runs");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("first line");
    let url = line
        .trim()
        .strip_prefix("testcluster: serving at ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    (child, url)
}

/// Interrupts the example as Ctrl-C would, and waits for it: its exit code.
fn interrupt(mut child: std::process::Child) -> Option<i32> {
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    child.wait().expect("testcluster ends").code()
}

#[test]
fn testcluster_serves_kubectl_and_keeps_its_state() {
    let Some(kubectl) = crate::support::kubectl() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let kubeconfig = dir.path().join("kubeconfig");
    let args = [
        "--state",
        state.to_str().expect("utf-8"),
        "--kubeconfig-out",
        kubeconfig.to_str().expect("utf-8"),
    ];
    let k = |args: &[&str]| {
        use std::io::Write;
        let mut child = std::process::Command::new(&kubectl)
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(args)
            .env("HOME", dir.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("kubectl runs");
        let manifest =
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata: {color: blue}\n";
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(manifest.as_bytes())
            .expect("write");
        let out = child.wait_with_output().expect("kubectl ends");
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };

    let (child, url) = start_testcluster(&args);
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert_eq!(k(&["create", "-f", "-"]), "configmap/web created");
    assert_eq!(interrupt(child), Some(0), "Ctrl-C ends it cleanly");

    // Started again from the same state, over HTTPS: the object is there, and the new
    // kubeconfig trusts the new authority and carries a client certificate.
    let https = [&args[..], &["--https"]].concat();
    let (child, url) = start_testcluster(&https);
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    assert_eq!(
        k(&["get", "configmap", "web", "-o", "jsonpath={.data.color}"]),
        "blue"
    );
    assert_eq!(interrupt(child), Some(0));

    // A port that cannot be bound: exit code 2.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("address").port().to_string();
    let bin = example_bin("testcluster");
    let out = std::process::Command::new(bin)
        .args(["--port", &port])
        .output()
        .expect("testcluster runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: testcluster: "));
}

/// Runs the sync example with `args` (never against a cluster `KUBECONFIG` names): exit
/// code, stdout lines, stderr.
fn sync(args: &[&str]) -> (Option<i32>, Vec<String>, String) {
    let bin = example_bin("sync");
    assert!(
        bin.is_file(),
        "{} is not built: run `cargo build --examples`",
        bin.display()
    );
    let out = std::process::Command::new(bin)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("KUBECONFIG")
        .output()
        .expect("sync runs");
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    (
        out.status.code(),
        stdout.lines().map(str::to_owned).collect(),
        String::from_utf8(out.stderr).expect("utf-8"),
    )
}

#[test]
fn sync_applies_the_demo_to_the_embedded_cluster_then_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let state = state.to_str().expect("utf-8");
    let args = [
        "examples/demo",
        "--path",
        "production",
        "--prune",
        "--wait",
        "--timeout",
        "30s",
        "--state",
        state,
    ];
    let (code, lines, stderr) = sync(&args);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        lines
            .iter()
            .any(|l| l == "apps/v1 Deployment demo-production/web: created"),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l == "apps/v1 Deployment demo-production/web: healthy"),
        "{lines:#?}"
    );
    assert_eq!(
        lines.last().map(String::as_str),
        Some("sync: 6 created, 0 updated, 0 unchanged, 0 pruned, 0 failed")
    );
    // The objects persisted: the second run writes nothing.
    let (code, lines, stderr) = sync(&args);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        lines.last().map(String::as_str),
        Some("sync: 0 created, 0 updated, 6 unchanged, 0 pruned, 0 failed")
    );
    // No Secret value is ever shown.
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("stringData") || l.contains("token")),
        "{lines:#?}"
    );
}

#[test]
fn sync_prunes_what_left_git_and_fails_with_exit_1_or_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let manifests = dir.path().join("manifests");
    std::fs::create_dir_all(&manifests).expect("mkdir");
    let cm = |name: &str| {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  a: \"1\"\n")
    };
    std::fs::write(manifests.join("a.yaml"), cm("a")).expect("write");
    std::fs::write(manifests.join("b.yaml"), cm("b")).expect("write");
    let state = dir.path().join("state");
    let location = manifests.to_str().expect("utf-8");
    let args = ["--prune", "--state", state.to_str().expect("utf-8")];
    let run = |extra: &[&str]| {
        let all: Vec<&str> = [location]
            .into_iter()
            .chain(args)
            .chain(extra.iter().copied())
            .collect();
        sync(&all)
    };
    let (code, lines, stderr) = run(&[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        lines.last().map(String::as_str),
        Some("sync: 2 created, 0 updated, 0 unchanged, 0 pruned, 0 failed")
    );

    std::fs::remove_file(manifests.join("b.yaml")).expect("rm");
    let (code, lines, _) = run(&["--dry-run"]);
    assert_eq!(code, Some(0));
    assert!(
        lines
            .iter()
            .any(|l| l == "v1 ConfigMap default/b: pruned (dry run)"),
        "{lines:#?}"
    );
    let (code, lines, stderr) = run(&[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        lines.last().map(String::as_str),
        Some("sync: 0 created, 0 updated, 1 unchanged, 1 pruned, 0 failed")
    );

    // An object the server refuses: exit 1, nothing written, the summary still last.
    std::fs::write(manifests.join("bad.yaml"), cm("Not_Valid")).expect("write");
    std::fs::write(manifests.join("c.yaml"), cm("c")).expect("write");
    let (code, lines, stderr) = run(&[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: v1 ConfigMap default/Not_Valid: "),
        "{stderr}"
    );
    assert_eq!(
        lines.last().map(String::as_str),
        Some("sync: 0 created, 0 updated, 1 unchanged, 0 pruned, 1 failed")
    );

    // Bad input: exit 2, before any cluster is touched.
    let (code, lines, stderr) = sync(&[
        "/no/such/directory",
        "--state",
        state.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, Some(2));
    assert!(lines.is_empty(), "{lines:#?}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    let (code, _, stderr) = sync(&[location, "--timeout", "soon"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("invalid duration"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_uses_the_kubeconfig_it_is_given() {
    let cluster = converge_testcluster::TestCluster::builder()
        .https(true)
        .start()
        .await
        .expect("start");
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, cluster.kubeconfig()).expect("kubeconfig");
    let kubeconfig = kubeconfig.to_str().expect("utf-8").to_owned();
    let (code, lines, stderr) = tokio::task::spawn_blocking(move || {
        sync(&[
            "examples/demo",
            "--path",
            "staging",
            "--kubeconfig",
            &kubeconfig,
            "--strategy",
            "client-side",
        ])
    })
    .await
    .expect("sync");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!lines.iter().any(|l| l.contains("embedded")), "{lines:#?}");
    assert!(
        lines
            .last()
            .is_some_and(|l| l.starts_with("sync: ") && l.ends_with(" 0 pruned, 0 failed")),
        "{lines:#?}"
    );
    assert!(cluster.count("create", "deployments") + cluster.count("patch", "deployments") > 0);
}

#[test]
fn a_sync_killed_midway_is_completed_by_the_next() {
    use std::io::BufRead;

    let dir = tempfile::tempdir().expect("tempdir");
    let manifests = dir.path().join("manifests");
    std::fs::create_dir_all(&manifests).expect("mkdir");
    let count = 200;
    for i in 0..count {
        std::fs::write(
            manifests.join(format!("cm-{i:03}.yaml")),
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i:03}\ndata:\n  n: \"{i}\"\n"),
        )
        .expect("write");
    }
    let state = dir.path().join("state");
    let args = [
        manifests.to_str().expect("utf-8"),
        "--prune",
        "--state",
        state.to_str().expect("utf-8"),
    ];
    // Killed (SIGKILL, no chance to tidy up) once some objects are created.
    let mut child = std::process::Command::new(example_bin("sync"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("KUBECONFIG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("sync runs");
    let stdout = child.stdout.take().expect("stdout");
    let mut created = 0;
    for line in std::io::BufReader::new(stdout).lines() {
        if line.expect("a line").ends_with(": created") {
            created += 1;
            if created == 20 {
                break;
            }
        }
    }
    child.kill().expect("kill");
    child.wait().expect("ended");
    assert_eq!(created, 20, "the sync ended before it could be killed");

    // The next sync completes it: what was created is unchanged, the rest created.
    let (code, lines, stderr) = sync(&args);
    assert_eq!(code, Some(0), "{stderr}");
    let last = lines.last().expect("a summary").clone();
    let numbers: Vec<usize> = last
        .trim_start_matches("sync: ")
        .split(", ")
        .map(|part| {
            part.split(' ')
                .next()
                .expect("a number")
                .parse()
                .expect("a number")
        })
        .collect();
    assert_eq!(numbers[0] + numbers[2], count, "{last}");
    assert!(numbers[2] >= 20, "{last}");
    assert_eq!(&numbers[3..], [0, 0], "{last}");

    // The inventory is whole: dropping half the files prunes exactly those.
    for i in (0..count).step_by(2) {
        std::fs::remove_file(manifests.join(format!("cm-{i:03}.yaml"))).expect("rm");
    }
    let (code, lines, stderr) = sync(&args);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        lines.last().map(String::as_str),
        Some(
            format!(
                "sync: 0 created, 0 updated, {} unchanged, {} pruned, 0 failed",
                count / 2,
                count / 2
            )
            .as_str()
        )
    );
}
