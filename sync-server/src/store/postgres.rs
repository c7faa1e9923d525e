//! PostgreSQL backend (filled in a later increment).
use super::*;
pub struct PostgresDatabase;
impl PostgresDatabase {
    pub async fn open(_url: &str) -> Result<PostgresDatabase, StoreError> {
        Err(StoreError::Invalid("postgres not yet built".into()))
    }
}
#[async_trait]
impl Database for PostgresDatabase {
    async fn import_roster(&self, _: &Roster) -> Result<ImportSummary, StoreError> {
        todo!()
    }
    async fn account_by_login(&self, _: &str) -> Result<Option<Account>, StoreError> {
        todo!()
    }
    async fn add_enroll_code(&self, _: EnrollCodeRecord, _: i64) -> Result<(), StoreError> {
        todo!()
    }
    async fn enroll_code(&self, _: &str) -> Result<Option<EnrollCodeRecord>, StoreError> {
        todo!()
    }
    async fn enroll_device(
        &self,
        _: &str,
        _: NewDevice,
        _: i64,
    ) -> Result<Result<DeviceAuth, EnrollRefusal>, StoreError> {
        todo!()
    }
    async fn authenticate(&self, _: [u8; 32]) -> Result<Option<DeviceAuth>, StoreError> {
        todo!()
    }
    async fn push(&self, _: &DeviceAuth, _: PushBatch) -> Result<PushOutcome, StoreError> {
        todo!()
    }
    async fn pull(&self, _: &DeviceAuth, _: u64, _: u32, _: i64) -> Result<PullPage, StoreError> {
        todo!()
    }
    async fn checksums(&self, _: &[String]) -> Result<BTreeMap<Scope, ScopeChecksum>, StoreError> {
        todo!()
    }
    async fn blob_state(&self, _: &str) -> Result<BlobState, StoreError> {
        todo!()
    }
    async fn blob_append(
        &self,
        _: &str,
        _: u64,
        _: u64,
        _: Vec<u8>,
    ) -> Result<AppendOutcome, StoreError> {
        todo!()
    }
    async fn blob_finish(&self, _: &str, _: Option<u64>, _: i64) -> Result<(), StoreError> {
        todo!()
    }
    async fn blob_named_in(&self, _: &str, _: &[String]) -> Result<bool, StoreError> {
        todo!()
    }
    async fn devices(&self, _: Option<&str>) -> Result<Vec<DeviceInfo>, StoreError> {
        todo!()
    }
    async fn revoke_device(&self, _: Uuid, _: i64) -> Result<bool, StoreError> {
        todo!()
    }
    async fn audit_row(&self, _: Uuid) -> Result<Vec<AuditEntry>, StoreError> {
        todo!()
    }
    async fn access_log(&self) -> Result<Vec<AccessLogEntry>, StoreError> {
        todo!()
    }
    async fn is_empty(&self) -> Result<bool, StoreError> {
        todo!()
    }
    async fn villages(&self) -> Result<Vec<String>, StoreError> {
        todo!()
    }
    async fn bench_plain_insert(&self, _: &[Change]) -> Result<(), StoreError> {
        todo!()
    }
}
