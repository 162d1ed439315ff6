//! The cluster over HTTPS: its authority trusted, callers known by certificate or token.

use converge_testcluster::TestCluster;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};

use crate::kubectl::{kubectl, with_kubectl};

async fn client_for(kubeconfig: &str, context: &str) -> Client {
    let kubeconfig = Kubeconfig::from_yaml(kubeconfig).expect("kubeconfig");
    let options = KubeConfigOptions {
        context: Some(context.to_owned()),
        ..KubeConfigOptions::default()
    };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .expect("config");
    Client::try_from(config).expect("client")
}

#[tokio::test]
async fn https_takes_a_client_certificate_or_the_token_and_nothing_else() {
    let cluster = TestCluster::builder()
        .https(true)
        .start()
        .await
        .expect("start");
    assert!(cluster.url().starts_with("https://127.0.0.1:"));
    let kubeconfig = cluster.kubeconfig();
    for context in ["testcluster", "testcluster-token"] {
        let api: Api<ConfigMap> =
            Api::namespaced(client_for(&kubeconfig, context).await, "default");
        api.list(&Default::default()).await.expect(context);
    }

    // The authority trusted, but no credentials: 401, in the API server's words.
    let anonymous = kubeconfig
        .split("users:")
        .next()
        .expect("clusters")
        .to_owned()
        + "users:\n- name: nobody\n  user: {}\ncontexts:\n- name: nobody\n  context:\n    cluster: testcluster\n    user: nobody\ncurrent-context: nobody\n";
    let api: Api<ConfigMap> = Api::namespaced(client_for(&anonymous, "nobody").await, "default");
    match api.list(&Default::default()).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!((status.code, status.reason.as_str()), (401, "Unauthorized"));
        }
        other => panic!("expected 401, got {other:?}"),
    }
    // A wrong token fares no better.
    let wrong = kubeconfig.replace(cluster.token().expect("a token"), "not-the-token");
    let api: Api<ConfigMap> =
        Api::namespaced(client_for(&wrong, "testcluster-token").await, "default");
    assert!(matches!(
        api.list(&Default::default()).await,
        Err(kube::Error::Api(status)) if status.code == 401
    ));
    // Secrets stay out of debug output.
    let shown = format!("{cluster:?}");
    assert!(
        !shown.contains(cluster.token().expect("a token")),
        "{shown}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_works_over_https_with_either_credential() {
    let Some(kubectl) = kubectl() else { return };
    let cluster = TestCluster::builder()
        .https(true)
        .start()
        .await
        .expect("start");
    with_kubectl(kubectl, &cluster, |kubectl| {
        let k = |args: &[&str]| kubectl(args, None);
        let k_in = |args: &[&str], stdin: &str| kubectl(args, Some(stdin));
        let (ok, out, err) = k_in(
            &["apply", "-f", "-"],
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  a: \"1\"\n",
        );
        assert!(ok, "{err}");
        assert_eq!(out.trim(), "configmap/web created");
        let (ok, out, err) = k(&["get", "namespaces", "-o", "name"]);
        assert!(ok, "{err}");
        assert!(out.contains("namespace/default"), "{out}");
        let (ok, out, err) = k(&[
            "--context",
            "testcluster-token",
            "get",
            "ns",
            "default",
            "-o",
            "name",
        ]);
        assert!(ok, "{err}");
        assert_eq!(out.trim(), "namespace/default");
        let (ok, _, err) = k(&[
            "--token",
            "wrong",
            "--context",
            "testcluster-token",
            "get",
            "ns",
        ]);
        assert!(!ok);
        assert!(err.contains("Unauthorized"), "{err}");
    })
    .await;
}
