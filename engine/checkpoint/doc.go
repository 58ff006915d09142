// Package checkpoint stores the binlog position moontide resumes from: in a
// file (atomic replace with fsync, the default), in Redis, or in a MySQL
// table. A stored position is always a transaction boundary whose every
// earlier event is finished, so resuming from it skips nothing.
//
// Each store also keeps, next to the position, the schema history capture
// follows on servers without binlog_row_metadata=FULL (LoadSchemaHistory,
// SaveSchemaHistory): an opaque blob that capture saves before the
// position of any statement that changed it, so a stored position is never
// ahead of its schema.
package checkpoint
