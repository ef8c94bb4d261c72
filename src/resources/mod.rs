//! Resources, one Terraform object per file, plus what they share.

pub mod chart_state;
pub mod common;
pub mod helm_registry;
pub mod oci_registry;
pub mod oci_registry_ecr;
pub mod plan;
pub mod shared_schema;

use crate::objects::ResourceType;

/// Every resource type: read by the provider (`get_resources`) and the docs generator.
pub fn all() -> Vec<ResourceType> {
    vec![
        ResourceType {
            name: "helm_registry",
            schema: helm_registry::resource_schema,
            new: |shared| Box::new(helm_registry::HelmRegistryResource::new(shared)),
        },
        ResourceType {
            name: "oci_registry",
            schema: oci_registry::resource_schema,
            new: |shared| Box::new(oci_registry::OciRegistryResource::new(shared)),
        },
    ]
}

#[cfg(test)]
mod tests {
    use tf_provider::value::Value;
    use tf_provider::{Diagnostics, Resource};

    use super::helm_registry::{HelmRegistryResource, HelmRegistryState};
    use super::oci_registry::{OciRegistryResource, OciRegistryState};
    use crate::settings::Shared;

    /// The attributes both resources share, as one case sets them.
    #[derive(Clone)]
    struct Common {
        name: Value<String>,
        endpoint: Value<String>,
        username: Value<String>,
        password: Value<String>,
        ca_certificate: Value<String>,
    }

    /// A state of type `$ty` with the common attributes of `$c`.
    macro_rules! with_common {
        ($ty:ident, $c:expr) => {
            $ty {
                name: $c.name.clone(),
                endpoint: $c.endpoint.clone(),
                username: $c.username.clone(),
                password: $c.password.clone(),
                ca_certificate: $c.ca_certificate.clone(),
                ..Default::default()
            }
        };
    }

    /// (summary, attribute) of each plan-time error of both resources for the same values.
    async fn errors(c: Common) -> [Vec<(String, String)>; 2] {
        let mut h = Diagnostics::default();
        HelmRegistryResource::new(Shared::default())
            .validate(&mut h, Some(with_common!(HelmRegistryState, c)))
            .await;
        let mut o = Diagnostics::default();
        OciRegistryResource::new(Shared::default())
            .validate(&mut o, Some(with_common!(OciRegistryState, c)))
            .await;
        [h, o].map(|d| {
            d.errors
                .into_iter()
                .map(|e| (e.summary.to_string(), e.attribute.to_string()))
                .collect()
        })
    }

    /// The same problem carries the same summary, on the same attribute, in both resources.
    #[tokio::test]
    async fn plan_time_summaries_agree_across_resources() {
        let v = |s: &str| Value::Value(s.to_string());
        let ok = Common {
            name: v("ok"),
            endpoint: v("https://127.0.0.1:5000"),
            username: Value::Null,
            password: Value::Null,
            ca_certificate: Value::Null,
        };
        let cases = [
            ("ok", ok.clone(), vec![]),
            (
                "null name",
                Common {
                    name: Value::Null,
                    ..ok.clone()
                },
                vec!["Missing Registry Name"],
            ),
            (
                "bad name",
                Common {
                    name: v("Bad/Name"),
                    ..ok.clone()
                },
                vec!["Invalid Registry Name"],
            ),
            (
                "null endpoint",
                Common {
                    endpoint: Value::Null,
                    ..ok.clone()
                },
                vec!["Missing Endpoint"],
            ),
            (
                "bad endpoint",
                Common {
                    endpoint: v("ftp://127.0.0.1"),
                    ..ok.clone()
                },
                vec!["Invalid Endpoint"],
            ),
            (
                "userinfo in endpoint",
                Common {
                    endpoint: v("https://ci:pw@127.0.0.1:5000"),
                    ..ok.clone()
                },
                vec!["Invalid Endpoint"],
            ),
            (
                "username only",
                Common {
                    username: v("ci"),
                    ..ok.clone()
                },
                vec!["Missing Password"],
            ),
            (
                "empty password",
                Common {
                    username: v("ci"),
                    password: v(""),
                    ..ok.clone()
                },
                vec!["Missing Password"],
            ),
            (
                "password only",
                Common {
                    password: v("pw"),
                    ..ok.clone()
                },
                vec!["Missing Username"],
            ),
            (
                "empty username",
                Common {
                    username: v(""),
                    password: v("pw"),
                    ..ok.clone()
                },
                vec!["Missing Username"],
            ),
            (
                "colon in username",
                Common {
                    username: v("a:b"),
                    password: v("pw"),
                    ..ok.clone()
                },
                vec!["Invalid Username"],
            ),
            (
                "bad CA",
                Common {
                    ca_certificate: v("not a certificate"),
                    ..ok.clone()
                },
                vec!["Invalid CA Certificate"],
            ),
        ];
        for (what, c, summaries) in cases {
            let [helm, oci] = errors(c).await;
            assert_eq!(helm, oci, "{what}");
            let got: Vec<_> = helm.iter().map(|(s, _)| s.as_str()).collect();
            assert_eq!(got, summaries, "{what}");
        }
    }
}
