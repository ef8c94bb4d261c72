//! moto (`moto_server`): AWS STS, IAM and ECR on loopback for the ECR cases (`tb.aws`), seeded
//! with a role that AssumeRole accepts and an ECR repository holding two Helm chart manifests.

use std::net::IpAddr;

use super::procs::{free_port_on, ServerProc};
use super::{run_cmd, TestResult, Testbed};

/// The shared moto server and its fixtures.
#[derive(Debug, Clone)]
pub struct Aws {
    /// `http://127.0.0.1:P` (ECR + STS + IAM).
    pub endpoint: String,
    pub region: String,
    pub access_key_id: String,
    /// A test secret (the sweep looks for it).
    pub secret_access_key: String,
    /// A role seeded in moto that AssumeRole accepts.
    pub role_arn: String,
    /// ECR repository seeded in moto with tags 0.1.0 and 0.2.0.
    pub ecr_repo: String,
}

impl Default for Aws {
    fn default() -> Aws {
        Aws {
            endpoint: String::new(),
            region: "us-east-1".into(),
            access_key_id: "AKIDCHARTREGTEST".into(),
            secret_access_key: "chartreg-test-secret".into(),
            role_arn: "arn:aws:iam::123456789012:role/chartreg-ecr".into(),
            ecr_repo: "charts/mychart".into(),
        }
    }
}

/// The moto process (not started) on `bind`, and its endpoint.
pub(crate) fn shared(tb: &Testbed, bind: IpAddr) -> (ServerProc, String) {
    let port = free_port_on(bind);
    let (host, port_s) = (bind.to_string(), port.to_string());
    let proc = ServerProc::new(
        "moto",
        tb.tools.join("venv/bin/moto_server"),
        &[&"-H", &host, &"-p", &port_s],
        tb.root.join("moto.log"),
        port,
    )
    .on(bind)
    .env("MOTO_ALLOW_NONEXISTENT_REGION", "true");
    (proc, format!("http://{bind}:{port}"))
}

const MOTO_SEED: &str = r#"
import boto3, hashlib, json, os, sys
kw = dict(endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ["AWS_DEFAULT_REGION"])
role = sys.argv[1].rsplit("/", 1)[1]
boto3.client("iam", **kw).create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}))
ecr = boto3.client("ecr", **kw)
ecr.create_repository(repositoryName=sys.argv[2])
h = lambda s: "sha256:" + hashlib.sha256(s.encode()).hexdigest()
for tag in ["0.1.0", "0.2.0"]:
    m = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
         "config": {"mediaType": "application/vnd.cncf.helm.config.v1+json", "digest": h("cfg" + tag), "size": 120},
         "layers": [{"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip", "digest": h("layer" + tag), "size": 400}]}
    ecr.put_image(repositoryName=sys.argv[2], imageManifest=json.dumps(m), imageTag=tag)
"#;

/// Seeds moto: the IAM role of `role_arn` and the ECR repository `ecr_repo` with two tags.
pub(crate) fn seed(tb: &Testbed) -> TestResult {
    run_cmd(
        tb.python()
            .args(["-c", MOTO_SEED])
            .arg(&tb.aws.role_arn)
            .arg(&tb.aws.ecr_repo),
    )
    .map(|_| ())
    .map_err(|e| format!("seeding moto: {e}"))
}
