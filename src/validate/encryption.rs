//! Customer-managed encryption keys: the Cloud KMS key name of `[encryption] kms_key`,
//! behind the newtype only its rule builds, and where the key may be.

use super::gcp::{ProjectId, Region};
use super::regions::REGIONS;
use crate::diag::Code;
use crate::problem::{Checked, Problem};
use crate::suggest;

/// The collection names of a key's resource name, in order.
const PARTS: [&str; 4] = ["projects", "locations", "keyRings", "cryptoKeys"];

/// Cloud KMS locations that are not a region: `global`, the multi-regions and the
/// dual-regions (https://cloud.google.com/kms/docs/locations).
const NOT_A_REGION: &[&str] = &[
    "global", "us", "europe", "asia", "nam3", "nam4", "nam6", "nam7", "nam8", "nam9", "nam10",
    "nam11", "nam12", "nam13", "nam14", "eur3", "eur4", "eur5", "eur6", "eur7", "eur8", "asia1",
];

/// A Cloud KMS symmetric key's resource name,
/// `projects/PROJECT/locations/LOCATION/keyRings/RING/cryptoKeys/KEY`: a project id, a
/// location, and a key ring and key id of 1 to 63 letters, digits, `_` and `-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsKey {
    name: String,
    location: String,
}

impl KmsKey {
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The key's location: a region, `global`, a multi- or dual-region.
    #[must_use]
    pub fn location(&self) -> &str {
        &self.location
    }

    pub fn parse(value: &str) -> Checked<Self> {
        let shape = "a key is named `projects/PROJECT/locations/REGION/keyRings/RING/cryptoKeys/KEY` \
                     (`gcloud kms keys list --keyring=RING --location=REGION --format='value(name)'` \
                     prints it)";
        let bad = |message: String, label: &str, help: String| {
            Err(Problem::new(Code::InvalidKmsKey, message)
                .label(label)
                .help(help))
        };
        let segments: Vec<&str> = value.split('/').collect();
        if segments.len() > 8 && segments.get(8) == Some(&"cryptoKeyVersions") {
            let key = segments[..8].join("/");
            return bad(
                "`encryption.kms_key` names a key version, not a key".into(),
                "a key version",
                format!(
                    "Cloud SQL and Cloud Storage use the key's primary version and follow its \
                     rotation: write the key, `{key}`"
                ),
            );
        }
        if segments.len() != 8 {
            return bad(
                "`encryption.kms_key` is not the resource name of a Cloud KMS key".into(),
                "not a key name",
                shape.into(),
            );
        }
        for (index, part) in PARTS.iter().enumerate() {
            let written = segments[index * 2];
            if written != *part {
                let help = match suggest::closest(written, PARTS) {
                    Some(close) if close == *part => {
                        format!("did you mean `{part}`? {shape}")
                    }
                    _ => shape.into(),
                };
                return bad(
                    format!("`encryption.kms_key` has `{written}` where `{part}` belongs"),
                    "not a key name",
                    help,
                )
                .map_err(|problem: Problem| {
                    let start = segments[..index * 2]
                        .iter()
                        .map(|s| s.len() + 1)
                        .sum::<usize>();
                    problem.within(start..start + written.len())
                });
            }
        }
        let project = segments[1];
        if let Err(problem) = ProjectId::parse(project) {
            return bad(
                format!(
                    "`encryption.kms_key` names the project `{project}`, which is not a project id"
                ),
                "not a project id",
                format!(
                    "{}; {shape}",
                    problem.message.replace("`project`", "the project")
                ),
            );
        }
        for (what, id) in [("key ring", segments[5]), ("key", segments[7])] {
            let good = !id.is_empty()
                && id.len() <= 63
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !good {
                return bad(
                    format!(
                        "`encryption.kms_key` has a {what} id `{id}` that Cloud KMS does not take"
                    ),
                    "not a key name",
                    format!("a {what} id is 1 to 63 letters, digits, `_` and `-`; {shape}"),
                );
            }
        }
        let location = segments[3];
        if !REGIONS.contains(&location) && !NOT_A_REGION.contains(&location) {
            let help = match suggest::closest(location, REGIONS.iter().copied()) {
                Some(close) => format!("did you mean `{close}`?"),
                None => "the key's location is the region of its key ring (`gcloud kms keyrings list --location=REGION`)".into(),
            };
            return bad(
                format!(
                    "`encryption.kms_key` is in `{location}`, which is not a Cloud KMS location"
                ),
                "unknown location",
                help,
            );
        }
        Ok(Self {
            name: value.to_owned(),
            location: location.to_owned(),
        })
    }

    /// Whether the key may encrypt a stack in REGION: Cloud SQL takes only a key of the
    /// instance's region (https://cloud.google.com/sql/docs/postgres/cmek), and a bucket in
    /// one region only a key of that region
    /// (https://cloud.google.com/storage/docs/encryption/customer-managed-keys).
    pub fn fits(&self, region: &Region) -> Checked<()> {
        if self.location == region.as_str() {
            return Ok(());
        }
        let start = PARTS[..1].iter().map(|p| p.len() + 1).sum::<usize>()
            + self.name.split('/').nth(1).map_or(0, |p| p.len() + 1)
            + "locations/".len();
        let within = start..start + self.location.len();
        let (what, why) = if NOT_A_REGION.contains(&self.location.as_str()) {
            (
                "a location that is not a region",
                "Cloud SQL takes only a key in the instance's region, never `global` or a \
                 multi-region",
            )
        } else {
            (
                "another region",
                "Cloud SQL takes only a key in the instance's region, and a regional bucket \
                 only a key in its region",
            )
        };
        Err(Problem::new(
            Code::KmsKeyRegion,
            format!(
                "`encryption.kms_key` is in `{}`, not in the stack's region `{region}`",
                self.location
            ),
        )
        .label(what)
        .help(format!(
            "{why}: create a key ring and key in `{region}` (`gcloud kms keyrings create RING \
             --location={region}`, `gcloud kms keys create KEY --keyring=RING \
             --location={region} --purpose=encryption`) and name it here"
        ))
        .within(within))
    }
}

#[cfg(test)]
mod tests {
    use super::KmsKey;
    use crate::diag::Code;
    use crate::validate::gcp::Region;

    const GOOD: &str = "projects/acme-kms/locations/europe-west3/keyRings/mlflow/cryptoKeys/data";

    #[test]
    fn a_key_name_has_four_collections_and_known_ids() {
        let key = KmsKey::parse(GOOD).unwrap();
        assert_eq!(key.location(), "europe-west3");
        for (bad, message) in [
            ("acme-kms/mlflow/data", "not the resource name"),
            (
                "projects/acme-kms/locations/europe-west3/keyrings/mlflow/cryptoKeys/data",
                "`keyrings` where `keyRings` belongs",
            ),
            (
                "projects/acme-kms/locations/europe-west3/keyRings/mlflow/cryptoKeys/data/cryptoKeyVersions/1",
                "a key version",
            ),
            (
                "projects/Acme/locations/europe-west3/keyRings/mlflow/cryptoKeys/data",
                "not a project id",
            ),
            (
                "projects/acme-kms/locations/europe-west3/keyRings/ml.flow/cryptoKeys/data",
                "key ring id",
            ),
            (
                "projects/acme-kms/locations/europe-wst3/keyRings/mlflow/cryptoKeys/data",
                "not a Cloud KMS location",
            ),
        ] {
            let problem = KmsKey::parse(bad).unwrap_err();
            assert_eq!(problem.code, Code::InvalidKmsKey, "{bad}");
            assert!(
                problem.message.contains(message),
                "{bad}: {}",
                problem.message
            );
        }
        let typo = KmsKey::parse(
            "projects/acme-kms/locations/europe-west3/keyrings/mlflow/cryptoKeys/data",
        )
        .unwrap_err();
        assert!(
            typo.help.starts_with("did you mean `keyRings`?"),
            "{}",
            typo.help
        );
        assert_eq!(typo.within, Some(41..49));
    }

    #[test]
    fn a_key_must_be_in_the_stacks_region() {
        let region = Region::parse("europe-west3").unwrap();
        assert!(KmsKey::parse(GOOD).unwrap().fits(&region).is_ok());
        for (location, label) in [
            ("global", "a location that is not a region"),
            ("europe", "a location that is not a region"),
            ("europe-west4", "another region"),
        ] {
            let key = KmsKey::parse(&GOOD.replace("europe-west3", location)).unwrap();
            let problem = key.fits(&region).unwrap_err();
            assert_eq!(problem.code, Code::KmsKeyRegion);
            assert_eq!(problem.label, label);
            let within = problem.within.unwrap();
            assert_eq!(&GOOD.replace("europe-west3", location)[within], location);
        }
    }
}
