// Package checkpoint stores the binlog position moontide resumes from: in a
// file (atomic replace with fsync, the default), in Redis, or in a MySQL
// table. A stored position is always a transaction boundary whose every
// earlier event is finished, so resuming from it skips nothing.
package checkpoint
