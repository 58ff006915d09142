// Package kafka carries events through Apache Kafka with kafka-go: a
// Producer that implements capture.Output and saves the binlog position only
// up to what Kafka acknowledged, and a per-listener consumer group that
// commits offsets only after the listener finished the events before them.
//
// Every table has its own topic (<prefix>.<schema>.<table>) unless one topic
// is configured for all; the message key is schema, table and primary key,
// so the changes of one row land in one partition, in binlog order.
package kafka
