//! The `ecr` block of `chartreg_oci_registry` (Amazon ECR): its schema, its plan-time checks and
//! the [`EcrAuth`] the ECR client receives. Kept beside `oci_registry.rs` so that the resource's
//! file stays about the resource; the client is `registry::ecr`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use tf_provider::schema::NestedBlock;
use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostics};

use crate::diagnostics::ecr_attribute;
use crate::error::{EcrSetting, Error};
use crate::registry::ecr::{names, EcrAuth};
use crate::resources::plan::{Known, NotReady};
use crate::schema_util::{attr, block, secret, Nesting, C, T};

/// `authentication_type` of Amazon ECR.
pub const ECR: &str = "ecr";

/// State of the `ecr` block (at most one; `null` when absent).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EcrBlock {
    pub region: Value<String>,
    pub access_key_id: Value<String>,
    pub secret_access_key: Value<String>,
    pub role_arn: Value<String>,
    pub external_id: Value<String>,
    pub session_name: Value<String>,
}

pub fn ecr_block_schema() -> NestedBlock {
    let attributes: HashMap<String, _> = [
        ("region", attr(T::String, C::Optional, "AWS region of the registry (`us-east-1`). Default: the region the `endpoint` host names (`<account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]`), else the AWS configuration's (AWS_REGION, the profile).")),
        ("access_key_id", secret(T::String, C::Optional, "Access key ID of an IAM user (sensitive). Set together with `secret_access_key`; without both, the standard AWS credential chain is used (environment, shared config and profile, web identity, container and instance metadata).")),
        ("secret_access_key", secret(T::String, C::Optional, "Secret access key of `access_key_id` (sensitive).")),
        ("role_arn", attr(T::String, C::Optional, "IAM role to assume with STS `AssumeRole` (`arn:aws:iam::123456789012:role/chart-reader`); the static keys, or the credential chain, are the source credentials. The role's trust relationship must allow them.")),
        ("external_id", secret(T::String, C::Optional, "External ID the role's trust relationship requires (`sts:ExternalId`; sensitive). Only with `role_arn`.")),
        ("session_name", attr(T::String, C::Optional, "Role session name (default `chartreg`), as CloudTrail shows it. Only with `role_arn`.")),
    ]
    .into_iter()
    .map(|(k, a)| (k.to_string(), a))
    .collect();
    block(
        Nesting::AtMostOne,
        "Amazon ECR authentication (with `authentication_type = \"ecr\"`, the default when this block is present). Tokens from `GetAuthorizationToken` (12 hours) are used as the registry's Basic credentials `AWS:<token>` against `endpoint`, kept in memory only and renewed before they expire; repositories are listed with `DescribeRepositories`. AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_ECR, AWS_ENDPOINT_URL_STS and HTTPS_PROXY are honoured.",
        attributes,
    )
}

fn at(s: EcrSetting) -> AttributePath {
    ecr_attribute(s)
}

fn set(v: &Value<String>) -> bool {
    matches!(v, Value::Value(s) if !s.is_empty())
}

/// Whether a configuration is an Amazon ECR registration (`authentication_type = "ecr"`, or left
/// out with an `ecr` block).
pub fn is_ecr(auth_type: &Value<String>, block: &Value<EcrBlock>) -> bool {
    match auth_type {
        Value::Value(t) => t == ECR,
        Value::Null => block.is_value(),
        Value::Unknown => false,
    }
}

/// Plan-time checks of an `ecr` registration: `auth_type` as configured (null: the default),
/// `block` the `ecr` block, `host` the endpoint's host when it parses.
pub fn validate(
    diags: &mut Diagnostics,
    auth_type: &Value<String>,
    block: &Value<EcrBlock>,
    username: &Value<String>,
    password: &Value<String>,
    host: Option<&str>,
) {
    if auth_type.is_unknown() {
        return;
    }
    if !is_ecr(auth_type, block) {
        if block.is_value() && matches!(auth_type, Value::Value(t) if t == "basic") {
            diags.error(
                "ECR Block Without ECR Authentication",
                "an `ecr` block is only used with authentication_type = \"ecr\": set that (or leave authentication_type out), or remove the block.",
                AttributePath::new("authentication_type"),
            );
        }
        return;
    }
    for (v, name) in [(username, "username"), (password, "password")] {
        if set(v) {
            diags.error(
                "Credentials Not Used With ECR",
                format!("{name} is not used with authentication_type = \"ecr\": the registry credentials are Amazon ECR authorization tokens. Set AWS credentials in the `ecr` block (or the environment) instead, and remove {name}."),
                AttributePath::new(name),
            );
        }
    }
    let Value::Value(b) = block else { return };
    match (&b.access_key_id, &b.secret_access_key) {
        (k, Value::Null) if set(k) => diags.error(
            "Missing Secret Access Key",
            "ecr.access_key_id is set but ecr.secret_access_key is not: set both, or neither to use the AWS credential chain.",
            at(EcrSetting::SecretAccessKey),
        ),
        (Value::Null, s) if set(s) => diags.error(
            "Missing Access Key ID",
            "ecr.secret_access_key is set but ecr.access_key_id is not: set both, or neither to use the AWS credential chain.",
            at(EcrSetting::AccessKeyId),
        ),
        (Value::Value(k), Value::Value(s)) if k.is_empty() != s.is_empty() => diags.error(
            "Incomplete AWS Key Pair",
            "ecr.access_key_id and ecr.secret_access_key must both be non-empty, or both left out to use the AWS credential chain.",
            if k.is_empty() {
                at(EcrSetting::AccessKeyId)
            } else {
                at(EcrSetting::SecretAccessKey)
            },
        ),
        _ => {}
    }
    if let Value::Value(arn) = &b.role_arn {
        if let Some(p) = names::role_arn_problem(arn) {
            diags.error(
                "Invalid Role ARN",
                format!("ecr.role_arn {arn:?}: {p}."),
                at(EcrSetting::RoleArn),
            );
        }
    }
    let path = |a: &'static str| AttributePath::new("ecr").index(0).attribute(a);
    if b.role_arn.is_null() {
        for (v, name) in [
            (&b.external_id, "external_id"),
            (&b.session_name, "session_name"),
        ] {
            if v.is_value() {
                diags.error(
                    "Setting Needs A Role",
                    format!("ecr.{name} is only used when assuming a role: set ecr.role_arn too, or remove ecr.{name}."),
                    path(name),
                );
            }
        }
    }
    if let Value::Value(id) = &b.external_id {
        if let Some(p) = names::external_id_problem(id) {
            // The value is a secret: never quoted.
            diags.error(
                "Invalid External ID",
                format!("ecr.external_id: {p}."),
                path("external_id"),
            );
        }
    }
    if let Value::Value(n) = &b.session_name {
        if let Some(p) = names::session_name_problem(n) {
            diags.error(
                "Invalid Session Name",
                format!("ecr.session_name {n:?}: {p}."),
                path("session_name"),
            );
        }
    }
    if let Value::Value(r) = &b.region {
        if !names::valid_region(r) {
            diags.error(
                "Invalid AWS Region",
                format!("ecr.region {r:?} is not an AWS region name (`us-east-1`, `eu-central-1`, `us-gov-west-1`)."),
                at(EcrSetting::Region),
            );
        } else if let Some(h) = host.and_then(names::parse_registry_host) {
            if h.region != *r {
                diags.error(
                    "Region Differs From The Registry's",
                    format!("ecr.region is {r:?} but the endpoint is the Amazon ECR registry of region {:?}: ECR tokens are valid in their own region only. Set ecr.region = {:?}, or leave it out.", h.region, h.region),
                    at(EcrSetting::Region),
                );
            }
        }
    }
}

/// What the ECR client receives, `None` when the registration is not `ecr` (with `auth_type`
/// after defaults). An authentication type that is neither `basic` nor `ecr` is no registry.
pub fn inputs(
    auth_type: &Value<String>,
    block: &Value<EcrBlock>,
) -> Result<Option<EcrAuth>, NotReady> {
    match auth_type.known()? {
        Value::Value(t) if t == ECR => {}
        Value::Null => {}
        Value::Value(t) if t == "basic" => return Ok(None),
        Value::Value(t) => {
            return Err(NotReady::Invalid(Error::Config(format!(
                "authentication_type {t:?} is not supported"
            ))))
        }
        Value::Unknown => return Err(NotReady::Unknown),
    }
    if matches!(auth_type, Value::Null) && !block.is_value() {
        return Ok(None);
    }
    let opt = |v: &Value<String>| -> Result<Option<String>, NotReady> {
        Ok(v.known()?
            .as_ref_option()
            .filter(|s| !s.is_empty())
            .cloned())
    };
    let Value::Value(b) = block.known()? else {
        return Ok(Some(EcrAuth::default()));
    };
    Ok(Some(EcrAuth {
        region: opt(&b.region)?,
        access_key_id: opt(&b.access_key_id)?,
        secret_access_key: opt(&b.secret_access_key)?,
        role_arn: opt(&b.role_arn)?,
        external_id: opt(&b.external_id)?,
        session_name: opt(&b.session_name)?,
    }))
}

/// A client error of an `ecr` registration: the registry's refusal of the credentials is a
/// refusal of the ECR token (the endpoint's fault, not a password's).
pub fn client_error(e: Error) -> Error {
    match e {
        Error::Unauthorized { url, status } => Error::EcrTokenRefused { url, status },
        e => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Value<String> {
        Value::Value(s.into())
    }

    fn check(
        auth: Value<String>,
        b: Option<EcrBlock>,
        user: Value<String>,
        host: Option<&str>,
    ) -> Vec<(String, AttributePath)> {
        let mut d = Diagnostics::default();
        let block = b.map_or(Value::Null, Value::Value);
        validate(&mut d, &auth, &block, &user, &Value::Null, host);
        d.errors
            .into_iter()
            .map(|e| (e.summary.to_string(), e.attribute))
            .collect()
    }

    #[test]
    fn plan_time_checks() {
        let path = |a: &'static str| AttributePath::new("ecr").index(0).attribute(a);
        // An ecr block with basic.
        let e = check(v("basic"), Some(EcrBlock::default()), Value::Null, None);
        assert_eq!(
            e,
            [(
                "ECR Block Without ECR Authentication".to_string(),
                AttributePath::new("authentication_type")
            )]
        );
        // Username with ecr (the block implies ecr).
        let e = check(Value::Null, Some(EcrBlock::default()), v("u"), None);
        assert_eq!(
            e,
            [(
                "Credentials Not Used With ECR".to_string(),
                AttributePath::new("username")
            )]
        );
        // Half a key pair.
        let e = check(
            v("ecr"),
            Some(EcrBlock {
                access_key_id: v("AKID"),
                ..Default::default()
            }),
            Value::Null,
            None,
        );
        assert_eq!(
            e,
            [(
                "Missing Secret Access Key".to_string(),
                path("secret_access_key")
            )]
        );
        let e = check(
            v("ecr"),
            Some(EcrBlock {
                secret_access_key: v("s"),
                ..Default::default()
            }),
            Value::Null,
            None,
        );
        assert_eq!(
            e,
            [("Missing Access Key ID".to_string(), path("access_key_id"))]
        );
        // ARN syntax, external ID without a role, region syntax and the host's region.
        let e = check(
            v("ecr"),
            Some(EcrBlock {
                role_arn: v("arn:aws:iam::1234:role/x"),
                ..Default::default()
            }),
            Value::Null,
            None,
        );
        assert_eq!(e, [("Invalid Role ARN".to_string(), path("role_arn"))]);
        let e = check(
            v("ecr"),
            Some(EcrBlock {
                external_id: v("ext-id"),
                ..Default::default()
            }),
            Value::Null,
            None,
        );
        assert_eq!(
            e,
            [("Setting Needs A Role".to_string(), path("external_id"))]
        );
        let e = check(
            v("ecr"),
            Some(EcrBlock {
                region: v("us-east1"),
                ..Default::default()
            }),
            Value::Null,
            None,
        );
        assert_eq!(e, [("Invalid AWS Region".to_string(), path("region"))]);
        let e = check(
            v("ecr"),
            Some(EcrBlock {
                region: v("eu-west-1"),
                ..Default::default()
            }),
            Value::Null,
            Some("123456789012.dkr.ecr.us-east-1.amazonaws.com"),
        );
        assert_eq!(
            e,
            [(
                "Region Differs From The Registry's".to_string(),
                path("region")
            )]
        );
        // A complete configuration, and ecr without a block (the chain).
        let ok = EcrBlock {
            region: v("us-east-1"),
            access_key_id: v("AKID"),
            secret_access_key: v("s"),
            role_arn: v("arn:aws:iam::123456789012:role/chart-reader"),
            external_id: v("ext-id"),
            session_name: v("chartreg"),
        };
        assert!(check(
            v("ecr"),
            Some(ok),
            Value::Null,
            Some("123456789012.dkr.ecr.us-east-1.amazonaws.com")
        )
        .is_empty());
        assert!(check(v("ecr"), None, Value::Null, None).is_empty());
        // The secret external ID is never quoted.
        let mut d = Diagnostics::default();
        let b = Value::Value(EcrBlock {
            role_arn: v("arn:aws:iam::123456789012:role/r"),
            external_id: v("has spaces s3cr3t"),
            ..Default::default()
        });
        validate(&mut d, &v("ecr"), &b, &Value::Null, &Value::Null, None);
        assert_eq!(d.errors.len(), 1);
        assert!(!format!("{:?}", d.errors).contains("s3cr3t"));
    }

    #[test]
    fn client_inputs() {
        assert_eq!(inputs(&v("basic"), &Value::Null).unwrap(), None);
        assert_eq!(inputs(&Value::Null, &Value::Null).unwrap(), None);
        assert_eq!(
            inputs(&v("ecr"), &Value::Null).unwrap(),
            Some(EcrAuth::default())
        );
        let b = Value::Value(EcrBlock {
            region: v("us-east-1"),
            session_name: v(""),
            ..Default::default()
        });
        assert_eq!(
            inputs(&Value::Null, &b).unwrap(),
            Some(EcrAuth {
                region: Some("us-east-1".into()),
                ..Default::default()
            })
        );
        assert!(matches!(
            inputs(&v("kerberos"), &Value::Null),
            Err(NotReady::Invalid(_))
        ));
        assert!(matches!(
            inputs(&Value::Unknown, &Value::Null),
            Err(NotReady::Unknown)
        ));
        let unknown = Value::Value(EcrBlock {
            role_arn: Value::Unknown,
            ..Default::default()
        });
        assert!(matches!(
            inputs(&v("ecr"), &unknown),
            Err(NotReady::Unknown)
        ));
    }
}
