//! moto (`moto_server`): AWS STS, IAM and ECR on loopback for the ECR cases (`tb.aws`).
//!
//! Seeded, then switched to moto's IAM enforcement (`/moto-api/reset-auth 0`): from then on every
//! request must be signed with keys moto issued (a wrong secret is `SignatureDoesNotMatch`, an
//! unknown key `InvalidClientTokenId`), session tokens are checked, each action must be allowed
//! by the caller's policies and `AssumeRole` by the role's trust policy, `sts:ExternalId`
//! condition included. What is seeded:
//! - account [`Aws::account`] (moto's default): user `chartreg-admin` (every action: the harness's
//!   own boto3 calls, `tb.python()`), user `chartreg-reader` whose policy is exactly the AWS calls
//!   the provider makes (`ecr:GetAuthorizationToken`, `ecr:DescribeRepositories`,
//!   `sts:AssumeRole`): the minimal IAM permissions the docs list are proven here; role
//!   `chartreg-ecr` (trusts everyone; `smoke::moto_sts_ecr`); role `chartreg-guarded`
//!   ([`Aws::guarded_role_arn`]) whose trust policy requires [`Aws::external_id`]; ECR
//!   repositories [`ACCOUNT_REPOS`] (`charts/mychart` holds two Helm chart manifests);
//! - account [`Aws::second_account`]: role `chartreg-cross` ([`Aws::cross_role_arn`]) that
//!   trusts any principal presenting [`Aws::external_id`], with the reader's ECR actions; ECR
//!   repositories [`SECOND_ACCOUNT_REPOS`]. (moto checks the trust policies of roles of the
//!   caller's own account only: the external ID is enforced on `chartreg-guarded`.)
//!
//! moto's ECR token is `AWS:<account>-auth-token` ([`Aws::ecr_password`]), deterministic from the
//! caller's account, with an `expiresAt` in 2015: a registry whose htpasswd holds one account's
//! password accepts that account's callers only.

use std::net::IpAddr;

use super::procs::{free_port_on, ServerProc};
use super::{run_cmd, TestResult, Testbed};

/// ECR repositories of the first account (the registries of the ECR cases hold their content).
pub const ACCOUNT_REPOS: [&str; 5] = [
    "charts/mychart",
    "charts/other",
    "chartsx/app",
    "images/app",
    "redirect/mychart",
];
/// ECR repositories of the second account.
pub const SECOND_ACCOUNT_REPOS: [&str; 2] = ["team/charts/mychart", "team/charts/other"];

/// The shared moto server and its fixtures.
#[derive(Debug, Clone)]
pub struct Aws {
    /// `http://127.0.0.1:P` (ECR + STS + IAM).
    pub endpoint: String,
    pub region: String,
    /// Keys of `chartreg-admin` (every action), issued by moto at seeding.
    pub access_key_id: String,
    /// A test secret (the sweep looks for it).
    pub secret_access_key: String,
    /// Keys of `chartreg-reader` (only the actions the provider calls), issued at seeding.
    pub reader_key_id: String,
    /// A test secret (the sweep looks for it).
    pub reader_secret: String,
    /// A role seeded in moto that AssumeRole accepts.
    pub role_arn: String,
    /// ECR repository seeded in moto with tags 0.1.0 and 0.2.0.
    pub ecr_repo: String,
    /// moto's default account, where the users live.
    pub account: String,
    /// The account of `cross_role_arn`.
    pub second_account: String,
    /// A role of `second_account` whose trust policy requires `external_id`.
    pub cross_role_arn: String,
    /// A role of `account` whose trust policy requires `external_id` (enforced by moto).
    pub guarded_role_arn: String,
    /// Random per run; a test secret.
    pub external_id: String,
}

impl Default for Aws {
    fn default() -> Aws {
        Aws {
            endpoint: String::new(),
            region: "us-east-1".into(),
            access_key_id: String::new(),
            secret_access_key: String::new(),
            reader_key_id: String::new(),
            reader_secret: String::new(),
            role_arn: "arn:aws:iam::123456789012:role/chartreg-ecr".into(),
            ecr_repo: "charts/mychart".into(),
            account: "123456789012".into(),
            second_account: "222233334444".into(),
            cross_role_arn: "arn:aws:iam::222233334444:role/chartreg-cross".into(),
            guarded_role_arn: "arn:aws:iam::123456789012:role/chartreg-guarded".into(),
            external_id: String::new(),
        }
    }
}

impl Aws {
    /// The password of moto's ECR token for callers of `account` (user `AWS`).
    pub fn ecr_password(account: &str) -> String {
        format!("{account}-auth-token")
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
import boto3, hashlib, json, os, sys, urllib.request
endpoint = os.environ["AWS_ENDPOINT_URL"]
kw = dict(endpoint_url=endpoint, region_name=os.environ["AWS_DEFAULT_REGION"],
          aws_access_key_id="seed", aws_secret_access_key="seed")
role_arn, repo, second, cross_arn, guarded_arn = sys.argv[1:6]
first_repos, second_repos = json.loads(sys.argv[6]), json.loads(sys.argv[7])
external_id = os.environ["CHARTREG_EXTERNAL_ID"]
allow_all = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
reader_actions = ["ecr:GetAuthorizationToken", "ecr:DescribeRepositories", "sts:AssumeRole"]
reader = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": reader_actions, "Resource": "*"}]}
trust_all = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}

def client(service, account=None):
    c = boto3.client(service, **kw)
    if account:
        c.meta.events.register("before-sign.*.*", lambda request, **_: request.headers.add_header("x-moto-account-id", account))
    return c

iam = client("iam")
keys = {}
for user, policy in [("chartreg-admin", allow_all), ("chartreg-reader", reader)]:
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps(policy))
    k = iam.create_access_key(UserName=user)["AccessKey"]
    keys[user] = [k["AccessKeyId"], k["SecretAccessKey"]]
role = role_arn.rsplit("/", 1)[1]
iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust_all))
iam.put_role_policy(RoleName=role, PolicyName="p", PolicyDocument=json.dumps(allow_all))
ecr = client("ecr")
for r in first_repos:
    ecr.create_repository(repositoryName=r)
h = lambda s: "sha256:" + hashlib.sha256(s.encode()).hexdigest()
for tag in ["0.1.0", "0.2.0"]:
    m = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
         "config": {"mediaType": "application/vnd.cncf.helm.config.v1+json", "digest": h("cfg" + tag), "size": 120},
         "layers": [{"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip", "digest": h("layer" + tag), "size": 400}]}
    ecr.put_image(repositoryName=repo, imageManifest=json.dumps(m), imageTag=tag)

trust_ext = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole",
             "Condition": {"StringEquals": {"sts:ExternalId": external_id}}}]}
reader_ecr = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": reader_actions[:2], "Resource": "*"}]}
guarded = guarded_arn.rsplit("/", 1)[1]
iam.create_role(RoleName=guarded, AssumeRolePolicyDocument=json.dumps(trust_ext))
iam.put_role_policy(RoleName=guarded, PolicyName="p", PolicyDocument=json.dumps(reader_ecr))
iam2 = client("iam", second)
cross = cross_arn.rsplit("/", 1)[1]
iam2.create_role(RoleName=cross, AssumeRolePolicyDocument=json.dumps(trust_ext))
iam2.put_role_policy(RoleName=cross, PolicyName="p", PolicyDocument=json.dumps(reader_ecr))
ecr2 = client("ecr", second)
for r in second_repos:
    ecr2.create_repository(repositoryName=r)

# From now on moto checks signatures, session tokens, policies and trust relationships.
urllib.request.urlopen(urllib.request.Request(endpoint + "/moto-api/reset-auth", data=b"0", method="POST",
                                              headers={"Content-Type": "text/plain"})).read()
print(json.dumps(keys))
"#;

/// What seeding makes that the testbed learns only then: the issued keys.
pub(crate) struct Seeded {
    admin: (String, String),
    reader: (String, String),
}

impl Seeded {
    pub(crate) fn apply(self, aws: &mut Aws) {
        (aws.access_key_id, aws.secret_access_key) = self.admin;
        (aws.reader_key_id, aws.reader_secret) = self.reader;
    }
}

/// Seeds moto (see the module doc) and turns on its IAM enforcement.
pub(crate) fn seed(tb: &Testbed) -> TestResult<Seeded> {
    let mut cmd = tb.python();
    cmd.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .args(["-c", MOTO_SEED])
        .arg(&tb.aws.role_arn)
        .arg(&tb.aws.ecr_repo)
        .arg(&tb.aws.second_account)
        .arg(&tb.aws.cross_role_arn)
        .arg(&tb.aws.guarded_role_arn)
        // not an argument: a failure shows the command line
        .env("CHARTREG_EXTERNAL_ID", &tb.aws.external_id)
        .arg(serde_json::to_string(&ACCOUNT_REPOS).unwrap_or_default())
        .arg(serde_json::to_string(&SECOND_ACCOUNT_REPOS).unwrap_or_default());
    let out = run_cmd(&mut cmd).map_err(|e| format!("seeding moto: {e}"))?;
    let keys: std::collections::HashMap<String, (String, String)> =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("seeding moto: keys: {e}"))?;
    let get = |u: &str| {
        keys.get(u)
            .cloned()
            .ok_or_else(|| format!("seeding moto: no keys for {u}"))
    };
    Ok(Seeded {
        admin: get("chartreg-admin")?,
        reader: get("chartreg-reader")?,
    })
}

/// The secrets of the roles moto has issued so far (`/moto-api/data.json`): each assumed role's
/// secret key and session token, for the sweep.
pub fn issued_role_secrets(tb: &Testbed) -> TestResult<Vec<String>> {
    let body = tb
        .http_get(
            &format!("{}/moto-api/data.json", tb.aws.endpoint),
            &[],
            false,
        )
        .map_err(|e| format!("moto data.json: {e}"))?
        .body;
    let v: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| format!("moto data.json: {e}"))?;
    let mut out = Vec::new();
    for role in v["sts"]["AssumedRole"].as_array().into_iter().flatten() {
        for k in ["secret_access_key", "session_token"] {
            if let Some(s) = role[k].as_str() {
                out.push(s.to_string());
            }
        }
    }
    Ok(out)
}
