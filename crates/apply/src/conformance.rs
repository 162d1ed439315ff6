//! The conformance suite every [`Applier`] passes: the built-in strategies run it in this
//! crate's tests, and a strategy of your own proves itself the same way (feature
//! `conformance`).
//!
//! Each case runs against a fresh [`TestCluster`] over HTTP: creating, dry runs that store
//! nothing, re-applies that change nothing, updates, fields dropped from git, fields other
//! writers set, cluster-scoped and custom kinds, and errors that name the object.
//!
//! ```no_run
//! use converge_apply::conformance::{Expectations, check};
//! use converge_apply::ServerSideApply;
//!
//! # async fn run() {
//! let report = check(&ServerSideApply::new("converge"), Expectations::full()).await;
//! assert!(report.is_ok(), "{report}");
//! # }
//! ```

use std::fmt;

use converge_testcluster::TestCluster;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use serde_json::{Value, json};

use crate::{Applier, ApplyRequest, Outcome};

/// What the strategy under test promises beyond creating absent objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Expectations {
    /// An existing object is changed to what git says.
    pub updates: bool,
    /// A field git no longer sets is removed from the live object.
    pub removes_dropped_fields: bool,
    /// Fields another writer set, which git never set, are kept.
    pub keeps_fields_of_others: bool,
}

impl Expectations {
    /// Everything: server-side and client-side apply.
    pub fn full() -> Expectations {
        Expectations {
            updates: true,
            removes_dropped_fields: true,
            keeps_fields_of_others: true,
        }
    }

    /// A strategy that makes the object exactly what git says, dropping what others set
    /// (replace).
    pub fn exact() -> Expectations {
        Expectations {
            keeps_fields_of_others: false,
            ..Expectations::full()
        }
    }

    /// A strategy that only creates (create-only).
    pub fn create_only() -> Expectations {
        Expectations {
            updates: false,
            removes_dropped_fields: false,
            keeps_fields_of_others: true,
        }
    }
}

/// The cases a strategy passed and failed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// The cases passed, by name.
    pub passed: Vec<&'static str>,
    /// The cases failed, by name, with what went wrong.
    pub failed: Vec<(&'static str, String)>,
}

impl Report {
    /// True when every case passed.
    pub fn is_ok(&self) -> bool {
        self.failed.is_empty()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} passed, {} failed",
            self.passed.len(),
            self.failed.len()
        )?;
        for (case, why) in &self.failed {
            write!(f, "\n- {case}: {why}")?;
        }
        Ok(())
    }
}

/// One cluster, a client and the strategy, for a case.
struct Bench<'a> {
    applier: &'a dyn Applier,
    client: kube::Client,
    _cluster: TestCluster,
}

fn configmaps() -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "ConfigMap"))
}

fn config_map(name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})
}

impl Bench<'_> {
    async fn live(
        &self,
        resource: &ApiResource,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<Value>, String> {
        let api: Api<DynamicObject> = match namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, resource),
            None => Api::all_with(self.client.clone(), resource),
        };
        let found = api
            .get_opt(name)
            .await
            .map_err(|e| format!("get {name}: {e}"))?;
        found
            .map(|o| serde_json::to_value(o).map_err(|e| e.to_string()))
            .transpose()
    }

    /// Applies `desired` against what the cluster holds now, as an engine would.
    async fn apply(
        &self,
        resource: &ApiResource,
        namespace: Option<&str>,
        desired: &Value,
        dry_run: bool,
    ) -> Result<crate::Applied, String> {
        let name = desired["metadata"]["name"].as_str().unwrap_or_default();
        let live = self.live(resource, namespace, name).await?;
        let request = ApplyRequest::new(desired, live.as_ref(), resource)
            .namespace(namespace)
            .dry_run(dry_run);
        self.applier
            .apply(&self.client, &request)
            .await
            .map_err(|e| e.to_string())
    }

    async fn data(&self, name: &str) -> Result<Option<Value>, String> {
        Ok(self
            .live(&configmaps(), Some("default"), name)
            .await?
            .map(|o| o["data"].clone()))
    }
}

fn expect(condition: bool, why: impl FnOnce() -> String) -> Result<(), String> {
    if condition { Ok(()) } else { Err(why()) }
}

/// Runs every case against `applier` and reports each one.
pub async fn check(applier: &dyn Applier, expectations: Expectations) -> Report {
    let mut report = Report::default();
    for (name, case) in CASES {
        let outcome = match bench(applier).await {
            Ok(bench) => case(bench, expectations).await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(()) => report.passed.push(name),
            Err(why) => report.failed.push((name, why)),
        }
    }
    report
}

async fn bench(applier: &dyn Applier) -> Result<Bench<'_>, String> {
    let cluster = TestCluster::builder()
        .ready_after(None)
        .start()
        .await
        .map_err(|e| e.to_string())?;
    let url = cluster.url().parse().map_err(|e| format!("{e}"))?;
    let client = kube::Client::try_from(kube::Config::new(url)).map_err(|e| e.to_string())?;
    Ok(Bench {
        applier,
        client,
        _cluster: cluster,
    })
}

type CaseFn = for<'a> fn(
    Bench<'a>,
    Expectations,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>,
>;

const CASES: &[(&str, CaseFn)] = &[
    ("creates an absent object", |b, e| Box::pin(creates(b, e))),
    ("a dry run stores nothing", |b, e| Box::pin(dry_run(b, e))),
    ("a re-apply changes nothing", |b, e| Box::pin(reapply(b, e))),
    ("updates what changed in git", |b, e| {
        Box::pin(updates(b, e))
    }),
    ("removes what left git", |b, e| Box::pin(removes(b, e))),
    ("keeps what others set", |b, e| Box::pin(keeps_others(b, e))),
    ("applies cluster-scoped and custom kinds", |b, e| {
        Box::pin(kinds(b, e))
    }),
    ("errors name the object", |b, e| Box::pin(errors(b, e))),
];

async fn creates(bench: Bench<'_>, _: Expectations) -> Result<(), String> {
    let desired = config_map("web", json!({"a": "1"}));
    let applied = bench
        .apply(&configmaps(), Some("default"), &desired, false)
        .await?;
    expect(applied.outcome == Outcome::Created, || {
        format!("outcome {}", applied.outcome)
    })?;
    let data = bench.data("web").await?;
    expect(data == Some(json!({"a": "1"})), || {
        format!("live data {data:?}")
    })
}

async fn dry_run(bench: Bench<'_>, e: Expectations) -> Result<(), String> {
    let desired = config_map("web", json!({"a": "1"}));
    let applied = bench
        .apply(&configmaps(), Some("default"), &desired, true)
        .await?;
    expect(applied.outcome == Outcome::Created, || {
        format!("outcome {}", applied.outcome)
    })?;
    expect(applied.object["data"] == json!({"a": "1"}), || {
        format!("the dry run returned {}", applied.object)
    })?;
    let data = bench.data("web").await?;
    expect(data.is_none(), || format!("a dry run created {data:?}"))?;
    if e.updates {
        bench
            .apply(&configmaps(), Some("default"), &desired, false)
            .await?;
        let changed = config_map("web", json!({"a": "2"}));
        let applied = bench
            .apply(&configmaps(), Some("default"), &changed, true)
            .await?;
        expect(applied.outcome == Outcome::Updated, || {
            format!("outcome {}", applied.outcome)
        })?;
        expect(applied.object["data"]["a"] == "2", || {
            format!("the dry run returned {}", applied.object)
        })?;
        let data = bench.data("web").await?;
        expect(data == Some(json!({"a": "1"})), || {
            format!("a dry run stored {data:?}")
        })?;
    }
    Ok(())
}

async fn reapply(bench: Bench<'_>, _: Expectations) -> Result<(), String> {
    let desired = config_map("web", json!({"a": "1"}));
    let first = bench
        .apply(&configmaps(), Some("default"), &desired, false)
        .await?;
    let again = bench
        .apply(&configmaps(), Some("default"), &desired, false)
        .await?;
    expect(again.outcome == Outcome::Unchanged, || {
        format!("outcome {}", again.outcome)
    })?;
    let version = |o: &Value| o["metadata"]["resourceVersion"].clone();
    let live = bench
        .live(&configmaps(), Some("default"), "web")
        .await?
        .unwrap_or_default();
    expect(version(&live) == version(&first.object), || {
        "the re-apply wrote a new resourceVersion".to_owned()
    })
}

async fn updates(bench: Bench<'_>, e: Expectations) -> Result<(), String> {
    bench
        .apply(
            &configmaps(),
            Some("default"),
            &config_map("web", json!({"a": "1"})),
            false,
        )
        .await?;
    let applied = bench
        .apply(
            &configmaps(),
            Some("default"),
            &config_map("web", json!({"a": "2"})),
            false,
        )
        .await?;
    let data = bench.data("web").await?;
    if e.updates {
        expect(applied.outcome == Outcome::Updated, || {
            format!("outcome {}", applied.outcome)
        })?;
        expect(data == Some(json!({"a": "2"})), || {
            format!("live data {data:?}")
        })
    } else {
        expect(applied.outcome == Outcome::Unchanged, || {
            format!("outcome {}", applied.outcome)
        })?;
        expect(data == Some(json!({"a": "1"})), || {
            format!("live data {data:?}")
        })
    }
}

async fn removes(bench: Bench<'_>, e: Expectations) -> Result<(), String> {
    bench
        .apply(
            &configmaps(),
            Some("default"),
            &config_map("web", json!({"a": "1", "b": "2"})),
            false,
        )
        .await?;
    bench
        .apply(
            &configmaps(),
            Some("default"),
            &config_map("web", json!({"a": "1"})),
            false,
        )
        .await?;
    let data = bench.data("web").await?;
    let want = if e.removes_dropped_fields {
        json!({"a": "1"})
    } else {
        json!({"a": "1", "b": "2"})
    };
    expect(data == Some(want.clone()), || {
        format!("live data {data:?}, expected {want}")
    })
}

async fn keeps_others(bench: Bench<'_>, e: Expectations) -> Result<(), String> {
    let desired = config_map("web", json!({"a": "1"}));
    bench
        .apply(&configmaps(), Some("default"), &desired, false)
        .await?;
    // Someone else labels the object, as a controller or a person might.
    let api: Api<DynamicObject> =
        Api::namespaced_with(bench.client.clone(), "default", &configmaps());
    api.patch(
        "web",
        &PatchParams {
            field_manager: Some("someone-else".to_owned()),
            ..PatchParams::default()
        },
        &Patch::Merge(json!({"metadata": {"labels": {"team": "x"}}})),
    )
    .await
    .map_err(|e| format!("label: {e}"))?;
    let changed = config_map("web", json!({"a": "2"}));
    bench
        .apply(&configmaps(), Some("default"), &changed, false)
        .await?;
    let live = bench
        .live(&configmaps(), Some("default"), "web")
        .await?
        .unwrap_or_default();
    let kept = live["metadata"]["labels"]["team"] == "x";
    expect(kept == e.keeps_fields_of_others, || {
        format!(
            "the label another writer set was {}",
            if kept { "kept" } else { "dropped" }
        )
    })
}

async fn kinds(bench: Bench<'_>, _: Expectations) -> Result<(), String> {
    let namespaces = ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "Namespace"));
    let namespace =
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}});
    let applied = bench.apply(&namespaces, None, &namespace, false).await?;
    expect(applied.outcome == Outcome::Created, || {
        format!("namespace: {}", applied.outcome)
    })?;

    let crds = ApiResource::from_gvk(&GroupVersionKind::gvk(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
    ));
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {
                        "size": {"type": "integer"}, "color": {"type": "string"}}}}}}}]},
    });
    bench.apply(&crds, None, &crd, false).await?;
    let mut widgets = ApiResource::from_gvk(&GroupVersionKind::gvk("example.com", "v1", "Widget"));
    widgets.plural = "widgets".to_owned();
    let widget = |spec: Value| json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": spec});
    let applied = bench
        .apply(
            &widgets,
            Some("team-a"),
            &widget(json!({"size": 1, "color": "red"})),
            false,
        )
        .await?;
    expect(applied.outcome == Outcome::Created, || {
        format!("widget: {}", applied.outcome)
    })?;
    let applied = bench
        .apply(
            &widgets,
            Some("team-a"),
            &widget(json!({"size": 2, "color": "red"})),
            false,
        )
        .await?;
    let live = bench
        .live(&widgets, Some("team-a"), "w")
        .await?
        .unwrap_or_default();
    let size = live["spec"]["size"].clone();
    let want = if applied.outcome == Outcome::Unchanged {
        1
    } else {
        2
    };
    expect(size == want, || {
        format!("widget size {size}, outcome {}", applied.outcome)
    })
}

async fn errors(bench: Bench<'_>, _: Expectations) -> Result<(), String> {
    let invalid = config_map("Not_A_Name", json!({"a": "1"}));
    match bench
        .apply(&configmaps(), Some("default"), &invalid, false)
        .await
    {
        Ok(applied) => Err(format!("an invalid name was applied: {}", applied.outcome)),
        Err(message) => expect(
            message.starts_with("v1 ConfigMap default/Not_A_Name: ") && message.contains("422"),
            || format!("the error does not name the object and the server's answer: {message}"),
        ),
    }
}
