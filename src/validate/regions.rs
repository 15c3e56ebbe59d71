//! The Google Cloud regions a stack may name.

/// Every public Google Cloud region (Cloud SQL, Cloud Storage, Artifact Registry and GKE
/// are available in all of them).
pub const REGIONS: &[&str] = &[
    "africa-south1",
    "asia-east1",
    "asia-east2",
    "asia-northeast1",
    "asia-northeast2",
    "asia-northeast3",
    "asia-south1",
    "asia-south2",
    "asia-southeast1",
    "asia-southeast2",
    "asia-southeast3",
    "australia-southeast1",
    "australia-southeast2",
    "europe-central2",
    "europe-north1",
    "europe-north2",
    "europe-southwest1",
    "europe-west1",
    "europe-west10",
    "europe-west12",
    "europe-west2",
    "europe-west3",
    "europe-west4",
    "europe-west6",
    "europe-west8",
    "europe-west9",
    "me-central1",
    "me-central2",
    "me-west1",
    "northamerica-northeast1",
    "northamerica-northeast2",
    "northamerica-south1",
    "southamerica-east1",
    "southamerica-west1",
    "us-central1",
    "us-east1",
    "us-east4",
    "us-east5",
    "us-south1",
    "us-west1",
    "us-west2",
    "us-west3",
    "us-west4",
];

/// The region of a zone name such as `europe-west3-a`, when it is one.
#[must_use]
pub fn region_of_zone(zone: &str) -> Option<&'static str> {
    let (region, suffix) = zone.rsplit_once('-')?;
    let is_zone_suffix = suffix.len() == 1 && suffix.bytes().all(|b| b.is_ascii_lowercase());
    if !is_zone_suffix {
        return None;
    }
    REGIONS.iter().copied().find(|known| *known == region)
}
