//! Customer-managed encryption keys: the Cloud KMS key of the bucket and the Cloud SQL
//! instance, and the service agents that use it.

use serde::Serialize;

use crate::model::Encryption;

/// Stands for the project's number in a member: `infra.sh` knows it only at run time
/// (`projects describe`), and puts it in before it grants.
pub const PROJECT_NUMBER: &str = "PROJECT_NUMBER";
/// The role a service agent needs to encrypt and decrypt with a key, and no more.
pub const ENCRYPTER_DECRYPTER: &str = "roles/cloudkms.cryptoKeyEncrypterDecrypter";

/// The key and the service agents that use it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EncryptionPlan {
    /// The key's resource name, `projects/P/locations/L/keyRings/R/cryptoKeys/K`.
    pub kms_key: String,
    /// Cloud SQL's service agent (`gcloud beta services identity create
    /// --service=sqladmin.googleapis.com` creates it), as an IAM member.
    pub sql_agent: String,
    /// Cloud Storage's service agent, as an IAM member.
    pub storage_agent: String,
}

impl EncryptionPlan {
    #[must_use]
    pub fn new(encryption: &Encryption) -> Self {
        Self {
            kms_key: encryption.kms_key.as_str().to_owned(),
            sql_agent: format!(
                "serviceAccount:service-{PROJECT_NUMBER}@gcp-sa-cloud-sql.iam.gserviceaccount.com"
            ),
            storage_agent: format!(
                "serviceAccount:service-{PROJECT_NUMBER}@gs-project-accounts.iam.gserviceaccount.com"
            ),
        }
    }

    /// The `kms-key:` target of its bindings.
    #[must_use]
    pub fn target(&self) -> String {
        format!("kms-key:{}", self.kms_key)
    }
}
